"""Fig. 1: test error against sensitivity to diffeomorphisms on CIFAR-10 (A, B) and on the SRHM, where the
output's sensitivities to diffeomorphisms D and to synonyms S are measured (C-F).

Panels A-B read the CIFAR-10 stability table that settings["cifar"] names (srhm.cifar.tables): the values
digitised from Petrini et al. 2021 or the workflow's own measurement; its `source` column says which.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import numpy as np

from srhm import paths
from srhm.cifar import tables as cifar_tables
from srhm.figures.tables import experiment_list, sensitivity_inputs, single_p, single_p_selections, sweep_nets

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.lines import Line2D

    from srhm.figures.panels import CaptionedFigure

CAPTION = """\
Paper Fig. 1. Top row: one training-set size; bottom row: increasing training-set size P (opacity). (A)
CIFAR-10: test error against the relative sensitivity to diffeomorphisms R_f = D_f / G_f (Petrini et al. 2021)
of nets trained on their largest P (the full training set, 50 000, in the paper), seed means; the grey line is
a power-law fit of these points (the paper draws a grey power-law guide). (B) The same for ResNet18,
EfficientNetB0, LeNet and FullConnL4 at every P. Marker shapes tell where each CIFAR point comes from: circles
digitised by eye from the published figure (Petrini et al. 2021, panel A only), squares trained and measured
by this workflow; the notes say which table was read. (C, D) SRHM with L = s = s0 = 2, n_c = m = v = 10 (d =
36, F = 1/9, sparsity A) at one training-set size (the paper's P = 7400; the notes give the P drawn): test
error against the sensitivity of the network output to diffeomorphisms D (C) and to synonym exchanges S (D),
both at level l = 1, for LCN (diamond), CNN (circle), VGG11 (cross), VGG16 (square), ResNet18 (triangle),
ResNet34 (star) and EfficientNetB0 (plus); seed means with min-max bars; grey: eps = D/2 (resp. S/2), as the
authors' plot. (E, F) ResNet34 (blue), EfficientNetB0 (orange), VGG16 (green) and LCN (red) at every P of the
experiment (the paper: P/n_c in {100, 440, 640, 840, 940, 1040, 1340, 3000, 5000}), opacity growing with P,
points with eps >= 0.001; a reduced preset may sweep other nets (legend). The notes say how the SRHM runs were
trained (reduced presets train fewer nets, P, seeds and epochs than the paper).
"""
SWEEP_NETS = ("resnet18", "efficientnetb0", "lenet", "fullconnl4")
"""The CIFAR-10 nets of panel B (srhm.cifar.tables net ids)."""
SOURCE_MARKERS = {"digitised": "o", "measured": "s"}
SOURCE_LABELS = {"digitised": "digitised (Petrini et al. 2021)", "measured": "measured here"}
X_LABEL = r"relative sensitivity $R_f = D_f / G_f$"


experiments = experiment_list
selections = single_p_selections


def inputs(settings: Mapping) -> list[str]:
    return [*sensitivity_inputs(settings), _cifar_table(settings)]


def draw(results: Path, settings: Mapping) -> CaptionedFigure:
    from srhm.figures import common_nets
    from srhm.figures.panels import new_figure

    P = single_p(settings)
    path = _cifar_table(settings)
    cifar = cifar_tables.read_table(Path(results) / path)
    runs = common_nets.read_runs(results, settings)
    fig, axes = new_figure(2, 3)
    fig.notes.append(f"CIFAR-10 table: {path} (figures.fig01.cifar = {settings['cifar']}); " + "; ".join(
        f"{(cifar['source'] == source).sum()} rows {SOURCE_LABELS[source]}" for source in cifar_tables.SOURCES) + ".")
    _cifar_full_panel(fig, axes[0, 0], cifar)
    _cifar_sweep_panel(fig, axes[1, 0], cifar)
    common_nets.sensitivity_panels(fig, axes[:, 1:], runs, where=common_nets.OUTPUT, P=P,
                                   sweep=sweep_nets(settings), letters="CDEF")
    common_nets.training_notes(fig, runs)
    return fig


def _cifar_table(settings: Mapping) -> str:
    """The results-relative path of the CIFAR-10 table settings["cifar"] names."""
    source = settings.get("cifar") if isinstance(settings, Mapping) else None
    if source not in cifar_tables.SOURCES:
        raise ValueError(f"settings.cifar must be one of {list(cifar_tables.SOURCES)}, got {source!r}")
    return paths.cifar_table(source)


def _seed_means(table: pd.DataFrame) -> pd.DataFrame:
    """Per (net, source, P): seed means of the relative sensitivity and of the test error, kept where both
    are positive (log axes)."""
    means = (table.groupby(["net", "source", "P"], sort=True)
             .agg(x=("relative_sensitivity", "mean"), error=("test_error", "mean")).reset_index())
    return means[(means["x"] > 0) & (means["error"] > 0)].reset_index(drop=True)


def _colour(net: str) -> str:
    """One colour per CIFAR-10 net, the same in both panels."""
    return f"C{list(cifar_tables.NET_LABELS).index(net) % 10}"


def _scatter(ax: Axes, points: pd.DataFrame, colour, opacity: pd.Series | None = None) -> None:
    """Points of one net, one marker per source: filled squares measured, hollow circles digitised;
    `opacity` (indexed like `points`) sets each point's alpha."""
    from matplotlib.colors import to_rgba

    for source, rows in points.groupby("source"):
        rgba = np.tile(to_rgba(colour), (len(rows), 1))
        if opacity is not None:
            rgba[:, 3] = opacity[rows.index]
        ax.scatter(rows["x"], rows["error"], marker=SOURCE_MARKERS[source], s=25, linewidths=1.0, edgecolors=rgba,
                   facecolors=rgba if source == "measured" else "none")


def _source_handles(points: pd.DataFrame) -> list[Line2D]:
    from matplotlib.lines import Line2D

    return [Line2D([], [], color="0.3", marker=SOURCE_MARKERS[source], linestyle="none",
                   markerfacecolor="0.3" if source == "measured" else "none", label=SOURCE_LABELS[source])
            for source in cifar_tables.SOURCES if source in set(points["source"])]


def _cifar_full_panel(fig: CaptionedFigure, ax: Axes, cifar: pd.DataFrame) -> None:
    """Panel A: every net at its largest P, named beside its point, and a power-law fit of them all."""
    from srhm.figures import style
    from srhm.figures.fits import FittedLine, fitted_line
    from srhm.figures.panels import log_scale, say
    from srhm.text import interval

    title = "(A) CIFAR-10, largest P"
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(style.ERROR_LABEL)
    points = _seed_means(cifar)
    drawn = points[points["P"] == points.groupby(["net", "source"])["P"].transform("max")]
    if drawn.empty:
        fig.notes.append(f"{title}: no point with a positive relative sensitivity and test error.")
        say(ax, "no CIFAR-10 points", empty=True)
        return
    for net, rows in drawn.groupby("net"):
        _scatter(ax, rows, _colour(net))
    for (x, error), rows in drawn.groupby(["x", "error"]):  # nets read at the same point share one label
        ax.annotate(", ".join(cifar_tables.NET_LABELS[net] for net in rows["net"]), (x, error), fontsize=5,
                    xytext=(3, 2), textcoords="offset points")
    log_scale(ax)
    handles = _source_handles(drawn)
    line = fitted_line(drawn["x"], drawn["error"])
    if isinstance(line, FittedLine):
        handles += ax.plot(line.x, line.y, color="0.6", linewidth=1.0, zorder=0,
                           label=rf"fit $\varepsilon \propto R_f^{{{line.fit.slope:.2f}}}$")
        fit = line.fit
        fig.notes.append(f"{title}: least-squares power-law fit eps = {fit.prefactor:.3g} R_f^{fit.slope:.3f} "
                         f"(slope 95% CI {interval(fit.slope_ci95)}, least squares) on "
                         f"{fit.n_points} points.")
    else:
        fig.notes.append(f"{title}: no power-law fit ({line.flag}).")
    ax.legend(handles=handles, fontsize=6, loc="upper left")
    fig.notes.append(f"{title}: " + "; ".join(
        f"{cifar_tables.NET_LABELS[row['net']]} ({row['source']}, P = {row['P']}): R_f = {row['x']:.3g}, "
        f"eps = {row['error']:.3g}" for _, row in drawn.iterrows()) + ".")


def _cifar_sweep_panel(fig: CaptionedFigure, ax: Axes, cifar: pd.DataFrame) -> None:
    """Panel B: the SWEEP_NETS at every P, opacity growing with P."""
    from matplotlib.lines import Line2D

    from srhm.figures import common_nets, style
    from srhm.figures.panels import log_scale, say

    title = "(B) CIFAR-10, increasing P"
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(style.ERROR_LABEL)
    drawn = _seed_means(cifar[cifar["net"].isin(SWEEP_NETS)])
    absent = [cifar_tables.NET_LABELS[net] for net in SWEEP_NETS if net not in set(drawn["net"])]
    if absent:
        fig.notes.append(f"{title}: no points for {', '.join(absent)}.")
    if drawn.empty:
        say(ax, "no CIFAR-10 points of " + ", ".join(cifar_tables.NET_LABELS[net] for net in SWEEP_NETS), empty=True)
        return
    opacity = common_nets.opacity(drawn["P"])
    handles = []
    for net in SWEEP_NETS:
        rows = drawn[drawn["net"] == net]
        if len(rows):
            ax.plot(rows["x"], rows["error"], color=_colour(net), linewidth=0.6, alpha=0.4)
            _scatter(ax, rows, _colour(net), opacity)
            handles.append(Line2D([], [], color=_colour(net), linewidth=2, label=cifar_tables.NET_LABELS[net]))
    log_scale(ax)
    sizes = np.sort(drawn["P"].unique())
    ax.legend(handles=handles + _source_handles(drawn) + common_nets.opacity_label(drawn["P"]), fontsize=6)
    fig.notes.append(f"{title}: P = {', '.join(map(str, sizes))}; " + "; ".join(
        f"{cifar_tables.NET_LABELS[net]}: n = {int((drawn['net'] == net).sum())}" for net in SWEEP_NETS
        if net in set(drawn["net"])) + ".")
