"""Sample complexities read off measured curves, with seed bootstrap, and power-law fits between them.

A curve is a metric (test error, S_2, D_2, ...) on an ascending grid of training-set sizes P. Its
sample complexity is where it falls below a threshold (EPS_STAR for the test error, the values of
`srhm.theory.invariance` for the synonym and diffeomorphism sensitivities).

Result flags, shared by `crossing`, `paper_rule` and `p_star_table`:
  "ok"                  a single downward crossing, P* is finite;
  "multiple_crossings"  the curve reached the threshold and came back above before its final crossing,
                        P* finite;
  "never_below"         every finite value is above the threshold, P* = NaN;
  "plateau_above"       never below, and levelled off above the threshold: its last falls shrink towards
                        a limit above it (`_levelled_off`), so a larger P would not measure P* either: a
                        threshold this curve cannot cross, P* = NaN;
  "above_at_max_P"      the curve went below but ends above the threshold, P* = NaN;
  "below_at_min_P"      already at or below the threshold at the smallest P, P* = NaN;
  "too_few_points"      fewer than 2 finite values (crossing) or none (paper rule), P* = NaN;
  "outside_tolerance"   (paper rule only) no grid value within the tolerance, P* = NaN;
  "diverged"            (p_star_table only) a run of the group diverged (its training loss became
                        non-finite): its values measure no learning, so whatever the curve, P* = NaN.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import asdict, dataclass, fields
from typing import Callable, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd
from srhm.checks import check_int
from srhm.defaults import N_BOOT
from srhm.streams import stream

PAPER_TOLERANCE = 0.1
MIN_DISTINCT_X = 3
"""Fewest distinct x for which a fit measures a slope."""
CI_LEVELS = (68, 95)
"""Confidence levels of a fit's intervals, percent."""
PERCENTILES = {"median": 50.0, "lo68": 16.0, "hi68": 84.0, "lo95": 2.5, "hi95": 97.5}
"""Bootstrap summaries of a P* table: name -> percentile."""

_TABLE_STREAM = 0
"""First key of the "bootstrap" stream of seed resampling."""

Threshold = float | Callable[[Mapping[str, object]], float]


class Crossing(NamedTuple):
    """A sample complexity and the flag explaining it (see the module docstring)."""

    p_star: float
    flag: str


