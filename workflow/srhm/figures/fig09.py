"""Fig. 9 (App. B): the common architectures over P: test error and the sensitivities S_k, D_k (level 1)
of their hidden layers at relative depths 1/5, 1/2 and 4/5."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from srhm.figures.tables import experiment_list, run_inputs

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from srhm.figures.panels import CaptionedFigure

CAPTION = """\
Paper Fig. 9 (App. B). SRHM with L = s = s0 = 2, n_c = m = v = 10 (d = 36, sparsity A). Columns: VGG11, VGG16,
ResNet18, ResNet34, EfficientNetB0; rows: the hidden layer k at relative depth 1/5, 1/2 and 4/5 (k = int(N f) + 1
of the net's N hidden layers: ReLUs of VGG and ResNet, sigmoids of EfficientNetB0). Against the number P of
training samples: test error (blue), S_k (orange) and D_k (green), both at level l = 1; lines are seed means,
shaded min-max over seeds. The paper sees the test error drop at P ~ 4-8 x 10^3 for every net, both
sensitivities at 4/5 depth fall from ~0.6-0.9 to <~0.1 at the same P, and S_k at 1/5 depth stay ~0.5-0.75.
The notes give the P values and how the runs were trained (reduced presets train fewer nets, P, seeds and
epochs than the paper; a net without runs says so in its panels).
"""
CURVES = (("test_error", r"test error $\varepsilon$", "C0"), ("S", r"$S_k$", "C1"), ("D", r"$D_k$", "C2"))


experiments = experiment_list
inputs = run_inputs


def draw(results: Path, settings: Mapping) -> CaptionedFigure:
    from matplotlib.lines import Line2D

    from srhm.figures import common_nets
    from srhm.figures.panels import new_figure

    runs = common_nets.read_runs(results, settings)
    nets = common_nets.LAYER_NETS
    fig, axes = new_figure(len(common_nets.DEPTHS), len(nets), extra_width=1.0)
    for column, net in enumerate(nets):
        net_runs = runs[runs["arch"] == net] if len(runs) else runs
        for row, depth in enumerate(common_nets.DEPTHS):
            _panel(fig, axes[row, column], net_runs, net=net, depth=depth)
    handles = [Line2D([], [], color=colour, marker="o", label=label) for _, label, colour in CURVES]
    fig.legend(handles=handles, loc="outside right center", fontsize=8)
    common_nets.training_notes(fig, runs)
    return fig


def _panel(fig: CaptionedFigure, ax: Axes, runs: pd.DataFrame, *, net: str, depth: float) -> None:
    """One net at one relative depth: its test error, S_k and D_k against P."""
    import pandas as pd

    from srhm.figures import common_nets, style
    from srhm.figures.panels import log_scale, say, seed_curve

    label = common_nets.LABELS[net]
    depth_label = common_nets.DEPTH_LABELS[depth]
    ax.set_xlabel(style.P_LABEL)
    if runs.empty:
        ax.set_title(f"{label}, depth {depth_label}", fontsize=9)
        fig.notes.append(f"{label}, depth {depth_label}: no runs.")
        say(ax, f"no {label} runs", empty=True)
        return
    curves = pd.DataFrame({"P": runs["P"], "test_error": runs["test_error"],
                           **{kind: common_nets.sensitivity(runs, kind, depth) for kind in ("S", "D")}})
    tidy = curves.melt(id_vars="P", var_name="curve", value_name="value")
    n_hidden = int(runs["n_hidden"].max()) if runs["n_hidden"].notna().any() else 0
    layer = f"k = {int(common_nets.depth_layer(n_hidden, depth))} of {n_hidden}" if n_hidden else "k unknown"
    ax.set_title(f"{label}, depth {depth_label} ({layer})", fontsize=9)
    drawn = seed_curve(ax, tidy, "P", "value", hue="curve", palette={name: colour for name, _, colour in CURVES},
                       marker="o", linestyle="-")
    drawn = [name for name, _, _ in CURVES if name in drawn]
    log_scale(ax, "x")
    ax.set_ylim(bottom=0)
    missing = [name for name, _, _ in CURVES if name not in drawn]
    if missing:
        fig.notes.append(f"{label}, depth {depth_label}: no finite {', '.join(missing)}.")
        say(ax, f"no {', '.join(missing)}", empty=not drawn)
    largest = curves[curves["P"] == curves["P"].max()]
    fig.notes.append(f"{label}, depth {depth_label} ({layer}), seed means at the largest P = "
                     f"{int(largest['P'].iloc[0])}: " + ", ".join(f"{name} = {largest[name].mean():.3g}" for name in drawn)
                     + ".")
