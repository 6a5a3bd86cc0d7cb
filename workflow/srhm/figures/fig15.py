"""Fig. 15 (App. E): CNN sensitivities S_{k,l} and D_{k,l} of every layer and level against P/(s0+1)^2."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from srhm.figures.tables import Selection, layers_inputs, layers_selections, single_experiment

if TYPE_CHECKING:
    from srhm.figures.panels import CaptionedFigure

CAPTION = """\
Paper Fig. 15 (App. E). CNN, s = 2, sparsity A, one (v, L): sensitivity to synonym exchanges S_{k,l} (top) and
to diffeomorphisms D_{k,l} (bottom) of hidden layer k (columns; last column the output) to changes at level l
(blue l = 1, orange l = 2, ...; dashed), against P/(s0+1)^2, with markers by s0 and the test error in grey.
Lines are means over seeds, shaded min-max. D is undefined for s0 = 0. The paper (v = m = 8, L = 2) finds
layer-1 sensitivities stay high while S_{2,1} and D_{2,1} drop with the test error.
"""
ARCH = "cnn"
REGIMES = {"s0": (0, 1, 2, 4)}


experiments = single_experiment
inputs = layers_inputs


def selections(settings: Mapping) -> list[Selection]:
    return layers_selections(settings, ARCH)


def draw(results: Path, settings: Mapping) -> CaptionedFigure:
    from srhm.figures.layouts import layers_figure

    return layers_figure(results, settings, arch=ARCH, regimes=REGIMES)
