"""The fitted power law drawn in scaling panels, with its pointwise least-squares 95 % confidence band.

Figures draw the points of P* tables, which keep no seed resamples, so the line, its band and the
intervals quoted in figure notes are least squares (srhm.scaling.fit_scaling without resamples,
srhm.scaling.least_squares_band); the report gives the seed-bootstrap intervals of the same fits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from srhm.scaling import ScalingFit, fit_scaling, least_squares_band

BAND_LABEL = "least-squares 95% band"


@dataclass(frozen=True)
class FittedLine:
    """A least-squares power-law fit and its line over `x`: x, y, lo95, hi95 all of shape [n_grid]."""

    fit: ScalingFit
    x: np.ndarray
    y: np.ndarray
    lo95: np.ndarray
    hi95: np.ndarray

    def label(self) -> str:
        """Legend text: the fitted law with the least-squares 95 % interval of its slope."""
        fit = self.fit
        return (f"fit: y = {fit.prefactor:.3g} x^{fit.slope:.2f}, n = {fit.n_points}\n"
                f"slope 95% CI [{fit.slope_ci95[0]:.2f}, {fit.slope_ci95[1]:.2f}] (least squares)")


def fitted_line(x, y, *, n_grid: int = 50) -> FittedLine | ScalingFit:
    """Fit y = prefactor x^slope to the positive points (x, y) ([n] each, NaN pairs dropped) by least
    squares in log-log, and its 95 % confidence band over their x range ([n_grid] points, log-spaced).

    Returns the bare ScalingFit (flag "too_few_points" or "too_few_distinct_x") when no line can be drawn.
    """
    fit = fit_scaling(x, y)
    if fit.flag != "ok":
        return fit
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    kept = x[~(np.isnan(x) | np.isnan(y))]
    grid = np.geomspace(kept.min(), kept.max(), n_grid)
    low, high = least_squares_band(x, y, grid)
    return FittedLine(fit, grid, fit.prefactor * grid**fit.slope, low, high)