def crossing(P, values, threshold: float) -> Crossing:
    """Where the curve values[P] falls below `threshold`, interpolated linearly in log P.

    The crossing that counts is the last one: the first grid point from which every later finite value
    is at or below the threshold, interpolated with the finite point before it (which is above). Early
    dips that come back above are noise and are ignored (flag "multiple_crossings"). NaN values are
    dropped, so interpolation bridges them. P: [n_P] strictly ascending and positive; values: [n_P].
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {values.shape}")
    p_star, flag = crossing_batch(P, values[None, :], threshold)
    return Crossing(float(p_star[0]), str(flag[0]))


def crossing_batch(P, curves, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """`crossing` for many curves on one grid. P: [n_P]; curves: [n_curves, n_P].

    Returns P* [n_curves] (float, NaN where undefined) and flags [n_curves] (str).
    """
    P = _checked_grid(P)
    curves = _checked_values(curves, P.size, ndim=2)
    threshold = _checked_threshold(threshold)
    n_P = curves.shape[1]
    index = np.arange(n_P)

    finite = np.isfinite(curves)
    above = finite & (curves > threshold)
    below = finite & ~above
    last_above = np.where(above, index, -1).max(axis=1)
    first_below_after = np.where(below & (index > last_above[:, None]), index, n_P).min(axis=1)
    dipped_before = (below & (index < last_above[:, None])).any(axis=1)

    left = np.maximum(last_above, 0)
    right = np.minimum(first_below_after, n_P - 1)
    y_left = np.take_along_axis(curves, left[:, None], axis=1)[:, 0]
    y_right = np.take_along_axis(curves, right[:, None], axis=1)[:, 0]
    defined = (last_above >= 0) & (first_below_after < n_P)
    log_P = np.log(P)
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = (y_left - threshold) / (y_left - y_right)
        p_star = np.exp(log_P[left] + fraction * (log_P[right] - log_P[left]))
    p_star = np.where(defined, p_star, np.nan)

    flags = np.select(
        [finite.sum(axis=1) < 2, ~below.any(axis=1) & _levelled_off(curves, threshold), ~below.any(axis=1),
         last_above < 0, first_below_after == n_P, dipped_before],
        ["too_few_points", "plateau_above", "never_below", "below_at_min_P", "above_at_max_P", "multiple_crossings"],
        "ok",
    ).astype(object)
    return p_star, flags


def _levelled_off(curves: np.ndarray, threshold: float) -> np.ndarray:
    """Per curve ([n_curves, n_P]): whether its last three finite values level off above the threshold.

    With the falls d1, d2 over the last two grid steps, a curve whose falls shrink (d2 < d1) is extrapolated
    geometrically to its limit y_last - d2 r / (1 - r), r = d2 / d1 (one that stopped falling, d2 <= 0, to
    y_last); it has levelled off when that limit lies above the threshold. False with fewer than three
    finite values, or while the curve falls no slower than before (it may still cross).
    """
    if curves.shape[1] < 3:
        return np.zeros(len(curves), dtype=bool)
    finite = np.isfinite(curves)
    last = np.sort(np.where(finite, np.arange(curves.shape[1]), -1), axis=1)[:, -3:]  # ascending, -1 = missing
    y = np.take_along_axis(curves, np.maximum(last, 0), axis=1)
    d1, d2 = y[:, 0] - y[:, 1], y[:, 1] - y[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(d1 > 0, d2 / d1, np.inf)
        limit = np.where(d2 <= 0, y[:, 2], np.where(r < 1, y[:, 2] - d2 * r / (1 - r), -np.inf))
    return (last[:, 0] >= 0) & (limit > threshold)


def paper_rule(P, values, threshold: float, tolerance: float = PAPER_TOLERANCE) -> Crossing:
    """The authors' rule: the grid P whose value is closest to `threshold`, kept only if within `tolerance`.

    No interpolation; ties go to the smallest P; NaN values are ignored. P, values: [n_P].
    """
    P = _checked_grid(P)
    values = _checked_values(values, P.size, ndim=1)
    threshold = _checked_threshold(threshold)
    _check_tolerance(tolerance)
    distance = np.where(np.isfinite(values), np.abs(values - threshold), np.inf)
    if not np.isfinite(distance).any():
        return Crossing(math.nan, "too_few_points")
    nearest = int(np.argmin(distance))
    if distance[nearest] > tolerance:
        return Crossing(math.nan, "outside_tolerance")
    return Crossing(float(P[nearest]), "ok")


class PStarTable(NamedTuple):
    """What `p_star_table` returns.

    table: one row per parameter group, the columns of `p_star_table`'s docstring.
    boot: metric -> [n_groups, n_boot] P* of every seed resample, rows in the order of `table`, columns
    the same draws for every metric (so P* and P*_S of a column come from the same seeds); NaN where a
    resample's curve did not cross.
    """

    table: pd.DataFrame
    boot: dict[str, np.ndarray]


def p_star_table(
    runs: pd.DataFrame,
    by: Sequence[str],
    thresholds: Mapping[str, Threshold],
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
    tolerance: float = PAPER_TOLERANCE,
    diverged: str | None = None,
) -> PStarTable:
    """Sample complexities per parameter group, with a bootstrap over seeds.

    runs: one row per run, with the columns `by`, "seed", "P" and every metric named in `thresholds`.
    thresholds: metric column -> threshold, either a number or a function of the group's parameters
    ({column: value} over `by`), e.g. lambda g: invariance(g["arch"], g["s"], g["L"]).synonym.
    diverged: a boolean column of `runs` saying which runs diverged; the column "n_diverged" counts them per
    group, and a group with any has the flag "diverged" and NaN P* for every metric (point estimate, paper's
    rule and every resample). None: no run diverged.

    Per group the seed-averaged curve (NaN-aware mean over seeds at each P) gives the point estimate
    "{metric}_p_star" with "{metric}_flag", and the paper's rule on the same curve gives
    "{metric}_p_star_paper" with "{metric}_paper_flag". The bootstrap draws seeds with replacement
    `n_boot` times (the same draws for every metric of a group), averages their curves and recomputes
    the crossing: "{metric}_boot_{median,lo68,hi68,lo95,hi95}" are percentiles over the resamples
    that crossed, "{metric}_cross_fraction" the fraction that did. With one seed every resample is the
    same curve, so the interval has zero width; the column "single_seed" says so.
    Resamples come from the "bootstrap" stream keyed by `seed` and a checksum of the group's values.
    Returns a PStarTable: the table (one row per group, sorted by `by`) and every resample's P* per
    metric, which `fit_scaling` refits.
    """
    by = list(by)
    if not by:
        raise ValueError("by must name at least one grouping column")
    if not thresholds:
        raise ValueError("thresholds must name at least one metric column")
    metrics = list(thresholds)
    missing = [c for c in [*by, "seed", "P", *metrics, *([diverged] if diverged else [])] if c not in runs.columns]
    if missing:
        raise ValueError(f"runs lacks the columns {missing}")
    check_int("n_boot", n_boot, 1)
    _check_tolerance(tolerance)
    duplicated = runs.duplicated([*by, "seed", "P"])
    if duplicated.any():
        raise ValueError(f"runs has {int(duplicated.sum())} duplicate rows for the same ({', '.join(by)}, seed, P)")
    _checked_grid(np.unique(runs["P"].to_numpy(dtype=np.float64)))

    groups = list(runs.groupby(by, sort=True, dropna=False))
    group_thresholds = [
        {metric: _threshold_for(thresholds[metric], dict(zip(by, key)), metric) for metric in metrics}
        for key, _ in groups
    ]
    results = [
        _group_row(dict(zip(by, key)), group, limits, n_boot, seed, tolerance, diverged)
        for (key, group), limits in zip(groups, group_thresholds)
    ]
    return PStarTable(
        table=pd.DataFrame([row for row, _ in results]),
        boot={metric: np.stack([boot[metric] for _, boot in results]) for metric in metrics},
    )


def _group_row(
    parameters: dict, group: pd.DataFrame, thresholds: dict[str, float], n_boot: int, seed: int, tolerance: float,
    diverged: str | None,
) -> tuple[dict, dict[str, np.ndarray]]:
    """The `p_star_table` row of one parameter group, and its resamples' P* per metric ([n_boot] each)."""
    metrics = list(thresholds)
    seeds, seed_index = np.unique(group["seed"].to_numpy(), return_inverse=True)
    P, P_index = np.unique(group["P"].to_numpy(dtype=np.float64), return_inverse=True)
    curves = np.full((len(metrics), seeds.size, P.size), np.nan)  # [metric, seed (ascending), P (ascending)]
    curves[:, seed_index, P_index] = group[metrics].to_numpy(dtype=np.float64).T
    n_seeds = seeds.size
    key = tuple(parameters.values())
    draws = stream("bootstrap", _TABLE_STREAM, seed, _checksum(key)).integers(0, n_seeds, (n_boot, n_seeds))
    mean_curves = _nan_mean(curves, axis=1)
    boot_curves = _nan_mean(curves[:, draws], axis=2)

    row = {**parameters, "n_seeds": n_seeds, "single_seed": n_seeds == 1}
    if diverged is not None:
        row["n_diverged"] = int(group[diverged].sum())
    boots = {}
    for i, (metric, threshold) in enumerate(thresholds.items()):
        if row.get("n_diverged"):
            point = paper = Crossing(math.nan, "diverged")
            boots[metric] = np.full(n_boot, np.nan)
        else:
            point = crossing(P, mean_curves[i], threshold)
            paper = paper_rule(P, mean_curves[i], threshold, tolerance)
            boots[metric], _ = crossing_batch(P, boot_curves[i], threshold)
        crossed = boots[metric][np.isfinite(boots[metric])]
        summary = np.percentile(crossed, list(PERCENTILES.values())) if crossed.size else [np.nan] * len(PERCENTILES)
        row |= {
            f"{metric}_threshold": threshold,
            f"{metric}_at_max_P": _last_finite(mean_curves[i]),
            f"{metric}_p_star": point.p_star,
            f"{metric}_flag": point.flag,
            f"{metric}_p_star_paper": paper.p_star,
            f"{metric}_paper_flag": paper.flag,
            f"{metric}_cross_fraction": crossed.size / n_boot,
        }
        row |= {f"{metric}_boot_{name}": float(value) for name, value in zip(PERCENTILES, summary)}
    return row, boots


