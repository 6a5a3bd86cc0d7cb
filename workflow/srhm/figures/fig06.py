"""Fig. 6 (C, D): LCN sample complexity P* against P*_S (synonyms) and P*_D (diffeomorphisms), s = 2."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from srhm.figures.tables import experiment_list, scaling_inputs

if TYPE_CHECKING:
    from srhm.figures.panels import CaptionedFigure

CAPTION = """\
Paper Fig. 6 C-D (the schematic of panels A-B is not drawn). LCN, s = 2, sparsity A: P* (test error eps* =
10%) against P*_S, where the sensitivity S_2 of the second hidden layer to synonym exchanges at level 1 falls
below 30% (left), and against P*_D, where D_2 falls below 10% (right); all three are interpolated crossings of
seed-mean curves. Dashed: the paper's y = x. s0 = 0 has no diffeomorphism and is absent on the right. Markers
by s0, reds L = 2 and blues L = 3 (darker for larger v), 68% seed-bootstrap error bars, our least-squares
power-law fit with its least-squares 95% confidence band.
"""


experiments = experiment_list
inputs = scaling_inputs


def draw(results: Path, settings: Mapping) -> CaptionedFigure:
    from srhm.figures.layouts import LCN_REGIMES, invariance_figure

    return invariance_figure(results, settings, arch="lcn", s=2, guides=(1.0, 1.0), title="LCN, s = 2",
                             regimes=LCN_REGIMES)
