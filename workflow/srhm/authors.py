"""The authors' own printed measurements, read from the saved outputs of their Jupyter notebooks (no torch).

Tomasini & Wyart 2024 ("How Deep Networks Learn Sparse and Hierarchical Data: the Sparse Random Hierarchy
Model", ICML 2024) published their code and notebooks in github.com/UmbertoTomasini/sparse_hierarchy_model.
Several cells of those notebooks print sample complexities of the kind plotted in Figs. 4, 10, 14 and 16,
test errors (Figs. 1, 4 and 17) and the training-set sizes of their runs. `parse_notebooks` reads them
from a local copy of the repository at COMMIT; `load_authors_measurements` loads the committed table
built from it (workflow/data/authors_measurements.csv, documented in workflow/data/README.md).

Table columns (COLUMNS), one row per printed number:
  quantity   "p_star" (test error 10 %), "p_star_S", "p_star_D" (sample complexities of S_2 and D_2),
             "test_error" (at one training-set size), "grid" (a training-set size the authors trained at);
  arch       srhm.architectures name (lcn, cnn, fcn, vgg11, vgg16, resnet18, resnet34, efficientnetb0);
  s, L, v, n_c, m, s0, sparsity, width
             the instance: n_c = v and m = v^(s-1) in every notebook, sparsity "A", width of the LCN, CNN
             and FCN (empty for the common nets, whose channels are fixed);
  P          total training-set size (all classes) of "test_error" and "grid" rows, empty otherwise;
  value      P* as a total number of training points (p_star*), the test error as a fraction
             (test_error), or the `ptr` argument the authors' training script main_bs_S.py took (grid:
             P / n_c, the number of samples per class);
  source     notebook, cell index (0-based over all cells) and repository commit; "; " between several;
  note       units and anything special. A note containing STALE marks a number that is not a
             measurement (see `parse_notebooks`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

import numpy as np

from srhm.architectures import ARCHITECTURES, default_width

if TYPE_CHECKING:
    import pandas as pd

REPOSITORY = "UmbertoTomasini/sparse_hierarchy_model"
COMMIT = "3a964f5fea7b816c4ea2a7972479f8a707e0eb50"
NOTEBOOK_BLOBS = {
    "plotting-L2.ipynb": "4ad6004634a228325b02c1681baf71ba7de2de10",
    "scale_P_TASK.ipynb": "69fdad5fb0eaecdc38e1a723cdf7e9de7ae2cb2d",
    "scale_P_TASK-FCN.ipynb": "2bbce28b71e2e073e0bb2ed337c2d79f7fc4b731",
    "scale_P_TASK-LCN.ipynb": "0ea39acdde44205d830e02f1ee271f08a98cbf45",
    "scale_P_TASK-NewNets.ipynb": "86f524a11c986e0667ecbbc4c392868528c6997d",
    "stabilities_s-NewNets.ipynb": "7f26b7f9e84ac0418bb25c4ad3eba3aa5136eed8",
}
"""Notebook path in the repository -> git blob id of that file at COMMIT."""

COLUMNS = ("quantity", "arch", "s", "L", "v", "n_c", "m", "s0", "sparsity", "width", "P", "value", "source",
           "note")
QUANTITIES = ("p_star", "p_star_S", "p_star_D", "test_error", "grid")
DATA = Path(__file__).resolve().parents[1] / "data" / "authors_measurements.csv"

STALE = "stale repeat"
PER_CLASS = "printed per class, x n_c"
TOTAL = "printed as the total P"
NET_NAMES = {"lcn": "lcn", "cnn2": "cnn", "fcn2": "fcn", "VGG11": "vgg11", "VGG16": "vgg16",
             "ResNet18": "resnet18", "ResNet34": "resnet34", "EfficientNetB0": "efficientnetb0"}
"""Net names of the notebooks -> srhm.architectures names."""

_KEY = ["quantity", "arch", "s", "L", "v", "s0", "P"]
_READ_BACK = "read back from the file saved by the cell that computed it"
_OLDER_GRID = "P recomputed from the notebook's grid (srhm.authors.older_grid)"


@dataclass(frozen=True)
class Instance:
    """One SRHM instance of the notebooks: n_c = v, m = v^(s-1), sparsity A, the LCN/CNN/FCN width of
    srhm.architectures.default_width (512, or 256 for an FCN with L >= 3, as in the authors' launch scripts)."""

    arch: str
    s: int
    L: int
    v: int
    s0: int

    @property
    def label(self) -> str:
        """The instance in words, for notes and error messages."""
        return f"{self.arch} s={self.s} L={self.L} v={self.v} s0={self.s0}"

    def row(self, quantity: str, value: float, notes: Iterable[str], P: int | None = None) -> dict:
        """A table row without its source: `value` and `P` in the table's units, the non-empty `notes`
        joined by "; "."""
        return {"quantity": quantity, "arch": self.arch, "s": self.s, "L": self.L, "v": self.v, "n_c": self.v,
                "m": self.v ** (self.s - 1), "s0": self.s0, "sparsity": "A",
                "width": default_width(self.arch, self.L), "P": P, "value": float(value),
                "note": "; ".join(note for note in notes if note)}


Parser = Callable[..., list[dict]]


@dataclass(frozen=True)
class Cell:
    """A notebook cell whose printed output `parse` turns into rows (without their source).

    markers: names the cell's code must contain, so that a different notebook version is refused.
    """

    notebook: str
    index: int
    markers: tuple[str, ...]
    parse: Parser

    @property
    def source(self) -> str:
        """The table's `source` of this cell: notebook, cell index and the short COMMIT."""
        return f"{self.notebook} cell {self.index} @ {COMMIT[:7]}"


# ---------------------------------------------------------------------------------------------------------
# Printed text


def logical_lines(text: str) -> list[str]:
    """Non-empty lines of printed text, stripped, with a bracketed value printed over several lines (a long
    tensor or numpy array) joined into one line. Raises ValueError on unbalanced brackets."""
    lines, pending, depth = [], [], 0
    for line in text.splitlines():
        if not line.strip() and not pending:
            continue
        pending.append(line.strip())
        depth += line.count("[") + line.count("(") - line.count("]") - line.count(")")
        if depth <= 0:
            lines.append(" ".join(pending))
            pending, depth = [], 0
    if pending:
        raise ValueError(f"printed output ends inside brackets: {' '.join(pending)[:80]!r}")
    return lines


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TENSOR = re.compile(r"tensor\(\[([^\]]*)\]\)")


def numbers(text: str) -> list[float]:
    """Every number in `text`, in order (plain, decimal or scientific notation)."""
    return [float(token) for token in re.findall(_NUMBER, text)]


def _tensor(line: str) -> list[float] | None:
    """The values of a line that is exactly one printed 1-D tensor, else None."""
    match = _TENSOR.fullmatch(line)
    return None if match is None else numbers(match.group(1))


def _single(values: list[float] | None, line: str, source: str) -> float:
    if values is None or len(values) != 1:
        raise ValueError(f"{source}: expected a tensor of one value, got {line!r}")
    return values[0]


def _integers(line: str, count: int, source: str) -> list[int]:
    """A line of exactly `count` whole numbers."""
    if not re.fullmatch(r"\d+(?: \d+)*", line) or len(line.split()) != count:
        raise ValueError(f"{source}: expected {count} whole numbers, got {line!r}")
    return [int(token) for token in line.split()]


def _unexpected(source: str, line: str) -> ValueError:
    return ValueError(f"{source}: unexpected printed line {line!r}")


def _whole(value: float, what: str) -> int:
    """A printed training-set size as an int; ValueError unless it is a whole number (to 1e-6)."""
    if not math.isfinite(value) or value <= 0 or abs(value - round(value)) > 1e-6 * max(1.0, abs(value)):
        raise ValueError(f"{what} must be a positive whole number, got {value!r}")
    return int(round(value))


def _instance(net: str, s: int, L: int, v: int, m: int, s0: int, source: str) -> Instance:
    """The instance a printed file name describes; ValueError unless its m is v^(s-1)."""
    if m != v ** (s - 1):
        raise ValueError(f"{source}: m = {m} is not v^(s-1) for v = {v}, s = {s}")
    return Instance(NET_NAMES[net], s, L, v, s0)


# ---------------------------------------------------------------------------------------------------------
# Sample complexities


def _p_star_rows(quantity: str, printed: Sequence[tuple[Instance, float]], notes: Sequence[str] = ()) -> list[dict]:
    """Rows of the per-class values one loop printed, in order. Each configuration's print shows the loop
    variable, which keeps the previous configuration's value when no grid point was within tolerance: a
    value equal to the one printed just before is flagged STALE (an equal genuine value cannot be told
    apart)."""
    rows, previous = [], None
    for instance, value in printed:
        flags = [PER_CLASS, *notes]
        if previous is not None and value == previous[1]:
            flags.append(f"{STALE} of the previous configuration ({previous[0].label}), not a measurement")
        rows.append(instance.row(quantity, value * instance.v, flags))
        previous = (instance, value)
    return rows


def p_star_with_configuration(lines: list[str], *, source: str, arch: str, quantity: str) -> list[dict]:
    """`tensor([x.])` then the header `L,s,s0,n` and `L s s0 v` (scale_P_TASK-LCN.ipynb cell 2): x is the
    per-class P* of that configuration. A header without a value before it is a configuration whose files
    were missing (the notebook's exception branch): no row."""
    printed, pending, i = [], None, 0
    while i < len(lines):
        values = _tensor(lines[i])
        if values is not None:
            if pending is not None:
                raise ValueError(f"{source}: two values without a configuration between them")
            pending = _single(values, lines[i], source)
            i += 1
        elif lines[i] == "L,s,s0,n" and i + 1 < len(lines):
            L, s, s0, v = _integers(lines[i + 1], 4, source)
            if pending is not None:
                printed.append((Instance(arch, s, L, v, s0), pending))
            pending, i = None, i + 2
        else:
            raise _unexpected(source, lines[i])
    if pending is not None:
        raise ValueError(f"{source}: a value without its configuration at the end")
    return _p_star_rows(quantity, printed)


_SAVED = re.compile(r"tensor\(\[([^\]]*)\]\) pstars/pstars_\w+?_(\w+?)_L_(\d+)_n_(\d+)_m_(\d+)_s_(\d+)_s0_(\d+)"
                    r"_net_\w+\.pt")


def p_star_with_file_name(lines: list[str], *, source: str, quantity: str) -> list[dict]:
    """`tensor([x.]) pstars/pstars_task_<net>_L_.._n_.._m_.._s_.._s0_.._net_<net>.pt` (scale_P_TASK-FCN.ipynb
    cell 2): the per-class P* and the file it was saved to, which names the configuration. The cell also
    prints the value alone, before and after reading the file back (under the word `checl`)."""
    printed = []
    for line in lines:
        match = _SAVED.fullmatch(line)
        if match is not None:
            value = _single(numbers(match.group(1)), line, source)
            L, v, m, s, s0 = map(int, match.groups()[2:])
            printed.append((_instance(match.group(2), s, L, v, m, s0, source), value))
        elif line != "checl":
            _single(_tensor(line), line, source)
    return _p_star_rows(quantity, printed)


def p_star_in_loop_order(lines: list[str], *, source: str, arch: str, quantity: str, s: int, v: int,
                         loop: Sequence[tuple[int, int]], notes: Sequence[str] = ()) -> list[dict]:
    """One `tensor([x.])` per (L, s0) of `loop`, in order (scale_P_TASK-FCN.ipynb cells 3 and 4): the cell
    prints nothing else when every configuration's files exist, so any other line is refused."""
    values = [_single(_tensor(line), line, source) for line in lines]
    if len(values) != len(loop):
        raise ValueError(f"{source}: expected {len(loop)} values, one per (L, s0) of {list(loop)}, "
                         f"got {len(values)}")
    printed = [(Instance(arch, s, L, v, s0), value) for (L, s0), value in zip(loop, values)]
    return _p_star_rows(quantity, printed, notes)


def _check_range(rows: list[dict], quantity: str, line: str, source: str) -> None:
    """The notebook's `min max` of the plotted totals must equal those of the rows: proof of the x n_c."""
    totals = [row["value"] for row in rows if row["quantity"] == quantity]
    printed = numbers(line)
    if len(printed) != 2 or not totals or printed != [min(totals), max(totals)]:
        raise ValueError(f"{source}: printed range {line!r} of {quantity} x n_c does not match the parsed "
                         f"values {sorted(totals)}")


def saved_p_star_pairs(lines: list[str], *, source: str, arch: str, s: int,
                       loop: Sequence[tuple[int, int, int]], notes: Mapping[str, str]) -> list[dict]:
    """Per (L, s0, v) of `loop`: the line `v`, then, when the saved files exist, `L v` and `[P*] [P*_S]` per
    class (scale_P_TASK-FCN.ipynb cell 5, which reads back the files other cells saved). Two final lines
    print the [min] [max] of the plotted P*_S and P*_D x n_c; the first is checked against the rows.
    notes: quantity -> its note."""
    rows, i = [], 0
    for L, s0, v in loop:
        if i >= len(lines) or lines[i] != str(v):
            raise ValueError(f"{source}: expected the line {v!r} of (L={L}, s0={s0}, v={v})")
        i += 1
        if i < len(lines) and lines[i] == f"{L} {v}":
            if i + 1 >= len(lines) or not re.fullmatch(r"\[\S+\] \[\S+\]", lines[i + 1]):
                raise ValueError(f"{source}: expected '[P*] [P*_S]' after {lines[i]!r}")
            task, sem = numbers(lines[i + 1])
            instance = Instance(arch, s, L, v, s0)
            for quantity, value in (("p_star", task), ("p_star_S", sem)):
                flags = [PER_CLASS, notes.get(quantity, ""), _READ_BACK]
                rows.append(instance.row(quantity, value * v, flags))
            i += 2
    if len(lines) - i != 2:
        raise ValueError(f"{source}: expected two range lines at the end, got {lines[i:]}")
    _check_range(rows, "p_star_S", lines[i], source)
    return rows


def common_nets_p_stars(lines: list[str], *, source: str, nets: Sequence[str], instance: Instance,
                        notes: Mapping[str, str]) -> list[dict]:
    """Per net of `nets`: `ok`, then `P* P*_S P*_D` per class when its files exist
    (scale_P_TASK-NewNets.ipynb cell 6). The last line, `min max` of P* x n_c, is checked against the rows.
    notes: quantity -> its note."""
    rows, i = [], 0
    for net in nets:
        if i >= len(lines) or lines[i] != "ok":
            raise ValueError(f"{source}: expected the line 'ok' of {net}")
        i += 1
        if i < len(lines) and len(numbers(lines[i])) == 3:
            net_instance = Instance(NET_NAMES[net], instance.s, instance.L, instance.v, instance.s0)
            for quantity, value in zip(("p_star", "p_star_S", "p_star_D"), numbers(lines[i]), strict=True):
                rows.append(net_instance.row(quantity, value * instance.v, [PER_CLASS, notes[quantity]]))
            i += 1
    if i != len(lines) - 1:
        raise ValueError(f"{source}: expected one range line at the end, got {lines[i:]}")
    _check_range(rows, "p_star", lines[i], source)
    return rows


def single_total(lines: list[str], *, source: str, quantity: str, instance: Instance,
                 notes: Sequence[str]) -> list[dict]:
    """Exactly one `tensor([x.])`, already multiplied by n_c in the notebook (scale_P_TASK.ipynb cell 10).
    Other printed lines (the plot's axis range) are not read."""
    values = [_single(_tensor(line), line, source) for line in lines if _tensor(line) is not None]
    if len(values) != 1:
        raise ValueError(f"{source}: expected exactly one printed value, got {values}")
    return [instance.row(quantity, values[0], ["printed after the notebook's x n_c", *notes])]


# ---------------------------------------------------------------------------------------------------------
# Training-set sizes and test errors


def _test_error_rows(instance: Instance, P: Sequence[int], errors: Sequence[float],
                     notes: Sequence[str], source: str) -> list[dict]:
    """Rows of one curve; a grid point listed twice with the same error gives one row."""
    by_P: dict[int, float] = {}
    repeated = set()
    for p, error in zip(P, errors, strict=True):
        if p in by_P:
            if by_P[p] != error:
                raise ValueError(f"{source}: {instance.label} has two test errors at P = {p}")
            repeated.add(p)
        by_P[p] = error
    return [instance.row("test_error", error, [*notes, "grid point listed twice" if p in repeated else ""], P=p)
            for p, error in by_P.items()]


_CURVE = re.compile(r"mats/mat_terr_L_(\d+)_n_(\d+)_m_(\d+)_s0_(\d+)_s_(\d+)(?:_bs_\d+)?_cnn\.pt")


def curves_after_file_names(lines: list[str], *, source: str, notes: Sequence[str]) -> list[dict]:
    """`mats/mat_terr_L_.._n_.._m_.._s0_.._s_..[_bs_..]_cnn.pt`, then, for the configurations the notebook
    prints, `tensor([errors])` and `tensor([ptr per class])` (scale_P_TASK.ipynb cell 2). Empty tensors give
    no rows; headers `L,s,s0,n` with their configuration (missing files) are skipped."""
    rows, i = [], 0
    while i < len(lines):
        match = _CURVE.fullmatch(lines[i])
        if lines[i] == "L,s,s0,n":
            i += 2
            continue
        if match is None:
            raise _unexpected(source, lines[i])
        L, v, m, s0, s = map(int, match.groups())
        i += 1
        if i + 1 < len(lines) and _tensor(lines[i]) is not None:
            errors, ptr = _tensor(lines[i]), _tensor(lines[i + 1])
            if ptr is None or len(ptr) != len(errors):
                raise ValueError(f"{source}: the errors after {match.group(0)} need a grid of the same length")
            instance = _instance("cnn2", s, L, v, m, s0, source)
            P = [_whole(p, f"{source}: ptr") * v for p in ptr]
            rows += _test_error_rows(instance, P, errors, [PER_CLASS, *notes], source)
            i += 2
    return rows


def older_grid(arch: str, v: int, s0: int) -> list[int]:
    """Training-set sizes (total P) of the older L = 2, s = 2 runs that plotting-L2.ipynb reads, in order.

    The notebook does not print them; it computes them as int(x) for x = 15 points log-spaced from v^3 to
    P_hi, keeping those below P_code = (2(s0+1))^3 v^4, with P_hi = P_code for the CNN at s0 < 4,
    min(P_code, 110000) for the CNN at s0 >= 4, and min(P_code, 110000 if v = 4 else 510000) for the FCN.
    int() truncates, so a point meant as 4^3 is 63 (the float is 63.99999...).
    Raises ValueError for an arch other than "cnn" and "fcn".
    """
    P_code = (2 * (s0 + 1)) ** 3 * v ** 4
    if arch == "cnn":
        P_hi = P_code if s0 < 4 else min(P_code, 110000)
    elif arch == "fcn":
        P_hi = min(P_code, 110000 if v == 4 else 510000)
    else:
        raise ValueError(f"arch must be 'cnn' or 'fcn' for the older runs, got {arch!r}")
    grid = [int(min(x, P_code)) for x in np.logspace(np.log10(v ** 3), np.log10(P_hi), 15)]
    return [p for p in grid if p < P_code]


def older_curves(lines: list[str], *, source: str, arch: str, notes: Sequence[str]) -> list[dict]:
    """`s0: k`, then per v the line `v` and the list of test errors (plotting-L2.ipynb cells 2 and 5). The
    list holds the errors of the runs found, in grid order; like the notebook (which plots them against
    the first grid points), P is taken as the first len(list) points of `older_grid`."""
    rows, s0, i = [], None, 0
    while i < len(lines):
        header = re.fullmatch(r"s0: (\d+)", lines[i])
        if header is not None:
            s0, i = int(header.group(1)), i + 1
            continue
        if s0 is None or not lines[i].isdigit() or i + 1 >= len(lines) or not lines[i + 1].startswith("["):
            raise _unexpected(source, lines[i])
        v, errors = int(lines[i]), numbers(lines[i + 1])
        grid = older_grid(arch, v, s0)
        if len(errors) > len(grid):
            raise ValueError(f"{source}: {len(errors)} errors for v={v}, s0={s0}, but {len(grid)} grid points")
        instance = Instance(arch, 2, 2, v, s0)
        rows += _test_error_rows(instance, grid[:len(errors)], errors, [TOTAL, *notes], source)
        i += 2
    return rows


def common_nets_grids(lines: list[str], *, source: str, notes: Sequence[str]) -> list[dict]:
    """`mats/mat_terr_L_.._n_.._m_.._s0_.._s_.._bs_.._<net>.pt`, `tensor([ptr per class])` and `ok` per net
    (scale_P_TASK-NewNets.ipynb cell 3 nests two loops over the nets, so each grid is printed once per net).
    Every repeat must print the same grid. Rows: one per grid point, P = ptr x n_c, value = ptr."""
    grids: dict[Instance, list[float]] = {}
    pattern = re.compile(r"mats/mat_terr_L_(\d+)_n_(\d+)_m_(\d+)_s0_(\d+)_s_(\d+)_bs_\d+_(\w+)\.pt")
    i = 0
    while i < len(lines):
        match = pattern.fullmatch(lines[i])
        if match is None or i + 2 >= len(lines) or lines[i + 2] != "ok" or _tensor(lines[i + 1]) is None:
            raise _unexpected(source, lines[i])
        L, v, m, s0, s = map(int, match.groups()[:5])
        instance = _instance(match.group(6), s, L, v, m, s0, source)
        if grids.setdefault(instance, _tensor(lines[i + 1])) != _tensor(lines[i + 1]):
            raise ValueError(f"{source}: two different grids printed for {instance.label}")
        i += 3
    return [instance.row("grid", ptr, ["ptr per class, P = ptr x n_c", *notes],
                         P=_whole(ptr, f"{source}: ptr") * instance.v)
            for instance, grid in grids.items() for ptr in grid]


def single_P_test_errors(lines: list[str], *, source: str, instance: Instance,
                         notes: Sequence[str]) -> list[dict]:
    """Per net: `--check--`, its name, and `<target> tensor(<P / n_c>)`, the grid point nearest the target
    P / n_c (the notebook divides the total P of the older CNN runs by n_c first); at the end one list
    `[tensor(e1), ...]` of their test errors, in the same order (stabilities_s-NewNets.ipynb cell 16, printed
    to 4 decimals). The sensitivities printed in between are not read."""
    checks = [(lines[i + 1], numbers(lines[i + 2])) for i, line in enumerate(lines) if line == "--check--"]
    lists = [line for line in lines if line.startswith("[tensor(")]
    if len(lists) != 1 or len(numbers(lists[0])) != len(checks):
        raise ValueError(f"{source}: expected one list of {len(checks)} test errors, got {lists}")
    rows = []
    for (net, (target, ptr)), error in zip(checks, numbers(lists[0])):
        net_instance = Instance(NET_NAMES[net], instance.s, instance.L, instance.v, instance.s0)
        P = _whole(ptr * instance.v, f"{source}: P of {net}")
        rows += _test_error_rows(net_instance, [P], [error],
                                 [f"the grid point nearest P/n_c = {target:g}, printed as P/n_c, x n_c", *notes],
                                 source)
    return rows


# ---------------------------------------------------------------------------------------------------------
# The registered cells


_FCN_LOOP = ((2, 0), (2, 1), (2, 2), (3, 0), (3, 1), (3, 2))
_NEW_NETS = ("VGG11", "VGG16", "ResNet18", "ResNet34", "EfficientNetB0")
_FIG1 = Instance("cnn", 2, 2, 10, 2)
_FCN_SENSITIVITY = ("column L of the stored sensitivities, threshold 0.2 accepted within +-0.5; "
                    "the axis labels of the figure say S_2 = 30 % and D_2 = 10 %")

CELLS = (
    Cell("scale_P_TASK-LCN.ipynb", 2, ("mat_terr", "pstars_task_"),
         partial(p_star_with_configuration, arch="lcn", quantity="p_star")),
    Cell("scale_P_TASK-FCN.ipynb", 2, ("mat_terr", "pstars_task_"),
         partial(p_star_with_file_name, quantity="p_star")),
    Cell("scale_P_TASK-FCN.ipynb", 3, ("mat_all_sem", "pstars_sem_"),
         partial(p_star_in_loop_order, arch="fcn", quantity="p_star_S", s=2, v=6, loop=_FCN_LOOP,
                 notes=[_FCN_SENSITIVITY])),
    Cell("scale_P_TASK-FCN.ipynb", 4, ("mat_all_pos", "pstars_pos_"),
         partial(p_star_in_loop_order, arch="fcn", quantity="p_star_D", s=2, v=6, loop=_FCN_LOOP,
                 notes=[_FCN_SENSITIVITY])),
    Cell("scale_P_TASK-FCN.ipynb", 5, ("pstars_task", "pstars_sem", "pstars_pos"),
         partial(saved_p_star_pairs, arch="fcn", s=2,
                 loop=[(L, s0, v) for L in (2, 3) for s0 in (0, 1, 2) for v in (4, 6, 8)],
                 notes={"p_star_S": _FCN_SENSITIVITY})),
    Cell("scale_P_TASK-NewNets.ipynb", 3, ("mat_terr", "0.07"),
         partial(common_nets_grids, notes=["the training-set sizes of the common nets"])),
    Cell("scale_P_TASK-NewNets.ipynb", 6, ("pstars_task", "pstars_sem", "pstars_pos"),
         partial(common_nets_p_stars, nets=_NEW_NETS, instance=_FIG1,
                 notes={"p_star": "test-error threshold 7 % (accepted within +-0.1), although the axis label says 10 %",
                        "p_star_S": "S at the layer before the last stored one, threshold 0.13 accepted within +-0.5; "
                                    "the axis label says 20 %",
                        "p_star_D": "D at the layer before the last stored one, threshold 0.07 accepted within +-0.5; "
                                    "the axis label says 20 %"})),
    Cell("scale_P_TASK.ipynb", 2, ("mat_terr", "pstars_task_"),
         partial(curves_after_file_names, notes=["printed by torch to 5 significant digits"])),
    Cell("scale_P_TASK.ipynb", 10, ("pstars_pos_",),
         partial(single_total, quantity="p_star_D", instance=Instance("cnn", 2, 3, 4, 1),
                 notes=["D_2 threshold 0.2 accepted within +-0.5"])),
    Cell("plotting-L2.ipynb", 2, ("pstars_cnn_l2.pt",),
         partial(older_curves, arch="cnn",
                 notes=["older in-memory run (main.py)", _OLDER_GRID])),
    Cell("plotting-L2.ipynb", 5, ("pstars_fc_l2.pt",),
         partial(older_curves, arch="fcn",
                 notes=["older in-memory FCN run (main.py, batch 256), not shown in the paper", _OLDER_GRID])),
    Cell("stabilities_s-NewNets.ipynb", 16, ("pchecks", "mat_terr"),
         partial(single_P_test_errors, instance=_FIG1, notes=["the single-P panels of Figs. 1 and 17"])),
)
"""Every cell read. The P*_D at s0 = 0 that scale_P_TASK-FCN.ipynb cell 4 prints are dropped: without
empty elements there is no diffeomorphism, and those values are the smallest grid points."""


# ---------------------------------------------------------------------------------------------------------
# Building and loading the table


def git_blob_id(data: bytes) -> str:
    """The id git gives a file of content `data` (SHA-1 of "blob <size>\\0" + data)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def verify_snapshot(root: str | os.PathLike) -> None:
    """Check that `root` holds the notebooks of NOTEBOOK_BLOBS exactly as at COMMIT.

    Raises ValueError naming the first missing or different notebook.
    """
    for name, blob in NOTEBOOK_BLOBS.items():
        path = Path(root) / name
        if not path.is_file():
            raise ValueError(f"notebooks: {path} is missing (a copy of {REPOSITORY} at {COMMIT[:7]} is needed)")
        if git_blob_id(path.read_bytes()) != blob:
            raise ValueError(f"notebooks: {path} differs from the version at commit {COMMIT[:7]} of {REPOSITORY}")


def cell_stdout(notebook: dict, cell: Cell) -> str:
    """The text cell `cell.index` printed to stdout, after checking that its code contains `cell.markers`."""
    cells = notebook.get("cells", [])
    if not 0 <= cell.index < len(cells):
        raise ValueError(f"{cell.source}: the notebook has {len(cells)} cells")
    code = "".join(cells[cell.index].get("source", ""))
    missing = [marker for marker in cell.markers if marker not in code]
    if missing:
        raise ValueError(f"{cell.source}: the cell's code lacks {missing}; is it the notebook at {COMMIT[:7]}?")
    return "".join("".join(output.get("text", "")) for output in cells[cell.index].get("outputs", [])
                   if output.get("output_type") == "stream" and output.get("name") == "stdout")


def parse_cells(root: str | os.PathLike, cells: Sequence[Cell]) -> pd.DataFrame:
    """The rows of `cells`, read from the notebooks under `root`, as a table of COLUMNS.

    Rows with the same (quantity, arch, s, L, v, s0, P) from several cells are one row whose source and
    note join theirs; they must agree on the value. P*_D rows at s0 = 0 are dropped (see CELLS).
    Sorted by quantity (QUANTITIES order), arch (srhm.architectures order), s, L, v, s0, P.
    Raises ValueError on a printed output of unexpected shape, two different values for one key, or a table
    `check_table` refuses (a non-positive P*, a test error outside [0, 1], ...).
    """
    import pandas as pd

    notebooks: dict[str, dict] = {}
    rows = []
    for cell in cells:
        if cell.notebook not in notebooks:
            notebooks[cell.notebook] = json.loads((Path(root) / cell.notebook).read_text(encoding="utf-8"))
        lines = logical_lines(cell_stdout(notebooks[cell.notebook], cell))
        rows += [{**row, "source": cell.source} for row in cell.parse(lines, source=cell.source)
                 if not (row["quantity"] == "p_star_D" and row["s0"] == 0)]
    return check_table(_merged(pd.DataFrame(rows, columns=list(COLUMNS))), "parsed notebooks")


def _merged(table: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    table = table.astype({"P": "Int64", "width": "Int64"})
    merged = []
    for _, group in table.groupby(_KEY, sort=False, dropna=False):
        if group["value"].nunique() != 1:
            raise ValueError(f"different values {group['value'].tolist()} for one measurement from "
                             f"{group['source'].tolist()}")
        row = group.iloc[0].copy()
        row["source"] = "; ".join(dict.fromkeys(group["source"]))
        row["note"] = "; ".join(dict.fromkeys(part for note in group["note"] for part in note.split("; ") if part))
        merged.append(row)
    result = pd.DataFrame(merged, columns=list(COLUMNS)).astype({"P": "Int64", "width": "Int64"})
    order = {"quantity": QUANTITIES, "arch": ARCHITECTURES}
    result = result.sort_values(_KEY, key=lambda c: c.map(order[c.name].index) if c.name in order else c)
    return result.reset_index(drop=True)


def parse_notebooks(root: str | os.PathLike) -> pd.DataFrame:
    """The table of the authors' printed measurements, from a copy of their notebooks at COMMIT.

    root: a checkout of github.com/UmbertoTomasini/sparse_hierarchy_model at COMMIT, or any directory
    holding the notebooks of NOTEBOOK_BLOBS under their repository paths (checked by `verify_snapshot`).

    How the printed numbers become rows (workflow/data/README.md has the evidence):
    - units: most runs read ptr / 4 stored files of 4 samples per class, ptr = P / n_c, and the notebooks
      print P* and grids in these units; they multiply by n_c to plot. The older CNN runs at L = 2, s = 2,
      s0 > 0 (and the older FCN runs) were trained in memory on a total P, printed as such. Every P and
      p_star* value in the table is a total;
    - the authors' P* is the grid point whose value is nearest the threshold (10 % for the test error),
      accepted within +-0.1 (+-0.5 for S_2 and D_2), no interpolation (srhm.scaling.paper_rule is that rule);
    - when no grid point is accepted, the loop keeps and prints the previous configuration's P*: a printed
      value equal to the one just before it is kept with a note containing STALE (which
      `load_authors_measurements` leaves out by default);
    - the common nets' P* uses a 7 % threshold although the axis label says 10 %.
    """
    verify_snapshot(root)
    return parse_cells(root, CELLS)


def check_table(table: pd.DataFrame, name: str = "table") -> pd.DataFrame:
    """`table` with its types fixed (Int64 width and P), or ValueError naming `name` and the problem: columns
    other than COLUMNS, unknown quantity, arch or sparsity, a missing instance field, a non-positive or
    non-whole P or P*, P missing on a test_error/grid row (or present on a p_star row), a test error outside
    [0, 1], n_c != v or m != v^(s-1), an empty source, or a repeated (quantity, arch, s, L, v, s0, P)."""
    import pandas as pd

    if tuple(table.columns) != COLUMNS:
        raise ValueError(f"{name}: columns must be {list(COLUMNS)}, got {list(table.columns)}")
    for column, allowed in (("quantity", QUANTITIES), ("arch", ARCHITECTURES), ("sparsity", ("A", "B"))):
        bad = sorted(set(table[column].dropna()) - set(allowed))
        if bad or table[column].isna().any():
            raise ValueError(f"{name}: {column} must be one of {list(allowed)}, got {bad or 'an empty cell'}")
    integers = ["s", "L", "v", "n_c", "m", "s0"]
    numeric = table[integers + ["width", "P", "value"]].apply(pd.to_numeric, errors="coerce")
    if numeric[integers + ["value"]].isna().any().any():
        raise ValueError(f"{name}: {integers + ['value']} must be numbers in every row")
    whole = numeric[integers + ["width", "P"]]
    if ((whole.notna() & (whole % 1 != 0)).any().any() or (numeric[["s", "L", "v"]] < [2, 1, 2]).any().any()
            or (numeric["s0"] < 0).any() or (numeric[["width", "P"]] <= 0).any().any()):
        raise ValueError(f"{name}: s >= 2, L >= 1, v >= 2, s0 >= 0, width > 0 and P > 0 must be whole numbers")
    if ((numeric["n_c"] != numeric["v"]) | (numeric["m"] != numeric["v"] ** (numeric["s"] - 1))).any():
        raise ValueError(f"{name}: every instance must have n_c = v and m = v^(s-1)")
    sized = table["quantity"].isin(["test_error", "grid"])
    if (numeric["P"].isna() == sized).any():
        raise ValueError(f"{name}: P must be given exactly on test_error and grid rows")
    error = table["quantity"] == "test_error"
    if not numeric.loc[error, "value"].between(0, 1).all():
        raise ValueError(f"{name}: test_error values must be fractions in [0, 1]")
    counts = numeric.loc[~error, "value"]
    if ((counts <= 0) | (counts % 1 != 0)).any():
        raise ValueError(f"{name}: p_star*, p_star_* and grid values must be positive whole numbers")
    if table["source"].isna().any() or not table["source"].astype(str).str.contains(COMMIT[:7]).all():
        raise ValueError(f"{name}: every source must name a notebook cell at commit {COMMIT[:7]}")
    if table.duplicated(_KEY).any():
        raise ValueError(f"{name}: {int(table.duplicated(_KEY).sum())} repeated (quantity, arch, s, L, v, s0, P)")
    return table.astype({column: "int64" for column in integers}).astype({"width": "Int64", "P": "Int64"})


def load_authors_measurements(path: str | os.PathLike = DATA, *, include_stale: bool = False) -> pd.DataFrame:
    """The committed table of the authors' printed measurements (module docstring: columns and units).

    include_stale: keep the rows whose note contains STALE (a loop reprinting the previous configuration's
    P*); by default they are left out, since they are not measurements of their row's instance.
    Raises ValueError (see `check_table`) if the file is malformed.
    """
    import pandas as pd

    table = check_table(pd.read_csv(path, keep_default_na=False, na_values=[""]), str(path))
    table["note"] = table["note"].fillna("")
    if include_stale:
        return table
    return table[~table["note"].str.contains(STALE, regex=False)].reset_index(drop=True)
