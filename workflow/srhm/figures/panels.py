"""Panel types the paper repeats: scaling scatters (P* against a prediction or another sample
complexity, log-log, with the paper's guide line and our fit) and curves over P averaged over seeds.

Every panel records what the data lack in the notes of its CaptionedFigure, and says so in the panel.
Curves over P are seaborn line plots of tidy tables (seed means with their min-max band, one curve per
value of a `hue` column). Scaling scatters are drawn with matplotlib: their error bars are the P* table's
bootstrap percentiles, not an interval seaborn computes from observations, and the paper's markers mix
filled and line-art ones (a cross for s0 = 2), which seaborn's style mapping refuses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatterSciNotation

from srhm.figures import style
from srhm.figures.fits import BAND_LABEL, FittedLine, fitted_line, report_fit
from srhm.figures.tables import describe, missing_regimes
from srhm.scaling import ScalingFit

PANEL_SIZE = (4.2, 3.6)
"""Width and height of one panel, inches."""
TICK_SIZE = 7
MIN_DECADES = 1.0
"""Smallest span of the square log-log limits of a scaling panel."""


class CaptionedFigure(Figure):
    """A matplotlib Figure that also carries notes on its data (missing points and regimes, fits),
    written into the figure's caption file."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.notes: list[str] = []


def new_figure(nrows: int, ncols: int, *, extra_width: float = 0.0) -> tuple[CaptionedFigure, np.ndarray]:
    """A constrained-layout figure with an [nrows, ncols] array of axes."""
    fig = CaptionedFigure(figsize=(PANEL_SIZE[0] * ncols + extra_width, PANEL_SIZE[1] * nrows), layout="constrained")
    axes = np.asarray(fig.subplots(nrows, ncols, squeeze=False))
    for ax in axes.flat:
        ax.tick_params(which="both", labelsize=TICK_SIZE)
    return fig, axes


class SparseMinorLabels(LogFormatterSciNotation):
    """Log-axis minor tick labels at 2 and 5 times a power of ten only, so that they never overlap."""

    def __call__(self, x, pos=None):
        mantissa = x / 10 ** np.floor(np.log10(x) + 1e-9)
        return super().__call__(x, pos) if np.isclose(mantissa, 2) or np.isclose(mantissa, 5) else ""


def log_scale(ax: Axes, axes: str = "xy") -> None:
    """Logarithmic x and/or y axis (`axes` among "x", "y") with sparse minor tick labels."""
    for name in axes:
        axis = {"x": ax.xaxis, "y": ax.yaxis}[name]
        {"x": ax.set_xscale, "y": ax.set_yscale}[name]("log")
        axis.set_minor_formatter(SparseMinorLabels(labelOnlyBase=False))


