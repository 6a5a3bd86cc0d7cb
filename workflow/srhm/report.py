"""The reproduction report: each quantitative claim of the paper beside what this run measured.

Claims are data (CLAIMS): the figure whose experiment carries the evidence, the fit and quantity
read from results/fits/{experiment}.json, the paper's value, and the family of instances (arch, s, ...)
whose P* the authors' notebooks printed (srhm.authors), from which the same quantity is computed
("authors' data"), and again on only the instances of that family our fit also has, beside ours refitted on
them ("authors' data, our instances": `same_instances`, the like-for-like comparison of an exponent).
Verdicts follow fixed rules:
- a slope agrees when its 95 % interval contains the paper's value or lies within ±SLOPE_TOLERANCE
  of it; it is inconclusive when that interval is wider than MAX_SLOPE_CI_WIDTH (it then says nothing);
- a prefactor agrees, where the authors printed P* for the family, when ours by their rule (their
  nearest-grid-point P*, `{metric}_p_star_paper`) lies within a factor AUTHORS_FACTOR of theirs, since
  the paper's guide lines (y = x, y = 2.5x...) are drawn by eye beside points that sit away from them;
  elsewhere when ours lies within a factor PREFACTOR_FACTOR of the guide, or its 95 % interval reaches it
  (inconclusive when only an interval wider than a factor MAX_PREFACTOR_CI_RATIO reaches it);
- a claim whose figure is not configured, or whose fit did not succeed, is "not measured", and its note
  says why (no experiment, or which instances have no sample complexity and why: their flags), with the
  experiment's own `note` from the config (why the preset does not run more, e.g. the budget);
- a slope of P* against the prediction that disagrees has a note splitting it into its two factors
  (factor_exponents): the exponent of the sparsity factor (s0+1)^L and that of n_c m^L, fitted jointly.
Above the claims, `stopping_section` says which runs stopped otherwise than at their training-loss threshold:
at their epoch cap (a reduction of the protocol), or because their training diverged. Below them,
`local_slopes_section` gives the exponents of P* against the prediction in sliding windows of it, ours beside
the authors' (those of figure local_slopes).
Intervals are those of srhm.scaling.fit_scaling (METHOD says how they are computed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from srhm import comparison, paths
from srhm.analysis import FITS, read_fit
from srhm.architectures import HIERARCHICAL
from srhm.authors import load_authors_measurements
from srhm.data import family_name
from srhm.figures.tables import experiment_list, window_decades
from srhm.plan import Plan
from srhm.protocol import EPOCH_CAP_STOP
from srhm.scaling import MIN_DISTINCT_X, PERCENTILES, fit_scaling, t_over_z
from srhm.io import read_json
from srhm.search import FOUND
from srhm.text import MISSING, interval, number, table_row

SLOPE_TOLERANCE = 0.1
MAX_SLOPE_CI_WIDTH = 1.0
PREFACTOR_FACTOR = 2.0
MAX_PREFACTOR_CI_RATIO = 4.0
AUTHORS_FACTOR = 1.5
AGREES, DISAGREES, INCONCLUSIVE, NOT_MEASURED = "agrees", "disagrees", "inconclusive", "not measured"
SE_FIELDS = {"slope": "slope_se", "unit_slope_prefactor": "log_unit_slope_prefactor_se"}
"""Fit field of the least-squares standard error of each claimed quantity (a prefactor's is of its log)."""
METHOD = (
    "Intervals. A fit regresses log P* on log x over the SRHM instances (x: the paper's prediction, P*_S or "
    "P*_D); the prefactor C of y = C x is exp(mean(log P* - log x)). The 95 % interval of the slope and of "
    "the prefactors comes from resampling the seeds within each instance: replicate b refits with the b-th "
    "seed resample of every instance, so no instance is ever dropped (one whose resample did not cross is "
    "left out of that replicate only), P* and P*_S or P*_D of a replicate come from the same seeds, and "
    "the interval runs from the 2.5th to the 97.5th percentile of the replicates. Small-sample correction: "
    "the seed bootstrap of a mean of n seeds has only (n-1)/n of its variance, so each instance's deviation "
    "from its point estimate (log scale) is multiplied by sqrt(n/(n-1)); and since each instance's variance is "
    "itself known from n - 1 degrees of freedom only, each side of the interval is widened by t/z, the Student t "
    "against the normal quantile at the Welch-Satterthwaite degrees of freedom of the fit (planted power laws "
    "with 3 seeds: 96 % coverage of the 95 % interval). When every instance has a single "
    "seed, and for the s^{L/2} row (refitted from the P* tables, which keep no resamples), the interval is "
    "the least-squares Student t interval instead. \"± s.e.\" is the least-squares standard error of the "
    "slope (for a prefactor, ×/÷ the exponential of that of its logarithm); unlike seed resampling it also "
    f"counts the instances' scatter about the power law. With fewer than {MIN_DISTINCT_X} distinct x the "
    "slope is not measured."
)
"""How the claims' intervals are computed, the paragraph above the claims table."""
SAME_INSTANCES = (
    "Like for like. *authors' data* fits the authors' printed values over every instance of the claim's family "
    "they printed; *authors' data, our instances* fits them over only the instances this run's fit also has "
    "(same architecture, s, L, v and s0, with n_c = v and m = v^(s-1) as theirs), beside ours refitted on those "
    "instances by least squares where they are not all of ours. A slope needs at least "
    f"{MIN_DISTINCT_X} distinct x among them; a cell says so where there are fewer."
)
"""The paragraph above the claims table on the column of the authors' data over our instances."""


@dataclass(frozen=True)
class Claim:
    """One number the paper states. source: (figure, key of its settings, index in that list)."""

    text: str
    paper: float
    source: tuple[str, str, int]
    fit: str  # p_star_vs_prediction | p_star_vs_p_star_S | p_star_vs_p_star_D
    quantity: str  # slope | unit_slope_prefactor
    family: tuple[tuple[str, object], ...] = ()  # the authors' instances of the claim, e.g. (("arch", "lcn"), ("s", 2))

    def experiment(self, figures: dict) -> str | None:
        return figure_experiment(figures, *self.source)


def figure_experiment(figures: dict, figure: str, key: str, index: int = 0) -> str | None:
    """The `index`-th experiment listed under `key` in a figure's settings, None if there is none."""
    names = figures.get(figure, {}).get(key, [])
    names = [names] if isinstance(names, str) else names
    return names[index] if index < len(names) else None


LCN2, CNN2, LCN3, CNN3, FCN2 = ((("arch", arch), ("s", s)) for arch, s in
                                (("lcn", 2), ("cnn", 2), ("lcn", 3), ("cnn", 3), ("fcn", 2)))
CLAIMS = (
    Claim("LCN: P* ∝ s^{L/2}(s0+1)^L n_c m^L — exponent (Eq. 3, Fig. 4B)", 1.0, ("fig04", "lcn", 0),
          "p_star_vs_prediction", "slope", LCN2),
    Claim("LCN, s = 2: prefactor C0 of P* = C0 s^{L/2}(s0+1)^L n_c m^L (Fig. 4B, y = x)", 1.0, ("fig04", "lcn", 0),
          "p_star_vs_prediction", "unit_slope_prefactor", LCN2),
    Claim("CNN: P* ∝ (s0+1)^2 n_c m^L — exponent (Eq. 4, Fig. 4C)", 1.0, ("fig04", "cnn", 0),
          "p_star_vs_prediction", "slope", CNN2),
    Claim("CNN, s = 2: prefactor C1 of P* = C1 (s0+1)^2 n_c m^L (Fig. 4C, y = 2.5x)", 2.5, ("fig04", "cnn", 0),
          "p_star_vs_prediction", "unit_slope_prefactor", CNN2),
    Claim("LCN, s = 3: exponent (Fig. 10 left)", 1.0, ("fig10", "experiments", 0), "p_star_vs_prediction", "slope",
          LCN3),
    Claim("LCN, s = 3: prefactor (Fig. 10 left, y = 2.5x)", 2.5, ("fig10", "experiments", 0),
          "p_star_vs_prediction", "unit_slope_prefactor", LCN3),
    Claim("CNN, s = 3: exponent (Fig. 13)", 1.0, ("fig13", "experiments", 0), "p_star_vs_prediction", "slope", CNN3),
    Claim("CNN, s = 3: prefactor (Fig. 13, y = 3.5x)", 3.5, ("fig13", "experiments", 0),
          "p_star_vs_prediction", "unit_slope_prefactor", CNN3),
    Claim("LCN: P* ≈ P*_S — exponent of P* vs P*_S (Eq. 8, Fig. 6C)", 1.0, ("fig06", "experiments", 0),
          "p_star_vs_p_star_S", "slope"),
    Claim("LCN: P* ≈ P*_S — ratio P*/P*_S (Fig. 6C, y ∝ x)", 1.0, ("fig06", "experiments", 0),
          "p_star_vs_p_star_S", "unit_slope_prefactor"),
    Claim("LCN: P* ≈ P*_D — exponent of P* vs P*_D (Eq. 8, Fig. 6D)", 1.0, ("fig06", "experiments", 0),
          "p_star_vs_p_star_D", "slope"),
    Claim("LCN: P* ≈ P*_D — ratio P*/P*_D (Fig. 6D, y ∝ x)", 1.0, ("fig06", "experiments", 0),
          "p_star_vs_p_star_D", "unit_slope_prefactor"),
    Claim("CNN, s = 2: P* ≈ P*_S — exponent (Fig. 14)", 1.0, ("fig14", "experiments", 0),
          "p_star_vs_p_star_S", "slope"),
    Claim("CNN, s = 2: P* ≈ P*_D — ratio P*/P*_D (Fig. 14, y = 0.75x)", 0.75, ("fig14", "experiments", 0),
          "p_star_vs_p_star_D", "unit_slope_prefactor"),
    Claim("FCN: P* ≈ P*_S — exponent (Fig. 16)", 1.0, ("fig16", "experiments", 0), "p_star_vs_p_star_S", "slope",
          FCN2),
    Claim("FCN: P* ≈ P*_D — exponent (Fig. 16)", 1.0, ("fig16", "experiments", 0), "p_star_vs_p_star_D", "slope",
          FCN2),
    Claim("Sparsity B, LCN: same scaling as A — exponent (Fig. 7)", 1.0, ("fig07", "experiments", 0),
          "p_star_vs_prediction", "slope"),
    Claim("Sparsity B, CNN: same scaling as A — exponent (Fig. 8)", 1.0, ("fig08", "experiments", 0),
          "p_star_vs_prediction", "slope"),
)
FIT_METRICS = {"p_star_vs_prediction": None, "p_star_vs_p_star_S": "S", "p_star_vs_p_star_D": "D"}
"""The x sample complexity of each fit (None: the paper's prediction); y is always P*."""


def claim_rows(results: Path, figures: dict, authors: pd.DataFrame | None = None,
               notes: dict[str, str] | None = None, costs: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per claim: the paper's value, the authors' data (from `authors`, srhm.authors' table; None:
    not compared), ours with its 95 % interval, ours by their rule (prefactors), the experiment, the
    verdict and a note saying why a claim is not measured, inconclusive or disagrees (`notes`: each
    experiment's own note from the config; `costs`: each experiment's training wall time in seconds,
    compute_summary's wall_s, which an inconclusive slope's note gives)."""
    rows = []
    costs = costs or {}
    for claim in CLAIMS:
        experiment = claim.experiment(figures)
        fit = read_fit(results, experiment, claim.fit)
        theirs = None if authors is None else authors_value(claim, authors)
        ours_rule = _ours_by_their_rule(results, experiment, claim) if claim.quantity != "slope" else None
        row = _row(claim.text, claim.paper, claim.quantity, fit, experiment, authors=theirs, ours_rule=ours_rule)
        ours = _our_pairs(_pstar(results, experiment), claim)
        theirs_pairs = None if authors is None or not claim.family else _authors_pairs(claim, authors)
        row["note"] = _note(results, claim, experiment, fit, row["verdict"], notes or {})
        if row["verdict"] == INCONCLUSIVE and claim.quantity == "slope":
            row["note"] = _joined(interval_reason(ours, fit, costs.get(experiment)), row["note"])
        if row["verdict"] == DISAGREES and ours_rule is not None and theirs is not None:
            row["note"] = _joined(_prefactor_reason(ours_rule, theirs, ours, theirs_pairs), row["note"])
        if theirs_pairs is not None and fit is not None:
            row.update(same_instances(ours, theirs_pairs, lambda pairs: _claimed(pairs, claim.quantity)))
        rows.append(row)
    rows.append(_s_factor_row(results, figures, authors, notes or {}, costs))
    rows.extend(_sparsity_rows(results, figures, notes or {}))
    return pd.DataFrame(rows)


def authors_value(claim: Claim, authors: pd.DataFrame) -> float | None:
    """The claimed quantity computed from the authors' printed P* (and P*_S, P*_D) of the claim's family,
    by least squares (srhm.scaling.fit_scaling); None where the claim has no family or too few points."""
    return _claimed(_authors_pairs(claim, authors), claim.quantity) if claim.family else None


def _authors_pairs(claim: Claim, authors: pd.DataFrame) -> pd.DataFrame:
    """The authors' points of the claim's fit over its family (a family is required), one row per instance:
    columns INSTANCE (srhm.comparison), x (the prediction, or their P*_S or P*_D) and y (their P*)."""
    family = dict(claim.family)
    metric = FIT_METRICS[claim.fit]
    if metric is None:
        theirs = select_rows(comparison.authors_predictions(authors), **family)
        return theirs.assign(x=theirs["prediction"], y=theirs["authors"])[[*comparison.INSTANCE, "x", "y"]]
    rows = authors[(authors[list(family)] == pd.Series(family)).all(axis=1) & (authors["sparsity"] == "A")]
    pairs = rows.pivot_table(index=comparison.INSTANCE, columns="quantity", values="value")
    columns = {f"p_star_{metric}": "x", "p_star": "y"}
    if not set(columns) <= set(pairs):
        return pd.DataFrame(columns=[*comparison.INSTANCE, "x", "y"])
    return pairs.dropna(subset=list(columns)).rename(columns=columns).reset_index()[[*comparison.INSTANCE, "x", "y"]]


def _our_pairs(table: pd.DataFrame, claim: Claim) -> pd.DataFrame:
    """Our points of the claim's fit (srhm.analysis.FITS: the columns `srhm analyse` fits) in a P* table, those
    with a finite x and y: columns INSTANCE and the P* table's others, x and y."""
    x, y = FITS[claim.fit]
    if table.empty or x not in table or y not in table:
        return pd.DataFrame(columns=[*comparison.INSTANCE, "n_classes", "m", "sparsity", "x", "y"])
    pairs = table.assign(x=table[x], y=table[y])
    return pairs[np.isfinite(pairs["x"]) & np.isfinite(pairs["y"])]


def _claimed(pairs: pd.DataFrame, quantity: str) -> float | None:
    """The slope or unit-slope prefactor of the least-squares fit of y against x (columns of `pairs`); None
    where it is not measured (no points, or fewer than MIN_DISTINCT_X distinct x for a slope)."""
    if pairs.empty:
        return None
    value = getattr(fit_scaling(pairs["x"].to_numpy(float), pairs["y"].to_numpy(float)), quantity)
    return value if np.isfinite(value) else None


def same_instances(ours: pd.DataFrame, theirs: pd.DataFrame, quantity) -> dict:
    """The authors' value of a claim fitted on the instances of ours they also printed, beside ours on them.

    ours: our fitted points (rows of a P* table: arch, s, L, v, s0, n_classes, m, sparsity, x, y); theirs: the
    authors' points of the claim's family (columns INSTANCE, x, y); quantity: a function of such points to the
    claimed value (None where not measured). Only our instances of the authors' kind (srhm.comparison.authors_form)
    can be theirs. Returns {"shared": our points whose instance the authors printed, "shared_x": distinct x of
    the authors' points on those instances, "our_instances": our points, "authors_shared": the authors' value on
    the shared instances, "ours_shared": ours on them}.
    """
    keys = comparison.authors_form(ours)[comparison.INSTANCE].drop_duplicates()
    shared = keys.merge(theirs[comparison.INSTANCE].drop_duplicates())
    theirs_shared = theirs.merge(shared)
    ours_shared = comparison.authors_form(ours).merge(shared)
    return {"shared": len(ours_shared), "shared_x": theirs_shared["x"].nunique(), "our_instances": len(ours),
            "authors_shared": quantity(theirs_shared), "ours_shared": quantity(ours_shared)}


def same_instances_cell(row: dict) -> str:
    """The report's cell of the authors' value on our instances (a `same_instances` dict merged into a claim row):
    "1.04 (5 of our 7 instances; ours on them 0.87)", "1.02 (all 4 of our instances)", "no slope: ...",
    "no instance in common", or MISSING where the claim has no authors' family or no fit of ours."""
    shared = row.get("shared")
    if shared is None or not np.isfinite(shared):
        return MISSING
    if shared == 0:
        return "no instance in common"
    if row["authors_shared"] is None or not np.isfinite(row["authors_shared"]):
        return (f"no slope: {shared:.0f} instance{'s' if shared > 1 else ''} in common, {row['shared_x']:.0f} "
                "distinct x")
    if shared == row["our_instances"]:
        return f"{number(row['authors_shared'])} (all {shared:.0f} of our instances)"
    return (f"{number(row['authors_shared'])} ({shared:.0f} of our {row['our_instances']:.0f} instances; ours on "
            f"them {number(row['ours_shared'])})")


def _ours_by_their_rule(results: Path, experiment: str | None, claim: Claim) -> float | None:
    """The claim's prefactor from our P* read by the authors' nearest-grid-point rule (the P* table's
    *_p_star_paper columns), for a like-for-like comparison with their data."""
    table = _pstar(results, experiment)
    metric = FIT_METRICS[claim.fit]
    x_column = "prediction" if metric is None else f"{metric}_p_star_paper"
    if table.empty or x_column not in table:
        return None
    x, y = table[x_column].to_numpy(float), table["test_error_p_star_paper"].to_numpy(float)
    kept = np.isfinite(x) & np.isfinite(y)
    if not kept.any():
        return None
    return float(fit_scaling(x[kept], y[kept]).unit_slope_prefactor)


def _note(results: Path, claim: Claim, experiment: str | None, fit: dict | None, verdict_: str,
          notes: dict[str, str]) -> str:
    """Why a claim is not measured (no experiment, no such fit, or which instances lack a sample complexity),
    inconclusive, or disagrees (for a slope against the prediction, its split into factor_exponents), with
    the experiment's own note from the config."""
    own = notes.get(experiment or "", "")
    if experiment is None:
        return f"no experiment feeds {claim.source[0]} in this preset"
    if fit is None:
        return f"{experiment} has no fit {claim.fit} (its runs have no sensitivities, or have not run)"
    if verdict_ == INCONCLUSIVE:
        if claim.quantity == "slope":  # claim_rows puts interval_reason's measured numbers before it
            return own
        return _joined(f"outside a factor {PREFACTOR_FACTOR:g} of the paper's value, with a 95 % interval wider "
                       f"than a factor {MAX_PREFACTOR_CI_RATIO:g} ({fit.get('n_distinct_x')} distinct x)", own)
    if verdict_ == DISAGREES and claim.quantity == "slope" and claim.fit == "p_star_vs_prediction":
        split = factor_exponents(_pstar(results, experiment))
        text = ("" if split is None else "fitted jointly, P* ∝ ((s0+1)^L)^a (prediction/(s0+1)^L)^b with "
                f"a = {split[0]:.2f}, b = {split[1]:.2f}")
        return _joined(text, own)
    if verdict_ != NOT_MEASURED:
        return ""
    table = _pstar(results, experiment)
    metric = FIT_METRICS[claim.fit]
    columns = ["test_error"] + ([metric] if metric else [])
    missing = []
    for row in table.to_dict("records"):
        flags = [f"{column}: {row[f'{column}_flag']}" + (f" at {row[f'{column}_at_max_P']:.2f}"
                                                          if row[f"{column}_flag"] == "plateau_above" else "")
                 for column in columns if not np.isfinite(row.get(f"{column}_p_star", np.nan))]
        if flags:
            missing.append(f"v={row['v']} L={row['L']} s0={row['s0']} ({', '.join(flags)})")
    found = fit.get("n_distinct_x") or 0
    text = f"{found} distinct x with a sample complexity (at least {MIN_DISTINCT_X} needed)"
    return _joined(text + (": no value for " + "; ".join(missing) if missing else ""), own)


def interval_reason(pairs: pd.DataFrame, fit: dict, cost_s: float | None) -> str:
    """Why a slope's 95 % interval is wider than MAX_SLOPE_CI_WIDTH, in this run's measured numbers.

    pairs: the fitted points (rows of P* tables with x, n_seeds and test_error_boot_lo95/hi95, the spread of
    each instance's P* over its seeds; may be empty); fit: the slope's fit (slope_ci95, slope_se, slope_dof,
    n_distinct_x); cost_s: the training wall time behind the points (seconds), or None. Says the interval's
    width; then, from the points, the lever arm (decades of x), the instances and seeds, the seeds' spread of
    P*, the least-squares standard error and the small-sample t / z factor of the interval (srhm.scaling.t_over_z
    at slope_dof: few seeds leave few degrees of freedom), the cost, and what narrowing the interval to
    MAX_SLOPE_CI_WIDTH would take if it shrinks as 1 / lever arm at the same instance density: k times the
    decades, k = width / MAX_SLOPE_CI_WIDTH; or more seeds.
    """
    low, high = (_float(v) for v in (fit.get("slope_ci95") or (np.nan, np.nan)))
    parts = [f"95 % interval {high - low:.2f} wide, more than {MAX_SLOPE_CI_WIDTH:g} ({fit.get('n_distinct_x')} "
             "distinct x)"]
    x = pairs["x"].to_numpy(float) if "x" in pairs else np.array([])
    if len(x) < 2 or not np.isfinite(high - low):
        return parts[0]
    decades = float(np.log10(x.max() / x.min()))
    spread = (pairs["test_error_boot_hi95"] / pairs["test_error_boot_lo95"]).to_numpy(float)
    spread = spread[np.isfinite(spread)]
    dof = _float(fit.get("slope_dof"))
    parts.append(f"measured: {len(x)} instances over {decades:.2f} decades of x, {pairs['n_seeds'].median():.0f} "
                 "seeds each" + (f", whose P* spans ×{np.median(spread):.2f} within an instance (median 95 % range)"
                                 if spread.size else "")
                 + f"; least-squares s.e. ±{_float(fit.get('slope_se')):.2f}"
                 + (f"; the small-sample t correction at {dof:.1f} degrees of freedom widens the interval "
                    f"{t_over_z(dof):.1f} times" if np.isfinite(dof) else ""))
    if cost_s is not None and np.isfinite(cost_s):
        parts.append(f"its trainings took {_duration(cost_s)}")
    k = (high - low) / MAX_SLOPE_CI_WIDTH
    parts.append(f"an interval {MAX_SLOPE_CI_WIDTH:g} wide would take about {k * decades:.1f} decades of x at this "
                 f"scatter (the largest x {10 ** ((k - 1) * decades):.0f} times larger, and P* with it), or more seeds "
                 "per instance, each of which also adds degrees of freedom")
    return _joined(*parts)


def _prefactor_reason(ours_rule: float, theirs: float, ours: pd.DataFrame, theirs_pairs: pd.DataFrame | None) -> str:
    """Why a prefactor disagrees with the authors' data: the two values by the same rule, their ratio, and the
    range of x of each side's instances."""
    ratio = max(ours_rule, theirs) / min(ours_rule, theirs)
    text = f"ours by their rule {number(ours_rule)} against theirs {number(theirs)}: ×{ratio:.2f} (beyond ×{AUTHORS_FACTOR:g})"
    if theirs_pairs is not None and not theirs_pairs.empty and not ours.empty:
        text += (f"; their {len(theirs_pairs)} instances have x from {number(theirs_pairs['x'].min())} to "
                 f"{number(theirs_pairs['x'].max())}, our {len(ours)} from {number(ours['x'].min())} to "
                 f"{number(ours['x'].max())}")
    return text


def _joined(*parts: str) -> str:
    return ". ".join(part for part in parts if part)


def factor_exponents(table: pd.DataFrame) -> tuple[float, float] | None:
    """(a, b) of the joint least-squares fit log P* = a log (s0+1)^L + b log(prediction / (s0+1)^L) + c over
    the instances of a P* table (columns test_error_p_star, prediction, s0, L): how P* scales with the
    sparsity factor and with the rest of the prediction (n_c m^L, and s^{L/2} for the LCN), each 1 in
    Eqs. 3-4. None when the instances do not separate the two (fewer than 3, or collinear)."""
    if table.empty or "test_error_p_star" not in table:
        return None
    kept = table[np.isfinite(table["test_error_p_star"]) & np.isfinite(table["prediction"])]
    sparsity = np.log((kept["s0"] + 1.0) ** kept["L"])
    design = np.column_stack([sparsity, np.log(kept["prediction"]) - sparsity, np.ones(len(kept))])
    if len(kept) < 3 or np.linalg.matrix_rank(design) < 3:
        return None
    coefficients = np.linalg.lstsq(design, np.log(kept["test_error_p_star"].to_numpy(float)), rcond=None)[0]
    return float(coefficients[0]), float(coefficients[1])


def verdict(quantity: str, paper: float, value: float, ci95: tuple[float, float], *, authors: float | None = None,
            ours_rule: float | None = None) -> str:
    """The fixed rules of the module docstring."""
    if value is None or not np.isfinite(value):
        return NOT_MEASURED
    low, high = (np.nan, np.nan) if ci95 is None else (_float(ci95[0]), _float(ci95[1]))
    if quantity == "slope":
        if high - low > MAX_SLOPE_CI_WIDTH:
            return INCONCLUSIVE
        return AGREES if abs(value - paper) <= SLOPE_TOLERANCE or low <= paper <= high else DISAGREES
    if authors is not None and ours_rule is not None and np.isfinite(ours_rule):
        return AGREES if abs(np.log(ours_rule / authors)) <= np.log(AUTHORS_FACTOR) else DISAGREES
    band = (paper / PREFACTOR_FACTOR, paper * PREFACTOR_FACTOR)
    if band[0] <= value <= band[1]:
        return AGREES
    if low <= band[1] and high >= band[0]:
        return INCONCLUSIVE if high / low > MAX_PREFACTOR_CI_RATIO else AGREES
    return DISAGREES


def compute_summary(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Where the training compute went, one row per experiment and a last row "all" (each job counted once).

    Columns: experiment, trainings, training_jobs, device, precision, flops (model FLOPs of its runs, training
    and evaluation), wall_s (its training jobs' wall time; a job shared by experiments, as runs of one model and
    SRHM family are, is shared out by the FLOPs of their runs in it), gflop_per_s (flops over wall_s; NaN where
    runs trained before metrics.json recorded FLOPs), and cpu_hours and gpu_hours (wall_s by device).
    A run's job is its metrics' `job` (srhm.train); runs without one are grouped as the plan trains them (one
    job per model and family; one per run for the BatchNorm nets).
    """
    columns = ["experiment", "trainings", "training_jobs", "device", "precision", "flops", "wall_s", "gflop_per_s",
               "cpu_hours", "gpu_hours"]
    runs = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if runs.empty:
        return pd.DataFrame([["all", 0, 0, "", "", 0.0, 0.0, float("nan"), 0.0, 0.0]], columns=columns)
    runs = runs.assign(**{column: runs.get(column) for column in ("job", "flops", "ensemble_wall_time_s",
                                                                  "precision")}).copy()  # one block: no fragmentation
    family = runs["model"] + "__" + runs["dataset"].map(family_name)
    planned = family.where(runs["arch"].isin(HIERARCHICAL), runs["run"])
    runs["job"] = runs["job"].where(runs["job"].notna(), planned)
    job_wall = runs.groupby("job")["wall_time_s"].transform("max")
    runs["job_wall"] = runs["ensemble_wall_time_s"].where(runs["ensemble_wall_time_s"].notna(), job_wall)
    unique = runs.drop_duplicates("run")
    job_flops = unique.groupby("job")["flops"].sum(min_count=1)
    jobs_of_run = unique.groupby("job")["run"].transform("count")
    share = (unique["flops"] / unique["job"].map(job_flops)).where(unique["flops"].notna(), 1 / jobs_of_run)
    shares = unique.assign(share=share.fillna(1 / jobs_of_run)).set_index("run")["share"]

    def summary(name: str, group: pd.DataFrame, wall: pd.Series) -> list:
        """group: runs (one row each); wall: the seconds of its jobs attributed to each of them."""
        on_gpu = group["device"].astype(str).str.startswith("cuda")
        flops, seconds = group["flops"].sum(min_count=len(group)), float(wall.sum())
        return [name, len(group), group["job"].nunique(), ", ".join(sorted(set(group["device"].astype(str)))),
                ", ".join(sorted(set(group["precision"].fillna("fp32").astype(str)))), float(flops), seconds,
                float(flops) / seconds / 1e9 if seconds > 0 else float("nan"),
                float(wall[~on_gpu].sum()) / 3600, float(wall[on_gpu].sum()) / 3600]

    rows = []
    for name, group in runs.groupby("experiment", sort=False):
        group = group.drop_duplicates("run")
        rows.append(summary(name, group, group["job_wall"] * group["run"].map(shares)))
    first_of_job = ~unique.duplicated("job")
    rows.append(summary("all", unique, unique["job_wall"].where(first_of_job, 0.0)))
    return pd.DataFrame(rows, columns=columns)


def compute_section(compute: pd.DataFrame) -> list[str]:
    """The report's "Compute" section: the compute_summary table and what it counts."""
    total = compute.iloc[-1]
    lines = ["## Compute", "",
             f"{total['trainings']} trainings in {total['training_jobs']} training jobs: {total['cpu_hours']:.2f} "
             f"CPU-job-hours, {total['gpu_hours']:.2f} GPU-hours (wall time of the training jobs; data, sensitivity "
             "and analysis jobs not counted). Model FLOPs count the networks' matrix products and convolutions "
             "(2 per multiply-add) of every training step on its real samples and of every test evaluation; "
             "GFLOP/s is their rate over the jobs' wall time. A job shared by experiments is shared out by the "
             "FLOPs of their runs in it.", "",
             "| experiment | trainings | training jobs | device | precision | wall time | share | model FLOPs | GFLOP/s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for _, row in compute.iterrows():
        share = row["wall_s"] / total["wall_s"] if total["wall_s"] > 0 else float("nan")
        name = f"**{row['experiment']}**" if row["experiment"] == "all" else row["experiment"]
        lines.append(table_row([name, row["trainings"], row["training_jobs"], row["device"], row["precision"],
                                _duration(row["wall_s"]), f"{share:.0%}", number(row["flops"]),
                                number(row["gflop_per_s"], ".1f")]))
    return lines + [""]


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.2f} h"


def _row(text: str, paper: float, quantity: str, fit: dict | None, experiment: str | None, *,
         authors: float | None = None, ours_rule: float | None = None, note: str = "") -> dict:
    fit = fit or {}
    value, ci95 = fit.get(quantity), fit.get(f"{quantity}_ci95")
    return {"claim": text, "paper": paper, "authors": authors, "quantity": quantity, "ours": value, "ci95": ci95,
            "se": fit.get(SE_FIELDS[quantity]), "ours_rule": ours_rule, "n_points": fit.get("n_points"),
            "experiment": experiment or "", "verdict": verdict(quantity, paper, value, ci95, authors=authors,
                                                               ours_rule=ours_rule), "note": note}


def _pstar(results: Path, experiment: str | None) -> pd.DataFrame:
    path = Path(results) / paths.pstar_table(experiment)
    return pd.read_csv(path) if experiment is not None and path.is_file() else pd.DataFrame()


def _s_factor_row(results: Path, figures: dict, authors: pd.DataFrame | None, notes: dict[str, str],
                  costs: dict[str, float]) -> dict:
    """The extra s^{L/2} of the LCN (Fig. 10 right): P* / ((s0+1)^L n_c m^L) against s^{L/2} at s0 = 1, ours
    (the experiments of Fig. 10) and the authors' (their printed LCN P* at s0 = 1), theirs also on our instances.
    costs: the experiments' training wall times (seconds), for the note of an inconclusive slope."""
    names = figures.get("fig10", {}).get("experiments", [])
    table = pd.concat([_pstar(results, name) for name in names] or [pd.DataFrame()], ignore_index=True)
    fit, ours, note = None, None, "no experiment feeds fig10 in this preset" if not names else ""
    if not table.empty and "test_error_p_star" in table:
        ours = _s_factor_pairs(select_rows(table, arch="lcn", s0=1), "test_error_p_star")
        # least squares: the P* tables keep no seed resamples
        fit = fit_scaling(ours["x"].to_numpy(float), ours["y"].to_numpy(float)).to_dict()
        if fit["flag"] != "ok":
            note = _joined(f"{fit['n_distinct_x']} distinct s^(L/2) among the LCN instances at s0 = 1 with a P* "
                           f"(at least {MIN_DISTINCT_X} needed)", *(notes.get(name, "") for name in names))
    theirs = None
    if authors is not None:
        printed = select_rows(comparison.authors_p_stars(authors), arch="lcn", s0=1)
        theirs = _s_factor_pairs(printed.assign(n_classes=printed["v"], m=printed["v"] ** (printed["s"] - 1)),
                                 "authors")
    row = _row("LCN: the extra factor s^{L/2} — exponent of P*/((s0+1)^L n_c m^L) vs s^{L/2} at s0 = 1 "
               "(Fig. 10 right)", 1.0, "slope", fit, ", ".join(names),
               authors=None if theirs is None else _claimed(theirs, "slope"), note=note)
    if row["verdict"] == INCONCLUSIVE and ours is not None:
        cost = sum(costs[name] for name in names if name in costs) if any(name in costs for name in names) else None
        row["note"] = _joined(interval_reason(ours, fit, cost), row["note"])
    if theirs is not None and ours is not None:
        row.update(same_instances(ours, theirs, lambda pairs: _claimed(pairs, "slope")))
    return row


def _s_factor_pairs(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """The rows of `table` (LCN at s0 = 1: columns s, L, n_classes, m and `column`, a P*) with a finite
    x = s^{L/2} and y = P* / ((s0+1)^L n_c m^L) added, those of Fig. 10 (right)."""
    pairs = table.assign(x=table["s"] ** (table["L"] / 2),
                         y=table[column] / (2 ** table["L"] * table["n_classes"] * table["m"] ** table["L"]))
    return pairs[np.isfinite(pairs["x"].astype(float)) & np.isfinite(pairs["y"].astype(float))]


def select_rows(table: pd.DataFrame, **equal) -> pd.DataFrame:
    """Rows of `table` whose columns equal the given values."""
    keep = pd.Series(True, index=table.index)
    for column, value in equal.items():
        keep &= table[column] == value
    return table[keep]


def _sparsity_rows(results: Path, figures: dict, notes: dict[str, str]) -> list[dict]:
    """Sparsity A vs B: ratio of the unit-slope prefactors of B and A (paper: the same scaling)."""
    rows = []
    for arch, figure_b in (("lcn", "fig07"), ("cnn", "fig08")):
        experiment_a = figure_experiment(figures, "fig04", arch)
        experiment_b = figure_experiment(figures, figure_b, "experiments")
        fit_a = read_fit(results, experiment_a, "p_star_vs_prediction")
        fit_b = read_fit(results, experiment_b, "p_star_vs_prediction")
        lacking = [name or f"{figure} (no experiment in this preset)"
                   for figure, name, fit in (("fig04", experiment_a, fit_a), (figure_b, experiment_b, fit_b))
                   if not (fit and fit["unit_slope_prefactor"])]
        ratio, ci, se = None, None, None
        if not lacking:
            ratio = fit_b["unit_slope_prefactor"] / fit_a["unit_slope_prefactor"]
            ci = (_float(fit_b["unit_slope_prefactor_ci95"][0]) / _float(fit_a["unit_slope_prefactor_ci95"][1]),
                  _float(fit_b["unit_slope_prefactor_ci95"][1]) / _float(fit_a["unit_slope_prefactor_ci95"][0]))
            se = np.hypot(_float(fit_a.get("log_unit_slope_prefactor_se")),
                          _float(fit_b.get("log_unit_slope_prefactor_se")))  # independent experiments
        row = _row(f"Sparsity B vs A, {arch.upper()}: ratio of prefactors B/A (Figs. 4, {figure_b[3:]}: same scaling)",
                   1.0, "unit_slope_prefactor", None, f"{experiment_b} / {experiment_a}")
        row.update(ours=ratio, ci95=ci, se=se, verdict=verdict("prefactor", 1.0, ratio, ci))
        if row["verdict"] == NOT_MEASURED:
            row["note"] = _joined(f"no unit-slope prefactor of {' nor of '.join(lacking)} (its own rows say why)",
                                  notes.get(experiment_b or "", ""))
        elif row["verdict"] != AGREES:
            row["note"] = notes.get(experiment_b or "", "")
        rows.append(row)
    return rows


def markdown(config: dict, results: Path) -> str:
    """The whole report as Markdown, for a resolved workflow config."""
    plan = Plan.from_config(config)
    results = Path(results)
    authors = load_authors_measurements(results / paths.AUTHORS_TABLE)
    tables = [pd.read_csv(p) for name in config["experiments"]
              if (p := results / paths.run_table(name)).is_file()]
    compute = compute_summary(tables)
    claims = claim_rows(results, config["figures"], authors,
                        {name: exp.get("note", "") for name, exp in config["experiments"].items()},
                        dict(zip(compute["experiment"], compute["wall_s"])))
    lines = [
        "# srhm-repro: reproduction report",
        "",
        f"Preset: **{config['preset']}**. Test-error threshold ε* = {config['eps_star']}, "
        f"test error convention: {config['error_convention']} over training, "
        f"{config['bootstrap']} bootstrap resamples.",
        "",
        *stopping_section(results, list(config["experiments"])),
        "## Claims",
        "",
        f"Verdict rules: a slope agrees when its 95 % interval contains the paper's value or lies within "
        f"±{SLOPE_TOLERANCE} of it. A prefactor agrees, where the authors printed P* for the claim's instances "
        f"(*authors' data*: the same fit of their printed values), when ours read by their nearest-grid-point "
        f"rule (*ours, their rule*) lies within a factor {AUTHORS_FACTOR:g} of theirs, the paper's guide lines "
        f"being drawn by eye; elsewhere within a factor {PREFACTOR_FACTOR:g} of the guide. \"not measured\": "
        "the note says why (no experiment in this preset, or which instances have no sample complexity and "
        "their flags: `never_below` means the grid stops before the crossing, `plateau_above` that the curve "
        "levels off above its threshold at the value given, `diverged` that a run of the instance diverged).",
        "",
        METHOD,
        "",
        SAME_INSTANCES,
        "",
        "| claim | paper | authors' data | authors' data, our instances | ours | 95 % CI | ± s.e. | ours, their rule "
        "| points | experiment | verdict | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in claims.to_dict("records"):
        lines.append(table_row([row["claim"], f"{row['paper']:g}", number(row["authors"]), same_instances_cell(row),
                                number(row["ours"]), interval(row["ci95"]), _fmt_se(row["se"], row["quantity"]),
                                number(row["ours_rule"]), number(row["n_points"]), row["experiment"], row["verdict"],
                                row["note"]]))
    runs = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    lines += ["", *local_slopes_section(results, config["figures"], authors)]
    lines += comparison.markdown_section(comparison.compare(runs, authors))
    lines += compute_section(compute)
    lines += ["## Experiments", "",
              "Each table gives an instance's P* (its flag where the seed-mean test error does not cross eps*) and "
              f"its 68 % CI: the {PERCENTILES['lo68']:g}th to {PERCENTILES['hi68']:g}th percentiles of P* over the "
              "seed resamples whose mean curve crosses eps*, with the share of resamples that do where it is below "
              "100 %.", ""]
    for name, experiment in plan.experiments.items():
        lines += _experiment_section(results, name, experiment.dropped, experiment.searches)
    return "\n".join(lines) + "\n"


def local_slopes_section(results: Path, figures: dict, authors: pd.DataFrame) -> list[str]:
    """The report section "Local exponents", as Markdown lines: the windows of the figure local_slopes (its
    experiments and width, from `figures`), ours and the authors' side by side, one row per experiment, family
    and window (srhm.comparison.local_slope_table); a line saying so where the figure is not configured."""
    lines = ["## Local exponents", ""]
    settings = figures.get("local_slopes")
    if settings is None:
        return lines + ["The figure local_slopes is not configured in this preset, so no local exponents are given.", ""]
    width = window_decades(settings)
    lines += [f"The exponent of P\\* against the paper's prediction x in sliding windows of x, each {width:g} "
              f"decade{'s' * (width != 1)} wide and overlapping half of the next (their edges at multiples of half "
              "the width): the least-squares slope of log P\\* on log x over the instances in the window, ± its "
              "standard error (the P\\* tables keep no seed resamples), with the number of instances; windows with "
              f"fewer than {MIN_DISTINCT_X} distinct x are left out. *ours*: this run's P\\*; *authors*: their printed "
              "P\\* of the same family (architecture, s), all of them, as in *authors' data* above. A deviation from "
              "the exponent 1 that shrinks as x grows is pre-asymptotic. Figure local_slopes draws them.", ""]
    theirs = comparison.authors_predictions(authors)
    rows = []
    for name in experiment_list(settings):
        pstar = _pstar(results, name)
        if pstar.empty:
            continue
        windows = comparison.local_slope_table(pstar, theirs, width)
        for (*family, x_low, x_high), group in windows.groupby([*comparison.FAMILY, "x_low", "x_high"], sort=False):
            cells = {row.data: f"{comparison.local_slope(row)} ({row.n_points})" for row in group.itertuples()}
            rows.append([name, comparison.family_label(*family), f"10^{np.log10(x_low):g} to 10^{np.log10(x_high):g}",
                         cells.get("ours", MISSING), cells.get("authors", MISSING), x_low])
    if not rows:
        return lines + [f"No window of the experiments of local_slopes holds {MIN_DISTINCT_X} distinct x.", ""]
    rows.sort(key=lambda row: (row[0], row[1], row[-1]))
    lines += ["| experiment | family | x window | ours (instances) | authors (instances) |", "|---|---|---|---|---|"]
    return lines + [table_row(row[:-1]) for row in rows] + [""]


def stopping_section(results: Path, experiments: list[str]) -> list[str]:
    """The report section "How the runs stopped", as Markdown lines: per experiment with a run table under
    `results`, how many runs stopped at their epoch cap before their training loss reached its threshold
    (a reduction of the paper's protocol, which trains every run to its threshold), and, from the P* table,
    the instances with runs whose training diverged (flagged "diverged" by srhm.analysis: no P*)."""
    lines = ["## How the runs stopped", "",
             ("The paper trains every run until its training loss falls below its threshold. A run can also stop "
              "at its epoch cap (`train.max_epochs`) before that, having trained for fewer epochs than the paper's "
              "protocol asks (a reduction), or when its training loss becomes non-finite (the training diverged)."),
             ""]
    found, tables = [], 0
    for name in experiments:
        path = Path(results) / paths.run_table(name)
        if not path.is_file():
            continue
        runs, tables = pd.read_csv(path), tables + 1
        capped = runs[runs["stop_reason"] == EPOCH_CAP_STOP]
        if len(capped):
            per_model = "; ".join(f"{model}: {len(group)} at {'/'.join(map(str, sorted(group['epochs'].unique())))} "
                                  "epochs" for model, group in capped.groupby("model"))
            found.append(f"- **{name}**: {len(capped)} of {len(runs)} runs stopped at their epoch cap before their "
                         f"training loss reached its threshold ({per_model}).")
        pstar = _pstar(results, name)
        diverged = pstar[pstar["n_diverged"] > 0] if "n_diverged" in pstar else pstar.iloc[:0]
        if len(diverged):
            instances = "; ".join(f"{row['model']} v={row['v']} s={row['s']} L={row['L']} s0={row['s0']} "
                                  f"({row['n_diverged']} runs)" for row in diverged.to_dict("records"))
            found.append(f"- **{name}**: the training diverged (non-finite training loss) in "
                         f"{int(diverged['n_diverged'].sum())} runs: {instances}. Their instances are flagged "
                         "`diverged` and have no sample complexity; a smaller learning rate (`train.base_lr`) "
                         "would train them.")
    if not found:
        found = ["Every run stopped at its training-loss threshold." if tables else "No experiment has run yet."]
    return lines + found + [""]


def _experiment_section(results: Path, name: str, dropped: tuple[tuple[str, int], ...],
                        searches: tuple[str, ...] = ()) -> list[str]:
    pstar = _pstar(results, name)
    lines = [f"### {name}", ""]
    if dropped:
        lines += ["Grid points left out because they exceed P_max minus the test set: "
                  + ", ".join(f"P = {P} of {dataset}" for dataset, P in dropped) + ".", ""]
    lines += _search_lines(results, searches)
    if pstar.empty:
        return lines + ["No sample complexities (the experiment has not run).", ""]
    lines += ["| arch | v | n_c | m | s | L | s0 | sparsity | seeds | P* | 68 % CI | P*_S | P*_D | prediction |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in pstar.to_dict("records"):
        lines.append(table_row([
            *(row[column] for column in ("arch", "v", "n_classes", "m", "s", "L", "s0", "sparsity", "n_seeds")),
            f"{number(row['test_error_p_star'])} ({row['test_error_flag']})",
            _p_star_interval(row), number(row.get("S_p_star")), number(row.get("D_p_star")),
            number(row["prediction"])]))
    return lines + [""]


def _p_star_interval(row: dict) -> str:
    """The 68 % seed-bootstrap interval of an instance's P* (srhm.scaling.p_star_table), taken over the resamples
    whose seed-mean curve crossed eps*; where some did not (the point estimate may have no crossing at all), the
    share that did is said beside it."""
    text = interval((row["test_error_boot_lo68"], row["test_error_boot_hi68"]))
    crossed = _float(row.get("test_error_cross_fraction"))
    if text != MISSING and np.isfinite(crossed) and crossed < 1:
        text += f" (the {crossed:.0%} of resamples that crossed)"
    return text


def _search_lines(results: Path, searches: tuple[str, ...]) -> list[str]:
    """What an experiment's P* searches did (srhm.search; results/search/{search}/runs.json): instances, rounds,
    trainings, and each crossing a search did not find, with its flag."""
    if not searches:
        return []
    finished = [read_json(path) for path in (Path(results) / paths.search_runs(search) for search in searches)
                if path.is_file()]
    if not finished:
        return [f"P* searches: {len(searches)} instances, none finished.", ""]
    unfound = [f"{result['search']} ({metric}: {entry['status']})" for result in finished
               for metric, entry in result["metrics"].items() if entry["status"] != FOUND]
    return [f"P* searches (srhm.search): {len(finished)} of {len(searches)} instances finished, "
            f"{sum(result['rounds'] for result in finished)} training rounds, "
            f"{sum(len(result['runs']) for result in finished)} runs (including any lent by fixed grids); "
            + (f"not found: {', '.join(unfound)}." if unfound else "every searched crossing found."), ""]


def _float(value) -> float:
    return np.nan if value is None else float(value)


def _fmt_se(se, quantity: str) -> str:
    """A slope's standard error as "± 0.05"; a prefactor's, of its logarithm, as the factor "×/÷ 1.3"."""
    if se is None or not np.isfinite(_float(se)):
        return MISSING
    return f"± {se:.2g}" if quantity == "slope" else f"×/÷ {np.exp(se):.3g}"

