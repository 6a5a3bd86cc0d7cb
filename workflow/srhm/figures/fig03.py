"""Fig. 3: the LCN and the CNN of the paper drawn from their srhm.models definitions (L = 2, s = 2, s0 = 1,
d = 16): the input positions, the patch each hidden unit reads, and its filter coloured by identity, so
the LCN's distinct filters per position and the CNN's one shared filter per layer show. No training."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import numpy as np

from srhm.figures.tables import no_experiments

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from srhm.figures.panels import CaptionedFigure
    from srhm.models.hierarchical import HierarchicalNet

CAPTION = """\
Paper Fig. 3, drawn from the model definitions of this repository. (a) LCN and (b) CNN with L = 2 hidden layers
for the SRHM with s = 2, s0 = 1 (d = 16 input positions, bottom row). Each hidden unit (one dot per position;
every position holds H channels) reads a non-overlapping patch of s(s0 + 1) = 4 positions of the layer below;
the lines from a unit to its patch are coloured by its filter: units whose filters are the same tensor share a
colour. The LCN has a separate filter at every position; the CNN one filter per layer, shared by all positions.
A fully connected (mean-field) readout maps the last hidden layer to the n_c class scores (top, grey).
"""
NET = dict(v=3, n_classes=3, s=2, s0=1, L=2, width=4, init_seeds=(0,))
ARCHS = (("lcn", "(a) LCN: one filter per position"), ("cnn", "(b) CNN: one shared filter per layer"))
LAYER_COLOURS = ("tab10", "Dark2")
ROW_GAP = 2.0


experiments = no_experiments


def inputs(settings: Mapping) -> list[str]:
    return []


def draw(results: Path, settings: Mapping) -> CaptionedFigure:
    from srhm.figures.panels import new_figure
    from srhm.models import build_model

    fig, axes = new_figure(1, len(ARCHS))
    for ax, (arch, title) in zip(axes[0], ARCHS):
        _net_panel(fig, ax, build_model(arch, **NET), arch, title)
    return fig


def filter_groups(layer) -> np.ndarray:
    """[n_out] filter identity of each position of a hierarchical layer (member 0): positions whose
    filters are equal share a group, groups numbered in order of first appearance."""
    from srhm.models.hierarchical import LocallyConnected

    weight = layer.weight[0].detach().cpu().numpy()
    per_position = (weight.reshape(layer.n_out, -1) if isinstance(layer, LocallyConnected)
                    else np.broadcast_to(weight.reshape(1, -1), (layer.n_out, weight.size)))
    _, first, inverse = np.unique(per_position, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse.ravel()]


def _net_panel(fig: CaptionedFigure, ax: Axes, net: HierarchicalNet, arch: str, title: str) -> None:
    """Rows of units, input at the bottom: each layer's lines to its patches coloured by filter group."""
    from matplotlib.collections import LineCollection

    positions = [np.arange(net.d, dtype=float)]  # x of every unit, layer by layer
    groups_per_layer = []
    for l, layer in enumerate(net.layers, start=1):
        below = positions[-1]
        centres = below.reshape(layer.n_out, layer.k).mean(axis=1)
        positions.append(centres)
        groups = filter_groups(layer)
        groups_per_layer.append(len(np.unique(groups)))
        colours = _palette(l - 1, groups)
        segments = [[(centre, l * ROW_GAP), (x, (l - 1) * ROW_GAP)]
                    for centre, patch in zip(centres, below.reshape(layer.n_out, layer.k)) for x in patch]
        ax.add_collection(LineCollection(segments, colors=np.repeat(colours, layer.k, axis=0), linewidths=1.2,
                                         gid=f"{arch}-layer{l}"))
    top = len(net.layers) * ROW_GAP
    outputs = np.linspace(positions[-1].min() - 2, positions[-1].max() + 2, net.n_classes)
    ax.add_collection(LineCollection([[(x, top + ROW_GAP), (c, top)] for x in outputs for c in positions[-1]],
                                     colors="0.6", linewidths=0.8, gid=f"{arch}-readout"))
    for row, xs in enumerate(positions + [outputs]):
        ax.scatter(xs, np.full(len(xs), row * ROW_GAP), s=18, color="black" if row else "0.4", zorder=3)
    labels = ["input"] + [f"layer {l}" for l in range(1, len(net.layers) + 1)] + ["readout"]
    for row, label in enumerate(labels):
        ax.text(-1.0, row * ROW_GAP, label, ha="right", va="center", fontsize=7)
    ax.set_xlim(-5, net.d + 0.5)
    ax.set_ylim(-0.5, top + ROW_GAP + 0.5)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.notes.append(f"{title}: patch size {net.layers[0].k} = s(s0+1); units per layer "
                     f"{[layer.n_out for layer in net.layers]}; distinct filters per layer {groups_per_layer}.")


def _palette(layer: int, groups: np.ndarray) -> np.ndarray:
    """[n_out, 4] RGBA colour of each position's filter group, from the layer's qualitative colourmap."""
    from matplotlib import colormaps

    cmap = colormaps[LAYER_COLOURS[layer % len(LAYER_COLOURS)]]
    return cmap(groups % cmap.N)