def say(ax: Axes, text: str, *, empty: bool) -> None:
    """Write what a panel lacks inside it: centred if the panel has nothing else, else at its bottom."""
    position = (0.5, 0.5, "center") if empty else (0.98, 0.02, "bottom")
    ax.text(position[0], position[1], text, transform=ax.transAxes, ha="center" if empty else "right",
            va=position[2], fontsize=7, color="0.3", wrap=True,
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.7", "alpha": 0.85})


def threshold_label(points: pd.DataFrame, metric: str) -> str:
    """The threshold(s) of `metric` in the table, e.g. '30%' or '40%/20%' ('' if none)."""
    column = f"{metric}_threshold"
    values = sorted(points[column].dropna().unique()) if column in points else []
    return "/".join(style.percent(value) for value in values)


def scaling_panel(fig: CaptionedFigure, ax: Axes, points: pd.DataFrame, *, results: Path, x: str, y: str,
                  xlabel: str, ylabel: str, guide: float, title: str, v_range: tuple[float, float],
                  regimes: Mapping[str, Sequence[int]], marker_by: str = "s0",
                  reference: pd.DataFrame | None = None) -> None:
    """Scatter of column `y` against column `x` of P* tables (rows with their `experiment`), one point per
    setting.

    Colour by (L, v), marker by `marker_by`; 68 % bootstrap error bars where the table has them
    ({metric}_boot_lo68/hi68 for a column {metric}_p_star); dashed guide y = guide x (the paper's);
    our power-law fit with its least-squares 95 % band: the report's fit, with the intervals the report
    prints, when the points are all of one experiment's fit under `results`, else a least-squares fit of
    the points (srhm.figures.fits). Settings without a finite x or y are listed in the notes. `reference`:
    points of the same columns (x, y, L, v, marker_by) drawn as open markers beside ours and left out of
    the fit: the authors' own values.
    """
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    missing = missing_regimes(points, regimes)
    if points.empty or x not in points or y not in points:
        fig.notes.append(f"{title}: no settings in the data" + ("." if points.empty else f" with columns {x}, {y}."))
        say(ax, "no data for this panel" + (f"\nnot in the data: {'; '.join(missing)}" if missing else ""), empty=True)
        return
    finite = points[np.isfinite(points[x]) & np.isfinite(points[y]) & (points[x] > 0) & (points[y] > 0)]
    lacking = points.drop(finite.index)
    for _, row in finite.iterrows():
        ax.errorbar(row[x], row[y], xerr=_error_bar(row, x), yerr=_error_bar(row, y),
                    marker=style.marker(marker_by, row[marker_by]), color=style.v_colour(row["L"], row["v"], v_range),
                    markersize=6, linestyle="none", elinewidth=0.8, capsize=0)
    log_scale(ax)
    fig.notes.append(f"{title}: {len(finite)} of {len(points)} settings plotted.")
    lines = _marker_legend(points, marker_by)
    theirs = _reference_points(fig, ax, reference, x, y, marker_by, v_range, title)
    if theirs is not None:
        lines.append(theirs)
    if len(finite):
        shown = finite if reference is None else pd.concat([finite[[x, y]], reference[[x, y]]])
        lines += _guide_and_fit(fig, ax, finite[x].to_numpy(float), finite[y].to_numpy(float), guide, title,
                                fit=report_fit(results, finite, x, y),
                                limits_of=(shown[x].to_numpy(float), shown[y].to_numpy(float)))
    ax.legend(handles=lines, fontsize=6, loc="upper left")
    if len(lacking):
        fig.notes.append(f"{title}: no finite value for " + "; ".join(
            f"{describe(row)} ({_flags(row, (x, y))})" for _, row in lacking.iterrows()) + ".")
    if missing:
        fig.notes.append(f"{title}: not in the data (the paper has them): {'; '.join(missing)}.")
    shortfall = [f"{len(lacking)} of {len(points)} settings without a value"] if len(lacking) else []
    if shortfall or missing:
        say(ax, "\n".join(shortfall + [f"not in the data: {item}" for item in missing]), empty=not len(finite))


def seed_curve(ax: Axes, runs: pd.DataFrame, x: str, y: str, *, hue: str | None = None,
               palette: Mapping | None = None, **line) -> list:
    """Mean of column `y` over seeds against column `x`, with the min-max range over seeds shaded
    (seaborn.lineplot: estimator mean, errorbar ("pi", 100)); one curve per value of column `hue`, coloured
    by `palette` ({value: colour}), when `hue` is given.

    runs: a tidy table, the rows of one setting (several seeds per x and hue value). `line`: matplotlib
    style (color without `hue`, marker, linestyle, label, ...). The axes keep their labels. Returns the hue
    values drawn, those with a finite `y` (sorted; [None] for the one curve without `hue`), [] when nothing is.
    """
    drawn = runs[np.isfinite(runs[y].to_numpy(float))]
    if drawn.empty:
        return []
    labels = ax.get_xlabel(), ax.get_ylabel()
    sns.lineplot(data=drawn, x=x, y=y, hue=hue, palette=palette, estimator="mean", errorbar=("pi", 100),
                 legend=False, markersize=4, err_kws={"alpha": 0.15, "linewidth": 0}, ax=ax,
                 markeredgecolor=None, markeredgewidth=None, **line)  # matplotlib's marker edges: the line's colour
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    return sorted(drawn[hue].unique()) if hue is not None else [None]


def v_colourbars(fig: Figure, axes: Sequence[Axes], tables: Sequence[pd.DataFrame], v_range) -> None:
    """One colourbar "v" per depth L present in `tables`, beside `axes`, ticked at the v values drawn."""
    rows = pd.concat([table[["L", "v"]] for table in tables if len(table)] or [pd.DataFrame(columns=["L", "v"])])
    for L, group in reversed(list(rows.groupby("L"))):  # the last one added sits nearest the axes
        mappable = ScalarMappable(norm=style.v_norm(v_range), cmap=style.v_colourmap(L))
        bar = fig.colorbar(mappable, ax=list(axes), fraction=0.03, pad=0.01, aspect=30, location="right")
        bar.set_label(f"v (L = {L})")
        bar.set_ticks(sorted(group["v"].unique()))


def _reference_points(fig: CaptionedFigure, ax: Axes, reference: pd.DataFrame | None, x: str, y: str,
                      marker_by: str, v_range, title: str) -> Line2D | None:
    """Draw `reference` (the authors' values) as open markers; returns their legend handle (None if none)."""
    if reference is None or reference.empty:
        return None
    for _, row in reference.iterrows():
        ax.plot(row[x], row[y], marker=style.marker(marker_by, row[marker_by]), markersize=7, linestyle="none",
                markerfacecolor="none", markeredgecolor=style.v_colour(row["L"], row["v"], v_range))
    fig.notes.append(f"{title}: {len(reference)} P* printed by the authors (open markers; srhm.comparison: their "
                     "printed value, or their nearest-grid-point rule on the curve they printed).")
    return Line2D([], [], marker="o", markerfacecolor="none", color="0.3", linestyle="none", label="authors (open)")


def _guide_and_fit(fig: CaptionedFigure, ax: Axes, x: np.ndarray, y: np.ndarray, guide: float, title: str, *,
                   fit: tuple[ScalingFit, str] | None = None,
                   limits_of: tuple[np.ndarray, np.ndarray] | None = None) -> list:
    """Square log-log limits around the points (or around `limits_of`, x and y of every point drawn), the
    guide line across them and our fit over the points' range (`fit`: the report's fit of exactly these
    points and its file, srhm.figures.fits.report_fit; None: least squares of the points); returns their
    legend handles."""
    all_x, all_y = (x, y) if limits_of is None else limits_of
    low, high = np.log10(min(all_x.min(), all_y.min())), np.log10(max(all_x.max(), all_y.max()))
    pad = max(0.15, (MIN_DECADES - (high - low)) / 2)
    limits = 10.0 ** np.array([low - pad, high + pad])
    ax.set_xlim(*limits)
    ax.set_ylim(*limits)
    (guide_line,) = ax.plot(limits, guide * limits, label=f"paper: {style.proportional(guide)}", **style.GUIDE_STYLE)
    line = fitted_line(x, y) if fit is None else fitted_line(x, y, fit=fit[0], source=fit[1])
    if not isinstance(line, FittedLine):
        fig.notes.append(f"{title}: no fit ({line.flag}, {line.n_points} points, {line.n_distinct_x} distinct x).")
        return [guide_line]
    (fit_line,) = ax.plot(line.x, line.y, color=style.FIT_COLOUR, linewidth=1.2, label=line.label())
    band = ax.fill_between(line.x, line.lo95, line.hi95, color=style.FIT_COLOUR, alpha=0.15, linewidth=0,
                           label=BAND_LABEL)
    fig.notes.append(f"{title}: {line.note()}; paper's guide {style.proportional(guide)}.")
    return [guide_line, fit_line, band]


def _marker_legend(points: pd.DataFrame, marker_by: str) -> list[Line2D]:
    values = sorted({int(value) for value in points[marker_by]})
    return [Line2D([], [], marker=style.marker(marker_by, value), color="0.3", linestyle="none",
                   label=f"{marker_by} = {value}") for value in values]


def _error_bar(row: pd.Series, column: str):
    """Asymmetric 68 % bootstrap error bar [[below], [above]] of a {metric}_p_star column, or None."""
    metric = column.removesuffix("_p_star")
    low, high = row.get(f"{metric}_boot_lo68"), row.get(f"{metric}_boot_hi68")
    if column == metric or low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return None
    return [[max(row[column] - low, 0.0)], [max(high - row[column], 0.0)]]


def _flags(row: pd.Series, columns: Sequence[str]) -> str:
    """Why a point is missing: the flag of every {metric}_p_star column that is not finite."""
    reasons = []
    for column in columns:
        if not np.isfinite(row[column]):
            metric = column.removesuffix("_p_star")
            reasons.append(f"{column}: {row.get(f'{metric}_flag', 'missing')}")
    return ", ".join(reasons) or "not positive"
