"""Fig. 11 (App. D): LCN with s = 3, P* against P*_S and P*_D."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from srhm.figures.tables import experiment_list, scaling_inputs

if TYPE_CHECKING:
    from srhm.figures.panels import CaptionedFigure

CAPTION = """\
Paper Fig. 11 (App. D). LCN with patch size s = 3, sparsity A, the settings of Fig. 10 left: P* (eps* = 10%)
against P*_S where S_2 (second hidden layer, synonyms at level 1) falls below 50% (left) and against P*_D
where D_2 falls below 10% (right); dashed: y = x. s0 = 0 has no diffeomorphism and is absent on the right.
Markers by s0, reds L = 2 and blues L = 3 (darker for larger v), 68% seed-bootstrap error bars, our
least-squares power-law fit with its least-squares 95% confidence band.
"""


experiments = experiment_list
inputs = scaling_inputs


def draw(results: Path, settings: Mapping) -> CaptionedFigure:
    from srhm.figures.layouts import LCN_REGIMES, invariance_figure

    return invariance_figure(results, settings, arch="lcn", s=3, guides=(1.0, 1.0), title="LCN, s = 3",
                             regimes=LCN_REGIMES)
