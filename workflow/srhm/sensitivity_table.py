"""The tidy table of a run's sensitivities, sensitivity.csv (srhm.sensitivity.measure_sensitivities writes it):
its columns, the check that a table is a whole measure, and its wide form (one column per S_{k,l} and D_{k,l}).

Kept apart from the measure, which needs torch, so that the steps that only read the tables (srhm.runs'
collect_runs, a P* search's planning) start without it.
"""

from __future__ import annotations

import pandas as pd
from pandas.api.types import is_integer_dtype

KINDS = (("S", "synonym"), ("D", "diffeo"))  # table label, SRHM.resample kind
OUTPUT_LABEL = "out"  # layer label of the output in the wide columns
TABLE_COLUMNS = ("member", "layer", "layer_index", "level", "kind", "value", "stderr", "numerator", "denominator",
                 "n_probe", "note")


def wide_sensitivities(table: pd.DataFrame, with_stderr: bool = False) -> pd.DataFrame:
    """One row per member with columns "{kind}_{k}_{l}" (k = layer_index, "out" for the output), e.g. S_2_1.

    with_stderr adds "{kind}_{k}_{l}_stderr" columns. Columns are ordered S before D, then by layer and level.
    """
    missing = set(TABLE_COLUMNS) - set(table.columns)
    if missing:
        raise ValueError(f"table lacks the columns {sorted(missing)} of a measure_sensitivities table")
    kind_rank = table["kind"].map({label: rank for rank, (label, _) in enumerate(KINDS)})
    ordered = table.assign(kind_rank=kind_rank).sort_values(["member", "kind_rank", "layer_index", "level"])
    layer_label = ordered["layer_index"].astype(str).where(ordered["layer"] != "output", OUTPUT_LABEL)
    ordered = ordered.assign(column=ordered["kind"] + "_" + layer_label + "_" + ordered["level"].astype(str))
    columns = list(dict.fromkeys(ordered["column"]))
    wide = ordered.pivot(index="member", columns="column", values="value")[columns]
    if with_stderr:
        stderr = ordered.pivot(index="member", columns="column", values="stderr")[columns].add_suffix("_stderr")
        wide = wide.join(stderr)
    wide.columns.name = None
    return wide


def check_complete(table: pd.DataFrame, L: int) -> None:
    """ValueError saying what is missing unless `table` holds a whole measure of one member of a network on an
    SRHM of depth L, as measure_sensitivities writes it at every level: the columns TABLE_COLUMNS, and exactly
    one row per kind (S, D) and level l = 1..L for each layer k = 1..K, the hidden layers then the output (k = K)."""
    missing = [column for column in TABLE_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"the columns {missing} are missing")
    blank = [column for column in ("member", "layer_index", "level") if not is_integer_dtype(table[column])]
    if blank:
        raise ValueError(f"the columns {blank} hold entries that are not integers")
    if table["member"].nunique() != 1:
        raise ValueError(f"it holds the members {sorted(table['member'].unique().tolist())}, not one")
    output = sorted(table.loc[table["layer"] == "output", "layer_index"].unique().tolist())
    if len(output) != 1:
        raise ValueError(f"its output rows carry the layer indices {output}" if output else
                         "it has no rows of the output layer")
    K = int(output[0])
    expected = {(k, kind, level) for k in range(1, K + 1) for kind, _ in KINDS for level in range(1, L + 1)}
    found = [(int(k), str(kind), int(level)) for k, kind, level in zip(table["layer_index"], table["kind"],
                                                                        table["level"])]
    absent, extra = sorted(expected - set(found)), sorted(set(found) - expected)
    if absent or extra or len(found) != len(expected):
        detail = (f"; (layer, kind, level) missing: {absent[:3]}" if absent else
                  f"; (layer, kind, level) not expected: {extra[:3]}" if extra else "; some rows repeat")
        raise ValueError(f"it holds {len(found)} rows where layers 1..{K} (the output last) x kinds S, D x levels "
                         f"1..{L} make {len(expected)}{detail}")
