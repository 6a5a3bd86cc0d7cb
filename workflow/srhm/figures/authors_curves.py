"""Our test-error curves beside the authors' printed ones, one panel per instance both ran.

Not a figure of the paper: it shows, for the instances where the authors' notebooks printed a whole
test-error curve (srhm.authors; the older CNN runs of Fig. 4C and the CNN at s = 3, L = 3), whether our
networks learn as theirs did, P by P.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from srhm.figures.tables import experiment_list, read
from srhm.paths import AUTHORS_TABLE, run_table

if TYPE_CHECKING:
    from srhm.figures.panels import CaptionedFigure

CAPTION = """\
Not in the paper: for every instance where the authors' notebooks printed a whole test-error curve and this run
trained the same instance (same architecture, s, L, v, s0; sparsity A), our test error against P (mean over
seeds, min-max over seeds shaded) beside theirs (open black circles, one run each, at their width 512). The
dashed line is the threshold of P* (10 %). Panel titles give our model (architecture and width) and seeds.
"""
COLUMNS = 4


experiments = experiment_list


def inputs(settings: Mapping) -> list[str]:
    return [AUTHORS_TABLE, *(run_table(name) for name in experiment_list(settings))]


def draw(results: Path, settings: Mapping) -> CaptionedFigure:
    from srhm.authors import load_authors_measurements
    from srhm.comparison import INSTANCE, authors_form, threshold
    from srhm.figures import style
    from srhm.figures.panels import log_scale, new_figure, say, seed_curve

    ours = read(results, [run_table(name) for name in experiment_list(settings)])
    theirs = load_authors_measurements(results / AUTHORS_TABLE)
    theirs = theirs[(theirs["quantity"] == "test_error") & (theirs["sparsity"] == "A")]
    pairs = []
    if len(ours):
        ours = authors_form(ours)
        curves = {key: group for key, group in theirs.groupby(INSTANCE)}
        pairs = [(key, group, curves[key[1:]]) for key, group in ours.groupby(["model", *INSTANCE])
                 if key[1:] in curves]
    fig, axes = new_figure(max(1, math.ceil(len(pairs) / COLUMNS)), min(COLUMNS, max(1, len(pairs))))
    if not pairs:
        say(axes[0, 0], "no instance of these experiments has a curve printed by the authors", empty=True)
        fig.notes.append("No instance of the experiments drawn has a test-error curve printed by the authors.")
        return fig
    for ax, ((model, arch, s, L, v, s0), mine, their) in zip(axes.flat, pairs):
        seed_curve(ax, mine, "P", "test_error", color="C3", marker="o", label=f"ours ({model})")
        their = their.sort_values("P")
        ax.plot(their["P"], their["value"], linestyle="none", marker="o", markerfacecolor="none",
                markeredgecolor="black", markersize=5, label="authors")
        ax.axhline(threshold(arch), **style.GUIDE_STYLE)
        log_scale(ax, "x")
        ax.set_title(f"{arch.upper()}, s = {s}, L = {L}, v = {v}, s0 = {s0} ({mine['seed'].nunique()} seeds)",
                     fontsize=8)
        ax.set_xlabel(style.P_LABEL)
        ax.set_ylabel(style.ERROR_LABEL)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(pairs):]:
        ax.set_visible(False)
    fig.notes.append(f"{len(pairs)} instances drawn: " + "; ".join(
        f"{arch} s={s} L={L} v={v} s0={s0} ({model})" for (model, arch, s, L, v, s0), _, _ in pairs) + ".")
    return fig
