"""The fitted power law drawn in scaling panels, with its pointwise least-squares 95 % confidence band.

A panel that draws every point of one experiment's fit (srhm.analysis.scaling_fits, read from results/fits
as the report reads it, `report_fit`) shows that fit: its line, and in its legend and notes the intervals
the report prints for it (seed bootstrap, srhm.scaling.fit_scaling), in the report's digits (srhm.text).
A panel drawing other points (a subset of an experiment, or several) fits them itself by least squares,
since P* tables keep no seed resamples, and says so. The band is the least-squares one
(srhm.scaling.least_squares_band) either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from srhm import paths
from srhm.analysis import FITS, read_fit
from srhm.scaling import ScalingFit, fit_scaling, least_squares_band
from srhm.text import interval

BAND_LABEL = "least-squares 95% band"
CI_METHODS = {"seed_bootstrap": "seed bootstrap", "least_squares": "least squares"}
"""How a fit's intervals were computed (ScalingFit.ci_method), in words."""


@dataclass(frozen=True)
class FittedLine:
    """A power-law fit and its line over `x`: x, y, lo95, hi95 all of shape [n_grid]. source: where the fit
    comes from, e.g. "fits/lcn_s2.json" (the report's) or "" (the panel's own least-squares fit)."""

    fit: ScalingFit
    x: np.ndarray
    y: np.ndarray
    lo95: np.ndarray
    hi95: np.ndarray
    source: str = ""

    def label(self) -> str:
        """Legend text: the fitted law and the 95 % interval of its slope, as the report prints it."""
        fit = self.fit
        return (f"fit: y = {fit.prefactor:.3g} x^{fit.slope:.2f}, n = {fit.n_points}\n"
                f"slope 95% CI {interval(fit.slope_ci95)} ({CI_METHODS[fit.ci_method]})")

    def note(self) -> str:
        """The fit in words for a figure's notes: the law, its standard error and intervals, where it comes
        from and what the band is."""
        fit = self.fit
        source = (f"the report's fit ({self.source}), which has every point drawn" if self.source else
                  "a least-squares fit of the points drawn, which are not those of one experiment's fit in the report")
        return (f"fit y = {fit.prefactor:.3g} x^{fit.slope:.3f} on {fit.n_points} points by least squares, slope "
                f"± {fit.slope_se:.3f} (least-squares s.e.), 95% CI {interval(fit.slope_ci95)} "
                f"({CI_METHODS[fit.ci_method]}), prefactor 95% CI {interval(fit.prefactor_ci95)}; slope-1 fit y = "
                f"{fit.unit_slope_prefactor:.3g} x (95% CI {interval(fit.unit_slope_prefactor_ci95)}); {source}; "
                "the shaded band is the least-squares 95% confidence band of the line")


def fitted_line(x, y, *, fit: ScalingFit | None = None, source: str = "", n_grid: int = 50
                ) -> FittedLine | ScalingFit:
    """The power law y = prefactor x^slope of the positive points (x, y) ([n] each, NaN pairs dropped) over
    their x range ([n_grid] points, log-spaced), with its least-squares 95 % confidence band. fit: the fit
    of exactly these points to draw (e.g. `report_fit`'s, with its `source`); None: fit them by least squares.

    Returns the bare ScalingFit (flag "too_few_points" or "too_few_distinct_x") when no line can be drawn.
    """
    fit = fit_scaling(x, y) if fit is None else fit
    if fit.flag != "ok":
        return fit
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    kept = x[~(np.isnan(x) | np.isnan(y))]
    grid = np.geomspace(kept.min(), kept.max(), n_grid)
    low, high = least_squares_band(x, y, grid)
    return FittedLine(fit, grid, fit.prefactor * grid**fit.slope, low, high, source)


def report_fit(results: Path, points: pd.DataFrame, x: str, y: str) -> tuple[ScalingFit, str] | None:
    """The report's fit of column y against column x (a pair of srhm.analysis.FITS) that `points` (rows of
    P* tables with an `experiment` column) draw: the fit of their experiment, read by srhm.analysis.read_fit,
    when the points with a finite x and y all come from that one experiment and are as many as the fit has,
    hence all of its points. Returns it with its file (relative to `results`), or None: no such pair of
    columns, no fits file, or points that are not exactly one experiment's fit.

    Raises ValueError naming the fits file when its fit is not that of the points (its least-squares slope or
    slope-1 prefactor differs: a fits file and P* table from different analyses).
    """
    name = next((name for name, columns in FITS.items() if columns == (x, y)), None)
    if name is None or "experiment" not in points or x not in points or y not in points:
        return None
    finite = points[np.isfinite(points[x]) & np.isfinite(points[y])]
    experiments = set(finite["experiment"])
    if len(experiments) != 1:
        return None
    (experiment,) = experiments
    stored = read_fit(results, experiment, name)
    if stored is None or stored.get("n_points") != len(finite):
        return None
    fit, own = ScalingFit.from_dict(stored), fit_scaling(finite[x].to_numpy(float), finite[y].to_numpy(float))
    if not np.allclose([fit.slope, fit.unit_slope_prefactor], [own.slope, own.unit_slope_prefactor], rtol=1e-6,
                       equal_nan=True):
        raise ValueError(f"{paths.fits(experiment)}: its fit {name} is not that of the points of "
                         f"{paths.pstar_table(experiment)} (written by another analysis); rerun `srhm analyse`")
    return fit, paths.fits(experiment)
