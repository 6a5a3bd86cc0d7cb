"""Figure types the paper uses several times, built from the panels of srhm.figures.panels:

- P* against the paper's prediction (Figs. 4B-C, 10, 13);
- P* against P*_S and P*_D (Figs. 6, 11, 14, 16);
- raw and collapsed test-error curves of sparsity B (Figs. 7, 8);
- S_{k,l} and D_{k,l} of every layer k and level l against rescaled P (Figs. 12, 15).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from srhm import theory
from srhm.authors import load_authors_measurements
from srhm.comparison import authors_predictions
from srhm.figures import style
from srhm.figures.panels import (
    CaptionedFigure, log_scale, new_figure, say, scaling_panel, seed_curve, threshold_label, v_colourbars,
)
from srhm.figures.tables import (
    SETTING, describe, experiment_list, integer_setting, missing_regimes, read, select,
    string_setting,
)
from srhm.paths import AUTHORS_TABLE, pstar_table, run_table
from srhm.scaling import collapse

PREDICTION_LABELS = {"lcn": style.LCN_PREDICTION_LABEL, "cnn": style.CNN_PREDICTION_LABEL}
COLLAPSE_LABELS = {"lcn": r"$P\,/\,[(s_0+1)^L\, n_c\, m^L]$", "cnn": r"$P\,/\,[(s_0+1)^2\, n_c\, m^L]$"}
RESCALED_LABELS = {"lcn": r"$P\,/\,(s_0+1)^L$", "cnn": r"$P\,/\,(s_0+1)^2$"}
LCN_REGIMES = {"L": (2, 3), "s0": (0, 1, 2, 4)}
"""Depths and numbers of empties of the paper's LCN settings (Figs. 4B, 6, 10, 11)."""
CNN_REGIMES = {"L": (2, 3), "s0": (0, 1, 2, 4, 6)}
"""Depths and numbers of empties of the paper's CNN settings (Figs. 4C, 13, 14)."""
INVARIANCES = (("S", "S"), ("D", "D"))
"""Sample complexities beside P*: (metric of the P* table, letter) for synonyms and diffeomorphisms."""


def p_star_label(points: pd.DataFrame) -> str:
    threshold = threshold_label(points, "test_error")
    return r"$P^*$" + (rf" ($\varepsilon^*$ = {threshold})" if threshold else "")


def read_pstar(results: Path, settings: Mapping, key: str = "experiments") -> pd.DataFrame:
    """The P* tables of the experiments in settings[key], stacked, each row with its `experiment` (whose fits
    the scaling panels read)."""
    return pd.concat([read(results, [pstar_table(name)]).assign(experiment=name)
                      for name in experiment_list(settings, key)], ignore_index=True)


def prediction_panel(fig: CaptionedFigure, ax: Axes, points: pd.DataFrame, *, results: Path, arch: str, guide: float,
                     title: str, v_range, regimes: Mapping[str, Sequence[int]], marker_by: str = "s0",
                     authors: pd.DataFrame | None = None) -> None:
    """P* against the paper's prediction for `arch` (the `prediction` column of the P* tables read by
    `read_pstar`), with the report's fit of them when they are one experiment's (srhm.figures.panels.scaling_panel);
    `authors` (see `authors_points`) drawn as open markers."""
    scaling_panel(fig, ax, points, results=results, x="prediction", y="test_error_p_star",
                  xlabel=PREDICTION_LABELS[arch], ylabel=p_star_label(points), guide=guide, title=title,
                  v_range=v_range, regimes=regimes, marker_by=marker_by, reference=authors)


def authors_points(results: Path, arch: str, **equal) -> pd.DataFrame:
    """The authors' P* of `arch` and sparsity A (srhm.comparison.authors_predictions, from the copy of their
    table in the results), with the columns of a P* table that prediction panels draw: s, L, v, s0, prediction,
    test_error_p_star; `equal` selects further (e.g. s=2)."""
    theirs = select(authors_predictions(load_authors_measurements(Path(results) / AUTHORS_TABLE)), arch=arch, **equal)
    return theirs.assign(test_error_p_star=theirs["authors"])


