"""The common-architecture experiment (Figs. 1C-F, 9, 17): the nets, their looks, the sensitivity of a
run's output or of its hidden layer at a relative depth, and the panels those figures share.

Run tables (srhm.runs.collect_runs) hold S_{k}_{l} and D_{k}_{l} for every hidden layer k = 1..n_hidden
and the output (k = "out"). The layer at relative depth f is k = int(n_hidden f) + 1 (as
EnsembleNet.layer_at_depth), e.g. the second of the LCN's two layers at f = 4/5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from srhm.architectures import REGISTRY, STYLED
from srhm.data import family_name
from srhm.figures import style
from srhm.figures.panels import CaptionedFigure, log_scale, say
from srhm.figures.tables import SWEEP_NETS, read, run_inputs  # noqa: F401 (SWEEP_NETS: the nets these figures sweep)
from srhm.protocol import LOSS_STOP

NETS = STYLED
"""The nets of Figs. 1C-D and 17A-B: those with a style in srhm.architectures (the paper's seven, and any added
with a style)."""
LABELS = {net: REGISTRY[net].style.label for net in NETS}
MARKERS = {net: REGISTRY[net].style.marker for net in NETS}
"""The paper's markers (Fig. 1C), from srhm.architectures."""
COLOURS = {net: REGISTRY[net].style.colour for net in NETS}
"""Fig. 1E-F colours, from srhm.architectures."""
LAYER_NETS = ("vgg11", "vgg16", "resnet18", "resnet34", "efficientnetb0")
"""The columns of Fig. 9."""
DEPTHS = (1 / 5, 1 / 2, 4 / 5)
"""The relative depths of Fig. 9's rows; Fig. 17 uses the last."""
DEPTH_LABELS = {1 / 5: "1/5", 1 / 2: "1/2", 4 / 5: "4/5"}
OUTPUT = "out"
LEVEL = 1
MIN_ERROR = 1e-3
"""Points with a smaller test error are left out of the P sweeps (as the paper)."""
GUIDE_RATIO = 0.5
"""The grey guide of the single-P panels: eps = sensitivity / 2 (the authors' plot(2 ps, ps))."""
OPACITY = (0.2, 1.0)
"""Opacity of the smallest and the largest P of a sweep."""
PAPER_INSTANCE = "v10_nc10_m10_s2_L2_s02_A"
"""The SRHM of Figs. 1C-F, 9 and 17 (dataset name without its seed)."""