@dataclass(frozen=True)
class ScalingFit:
    """A power law y = prefactor x^slope fitted by least squares in log-log, and the slope-1 law y = C x.

    slope is dimensionless; prefactor has the units of y / x^slope, unit_slope_prefactor (C) those of
    y / x. Intervals are (low, high) at 68 % and 95 %, computed as `ci_method` says: "seed_bootstrap"
    or "least_squares" (see `fit_scaling`). The standard errors are the least-squares ones whatever
    `ci_method`: slope_se of the slope, log_prefactor_se of log(prefactor) (the intercept) and
    log_unit_slope_prefactor_se of log C. n_points: pairs fitted; n_distinct_x: distinct x among them;
    n_dropped: pairs left out for a NaN; n_boot: seed-bootstrap replicates (0 for least squares);
    complete_fraction: fraction of the replicates in which every point crossed its threshold (NaN
    for least squares). slope_dof: the degrees of freedom behind the slope's interval (the Welch-Satterthwaite
    ones of the seed bootstrap, n - 2 for least squares; `t_over_z` gives how much they widen it). flag: "ok"; "too_few_points" (no pair); "too_few_distinct_x" (fewer than
    MIN_DISTINCT_X distinct x: slope, prefactor and their intervals NaN, the slope-1 law still given).
    """

    slope: float
    slope_se: float
    slope_ci68: tuple[float, float]
    slope_ci95: tuple[float, float]
    prefactor: float
    log_prefactor_se: float
    prefactor_ci68: tuple[float, float]
    prefactor_ci95: tuple[float, float]
    unit_slope_prefactor: float
    log_unit_slope_prefactor_se: float
    unit_slope_prefactor_ci68: tuple[float, float]
    unit_slope_prefactor_ci95: tuple[float, float]
    ci_method: str
    n_points: int
    n_distinct_x: int
    n_dropped: int
    n_boot: int
    complete_fraction: float
    slope_dof: float
    flag: str

    def to_dict(self) -> dict:
        """Plain JSON-ready dictionary; NaN becomes None, intervals become lists."""
        return {name: _json_number(value) for name, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping) -> ScalingFit:
        """The fit a `to_dict` dictionary describes (None back to NaN, lists back to tuples); keys that are no
        field (e.g. the "x" and "y" columns srhm.analysis.scaling_fits adds) are ignored. ValueError naming the
        fields that are missing."""
        missing = [field.name for field in fields(cls) if field.name not in values]
        if missing:
            raise ValueError(f"a scaling fit needs the fields {missing}")
        return cls(**{field.name: _from_json(values[field.name]) for field in fields(cls)})