def invariance_panels(fig: CaptionedFigure, axes: Sequence[Axes], points: pd.DataFrame, *, results: Path,
                      guides: Sequence[float], title: str, v_range, regimes: Mapping[str, Sequence[int]]) -> None:
    """P* against P*_S (first axes) and against P*_D (second axes) of P* tables read by `read_pstar`, with the
    report's fits where they are one experiment's; s0 = 0 has no diffeomorphism, so its settings are left out
    of the D panel."""
    for ax, (metric, letter), guide in zip(axes, INVARIANCES, guides):
        panel = f"{title}: P* vs P*_{letter}"
        shown = points if letter == "S" or points.empty else points[points["s0"] > 0]
        if len(shown) < len(points):
            fig.notes.append(f"{panel}: {len(points) - len(shown)} settings with s0 = 0 left out (no diffeomorphism).")
        shown_regimes = {**regimes, "s0": [s0 for s0 in regimes.get("s0", ()) if letter == "S" or s0 > 0]}
        threshold = threshold_label(shown, metric)
        column = f"{metric}_layer"
        layers = sorted(shown[column].dropna().astype(str).unique()) if column in shown else ["2"]
        layer = "/".join(layers) or "2"
        sensitivity = f"${letter}_{layer}$" if len(layer) == 1 else rf"${letter}_{{\rm {layer}}}$"
        scaling_panel(fig, ax, shown, results=results, x=f"{metric}_p_star", y="test_error_p_star",
                      xlabel=rf"$P^*_{letter}$" + (f" ({sensitivity} = {threshold})" if threshold else ""),
                      ylabel=p_star_label(points), guide=guide, title=panel, v_range=v_range, regimes=shown_regimes)


def invariance_figure(results: Path, settings: Mapping, *, arch: str, s: int, guides: Sequence[float], title: str,
                      regimes: Mapping[str, Sequence[int]]) -> CaptionedFigure:
    """One row: P* vs P*_S and P* vs P*_D for the `arch` settings of patch size `s` (sparsity A)."""
    points = select(read_pstar(results, settings), arch=arch, s=s, sparsity="A")
    fig, axes = new_figure(1, 2, extra_width=0.8)
    v_range = style.v_range(points)
    invariance_panels(fig, axes[0], points, results=results, guides=guides, title=title, v_range=v_range,
                      regimes=regimes)
    v_colourbars(fig, axes.ravel(), [points], v_range)
    return fig


def collapse_figure(results: Path, settings: Mapping, *, arch: str, regimes: Mapping[str, Sequence[int]]
                    ) -> CaptionedFigure:
    """Sparsity B: test error against P (left) and against P / [sparsity factor x n_c m^L] (right),
    colour by (L, v), marker and line style by s0; the dashed line is eps*."""
    names = experiment_list(settings)
    runs = select(read(results, [run_table(name) for name in names]), arch=arch, sparsity="B")
    pstar = select(read(results, [pstar_table(name) for name in names]), arch=arch, sparsity="B")
    fig, axes = new_figure(1, 2, extra_width=0.8)
    raw, collapsed = axes[0]
    raw.set_xlabel(style.P_LABEL)
    collapsed.set_xlabel(COLLAPSE_LABELS[arch])
    for ax, letter in zip(axes[0], "AB"):
        ax.set_ylabel(style.ERROR_LABEL)
        ax.set_title(f"({letter}) {arch.upper()}, sparsity B", fontsize=9)
    missing = missing_regimes(runs, regimes)
    if missing:
        fig.notes.append(f"Not in the data (the paper has them): {'; '.join(missing)}.")
    if runs.empty:
        fig.notes.append(f"No {arch.upper()} runs with sparsity B in experiments {names}.")
        for ax in axes[0]:
            say(ax, "no data for this panel", empty=True)
        return fig
    runs = runs.assign(collapsed=collapse(runs["P"], _collapse_scale(arch, runs)))
    v_range = style.v_range(runs)
    for key, group in runs.groupby(list(SETTING)):
        row = dict(zip(SETTING, key))
        line = {"color": style.v_colour(row["L"], row["v"], v_range), "marker": style.marker("s0", row["s0"]),
                "linestyle": style.s0_linestyle(row["s0"]), "label": describe(row, ("v", "L", "s0"))}
        seed_curve(raw, group, "P", "test_error", **line)
        seed_curve(collapsed, group, "collapsed", "test_error", **line)
    for ax in axes[0]:
        log_scale(ax, "x")
        for threshold in pstar.get("test_error_threshold", pd.Series(dtype=float)).dropna().unique():
            ax.axhline(threshold, **style.GUIDE_STYLE)
        if missing:
            say(ax, "\n".join(f"not in the data: {item}" for item in missing), empty=False)
    collapsed.legend(fontsize=6)
    v_colourbars(fig, axes.ravel(), [runs], v_range)
    if not pstar.empty:
        rescaled = pstar["test_error_p_star"].to_numpy(float) / _collapse_scale(arch, pstar)
        fig.notes.append("Collapsed P* (the right panel's x where the mean error crosses eps*): " + "; ".join(
            f"{describe(row, ('v', 'L', 's0'))}: " + (f"{value:.3g}" if np.isfinite(value)
                                                       else f"none ({row['test_error_flag']})")
            for (_, row), value in zip(pstar.iterrows(), rescaled)) + ".")
    return fig


