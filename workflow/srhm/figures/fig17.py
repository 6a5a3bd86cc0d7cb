"""Fig. 17 (App. G): Fig. 1C-F with the sensitivities of the hidden layer at 4/5 of each net's depth
instead of its output."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from srhm.figures.tables import experiment_list, sensitivity_inputs, single_p, single_p_selections, sweep_nets

if TYPE_CHECKING:
    from srhm.figures.panels import CaptionedFigure

CAPTION = """\
Paper Fig. 17 (App. G). SRHM with L = s = s0 = 2, n_c = m = v = 10 (d = 36, sparsity A), as Fig. 1C-F but with
the sensitivities D and S at level l = 1 of the hidden layer at 4/5 of each net's depth (layer k = int(4N/5) + 1
of its N hidden layers: the second layer of the 2-layer LCN and CNN). (A, B) Test error against D and S for the
seven nets (LCN diamond, CNN circle, VGG11 cross, VGG16 square, ResNet18 triangle, ResNet34 star,
EfficientNetB0 plus) at one training-set size P (the paper's P = 7400; the notes give the P drawn), seed means
with min-max bars; grey: eps = D/2 (resp. S/2). (C, D) ResNet34 (blue), EfficientNetB0 (orange), VGG16 (green)
and LCN (red) at every P of the experiment, opacity growing with P, points with eps >= 0.001; a reduced preset
may sweep other nets (legend). The paper finds the same correlation between test error and sensitivity as with
the output. The notes list the layer used for each net and how the runs were trained (reduced presets train
fewer nets, P, seeds and epochs than the paper).
"""
DEPTH = 4 / 5


experiments = experiment_list
inputs = sensitivity_inputs
selections = single_p_selections


def draw(results: Path, settings: Mapping) -> CaptionedFigure:
    from srhm.figures import common_nets
    from srhm.figures.panels import new_figure

    P = single_p(settings)
    runs = common_nets.read_runs(results, settings)
    fig, axes = new_figure(2, 2)
    common_nets.sensitivity_panels(fig, axes, runs, where=DEPTH, P=P, sweep=sweep_nets(settings),
                                   letters="ABCD")
    common_nets.training_notes(fig, runs)
    return fig