def depth_layer(n_hidden, fraction: float) -> np.ndarray:
    """1-based index k = int(n_hidden fraction) + 1 of the hidden layer at relative depth `fraction` in (0, 1)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie in the open interval (0, 1), got {fraction!r}")
    n_hidden = np.asarray(n_hidden, dtype=np.int64)
    if np.any(n_hidden < 1):
        raise ValueError(f"n_hidden must be >= 1, got {n_hidden.min()}")
    return (n_hidden * fraction).astype(np.int64) + 1


def sensitivity(runs: pd.DataFrame, kind: str, where: str | float, level: int = LEVEL) -> pd.Series:
    """Per run, {kind}_{k}_{level} of the output (where = "out") or of the layer at relative depth `where`.

    kind: "S" or "D". NaN where the run has no such column or value.
    """
    if kind not in ("S", "D"):
        raise ValueError(f"kind must be 'S' or 'D', got {kind!r}")
    if where == OUTPUT:
        column = f"{kind}_{OUTPUT}_{level}"
        return runs[column].astype(float) if column in runs else pd.Series(np.nan, index=runs.index)
    if "n_hidden" not in runs:
        raise ValueError("runs lacks the column n_hidden (the number of hidden layers, srhm.runs.collect_runs)")
    values = pd.Series(np.nan, index=runs.index, dtype=float)
    measured = runs[runs["n_hidden"].notna()]
    layers = depth_layer(measured["n_hidden"], where)
    for k in np.unique(layers):
        column = f"{kind}_{k}_{level}"
        if column in runs:
            rows = measured.index[layers == k]
            values[rows] = runs.loc[rows, column].astype(float)
    return values


def where_label(where: str | float) -> str:
    return "output" if where == OUTPUT else f"layer at {DEPTH_LABELS.get(where, f'{where:g}')} depth"


def read_runs(results: Path, settings: Mapping) -> pd.DataFrame:
    """The run tables of settings["experiments"], stacked, restricted to sparsity A."""
    runs = read(results, run_inputs(settings))
    return runs[runs["sparsity"] == "A"] if len(runs) else runs


def seed_means(runs: pd.DataFrame, x: pd.Series) -> pd.DataFrame:
    """Per (arch, P): the seed means of `x` and of the test error, with their min and max over seeds; the nets
    in the order of NETS (the paper's legend), then by P."""
    table = pd.DataFrame({"arch": runs["arch"], "P": runs["P"], "x": x, "test_error": runs["test_error"]})
    stats = table.groupby(["arch", "P"]).agg(x=("x", "mean"), x_lo=("x", "min"), x_hi=("x", "max"),
                                             error=("test_error", "mean"), error_lo=("test_error", "min"),
                                             error_hi=("test_error", "max"), seeds=("x", "size"))
    order = stats.index.get_level_values("arch").map(NETS.index)
    return stats.iloc[np.lexsort((stats.index.get_level_values("P"), order))].reset_index()


def single_p_panel(fig: CaptionedFigure, ax: Axes, runs: pd.DataFrame, *, kind: str, where: str | float, P: int,
                   title: str) -> None:
    """Test error against {kind} of `where` at level 1 for the seven nets at training-set size P
    (seed means, min-max bars), log-log, with the grey guide eps = {kind} / 2."""
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(rf"${kind}$ ({where_label(where)}, $\ell$ = {LEVEL})")
    ax.set_ylabel(style.ERROR_LABEL)
    at_p = runs[(runs["P"] == P) & runs["arch"].isin(NETS)] if len(runs) else runs
    points = seed_means(at_p, sensitivity(at_p, kind, where)) if len(at_p) else pd.DataFrame()
    drawn = points[np.isfinite(points["x"]) & (points["x"] > 0) & (points["error"] > 0)] if len(points) else points
    absent = [LABELS[net] for net in NETS if net not in set(drawn.get("arch", []))]
    for _, row in drawn.iterrows():
        ax.errorbar(row["x"], row["error"], xerr=[[row["x"] - row["x_lo"]], [row["x_hi"] - row["x"]]],
                    yerr=[[row["error"] - row["error_lo"]], [row["error_hi"] - row["error"]]],
                    marker=MARKERS[row["arch"]], color=COLOURS[row["arch"]], linestyle="none", markersize=7,
                    elinewidth=0.8, label=LABELS[row["arch"]])
    if absent:
        fig.notes.append(f"{title}: no run with a finite {kind} at P = {P} for {', '.join(absent)}.")
    if drawn.empty:
        say(ax, f"no runs at P = {P}", empty=True)
        return
    log_scale(ax)
    low = min(drawn["x"].min(), 2 * drawn["error"].min()) / 2
    high = max(drawn["x"].max(), 2 * drawn["error"].max()) * 2
    guide = np.array([low, high])
    ax.plot(guide, GUIDE_RATIO * guide, color="0.6", linewidth=1.0, zorder=0,
            label=rf"$\varepsilon$ = ${kind}$/2")
    ax.legend(fontsize=6)
    fig.notes.append(f"{title}: seed means at P = {P}: " + "; ".join(
        f"{LABELS[row['arch']]} {kind} = {row['x']:.3g}, eps = {row['error']:.3g} (seeds: {int(row['seeds'])})"
        for _, row in drawn.iterrows()) + ".")


def sweep_panel(fig: CaptionedFigure, ax: Axes, runs: pd.DataFrame, *, kind: str, where: str | float,
                nets: tuple[str, ...], title: str) -> None:
    """Test error against {kind} of `where` at level 1 for `nets` at every P (seed means), opacity growing
    with P, the legend in the order of `nets`; points with eps < MIN_ERROR are left out."""
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(rf"${kind}$ ({where_label(where)}, $\ell$ = {LEVEL})")
    ax.set_ylabel(style.ERROR_LABEL)
    chosen = runs[runs["arch"].isin(nets)] if len(runs) else runs
    points = seed_means(chosen, sensitivity(chosen, kind, where)) if len(chosen) else pd.DataFrame()
    drawn = points[np.isfinite(points["x"]) & (points["x"] > 0) & (points["error"] >= MIN_ERROR)] \
        if len(points) else points
    absent = [LABELS[net] for net in nets if net not in set(drawn.get("arch", []))]
    if absent:
        fig.notes.append(f"{title}: no point with eps >= {MIN_ERROR:g} for {', '.join(absent)}.")
    if len(points) > len(drawn):
        fig.notes.append(f"{title}: {len(points) - len(drawn)} (net, P) points left out "
                         f"(eps < {MIN_ERROR:g} or no finite {kind}).")
    if drawn.empty:
        say(ax, "no runs of " + ", ".join(LABELS[net] for net in nets), empty=True)
        return
    sizes = np.sort(drawn["P"].unique())
    alphas = opacity(drawn["P"])
    handles = []
    groups = [(net, drawn[drawn["arch"] == net]) for net in nets if net in set(drawn["arch"])]
    for net, group in groups:
        colour = COLOURS[net]
        ax.plot(group["x"], group["error"], color=colour, linewidth=0.6, alpha=0.4)
        ax.scatter(group["x"], group["error"], color=colour, alpha=alphas[group.index].to_numpy(), marker=MARKERS[net],
                   s=30)
        handles.append(Line2D([], [], color=colour, marker=MARKERS[net], linestyle="none", label=LABELS[net]))
    log_scale(ax)
    ax.set_ylim(MIN_ERROR, 1.0)
    ax.legend(handles=handles + opacity_label(drawn["P"]), fontsize=6)
    fig.notes.append(f"{title}: P = {', '.join(map(str, sizes))} (lightest to darkest); " + "; ".join(
        f"{LABELS[net]}: {len(group)} points" for net, group in groups) + ".")


def opacity(P: pd.Series) -> pd.Series:
    """Opacity of each point of a P sweep: OPACITY[0] at the smallest P drawn to OPACITY[1] at the largest,
    evenly by rank among the distinct P (OPACITY[1] when there is one P)."""
    sizes = np.sort(P.unique())
    levels = np.linspace(*OPACITY, len(sizes)) if len(sizes) > 1 else np.array([OPACITY[1]])
    return pd.Series(pd.Series(levels, index=sizes)[P].to_numpy(), index=P.index)


def opacity_label(P: pd.Series) -> list[Line2D]:
    """The legend entry explaining opacity, when the points span several P."""
    sizes = np.sort(P.unique())
    return [Line2D([], [], color="none", label=f"opacity: P = {sizes[0]}..{sizes[-1]}")] if len(sizes) > 1 else []


def training_notes(fig: CaptionedFigure, runs: pd.DataFrame) -> None:
    """Say how the runs drawn were trained: seeds, and how many stopped at their epoch cap instead of
    the loss threshold (the paper's common nets reach it within 250 epochs)."""
    if runs.empty:
        fig.notes.append("No runs of the common-architecture experiment in the tables read.")
        return
    families = sorted(runs["dataset"].map(family_name).unique())
    fig.notes.append(f"SRHM instances: {', '.join(families)} (the paper's: {PAPER_INSTANCE}).")
    for net in [net for net in NETS if net in set(runs["arch"])]:
        rows = runs[runs["arch"] == net]
        capped = rows[rows["stop_reason"] != LOSS_STOP] if "stop_reason" in rows else rows.iloc[:0]
        text = (f"{LABELS[net]}: {len(rows)} runs (P = {', '.join(map(str, sorted(rows['P'].unique())))}; "
                f"seeds {', '.join(map(str, sorted(rows['seed'].unique())))}), epochs {int(rows['epochs'].min())}"
                f"-{int(rows['epochs'].max())}")
        if len(capped):
            text += (f"; {len(capped)} stopped before the training loss reached its threshold "
                     f"({', '.join(sorted(set(capped['stop_reason'])))})")
        fig.notes.append(text + ".")


def sensitivity_panels(fig: CaptionedFigure, axes: np.ndarray, runs: pd.DataFrame, *, where: str | float, P: int,
                       sweep: tuple[str, ...], letters: str) -> None:
    """axes [2, 2]: top row the seven nets at P against D then S, bottom row the P sweeps of the nets `sweep`
    against D then S; `letters` names the four panels in that order (e.g. "CDEF")."""
    panels = zip(axes.ravel(), letters, ("D", "S", "D", "S"), (True, True, False, False))
    for ax, letter, kind, at_single_p in panels:
        if at_single_p:
            single_p_panel(fig, ax, runs, kind=kind, where=where, P=P, title=f"({letter}) SRHM, P = {P}")
        else:
            sweep_panel(fig, ax, runs, kind=kind, where=where, nets=sweep, title=f"({letter}) SRHM, increasing P")
    if where != OUTPUT and len(runs) and "n_hidden" in runs:
        layers = runs[runs["n_hidden"].notna()].drop_duplicates("arch")
        fig.notes.append(f"Layer at {DEPTH_LABELS.get(where, where)} depth: " + "; ".join(
            f"{LABELS.get(row['arch'], row['arch'])} k = {k} of {int(row['n_hidden'])}"
            for (_, row), k in zip(layers.iterrows(), depth_layer(layers["n_hidden"], where))) + ".")
