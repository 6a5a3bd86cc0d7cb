"""Fig. 4: how P* is read off a test-error curve (A), and P* against the paper's predictions for the
LCN (B) and the CNN (C)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import numpy as np

from srhm.figures.tables import (
    SETTING, Selection, describe, experiment_list, integer_setting, read, scaling_inputs, select, string_setting,
)
from srhm.paths import AUTHORS_TABLE, pstar_table, run_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from srhm.figures.panels import CaptionedFigure

CAPTION = """\
Paper Fig. 4. (A) Test error against the number P of distinct training samples for one LCN setting (mean over
seeds, min-max over seeds shaded); the dashed line is eps* and the dotted line marks P*, where the mean curve
crosses eps* (interpolated in log P; 68% seed-bootstrap interval shaded). The paper's panel is the LCN at v =
10, s = 2, s0 = 2, L = 2, probably with P/n_c on the x axis; here x is P. (B) LCN sample complexity P* against
s^(L/2)(s0+1)^L n_c m^L, s = 2, sparsity A; dashed: the paper's y = x. (C) CNN P* against (s0+1)^2 n_c m^L, s
= 2, sparsity A; dashed: the paper's y = 2.5x. Markers by s0 (0 diamond, 1 circle, 2 cross, 4 square, 6
triangle), reds for L = 2 and blues for L = 3, darker for larger v; error bars are 68% bootstrap intervals
over seeds; the solid line is our least-squares power-law fit of the points drawn with its least-squares 95%
confidence band. Open markers: the P* the authors' notebooks printed (their nearest-grid-point rule; for the CNN,
that rule applied to the test-error curves they printed), not fitted.
"""
LCN_GUIDE, CNN_GUIDE = 1.0, 2.5


def experiments(settings: Mapping) -> list[str]:
    """The experiment of panel A's curve, then those of panels B (settings["lcn"]) and C (settings["cnn"])."""
    names = [_curve(settings)[0], *experiment_list(settings, "lcn"), *experiment_list(settings, "cnn")]
    return list(dict.fromkeys(names))


def selections(settings: Mapping) -> list[Selection]:
    """Panel A's runs: those of settings["curve"]["experiment"] at its v, L and s0."""
    experiment, v, L, s0 = _curve(settings)
    return [Selection((experiment,), {"v": v, "L": L, "s0": s0}, setting="curve")]


def inputs(settings: Mapping) -> list[str]:
    experiment = _curve(settings)[0]
    paths = [run_table(experiment), pstar_table(experiment), *scaling_inputs(settings, "lcn"),
             *scaling_inputs(settings, "cnn")]
    return list(dict.fromkeys(paths + [AUTHORS_TABLE]))


def draw(results: Path, settings: Mapping) -> CaptionedFigure:
    from srhm.figures import style
    from srhm.figures.layouts import CNN_REGIMES, LCN_REGIMES, authors_points, prediction_panel, read_pstar
    from srhm.figures.panels import new_figure, v_colourbars

    experiment, v, L, s0 = _curve(settings)
    lcn = select(read_pstar(results, settings, "lcn"), arch="lcn", s=2, sparsity="A")
    cnn = select(read_pstar(results, settings, "cnn"), arch="cnn", s=2, sparsity="A")
    fig, axes = new_figure(1, 3, extra_width=0.8)
    _curve_panel(fig, axes[0, 0], results, experiment, v=v, L=L, s0=s0)
    v_range = style.v_range(lcn, cnn)
    prediction_panel(fig, axes[0, 1], lcn, results=results, arch="lcn", guide=LCN_GUIDE, title="(B) LCN, s = 2",
                     v_range=v_range, regimes=LCN_REGIMES, authors=authors_points(results, "lcn", s=2))
    prediction_panel(fig, axes[0, 2], cnn, results=results, arch="cnn", guide=CNN_GUIDE, title="(C) CNN, s = 2",
                     v_range=v_range, regimes=CNN_REGIMES, authors=authors_points(results, "cnn", s=2))
    v_colourbars(fig, axes[0, 1:], [lcn, cnn], v_range)
    return fig


def _curve(settings: Mapping) -> tuple[str, int, int, int]:
    """settings["curve"]: (experiment, v, L, s0) of panel A."""
    curve = settings.get("curve") if isinstance(settings, Mapping) else None
    if not isinstance(curve, Mapping):
        raise ValueError(f"settings.curve must be a mapping with experiment, v, L and s0, got {curve!r}")
    return (string_setting(curve, "experiment", "settings.curve"),
            *(integer_setting(curve, key, "settings.curve") for key in ("v", "L", "s0")))


def _curve_panel(fig: CaptionedFigure, ax: Axes, results: Path, experiment: str, *, v: int, L: int, s0: int) -> None:
    """Panel A: the test-error curve of one setting, eps* and P*."""
    from srhm.figures import style
    from srhm.figures.panels import log_scale, say, seed_curve

    wanted = {"v": v, "L": L, "s0": s0}
    title = f"(A) {describe(wanted, ('v', 'L', 's0'))}"
    runs = select(read(results, [run_table(experiment)]), **wanted)
    pstar = select(read(results, [pstar_table(experiment)]), **wanted)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(style.P_LABEL)
    ax.set_ylabel(style.ERROR_LABEL)
    log_scale(ax, "x")
    settings = runs.groupby(list(SETTING)).ngroups if len(runs) else 0
    if settings != 1:
        fig.notes.append(f"{title}: experiment {experiment} has {settings} settings with "
                         f"{describe(wanted, ('v', 'L', 's0'))}; panel A needs exactly one.")
        say(ax, f"{settings} settings with these parameters\nin experiment {experiment}", empty=True)
        return
    arch = runs["arch"].iloc[0]
    seed_curve(ax, runs, "P", "test_error", color=style.v_colour(L, v, (v, v)), marker=style.marker("s0", s0),
               label=f"{arch.upper()}, {runs['seed'].nunique()} seeds")
    row = pstar.iloc[0]
    ax.axhline(row["test_error_threshold"], label=rf"$\varepsilon^*$ = {style.percent(row['test_error_threshold'])}",
               **style.GUIDE_STYLE)
    p_star = row["test_error_p_star"]
    if np.isfinite(p_star):
        ax.axvline(p_star, color="black", linestyle=":", label=f"P* = {p_star:.4g}")
        if np.isfinite(row["test_error_boot_lo68"]):
            ax.axvspan(row["test_error_boot_lo68"], row["test_error_boot_hi68"], color="0.5", alpha=0.15, linewidth=0)
        fig.notes.append(f"{title}: {arch.upper()} P* = {p_star:.4g} (68% seed bootstrap "
                         f"[{row['test_error_boot_lo68']:.4g}, {row['test_error_boot_hi68']:.4g}]; "
                         f"the paper's nearest-grid-point rule gives {row['test_error_p_star_paper']:.4g}).")
    else:
        fig.notes.append(f"{title}: the mean test error never crossed eps* ({row['test_error_flag']}); no P*.")
        say(ax, f"no P*: {row['test_error_flag']}", empty=False)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