def fit_scaling(x, y, *, x_boot=None, y_boot=None, n_seeds=None) -> ScalingFit:
    """Fit y = prefactor x^slope by least squares of log y on log x, and y = C x, C = exp(mean(log y - log x)).

    x, y: [n] positive, e.g. one sample complexity per SRHM instance against its prediction; a pair
    with a NaN is dropped and counted. x_boot, y_boot: [n, n_boot] the seed-bootstrap replicates of x
    and y (`PStarTable.boot` rows; for P* against P*_S both from the same draws), NaN where a resample
    did not cross; None for a variable without seed noise (a prediction). n_seeds: [n] seeds behind
    each point, required with a bootstrap array and only then.

    Interval ("ci_method"):
    - "seed_bootstrap", when a bootstrap array is given and a fitted point has >= 2 seeds. Replicate b
      refits on replicate b of every point: resampling happens within points (seeds of an instance),
      never across them, so every replicate has every instance; a point whose replicate did not cross
      is left out of that replicate only (`complete_fraction` says how often that happened). The seed
      bootstrap of a mean of n_i seeds has only (n_i - 1)/n_i of its variance (Efron & Tibshirani 1993,
      An Introduction to the Bootstrap; Hesterberg 2015, Am. Stat. 69:371, "narrowness bias"), so each
      replicate's deviation is inflated on the log scale, log y_b' = log y + sqrt(n_i/(n_i - 1))
      (log y_b - log y), the same for x (a single-seed point has no deviation to inflate). Intervals
      are percentiles of the replicates, each side widened about the estimate by t_nu / z (Student t
      against normal quantile at the level), nu the Welch-Satterthwaite degrees of freedom of the
      estimate's variance, whose per-point parts have n_i - 1 degrees of freedom each: with 3 seeds a
      point's variance is itself known to 2 degrees of freedom only. tests/test_scaling.py measures the
      coverage with 3 seeds.
    - "least_squares" otherwise (every point has one seed, or no bootstrap is given): Student t
      intervals from the least-squares standard errors, n - 2 degrees of freedom for the slope and
      prefactor, n - 1 for C (scipy.stats.linregress, scipy.stats.t).
    Fewer than MIN_DISTINCT_X distinct x: the slope and prefactor are not measured (NaN, flag
    "too_few_distinct_x"); C is given whenever a pair is.

    Raises ValueError naming the argument for shapes that do not match, values that are not positive
    (NaN allowed), or n_seeds missing, superfluous or below 1.
    """
    log_x, log_y, kept = _log_pairs(x, y)
    boots = {name: _checked_positive(name, values, ndim=2) for name, values in (("x_boot", x_boot), ("y_boot", y_boot))
             if values is not None}
    for name, values in boots.items():
        if values.shape[0] != kept.size or values.shape[1] < 1:
            raise ValueError(f"{name} must have shape [{kept.size}, n_boot >= 1] (a row per point), got {values.shape}")
    if len({values.shape for values in boots.values()}) > 1:
        raise ValueError(f"x_boot and y_boot must have equal shapes, got {boots['x_boot'].shape} and "
                         f"{boots['y_boot'].shape}")
    if (n_seeds is None) != (not boots):
        raise ValueError("n_seeds must be given with x_boot or y_boot, and only then")
    if n_seeds is not None:
        n_seeds = np.asarray(n_seeds)
        if n_seeds.shape != kept.shape or not np.issubdtype(n_seeds.dtype, np.integer) or np.any(n_seeds < 1):
            raise ValueError(f"n_seeds must be {kept.size} integers >= 1 (one per point), got {n_seeds!r}")

    n, n_distinct = log_x.size, int(_distinct_counts(log_x[None, :])[0])
    slope, intercept, slope_se, intercept_se = _least_squares(log_x, log_y)
    log_ratio = log_y - log_x
    log_c = float(log_ratio.mean()) if n else math.nan
    log_c_se = float(log_ratio.std(ddof=1) / math.sqrt(n)) if n >= 2 else math.nan
    bootstrap = bool(boots) and bool(np.any(n_seeds[kept] >= 2))
    if bootstrap:
        n_boot = next(iter(boots.values())).shape[1]
        inflation = np.sqrt(n_seeds[kept] / np.maximum(n_seeds[kept] - 1, 1))[:, None]
        replicates = []  # log x and log y of every replicate, [n_boot, n] each
        for name, log_point in (("x_boot", log_x), ("y_boot", log_y)):
            deviation = np.log(boots[name][kept]) - log_point[:, None] if name in boots else 0.0
            replicates.append(np.broadcast_to(log_point[:, None] + inflation * deviation, (n, n_boot)).T)
        boot_slope, boot_intercept, boot_log_c, complete = _replicate_fits(*replicates)
        dof = _effective_dof(log_x, *replicates, slope if math.isfinite(slope) else 1.0, n_seeds[kept])
        intervals = {level: tuple(_widened(_interval(boot, level), estimate, dof[k], level)
                                  for k, (boot, estimate) in enumerate(((boot_slope, slope),
                                                                        (boot_intercept, intercept),
                                                                        (boot_log_c, log_c))))
                     for level in CI_LEVELS}
        complete_fraction, slope_dof = float(complete.mean()), dof[0]
    else:
        n_boot, complete_fraction, slope_dof = 0, math.nan, float(n - 2)
        intervals = {level: (_t_interval(slope, slope_se, n - 2, level),
                             _t_interval(intercept, intercept_se, n - 2, level),
                             _t_interval(log_c, log_c_se, n - 1, level)) for level in CI_LEVELS}
    if n_distinct < MIN_DISTINCT_X:  # even where replicates, their x varying by seed, have more distinct x
        intervals = {level: ((math.nan, math.nan),) * 2 + (log_c_interval,)
                     for level, (_, _, log_c_interval) in intervals.items()}
    return ScalingFit(
        slope=slope,
        slope_se=slope_se,
        slope_ci68=intervals[68][0],
        slope_ci95=intervals[95][0],
        prefactor=math.exp(intercept),
        log_prefactor_se=intercept_se,
        prefactor_ci68=_exp(intervals[68][1]),
        prefactor_ci95=_exp(intervals[95][1]),
        unit_slope_prefactor=math.exp(log_c),
        log_unit_slope_prefactor_se=log_c_se,
        unit_slope_prefactor_ci68=_exp(intervals[68][2]),
        unit_slope_prefactor_ci95=_exp(intervals[95][2]),
        ci_method="seed_bootstrap" if bootstrap else "least_squares",
        n_points=n,
        n_distinct_x=n_distinct,
        n_dropped=int(kept.size - n),
        n_boot=n_boot,
        complete_fraction=complete_fraction,
        slope_dof=slope_dof,
        flag="too_few_points" if n == 0 else "too_few_distinct_x" if n_distinct < MIN_DISTINCT_X else "ok",
    )


