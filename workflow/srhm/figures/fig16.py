"""Fig. 16 (App. F): FCN sample complexity P* against P*_S and P*_D."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from srhm.figures.tables import experiment_list, scaling_inputs

if TYPE_CHECKING:
    from srhm.figures.panels import CaptionedFigure

CAPTION = """\
Paper Fig. 16 (App. F). FCN, s = 2, sparsity A: P* (eps* = 10%) against P*_S, where the output's
sensitivity to synonyms S_out falls below 20% (left; the authors' FCN notebook, since the figure's label S_2 =
30% is never reached: the FCN's second layer keeps S_2 near 0.5, README "Choices"), and against P*_D, where
D_2 falls below 10% (right), the figure's label. Dashed: the paper's y = x (left) and y = 1.5x (right). The paper's sets are v in {6,
8} at L = 2 and v in {4, 6, 8} at L = 3, s0 in {0, 1, 2}. s0 = 0 has no diffeomorphism and is absent on the
right. Markers by s0, reds L = 2 and blues L = 3 (darker for larger v), 68% seed-bootstrap error bars, our
least-squares power-law fit with its least-squares 95% confidence band.
"""
REGIMES = {"L": (2, 3), "s0": (0, 1, 2)}


experiments = experiment_list
inputs = scaling_inputs


def draw(results: Path, settings: Mapping) -> CaptionedFigure:
    from srhm.figures.layouts import invariance_figure

    return invariance_figure(results, settings, arch="fcn", s=2, guides=(1.0, 1.5), title="FCN, s = 2",
                             regimes=REGIMES)
