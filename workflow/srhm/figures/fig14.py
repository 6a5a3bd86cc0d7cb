"""Fig. 14 (App. E): CNN P* against P*_S (top) and P*_D (bottom), for s = 2 (left) and s = 3 (right)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from srhm.figures.tables import experiment_list, scaling_inputs, select

if TYPE_CHECKING:
    from srhm.figures.panels import CaptionedFigure

CAPTION = """\
Paper Fig. 14 (App. E). CNN, sparsity A: P* (eps* = 10%) against P*_S, where S_2 falls below T_{s,L} (40% for
s = 2, L = 2; 50% for s = 3, L = 2; 20% for L = 3) (top), and against P*_D, where D_2 falls below 20%
(bottom); columns s = 2 and s = 3. Dashed: the paper's y = x, and y = 0.75x for s = 2 bottom. s0 = 0 has no
diffeomorphism and is absent from the bottom row. Markers by s0, reds L = 2 and blues L = 3 (darker for larger
v), 68% seed-bootstrap error bars, our least-squares power-law fit with its least-squares 95% confidence band.
"""
COLUMNS = {2: (1.0, 0.75), 3: (1.0, 1.0)}
"""Patch size of each column -> the paper's guide slopes (S panel, D panel)."""


experiments = experiment_list
inputs = scaling_inputs


def draw(results: Path, settings: Mapping) -> CaptionedFigure:
    from srhm.figures import style
    from srhm.figures.layouts import CNN_REGIMES, invariance_panels, read_pstar
    from srhm.figures.panels import new_figure, v_colourbars

    cnn = select(read_pstar(results, settings), arch="cnn", sparsity="A")
    fig, axes = new_figure(2, len(COLUMNS), extra_width=0.8)
    v_range = style.v_range(cnn)
    for column, (s, guides) in enumerate(COLUMNS.items()):
        invariance_panels(fig, axes[:, column], select(cnn, s=s), results=results, guides=guides, title=f"CNN, s = {s}",
                          v_range=v_range, regimes=CNN_REGIMES)
    v_colourbars(fig, axes.ravel(), [cnn], v_range)
    return fig
