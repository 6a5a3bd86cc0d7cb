"""The fitted power law drawn in scaling panels, with its pointwise 95 % bootstrap band.

The slope and prefactor (and their intervals) are srhm.scaling.fit_power_law of the points drawn; the
band resamples the same points with replacement and takes, at every x, the 2.5 and 97.5 percentiles
of the refitted lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from srhm.scaling import PowerLawFit, fit_power_law
from srhm.streams import stream

N_BOOT = 1000
BAND_STREAM = 2
"""First key of the "bootstrap" stream for bands (srhm.scaling uses 0 for P* tables, 1 for fits)."""


@dataclass(frozen=True)
class FittedLine:
    """A power-law fit and its line over `x`: y, lo95, hi95 all of shape [n_grid]."""

    fit: PowerLawFit
    x: np.ndarray
    y: np.ndarray
    lo95: np.ndarray
    hi95: np.ndarray

    def label(self) -> str:
        """Legend text: the fitted law with the 95 % intervals of slope and prefactor."""
        fit = self.fit
        return (f"fit: y = {fit.prefactor:.3g} x^{fit.slope:.2f}\n"
                f"slope 95% CI [{fit.slope_ci95[0]:.2f}, {fit.slope_ci95[1]:.2f}], n = {fit.n_points}")


def fitted_line(x, y, *, n_grid: int = 50, n_boot: int = N_BOOT, seed: int = 0) -> FittedLine | PowerLawFit:
    """Fit y = prefactor x^slope to the positive points (x, y) ([n] each) and its band over their x range.

    Returns the bare PowerLawFit (flag "too_few_points" or "constant_x") when no line can be drawn.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    fit = fit_power_law(x, y, n_boot=n_boot, seed=seed)
    if fit.flag != "ok":
        return fit
    log_x, log_y = np.log(x), np.log(y)
    grid = np.linspace(log_x.min(), log_x.max(), n_grid)
    draws = stream("bootstrap", BAND_STREAM, seed).integers(0, log_x.size, (n_boot, log_x.size))
    bx, by = log_x[draws], log_y[draws]
    bx_mean, by_mean = bx.mean(axis=1, keepdims=True), by.mean(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = ((bx - bx_mean) * (by - by_mean)).sum(axis=1) / ((bx - bx_mean) ** 2).sum(axis=1)
    lines = by_mean + slopes[:, None] * (grid[None, :] - bx_mean)  # [n_boot, n_grid] in log y
    lo, hi = np.nanpercentile(lines[np.isfinite(slopes)], [2.5, 97.5], axis=0)
    return FittedLine(fit, np.exp(grid), fit.prefactor * np.exp(grid) ** fit.slope, np.exp(lo), np.exp(hi))