def least_squares_band(x, y, x_grid, level: float = 95) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise confidence band of the least-squares line of `fit_scaling` (the fitted mean of log y).

    x, y: [n] the fitted points (pairs with a NaN dropped); x_grid: [n_grid] positive. Returns (low,
    high), each [n_grid], in the units of y: exp(fit ± t_{n-2} s sqrt(1/n + (log x - mean log x)^2 / Sxx))
    with s the residual standard deviation. NaN everywhere with fewer than MIN_DISTINCT_X distinct x.
    """
    log_x, log_y, _ = _log_pairs(x, y)
    log_grid = np.log(_checked_positive("x_grid", x_grid, ndim=1))
    slope, intercept, slope_se, intercept_se = _least_squares(log_x, log_y)
    if math.isnan(slope):
        return np.full(log_grid.shape, np.nan), np.full(log_grid.shape, np.nan)
    # Var(a + b u) = Var(a) + u^2 Var(b) + 2 u Cov(a, b), with Cov(a, b) = -mean(log x) Var(b)
    variance = intercept_se**2 + slope_se**2 * log_grid * (log_grid - 2 * log_x.mean())
    half_width = _t_quantile(level, log_x.size - 2) * np.sqrt(np.maximum(variance, 0.0))
    centre = intercept + slope * log_grid
    return np.exp(centre - half_width), np.exp(centre + half_width)


LOCAL_SLOPE_COLUMNS = ("x_low", "x_high", "x_min", "x_max", "x_centre", "n_points", "n_distinct_x", "slope",
                       "slope_se")


def local_slopes(x, y, decades: float = 1.0) -> pd.DataFrame:
    """The exponent of y against x in sliding windows of x, each `decades` wide: how the slope of a log-log
    plot changes along it (a pre-asymptotic slope drifts towards the asymptotic one).

    The windows are [10^(j h), 10^(j h + decades)] for every integer j, h = decades / 2 (each window overlaps
    half of the next, and their edges sit on the same grid whatever the points), edges included. A window's
    slope is `fit_scaling`'s least-squares slope of the points (x, y) inside it, with its standard error;
    windows with fewer than MIN_DISTINCT_X distinct x are left out.

    x, y: [n] positive (pairs with a NaN dropped). decades: the width of a window in decades of x (> 0).
    Returns one row per window, by ascending x, columns LOCAL_SLOPE_COLUMNS: x_low, x_high (the window's
    edges), x_min, x_max (the extreme x of its points), x_centre (geometric mean of its distinct x),
    n_points, n_distinct_x, slope, slope_se. Raises ValueError as `fit_scaling` does, or for decades <= 0.
    """
    if not (isinstance(decades, (int, float)) and math.isfinite(decades) and decades > 0):
        raise ValueError(f"decades must be a positive number, got {decades!r}")
    log_x, log_y, _ = _log_pairs(x, y)
    step, rows = decades / 2, []
    if log_x.size:
        decade_x = log_x / math.log(10)
        for j in range(math.floor(decade_x.min() / step) - 1, math.ceil(decade_x.max() / step) + 1):
            inside = (decade_x >= j * step - 1e-9) & (decade_x <= j * step + decades + 1e-9)
            distinct = np.unique(log_x[inside])
            if distinct.size < MIN_DISTINCT_X:
                continue
            fit = fit_scaling(np.exp(log_x[inside]), np.exp(log_y[inside]))
            rows.append([10 ** (j * step), 10 ** (j * step + decades), math.exp(distinct[0]), math.exp(distinct[-1]),
                         math.exp(distinct.mean()), int(inside.sum()), int(distinct.size), fit.slope, fit.slope_se])
    return pd.DataFrame(rows, columns=list(LOCAL_SLOPE_COLUMNS), dtype=float).astype({"n_points": int,
                                                                                       "n_distinct_x": int})


def collapse(P, scale) -> np.ndarray:
    """P rescaled by a predicted sample complexity, P / scale, broadcast; the x axis of collapse plots.

    E.g. Fig. 7: scale = theory.sparsity_factor("lcn", s0, L) * theory.p_star_rhm(n_c, m, L);
    Fig. 8: theory.p_star_cnn(n_c, m, L, s0); Fig. 12: sparsity_factor("lcn", s0, L).
    """
    P, scale = np.asarray(P, dtype=np.float64), np.asarray(scale, dtype=np.float64)
    if not np.all(np.isfinite(P) & (P > 0)):
        raise ValueError(f"P must be positive and finite, got {P}")
    if not np.all(np.isfinite(scale) & (scale > 0)):
        raise ValueError(f"scale must be positive and finite, got {scale}")
    return P / scale


def _log_pairs(x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log x and log y of the pairs without NaN, and which pairs those are ([n] bool), for x, y: [n]."""
    x, y = _checked_positive("x", x, ndim=1), _checked_positive("y", y, ndim=1)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have equal lengths, got shapes {x.shape} and {y.shape}")
    kept = ~(np.isnan(x) | np.isnan(y))
    return np.log(x[kept]), np.log(y[kept]), kept