def layers_figure(results: Path, settings: Mapping, *, arch: str, regimes: Mapping[str, Sequence[int]]
                  ) -> CaptionedFigure:
    """Rows S and D, one column per hidden layer k = 1..L and the output: S_{k,l} and D_{k,l} of every
    level l (colour) and s0 (marker) against P / sparsity factor, with the test error in grey."""
    experiment = string_setting(settings, "experiment")
    v, L = integer_setting(settings, "v"), integer_setting(settings, "L")
    runs = select(read(results, [run_table(experiment)]), arch=arch, v=v, L=L, sparsity="A")
    layers = [*(str(k) for k in range(1, L + 1)), "out"]
    fig, axes = new_figure(2, L + 1, extra_width=1.2)
    if not runs.empty:
        runs = runs.assign(rescaled=collapse(runs["P"], theory.sparsity_factor(arch, runs["s0"], L)))
    missing = missing_regimes(runs, regimes)
    fig.suptitle(f"{arch.upper()}, v = {v}, L = {L}" + "".join(f"; not in the data: {item}" for item in missing),
                 fontsize=9)
    if missing:
        fig.notes.append(f"Not in the data (the paper has them): {'; '.join(missing)}.")
    if runs.empty:
        fig.notes.append(f"No {arch.upper()} runs with v = {v}, L = {L} (sparsity A) in experiment {experiment}.")
    for kind, row_axes in zip("SD", axes):
        for layer, ax in zip(layers, row_axes):
            _layer_panel(fig, ax, runs, kind=kind, layer=layer, L=L)
            ax.set_xlabel(RESCALED_LABELS[arch])
    handles = [Line2D([], [], color=style.level_colour(level), linestyle="--", label=f"level l = {level}")
               for level in range(1, L + 1)]
    handles.append(Line2D([], [], color=style.ERROR_COLOUR, label=r"test error $\varepsilon$"))
    handles += [Line2D([], [], marker=style.marker("s0", s0), color="0.3", linestyle="none", label=f"s0 = {s0}")
                for s0 in sorted({int(s0) for s0 in runs.get("s0", [])})]
    fig.legend(handles=handles, loc="outside right center", fontsize=7)
    return fig


def _layer_panel(fig: CaptionedFigure, ax: Axes, runs: pd.DataFrame, *, kind: str, layer: str, L: int) -> None:
    """One panel of a layers figure: {kind}_{layer}_{l} for every level l and s0, and the test error."""
    where = "output" if layer == "out" else f"layer k = {layer}"
    ax.set_title(f"{kind}, {where}", fontsize=9)
    ax.set_ylabel(rf"${kind}_{{k,l}}$" if layer != "out" else rf"${kind}_{{\mathrm{{out}},l}}$")
    log_scale(ax, "x")
    columns = {f"{kind}_{layer}_{level}": level for level in range(1, L + 1) if f"{kind}_{layer}_{level}" in runs}
    levels = runs.melt(id_vars=["s0", "seed", "P", "rescaled"], value_vars=list(columns), var_name="column",
                       value_name="sensitivity").assign(level=lambda table: table["column"].map(columns))
    palette = {level: style.level_colour(level) for level in columns.values()}
    drawn, ends = False, []
    for s0, group in runs.groupby("s0"):
        shape = {"marker": style.marker("s0", s0)}
        seed_curve(ax, group, "rescaled", "test_error", color=style.ERROR_COLOUR, linestyle="-", **shape)
        curves = levels[levels["s0"] == s0]
        for level in seed_curve(ax, curves, "rescaled", "sensitivity", hue="level", palette=palette, linestyle="--",
                                **shape):
            drawn = True
            last = curves[(curves["level"] == level) & (curves["P"] == curves["P"].max())]["sensitivity"].mean()
            ends.append(f"{kind}_{layer}_{level} = {last:.3g} (s0={s0})")
    if ends:
        fig.notes.append(f"{kind}, {where}, seed mean at the largest P of each s0: {'; '.join(ends)}.")
    if not drawn:
        reason = "no runs" if runs.empty else ("D is undefined for s0 = 0 (no diffeomorphism) and there are no "
                                                "s0 > 0 runs" if kind == "D" else "no sensitivity columns")
        fig.notes.append(f"{kind}, {where}: nothing drawn ({reason}).")
        say(ax, reason, empty=True)
    ax.set_ylim(bottom=0)


def _collapse_scale(arch: str, table: pd.DataFrame) -> np.ndarray:
    """Predicted sample complexity that collapses the curves: sparsity factor x n_c m^L ([n_rows])."""
    return theory.sparsity_factor(arch, table["s0"], table["L"]) * theory.p_star_rhm(table["n_classes"], table["m"],
                                                                                       table["L"])
