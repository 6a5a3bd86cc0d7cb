"""Local exponents of P* against the paper's prediction x, ours and the authors' on the same axis.

Not a figure of the paper. A fit of P* against x over every instance gives one exponent; the exponent in a
sliding window of x (srhm.scaling.local_slopes, through srhm.comparison.local_slope_table) shows whether it
drifts along x, i.e. whether a deviation from the paper's exponent 1 is pre-asymptotic. The authors' printed
P* (srhm.authors) of the same family are drawn on the same axis. The report's "Local exponents" table gives
the same windows (srhm.report.local_slopes_section).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from srhm.figures.tables import experiment_list, window_decades
from srhm.paths import AUTHORS_TABLE, fits, pstar_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from srhm.figures.panels import CaptionedFigure

CAPTION = """\
Not in the paper: the local exponent of P* against the paper's prediction x ((s0+1)^2 n_c m^L for the CNN,
s^(L/2)(s0+1)^L n_c m^L for the LCN), one panel per experiment and family (architecture, s, sparsity). Each point
is the least-squares slope of log P* against log x over the instances whose x lies in a window of x that many
decades wide (given in the panel's title; consecutive windows overlap by half, their edges at multiples of half
the width), drawn at the geometric mean of its x, with its least-squares standard error (vertical bar) and the x
range of its instances (horizontal bar); windows with fewer than 3 distinct x are left out. Filled red: our P*;
open black: the authors' printed P* of the same family (their nearest-grid-point rule, one seed each), all of
them. The red line and band: our exponent over all our instances with its 95% interval, the report's fit
(seed bootstrap) where the panel holds exactly one experiment's fit; the dashed line: the same fit of all the
authors' values (the report's "authors' data"); dotted: the paper's exponent 1.
"""
COLUMNS = 2
OURS, AUTHORS = "C3", "black"


experiments = experiment_list


def inputs(settings: Mapping) -> list[str]:
    window_decades(settings)
    return [AUTHORS_TABLE, *(path for name in experiment_list(settings) for path in (pstar_table(name), fits(name)))]


def draw(results: Path, settings: Mapping) -> CaptionedFigure:
    import numpy as np
    import pandas as pd

    from srhm.authors import load_authors_measurements
    from srhm.comparison import FAMILY, authors_predictions, local_slope_table
    from srhm.figures.layouts import read_pstar
    from srhm.figures.panels import new_figure, say

    width = window_decades(settings)
    points = read_pstar(results, settings)
    theirs = authors_predictions(load_authors_measurements(results / AUTHORS_TABLE))
    panels = []
    for experiment, table in points.groupby("experiment", sort=False):
        windows = local_slope_table(table, theirs, width)
        drawn = table[np.isfinite(table["prediction"]) & np.isfinite(table["test_error_p_star"])]
        for family in drawn[FAMILY].drop_duplicates().itertuples(index=False):
            panels.append((experiment, family._asdict(), windows.merge(pd.DataFrame([family]))))
    fig, axes = new_figure(max(1, math.ceil(len(panels) / COLUMNS)), min(COLUMNS, max(1, len(panels))))
    if not panels:
        say(axes[0, 0], "no experiment drawn has a P* with a prediction", empty=True)
        fig.notes.append("No instance of the experiments drawn has a P* and a prediction of the paper.")
        return fig
    for ax, (experiment, family, windows) in zip(axes.flat, panels):
        mine = points[points["experiment"] == experiment].merge(pd.DataFrame([family])).assign(experiment=experiment)
        _panel(fig, ax, results, experiment, family, windows, mine, theirs.merge(pd.DataFrame([family])), width)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    return fig


def _panel(fig: CaptionedFigure, ax: Axes, results: Path, experiment: str, family: dict, windows, mine, authors,
           width: float) -> None:
    """One family of one experiment: its windows (rows of srhm.comparison.local_slope_table), our fit over all
    our instances `mine` (P* table rows) and the authors' fit over all theirs (`authors`: authors_predictions)."""
    import numpy as np

    from srhm.figures.fits import CI_METHODS, report_fit
    from srhm.figures.layouts import PREDICTION_LABELS
    from srhm.comparison import family_label, local_slope
    from srhm.figures.panels import MIN_DECADES, log_scale, say
    from srhm.scaling import fit_scaling
    from srhm.text import interval, number

    title = f"{experiment}: {family_label(**family)}"
    ax.set_title(f"{title} ({width:g}-decade windows)", fontsize=9)
    ax.set_xlabel(f"x = {PREDICTION_LABELS[family['arch']]}")
    ax.set_ylabel(r"local exponent of $P^*$ against x")
    for data, whose, colour, face in (("ours", "our", OURS, OURS), ("authors", "the authors'", AUTHORS, "none")):
        rows = windows[windows["data"] == data]
        if rows.empty:
            continue
        centre = rows["x_centre"].to_numpy(float)
        ax.errorbar(centre, rows["slope"].to_numpy(float), yerr=rows["slope_se"].to_numpy(float),
                    xerr=[centre - rows["x_min"].to_numpy(float), rows["x_max"].to_numpy(float) - centre],
                    color=colour, marker="o", markerfacecolor=face, markersize=5, linestyle="-", linewidth=0.8,
                    elinewidth=0.6, capsize=0, label=f"{data}, local ({len(rows)} window{'s' * (len(rows) > 1)})")
        fig.notes.append(f"{title}: {whose} local exponents, " + "; ".join(
            f"x in [{row.x_min:.4g}, {row.x_max:.4g}] ({row.n_points} instances): {local_slope(row)}"
            for row in rows.itertuples()) + ".")
    finite = mine[np.isfinite(mine["prediction"]) & np.isfinite(mine["test_error_p_star"])]
    stored = report_fit(results, mine, "prediction", "test_error_p_star")
    fit = stored[0] if stored else fit_scaling(finite["prediction"].to_numpy(float),
                                               finite["test_error_p_star"].to_numpy(float))
    if np.isfinite(fit.slope):
        span = [finite["prediction"].min(), finite["prediction"].max()]
        label = (f"ours, all {fit.n_points}: {number(fit.slope)}, 95% CI {interval(fit.slope_ci95)} "
                 f"({CI_METHODS[fit.ci_method]})")
        ax.plot(span, [fit.slope] * 2, color=OURS, linewidth=1.5, label=label)
        if np.all(np.isfinite(fit.slope_ci95)):
            ax.fill_between(span, *fit.slope_ci95, color=OURS, alpha=0.15, linewidth=0)
        source = f"the report's fit ({stored[1]})" if stored else "a least-squares fit of the points of the panel"
        fig.notes.append(f"{title}: {label}, {source}.")
    theirs = fit_scaling(authors["prediction"].to_numpy(float), authors["authors"].to_numpy(float))
    if np.isfinite(theirs.slope):
        label = f"authors, all {theirs.n_points}: {number(theirs.slope)} (least squares)"
        ax.plot([authors["prediction"].min(), authors["prediction"].max()], [theirs.slope] * 2, color=AUTHORS,
                linestyle="--", linewidth=1.0, label=label)
        fig.notes.append(f"{title}: {label}.")
    ax.axhline(1.0, color="0.4", linestyle=":", linewidth=1.0, label="paper: 1")
    log_scale(ax, "x")
    low, high = np.log10(ax.get_xlim())
    pad = max(0.0, (MIN_DECADES - (high - low)) / 2)
    ax.set_xlim(10 ** (low - pad), 10 ** (high + pad))
    if windows[windows["data"] == "ours"].empty:
        say(ax, f"ours: fewer than 3 distinct x in every {width:g}-decade window", empty=False)
    ax.legend(fontsize=6)
