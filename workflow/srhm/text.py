"""How numbers, intervals and free text are written into the report's Markdown tables and the figures' legends.

One home for these, so that a figure legend and the report print the same interval in the same digits, and
so that no text (an experiment's note from the config, a flag) can split a Markdown table: `table_row`
escapes every cell.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

MISSING = "—"
"""What a table or a legend shows for a value that was not measured."""


def number(value, spec: str = ".3g") -> str:
    """A value as the report prints it: a float in the format `spec` (3 significant digits unless told), MISSING
    for None or a non-finite float, anything else as str()."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    return format(value, spec) if isinstance(value, float) else str(value)


def interval(ci) -> str:
    """A confidence interval (low, high) as "[0.827, 1.04]" (3 significant digits); MISSING when `ci` is None
    or either end is None or not finite."""
    if ci is None or any(end is None or not math.isfinite(float(end)) for end in ci):
        return MISSING
    return f"[{float(ci[0]):.3g}, {float(ci[1]):.3g}]"


def cell(value) -> str:
    """`value` as the text of one cell of a Markdown (GitHub) table: str(), every line break with the
    whitespace around it made one space, and each "|" escaped as "\\|", so the cell stays one cell of one row."""
    return re.sub(r"\s*[\r\n]+\s*", " ", str(value)).replace("|", r"\|")


def table_row(cells: Iterable) -> str:
    """One row of a Markdown table, every cell escaped by `cell`: "| a | b |"."""
    return "| " + " | ".join(cell(value) for value in cells) + " |"
