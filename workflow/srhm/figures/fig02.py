"""Fig. 2: the (Sparse) Random Hierarchy Model drawn from srhm.data objects: production rules, a
diffeomorphism, the sparsity A and B arrangements, an empty element expanding into an empty patch,
and samples. No training, no tables.

Symbols are cells coloured by value; empty positions are white cells.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import numpy as np

from srhm.data import EMPTY, SRHM, Batch
from srhm.figures.tables import no_experiments

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from srhm.figures.panels import CaptionedFigure

CAPTION = """\
Paper Fig. 2, drawn from the generator of this repository. (1) Production rules of an RHM with n_c = 2 classes,
L = 2 levels, m = 3 synonyms, v = 3 symbols per level and tuples of s = 2 (classes and level-2 features A, B,
C rewrite into m = 3 distinct pairs, no pair shared between two parents), and two samples generated from them
as trees. (2) A discrete diffeomorphism on a sparse 1-D input (L = 2, s = 2, s0 = 1, d = 16): the informative
symbols of the lowest level (l = 1) move to other slots of their sub-patches and keep their values (the paper
also shows a deformed image). (3) Arrangements of one patch of s(s0 + 1) = 4 slots for s = 2, s0 = 1: sparsity A
puts each child alone in its own sub-patch of s0 + 1 slots, (s0 + 1)^s = 4 ways; sparsity B lets the s children
take any s slots in order, C(4, 2) = 6 ways. (4) An empty element of level 2 expands into an empty patch of
s(s0 + 1) = 4 slots of the input, an informative one into a patch with s informative slots. (5) Four SRHM
samples with L = 2, s = 2, s0 = 1 (d = 16), sparsity A, with their classes.
"""
RHM = dict(v=3, n_classes=2, m=3, s=2, L=2, s0=0)
SPARSE = dict(v=3, n_classes=2, m=3, s=2, L=2, s0=1)
GRAMMAR_SEED, SAMPLE_SEED, DIFFEO_SEED = 0, 1, 2
SYMBOL_COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860")
EMPTY_COLOUR = "white"
FEATURE_NAMES = "ABCDEFGH"
SYMBOL_NAMES = "abcdefgh"


experiments = no_experiments


def inputs(settings: Mapping) -> list[str]:
    return []


def draw(results: Path, settings: Mapping) -> CaptionedFigure:
    from srhm.figures.panels import new_figure

    rhm = SRHM(**RHM, seed=GRAMMAR_SEED)
    sparse_a = SRHM(**SPARSE, sparsity="A", seed=GRAMMAR_SEED)
    sparse_b = SRHM(**SPARSE, sparsity="B", seed=GRAMMAR_SEED)
    fig, axes = new_figure(2, 3)
    _rules_panel(fig, axes[0, 0], rhm)
    _trees_panel(fig, axes[0, 1], rhm, rhm.sample(2, seed=SAMPLE_SEED))
    _diffeo_panel(fig, axes[0, 2], sparse_a, sparse_a.sample(1, seed=SAMPLE_SEED))
    _arrangements_panel(fig, axes[1, 0], sparse_a, sparse_b)
    _empty_patch_panel(fig, axes[1, 1], sparse_a, sparse_a.sample(1, seed=SAMPLE_SEED))
    _samples_panel(fig, axes[1, 2], sparse_a, sparse_a.sample(4, seed=SAMPLE_SEED))
    for ax in axes.flat:
        ax.set_aspect("equal")
        ax.axis("off")
    return fig


def feature_tree(ds: SRHM, batch: Batch) -> list[np.ndarray]:
    """The informative features of every depth, top-down: [n, 1] the class, then [n, s**g] for g = 1..L
    (the last are the input's informative symbols, left to right)."""
    features = [batch.y[:, None]]
    for g, rules in enumerate(ds.rules):
        parents = features[-1]
        features.append(rules[parents, batch.choices[g].astype(np.intp)].reshape(len(batch), -1))
    return features


def top_patch(ds: SRHM, batch: Batch) -> np.ndarray:
    """[n, s(s0+1)]: the level-L sequence under the class, its s features in the slots of their
    arrangement and EMPTY elsewhere; slot j expands into input positions j d/patch .. (j+1) d/patch - 1."""
    features = feature_tree(ds, batch)[1]
    sequence = np.full((len(batch), ds.patch), EMPTY, dtype=np.int64)
    np.put_along_axis(sequence, ds.slots[batch.arrangements[0].astype(np.intp)[:, 0]], features, axis=1)
    return sequence


def _cells(ax: Axes, symbols, *, x: float, y: float, names: str = SYMBOL_NAMES, size: float = 1.0,
           gid: str | None = None) -> None:
    """A row of cells from (x, y): symbol i coloured and named names[i], EMPTY white."""
    from matplotlib.patches import Rectangle

    for j, symbol in enumerate(np.asarray(symbols).tolist()):
        empty = symbol == EMPTY
        ax.add_patch(Rectangle((x + j * size, y), size, size, facecolor=EMPTY_COLOUR if empty else
                               SYMBOL_COLOURS[symbol % len(SYMBOL_COLOURS)], edgecolor="0.5", linewidth=0.6,
                               gid=None if empty else gid))
        if not empty:
            ax.text(x + (j + 0.5) * size, y + 0.5 * size, names[symbol], ha="center", va="center",
                    fontsize=6 * size, color="white")


def _frame(ax: Axes, title: str, width: float, height: float) -> None:
    ax.set_title(title, fontsize=9)
    ax.set_xlim(-0.5, width + 0.5)
    ax.set_ylim(-0.5, height + 0.5)


def _rules_panel(fig: CaptionedFigure, ax: Axes, ds: SRHM) -> None:
    """(1) Every production rule: one row per parent (classes, then level-2 features), its m tuples beside it."""
    rows = [(f"class {c}", tuples, FEATURE_NAMES) for c, tuples in enumerate(ds.rules[0])]
    rows += [(FEATURE_NAMES[f], tuples, SYMBOL_NAMES) for f, tuples in enumerate(ds.rules[1])]
    width = 3 + ds.m * (ds.s + 1)
    for i, (parent, tuples, names) in enumerate(rows):
        y = len(rows) - 1 - i + (0.5 if i < ds.n_classes else 0.0)
        ax.text(1.5, y + 0.5, f"{parent} →", ha="right", va="center", fontsize=7)
        for j, pair in enumerate(tuples):
            _cells(ax, pair, x=2 + j * (ds.s + 1), y=y, names=names, gid="rule")
    _frame(ax, f"(1) RHM rules: n_c = {ds.n_classes}, L = {ds.L}, m = {ds.m}, v = {ds.v}, s = {ds.s}", width,
           len(rows) + 0.5)
    fig.notes.append(f"(1) {ds.n_classes + ds.v} parents x m = {ds.m} rules of {ds.s} symbols, grammar seed "
                     f"{ds.seed}.")


def _trees_panel(fig: CaptionedFigure, ax: Axes, ds: SRHM, batch: Batch) -> None:
    """(1) Samples as trees: the class on top, the features of each depth below, lines parent -> children."""
    tree = feature_tree(ds, batch)
    width = ds.s**ds.L
    for sample in range(len(batch)):
        x0 = sample * (width + 1.5)
        for depth, features in enumerate(tree):
            row = features[sample]
            spacing = width / len(row)
            y = 2 * (len(tree) - 1 - depth)
            names = {0: None, 1: FEATURE_NAMES}.get(depth, SYMBOL_NAMES)
            centres = x0 + spacing * (np.arange(len(row)) + 0.5)
            if names is None:
                ax.text(centres[0], y + 0.5, f"class {row[0]}", ha="center", va="center", fontsize=7)
            else:
                for centre, symbol in zip(centres, row):
                    _cells(ax, [symbol], x=centre - 0.5, y=y, names=names, gid="tree")
            if depth:
                parents = x0 + (width / len(tree[depth - 1][sample])) * (np.arange(len(row)) // ds.s + 0.5)
                for parent, child in zip(parents, centres):
                    ax.plot([parent, child], [y + 2, y + 1], color="0.5", linewidth=0.6)
    _frame(ax, "(1) two samples", len(batch) * (width + 1.5) - 1.5, 2 * len(tree) - 1)
    fig.notes.append(f"(1) samples of classes {batch.y.tolist()}, inputs " + ", ".join(
        "".join(SYMBOL_NAMES[s] for s in x) for x in batch.x) + ".")


def _diffeo_panel(fig: CaptionedFigure, ax: Axes, ds: SRHM, batch: Batch) -> None:
    """(2) One sparse input before and after a diffeomorphism at level 1 (every placement redrawn)."""
    moved = ds.resample(batch, "diffeo", level=1, seed=DIFFEO_SEED, distinct=True)
    for y, (label, x) in enumerate((("τx", moved.x[0]), ("x", batch.x[0]))):
        ax.text(-0.3, 2 * y + 0.5, label, ha="right", va="center", fontsize=8)
        _cells(ax, x, x=0, y=2 * y, gid="diffeo")
    _frame(ax, f"(2) diffeomorphism at level 1, d = {ds.d}", ds.d, 3)
    changed = int((batch.x[0] != moved.x[0]).sum())
    fig.notes.append(f"(2) the diffeomorphism changes {changed} of {ds.d} positions; the informative symbols in "
                     f"order stay {''.join(SYMBOL_NAMES[s] for s in batch.x[0][batch.x[0] != EMPTY])}.")


def _arrangements_panel(fig: CaptionedFigure, ax: Axes, sparse_a: SRHM, sparse_b: SRHM) -> None:
    """(3) Every arrangement of one patch under sparsity A (left) and B (right); child i takes colour i."""
    height = max(sparse_a.n_arrangements, sparse_b.n_arrangements)
    for column, ds in enumerate((sparse_a, sparse_b)):
        x0 = column * (ds.patch + 2)
        ax.text(x0 + ds.patch / 2, height + 0.3, f"{ds.sparsity}: {ds.n_arrangements}", ha="center", fontsize=8)
        for row, slots in enumerate(ds.slots):
            patch = np.full(ds.patch, EMPTY)
            patch[slots] = np.arange(ds.s)
            _cells(ax, patch, x=x0, y=height - 1 - row, names="12345678", gid=f"slot-{ds.sparsity}")
    _frame(ax, f"(3) sparsity A vs B, s = {sparse_a.s}, s0 = {sparse_a.s0}", 2 * sparse_a.patch + 2, height + 1)
    fig.notes.append(f"(3) {sparse_a.n_arrangements} arrangements under sparsity A, {sparse_b.n_arrangements} "
                     f"under B, of a patch of {sparse_a.patch} slots.")


def _empty_patch_panel(fig: CaptionedFigure, ax: Axes, ds: SRHM, batch: Batch) -> None:
    """(4) The level-2 sequence of one sample above its input: each element expands into a block of the
    input, an empty element into an all-empty block (shaded)."""
    upper = top_patch(ds, batch)[0]
    block = ds.d // ds.patch
    size, top = 2.0, 3.5
    left = (ds.d - size * ds.patch) / 2
    _cells(ax, upper, x=left, y=top, names=FEATURE_NAMES, size=size, gid="level2")
    _cells(ax, batch.x[0], x=0, y=0, gid="input")
    for j, symbol in enumerate(upper):
        ax.fill([left + j * size, left + (j + 1) * size, (j + 1) * block, j * block], [top, top, 1, 1],
                facecolor="0.8" if symbol == EMPTY else "0.95", edgecolor="0.6", linewidth=0.5,
                gid="empty-expansion" if symbol == EMPTY else "expansion")
    _frame(ax, "(4) empty elements expand into empty patches", ds.d, top + size)
    empties = int((upper == EMPTY).sum())
    fig.notes.append(f"(4) {empties} of the {ds.patch} level-2 elements are empty; each expands into "
                     f"{block} empty input positions.")


def _samples_panel(fig: CaptionedFigure, ax: Axes, ds: SRHM, batch: Batch) -> None:
    """(5) Samples one per row, labelled with their class."""
    for row, (x, y) in enumerate(zip(batch.x, batch.y)):
        top = 1.5 * (len(batch) - 1 - row)
        ax.text(-0.3, top + 0.5, f"class {y}", ha="right", va="center", fontsize=7)
        _cells(ax, x, x=0, y=top, gid="sample")
    _frame(ax, f"(5) SRHM samples, L = {ds.L}, s = {ds.s}, s0 = {ds.s0}, d = {ds.d}", ds.d, 1.5 * len(batch))
    fig.notes.append(f"(5) {len(batch)} samples of {ds.name}, each with {ds.s ** ds.L} informative positions.")
