"""Fig. 10 (App. D): LCN with s = 3, P* against the prediction (left), and the s^(L/2) factor seen across
s and L at s0 = 1 (right)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from srhm.figures.tables import experiment_list, scaling_inputs, select
from srhm.paths import AUTHORS_TABLE

if TYPE_CHECKING:
    import pandas as pd

    from srhm.figures.panels import CaptionedFigure

CAPTION = """\
Paper Fig. 10 (App. D). Left: LCN with patch size s = 3, sparsity A: P* (eps* = 10%) against s^(L/2)(s0+1)^L
n_c m^L, m = v^2; dashed: the paper's y = 2.5x. Right: the LCN settings with s0 = 1 at one vocabulary size (v
= 4 as in the paper when the data have it, else the smallest v with s0 = 1) across patch sizes s (diamond s =
2, circle s = 3) and depths (reds L = 2, blues L = 3): their agreement with the prediction supports its
s^(L/2) factor; dashed: the paper's y = 2x. Markers on the left by s0, colours darker for larger v, 68% seed-
bootstrap error bars, our least-squares power-law fit with its least-squares 95% confidence band. Open
markers: the P* the authors' notebooks printed (their nearest-grid-point rule), not fitted.
"""
RIGHT_REGIMES = {"s": (2, 3), "L": (2, 3)}
LEFT_GUIDE, RIGHT_GUIDE = 2.5, 2.0
RIGHT_S0, PAPER_V = 1, 4


experiments = experiment_list


def inputs(settings: Mapping) -> list[str]:
    return [*scaling_inputs(settings), AUTHORS_TABLE]


def draw(results: Path, settings: Mapping) -> CaptionedFigure:
    from srhm.figures import style
    from srhm.figures.layouts import LCN_REGIMES, authors_points, prediction_panel, read_pstar
    from srhm.figures.panels import new_figure, v_colourbars

    lcn = select(read_pstar(results, settings), arch="lcn", sparsity="A")
    left = select(lcn, s=3)
    right = _s_comparison(lcn)
    fig, axes = new_figure(1, 2, extra_width=0.8)
    v_range = style.v_range(left, right)
    prediction_panel(fig, axes[0, 0], left, results=results, arch="lcn", guide=LEFT_GUIDE, title="LCN, s = 3",
                     v_range=v_range, regimes=LCN_REGIMES, authors=authors_points(results, "lcn", s=3))
    v = int(right["v"].iloc[0]) if len(right) else PAPER_V
    prediction_panel(fig, axes[0, 1], right, results=results, arch="lcn", guide=RIGHT_GUIDE,
                     title=f"LCN, s0 = {RIGHT_S0}, v = {v}", v_range=v_range, regimes=RIGHT_REGIMES, marker_by="s",
                     authors=authors_points(results, "lcn", s0=RIGHT_S0, v=v))
    v_colourbars(fig, axes.ravel(), [left, right], v_range)
    return fig


def _s_comparison(lcn: pd.DataFrame) -> pd.DataFrame:
    """The s0 = 1 settings at the paper's v = 4 if present, else at the smallest v with s0 = 1."""
    candidates = select(lcn, s0=RIGHT_S0)
    if candidates.empty:
        return candidates
    v = PAPER_V if PAPER_V in set(candidates["v"]) else candidates["v"].min()
    return select(candidates, v=v)