def _least_squares(log_x: np.ndarray, log_y: np.ndarray) -> tuple[float, float, float, float]:
    """Slope, intercept and their standard errors of the regression of log_y on log_x ([n] each), by
    scipy.stats.linregress; all NaN with fewer than MIN_DISTINCT_X distinct x."""
    if _distinct_counts(log_x[None, :])[0] < MIN_DISTINCT_X:
        return (math.nan,) * 4
    from scipy import stats  # here, not at the top: P* searches' rounds import this module and fit nothing

    result = stats.linregress(log_x, log_y)
    return float(result.slope), float(result.intercept), float(result.stderr), float(result.intercept_stderr)


def _replicate_fits(log_x: np.ndarray, log_y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Least squares of every row of log_y on the same row of log_x ([n_boot, n] each, NaN = left out).

    Returns slope, intercept and mean(log y - log x) ([n_boot] each; slope and intercept NaN for rows
    with fewer than MIN_DISTINCT_X distinct x) and whether the row had every point ([n_boot] bool).
    """
    present = np.isfinite(log_x) & np.isfinite(log_y)
    count = present.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_x = np.where(present, log_x, 0.0).sum(axis=1) / count
        mean_y = np.where(present, log_y, 0.0).sum(axis=1) / count
        dx = np.where(present, log_x - mean_x[:, None], 0.0)
        dy = np.where(present, log_y - mean_y[:, None], 0.0)
        slope = (dx * dy).sum(axis=1) / (dx**2).sum(axis=1)
    slope[_distinct_counts(np.where(present, log_x, np.nan)) < MIN_DISTINCT_X] = np.nan
    return slope, mean_y - slope * mean_x, mean_y - mean_x, present.all(axis=1)


def _effective_dof(log_x: np.ndarray, boot_log_x: np.ndarray, boot_log_y: np.ndarray, slope: float,
                   n_seeds: np.ndarray) -> tuple[float, float, float]:
    """Welch-Satterthwaite degrees of freedom of the slope, intercept and mean(log y - log x) estimates.

    Each is a linear combination sum_i a_i r_i of per-point residuals r_i (log y_i - slope log x_i, or
    log y_i - log x_i for the last) whose variance v_i is estimated from the bootstrap replicates
    [n_boot, n] with n_i - 1 degrees of freedom: nu = (sum a_i^2 v_i)^2 / sum (a_i^2 v_i)^2 / (n_i - 1).
    Points with a single seed contribute nothing; NaN where no point has a variance.
    """
    n = log_x.size
    centred = log_x - log_x.mean()
    spread = (centred**2).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        slope_weights = centred / spread
        weights = (slope_weights, 1 / n - log_x.mean() * slope_weights, np.full(n, 1 / n))
        residuals = (boot_log_y - slope * boot_log_x,) * 2 + (boot_log_y - boot_log_x,)
        dof = []
        for a, r in zip(weights, residuals):
            parts = a**2 * np.nanvar(r, axis=0)
            spread_parts = np.where(n_seeds >= 2, parts**2 / np.maximum(n_seeds - 1, 1), 0.0)
            dof.append(float(parts.sum() ** 2 / spread_parts.sum()))
    return tuple(dof)


def _widened(interval: tuple[float, float], estimate: float, dof: float, level: float) -> tuple[float, float]:
    """A bootstrap interval with each side's distance from `estimate` times t_dof / z at `level` percent."""
    if not (math.isfinite(dof) and dof > 0 and math.isfinite(estimate)):
        return interval
    scale = t_over_z(dof, level)
    return (estimate - scale * (estimate - interval[0]), estimate + scale * (interval[1] - estimate))


def t_over_z(dof: float, level: float = 95) -> float:
    """Student's t quantile at `dof` degrees of freedom over the normal one, for a central `level` percent
    interval: how much a small-sample interval is wider than a normal one (12.7 / 1.96 = 6.5 at 1 degree of
    freedom and 95 %). NaN when dof is not positive."""
    from scipy import stats

    if not (math.isfinite(dof) and dof > 0):
        return math.nan
    return float(stats.t.ppf(0.5 + level / 200, dof) / stats.norm.ppf(0.5 + level / 200))


def _distinct_counts(values: np.ndarray) -> np.ndarray:
    """Number of distinct finite values in each row of [n_rows, n] `values` (NaN = absent)."""
    ordered = np.sort(values, axis=1)  # NaN last
    return np.isfinite(ordered[:, :1]).sum(axis=1) + (np.diff(ordered, axis=1) > 0).sum(axis=1)


def _interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    """Central percentile interval of the finite `samples` at `level` percent; NaN if none is finite."""
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return (math.nan, math.nan)
    low, high = np.percentile(samples, [50 - level / 2, 50 + level / 2])
    return (float(low), float(high))


def _t_interval(estimate: float, se: float, dof: int, level: float) -> tuple[float, float]:
    """estimate ± t quantile x se, the central Student t interval at `level` percent; NaN if undefined."""
    half_width = _t_quantile(level, dof) * se
    return (float(estimate - half_width), float(estimate + half_width))


def _t_quantile(level: float, dof: int) -> float:
    """The upper quantile of Student's t with `dof` degrees of freedom for a central `level` percent; NaN if dof < 1."""
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 200, dof)) if dof >= 1 else math.nan


