"""Sample complexities read off measured curves, with seed bootstrap, and power-law fits between them.

A curve is a metric (test error, S_2, D_2, ...) on an ascending grid of training-set sizes P. Its
sample complexity is where it falls below a threshold (EPS_STAR for the test error, the values of
`srhm.theory.sensitivity_thresholds` for S_2 and D_2).

Result flags, shared by `crossing`, `paper_rule` and `p_star_table`:
  "ok"                  a single downward crossing, P* is finite;
  "multiple_crossings"  the curve reached the threshold and came back above before its final crossing,
                        P* finite;
  "never_below"         every finite value is above the threshold, P* = NaN;
  "above_at_max_P"      the curve went below but ends above the threshold, P* = NaN;
  "below_at_min_P"      already at or below the threshold at the smallest P, P* = NaN;
  "too_few_points"      fewer than 2 finite values (crossing) or none (paper rule), P* = NaN;
  "outside_tolerance"   (paper rule only) no grid value within the tolerance, P* = NaN.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import asdict, dataclass
from typing import Callable, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

from srhm.checks import check_int
from srhm.streams import stream

N_BOOT = 1000
PAPER_TOLERANCE = 0.1
MIN_POINTS_FOR_SLOPE = 3
PERCENTILES = {"median": 50.0, "lo68": 16.0, "hi68": 84.0, "lo95": 2.5, "hi95": 97.5}
"""Bootstrap summaries: name -> percentile."""

_TABLE_STREAM, _FIT_STREAM = 0, 1
"""First key of the "bootstrap" stream, separating seed resampling from point resampling."""

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
        [finite.sum(axis=1) < 2, ~below.any(axis=1), last_above < 0, first_below_after == n_P, dipped_before],
        ["too_few_points", "never_below", "below_at_min_P", "above_at_max_P", "multiple_crossings"],
        "ok",
    ).astype(object)
    return p_star, flags


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


def p_star_table(
    runs: pd.DataFrame,
    by: Sequence[str],
    thresholds: Mapping[str, Threshold],
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
    tolerance: float = PAPER_TOLERANCE,
) -> pd.DataFrame:
    """Sample complexities per parameter group, with a bootstrap over seeds.

    runs: one row per run, with the columns `by`, "seed", "P" and every metric named in `thresholds`.
    thresholds: metric column -> threshold, either a number or a function of the group's parameters
    ({column: value} over `by`), e.g. lambda g: sensitivity_thresholds(g["arch"], g["s"], g["L"])[0].

    Per group the seed-averaged curve (NaN-aware mean over seeds at each P) gives the point estimate
    "{metric}_p_star" with "{metric}_flag", and the paper's rule on the same curve gives
    "{metric}_p_star_paper" with "{metric}_paper_flag". The bootstrap draws seeds with replacement
    `n_boot` times (the same draws for every metric of a group), averages their curves and recomputes
    the crossing: "{metric}_boot_{median,lo68,hi68,lo95,hi95}" are percentiles over the resamples
    that crossed, "{metric}_cross_fraction" the fraction that did. With one seed every resample is the
    same curve, so the interval has zero width; the column "single_seed" says so.
    Resamples come from the "bootstrap" stream keyed by `seed` and a checksum of the group's values.
    Returns one row per group, sorted by `by`.
    """
    by = list(by)
    if not by:
        raise ValueError("by must name at least one grouping column")
    if not thresholds:
        raise ValueError("thresholds must name at least one metric column")
    metrics = list(thresholds)
    missing = [c for c in [*by, "seed", "P", *metrics] if c not in runs.columns]
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
    rows = [
        _group_row(dict(zip(by, key)), group, limits, n_boot, seed, tolerance)
        for (key, group), limits in zip(groups, group_thresholds)
    ]
    return pd.DataFrame(rows)


def _group_row(
    parameters: dict, group: pd.DataFrame, thresholds: dict[str, float], n_boot: int, seed: int, tolerance: float
) -> dict:
    """The `p_star_table` row of one parameter group."""
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
    for i, (metric, threshold) in enumerate(thresholds.items()):
        point = crossing(P, mean_curves[i], threshold)
        paper = paper_rule(P, mean_curves[i], threshold, tolerance)
        boot, _ = crossing_batch(P, boot_curves[i], threshold)
        crossed = boot[np.isfinite(boot)]
        summary = np.percentile(crossed, list(PERCENTILES.values())) if crossed.size else [np.nan] * len(PERCENTILES)
        row |= {
            f"{metric}_threshold": threshold,
            f"{metric}_p_star": point.p_star,
            f"{metric}_flag": point.flag,
            f"{metric}_p_star_paper": paper.p_star,
            f"{metric}_paper_flag": paper.flag,
            f"{metric}_cross_fraction": crossed.size / n_boot,
        }
        row |= {f"{metric}_boot_{name}": float(value) for name, value in zip(PERCENTILES, summary)}
    return row


@dataclass(frozen=True)
class PowerLawFit:
    """Least-squares fit log y = log(prefactor) + slope log x, and the slope-1 fit y = C x.

    Intervals are bootstrap percentiles (pairs resampled with replacement), as (low, high).
    """

    slope: float
    prefactor: float
    slope_ci68: tuple[float, float]
    slope_ci95: tuple[float, float]
    prefactor_ci68: tuple[float, float]
    prefactor_ci95: tuple[float, float]
    unit_slope_prefactor: float
    unit_slope_prefactor_ci68: tuple[float, float]
    unit_slope_prefactor_ci95: tuple[float, float]
    n_points: int
    n_dropped: int
    flag: str

    def to_dict(self) -> dict:
        """Plain JSON-ready dictionary; NaN becomes None."""
        return {name: _json_number(value) for name, value in asdict(self).items()}


def fit_power_law(x, y, *, n_boot: int = N_BOOT, seed: int = 0) -> PowerLawFit:
    """Fit y = prefactor * x^slope by least squares in log-log, and y = C x with C = exp(mean(log y - log x)).

    x, y: [n] positive. Pairs with a NaN in x or y are dropped and counted. The bootstrap resamples
    the pairs `n_boot` times from the "bootstrap" stream keyed by `seed`. Flags: "ok"; "too_few_points"
    (no pair left, everything NaN); "too_few_points_for_slope" (1 or 2 pairs: slope and prefactor NaN,
    the slope-1 fit still given); "constant_x" (slope undefined, slope-1 fit still given).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be one-dimensional of equal length, got shapes {x.shape} and {y.shape}")
    check_int("n_boot", n_boot, 1)
    kept = ~(np.isnan(x) | np.isnan(y))
    x, y = x[kept], y[kept]
    for name, values in (("x", x), ("y", y)):
        if not np.all(np.isfinite(values) & (values > 0)):
            raise ValueError(f"{name} must be positive and finite (NaN allowed, dropped), got {values}")
    n, n_dropped = x.size, int((~kept).sum())
    if n == 0:
        empty = (math.nan, math.nan)
        return PowerLawFit(math.nan, math.nan, empty, empty, empty, empty, math.nan, empty, empty, n, n_dropped, "too_few_points")

    log_x, log_y = np.log(x), np.log(y)
    draws = stream("bootstrap", _FIT_STREAM, seed).integers(0, n, (n_boot, n))
    slope, intercept = _least_squares(log_x[None, :], log_y[None, :])
    boot_slope, boot_intercept = _least_squares(log_x[draws], log_y[draws])
    if n < MIN_POINTS_FOR_SLOPE:
        slope[:], intercept[:], boot_slope[:], boot_intercept[:] = math.nan, math.nan, math.nan, math.nan
    log_ratio = log_y - log_x
    boot_log_ratio = log_ratio[draws].mean(axis=1)
    return PowerLawFit(
        slope=float(slope[0]),
        prefactor=float(np.exp(intercept[0])),
        slope_ci68=_interval(boot_slope, 68),
        slope_ci95=_interval(boot_slope, 95),
        prefactor_ci68=_interval(np.exp(boot_intercept), 68),
        prefactor_ci95=_interval(np.exp(boot_intercept), 95),
        unit_slope_prefactor=float(np.exp(log_ratio.mean())),
        unit_slope_prefactor_ci68=_interval(np.exp(boot_log_ratio), 68),
        unit_slope_prefactor_ci95=_interval(np.exp(boot_log_ratio), 95),
        n_points=n,
        n_dropped=n_dropped,
        flag=("too_few_points_for_slope" if n < MIN_POINTS_FOR_SLOPE else "constant_x" if np.ptp(log_x) == 0
              else "ok"),
    )


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


def _least_squares(log_x: np.ndarray, log_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slope and intercept of each row's regression of log_y on log_x ([n_rows, n] -> [n_rows] each).

    Rows whose x values are all equal get NaN.
    """
    x_centred = log_x - log_x.mean(axis=1, keepdims=True)
    y_centred = log_y - log_y.mean(axis=1, keepdims=True)
    spread = (x_centred**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(spread > 0, (x_centred * y_centred).sum(axis=1) / spread, np.nan)
    return slope, log_y.mean(axis=1) - slope * log_x.mean(axis=1)


def _interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    """Central percentile interval of the finite `samples` at `level` percent; NaN if none is finite."""
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return (math.nan, math.nan)
    low, high = np.percentile(samples, [50 - level / 2, 50 + level / 2])
    return (float(low), float(high))


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


def _json_number(value):
    if isinstance(value, tuple):
        return [_json_number(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
