"""Fig. 5: the analytic map of Eq. 5, ln(P*_LCN / n_c) over the relevant fraction F and the input
dimension d (v = 10, s = 5, m = v^(s-1)); no training involved."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import numpy as np

from srhm import theory
from srhm.figures.tables import no_experiments

if TYPE_CHECKING:
    from srhm.figures.panels import CaptionedFigure

CAPTION = """\
Paper Fig. 5. Sample complexity of the LCN predicted by Eq. 5, P*/n_c = F^-1 (F d)^(ln m / ln s) (F d)^(1/2),
over the fraction F of informative input positions and the input dimension d, for s = 5 and m = v^(s-1) =
10^4. Colour: ln(P*/n_c) (jet, 50 levels, linear interpolation between the grid points, shown as dots); only
points with F d >= s (at least one informative patch) are kept, so the region below is blank. At fixed d,
sparser data (smaller F) need fewer samples.
"""
LEVELS = 50


experiments = no_experiments


def inputs(settings: Mapping) -> list[str]:
    return []


def draw(results: Path, settings: Mapping) -> CaptionedFigure:
    from srhm.figures.panels import new_figure

    points = theory.fig5_map()
    log_p = np.log(points.p_star_over_nc)
    fig, axes = new_figure(1, 1, extra_width=0.8)
    ax = axes[0, 0]
    filled = ax.tricontourf(points.F, points.d, log_p, levels=LEVELS, cmap="jet", alpha=0.5)
    ax.scatter(points.F, points.d, s=4, color="black")
    bar = fig.colorbar(filled, ax=ax)
    bar.set_label(r"$\ln(P^*/n_c)$")
    bar.set_ticks(np.arange(2 * np.ceil(log_p.min() / 2), log_p.max(), 2))
    ax.set_xlabel("F (fraction of informative positions)")
    ax.set_ylabel("d (input dimension)")
    ax.set_title(f"Eq. 5, s = {theory.FIG5_S}, m = {theory.FIG5_M}", fontsize=9)
    total = theory.FIG5_F.size * theory.FIG5_D.size
    fig.notes.append(f"{points.F.size} of {total} grid points have F d >= s = {theory.FIG5_S}; "
                     f"ln(P*/n_c) spans {log_p.min():.1f} to {log_p.max():.1f}.")
    return fig
