"""Fig. 13 (App. E): CNN with s = 3, P* against (s0+1)^2 n_c m^L."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from srhm.figures.tables import experiment_list, scaling_inputs, select
from srhm.paths import AUTHORS_TABLE

if TYPE_CHECKING:
    from srhm.figures.panels import CaptionedFigure

CAPTION = """\
Paper Fig. 13 (App. E). CNN with patch size s = 3, sparsity A: P* (eps* = 10%) against (s0+1)^2 n_c m^L, m =
v^2; dashed: the paper's y = 3.5x. The paper's sets are v = 4 and 6 at L = 2 and v = 4 at L = 3, s0 in {0, 1,
2, 4, 6}. Markers by s0, reds L = 2 and blues L = 3 (darker for larger v), 68% seed-bootstrap error bars, our
least-squares power-law fit with its least-squares 95% confidence band. Open markers: the P* of the authors
(their nearest-grid-point rule on the test-error curve they printed), not fitted.
"""
GUIDE = 3.5


experiments = experiment_list


def inputs(settings: Mapping) -> list[str]:
    return [*scaling_inputs(settings), AUTHORS_TABLE]


def draw(results: Path, settings: Mapping) -> CaptionedFigure:
    from srhm.figures import style
    from srhm.figures.layouts import CNN_REGIMES, authors_points, prediction_panel, read_pstar
    from srhm.figures.panels import new_figure, v_colourbars

    points = select(read_pstar(results, settings), arch="cnn", s=3, sparsity="A")
    fig, axes = new_figure(1, 1, extra_width=0.8)
    v_range = style.v_range(points)
    prediction_panel(fig, axes[0, 0], points, results=results, arch="cnn", guide=GUIDE, title="CNN, s = 3",
                     v_range=v_range, regimes=CNN_REGIMES, authors=authors_points(results, "cnn", s=3))
    v_colourbars(fig, axes.ravel(), [points], v_range)
    return fig