def _exp(interval: tuple[float, float]) -> tuple[float, float]:
    return (math.exp(interval[0]), math.exp(interval[1]))


def _checked_positive(name: str, values, ndim: int) -> np.ndarray:
    """`values` as floats of `ndim` dimensions, positive and finite or NaN; ValueError naming `name` otherwise."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {values.shape}")
    if not np.all(np.isnan(values) | (np.isfinite(values) & (values > 0))):
        raise ValueError(f"{name} must be positive and finite (NaN allowed, left out), got {values}")
    return values


def _last_finite(curve: np.ndarray) -> float:
    """The value at the largest P where the curve [n_P] is finite; NaN if none is."""
    finite = curve[np.isfinite(curve)]
    return float(finite[-1]) if finite.size else math.nan


def _nan_mean(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean over `axis` of the finite entries; NaN where there are none."""
    finite = np.isfinite(values)
    count = finite.sum(axis=axis)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _checked_grid(P) -> np.ndarray:
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 1 or P.size == 0:
        raise ValueError(f"P must be a non-empty one-dimensional grid, got shape {P.shape}")
    if not np.all(np.isfinite(P) & (P > 0)):
        raise ValueError(f"P must be positive and finite, got {P}")
    if np.any(np.diff(P) <= 0):
        raise ValueError(f"P must be strictly ascending, got {P}")
    return P


