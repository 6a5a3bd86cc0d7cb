"""Fig. 8 (App. A): CNN on sparsity B, test-error curves raw and collapsed by (s0+1)^2 n_c m^L."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from srhm.figures.tables import curve_inputs, experiment_list

if TYPE_CHECKING:
    from srhm.figures.panels import CaptionedFigure

CAPTION = """\
Paper Fig. 8 (App. A). CNN trained on sparsity B. Left: test error against the number P of distinct training
samples; right: against P / [(s0+1)^2 n_c m^L], the CNN's predicted sample complexity, which collapses the
curves. Lines are means over seeds, shaded min-max over seeds; colour by depth (reds L = 2, blues L = 3,
darker for larger v; the paper uses blue and orange), marker and line style by s0. Dashed: eps*. The paper's
set is s = 2, m = v = n_c = 6, L in {2, 3}, s0 in {1, 2, 4}, with the transition at x of 2 to 5.
"""
REGIMES = {"L": (2, 3), "s0": (1, 2, 4)}


experiments = experiment_list
inputs = curve_inputs


def draw(results: Path, settings: Mapping) -> CaptionedFigure:
    from srhm.figures.layouts import collapse_figure

    return collapse_figure(results, settings, arch="cnn", regimes=REGIMES)