def _checked_values(values, n_P: int, ndim: int) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != ndim or values.shape[-1] != n_P:
        raise ValueError(f"values must have {ndim} dimension(s) and {n_P} points (one per P), got shape {values.shape}")
    if np.isinf(values).any():
        raise ValueError("values must be finite or NaN, got infinities")
    return values


def _check_tolerance(tolerance) -> None:
    if not (tolerance >= 0):
        raise ValueError(f"tolerance must be non-negative, got {tolerance!r}")


def _checked_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not np.isscalar(threshold) or not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    return float(threshold)


def _threshold_for(threshold: Threshold, parameters: Mapping[str, object], metric: str) -> float:
    value = threshold(parameters) if callable(threshold) else threshold
    try:
        return _checked_threshold(value)
    except ValueError as error:
        raise ValueError(f"threshold for metric {metric!r} at {parameters}: {error}") from None


def _checksum(key: tuple) -> int:
    """A stable non-negative integer for a group's values (unlike hash(), equal across runs)."""
    plain = tuple(value.item() if isinstance(value, np.generic) else value for value in key)
    return zlib.crc32(repr(plain).encode())


def _from_json(value):
    """The inverse of _json_number: None becomes NaN, lists become tuples."""
    if isinstance(value, list):
        return tuple(_from_json(v) for v in value)
    return math.nan if value is None else value


def _json_number(value):
    if isinstance(value, tuple):
        return [_json_number(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
