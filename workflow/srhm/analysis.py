"""Analysis of one experiment's run table: sample complexities and the paper's scaling fits.

P* is where the test error crosses eps* (interpolated in log P); P*_S and P*_D where S_{k,1} and
D_{k,1} cross the thresholds of the architecture at its layers k (srhm.theory.invariance: k = 2 for the
LCN and CNN; for the FCN the output for S and k = 2 for D); the P* table's columns S_* and D_* hold
them, and S_layer, D_layer say which k.
Fits (srhm.scaling.fit_scaling) relate P* to the paper's prediction for the architecture and to
P*_S and P*_D, with 95 % intervals from the seed resamples of every instance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from srhm import paths, theory
from srhm.architectures import HIERARCHICAL, REGISTRY
from srhm.defaults import N_BOOT
from srhm.io import read_json
from srhm.protocol import DIVERGED_STOP
from srhm.scaling import PStarTable, fit_scaling, p_star_table

GROUP = ("arch", "model", "v", "n_classes", "m", "s", "L", "s0", "sparsity")
ERROR, SYNONYM, DIFFEO = "test_error", "S", "D"
PREDICTIONS = tuple(f"p_star_{formula}" for formula in theory.P_STAR_FORMULAS)
"""The run table's columns of the paper's P* formulas (srhm.runs.collect_runs)."""
PREDICTION = {name: f"p_star_{arch.prediction}" for name, arch in REGISTRY.items() if arch.prediction is not None}
"""Column of the paper's P* prediction per architecture (its srhm.architectures record)."""
FITS = {  # fit name -> (x column of the P* table, y column)
    "p_star_vs_prediction": ("prediction", f"{ERROR}_p_star"),
    "p_star_vs_p_star_S": (f"{SYNONYM}_p_star", f"{ERROR}_p_star"),
    "p_star_vs_p_star_D": (f"{DIFFEO}_p_star", f"{ERROR}_p_star"),
}


def sample_complexities(runs: pd.DataFrame, *, eps_star: float = theory.EPS_STAR, n_boot: int = N_BOOT,
                        seed: int = 0) -> PStarTable:
    """Sample complexities of one run table (srhm.runs.collect_runs): one row per SRHM instance and
    model with P*, P*_S, P*_D and their bootstrap intervals over seeds, the paper's nearest-grid-point
    values beside them and the theory predictions (`prediction` is the paper's formula for the
    architecture, NaN where the paper gives none); and the P* of every seed resample, for the fits.
    An instance with a run whose training diverged (stop_reason srhm.protocol.DIVERGED_STOP) has the flag
    "diverged" and no sample complexity; n_diverged counts those runs. ValueError when `runs` lacks a
    column it needs (stop_reason among them)."""
    if "stop_reason" not in runs:
        raise ValueError("runs lacks the column stop_reason (srhm.runs.collect_runs writes it)")
    runs = runs.assign(diverged=runs["stop_reason"] == DIVERGED_STOP)
    runs, thresholds = metric_columns(runs, eps_star)
    table, boot = p_star_table(runs, by=GROUP, thresholds=thresholds, n_boot=n_boot, seed=seed, diverged="diverged")
    if SYNONYM in thresholds:
        table = table.assign(**{f"{kind}_layer": [theory.invariance_layers(arch)[i] for arch in table["arch"]]
                                for i, kind in enumerate((SYNONYM, DIFFEO))})
    predictions = runs.groupby(list(GROUP))[list(PREDICTIONS)].first().reset_index()
    table = table.merge(predictions, on=list(GROUP), how="left")  # keeps the rows' order, that of `boot`
    table["prediction"] = [row[PREDICTION[row["arch"]]] if row["arch"] in PREDICTION else np.nan
                           for _, row in table.iterrows()]
    return PStarTable(table, boot)


def metric_columns(runs: pd.DataFrame, eps_star: float = theory.EPS_STAR) -> tuple[pd.DataFrame, dict]:
    """The metrics whose crossings are sample complexities, as columns of a run table, and their thresholds.

    Returns `runs` with the columns S and D added (S_{k,1} and D_{k,1} at the layers k of each run's
    architecture, srhm.theory.invariance_layers) where every run is an LCN, CNN or FCN with those columns
    measured and thresholds defined for its s and L (none for the LCN at s = 4, say), and {metric: threshold}: test_error -> eps_star; S, D -> a function of a group's parameters
    (arch, s, L) giving the architecture's threshold (srhm.theory.invariance), as srhm.scaling.p_star_table takes.
    """
    thresholds: dict = {ERROR: eps_star}
    archs = set(runs["arch"])
    measured = {f"{kind}_{theory.invariance_layers(arch)[i]}_1" for arch in archs & set(HIERARCHICAL)
                for i, kind in enumerate((SYNONYM, DIFFEO))}
    if archs <= set(HIERARCHICAL) and measured <= set(runs) and all(
            _has_thresholds(*key) for key in runs[["arch", "s", "L"]].drop_duplicates().itertuples(index=False)):
        runs = runs.assign(**{kind: [row[f"{kind}_{theory.invariance_layers(row['arch'])[i]}_1"]
                                     for _, row in runs.iterrows()] for i, kind in enumerate((SYNONYM, DIFFEO))})
        for kind in (SYNONYM, DIFFEO):
            thresholds[kind] = lambda g, kind=kind: instance_thresholds(g["arch"], g["s"], g["L"], eps_star)[kind]
    return runs, thresholds


def _has_thresholds(arch: str, s: int, L: int) -> bool:
    """Whether the paper defines P*_S and P*_D thresholds for this architecture, s and L (srhm.theory.invariance)."""
    try:
        theory.invariance(arch, s, L)
    except ValueError:
        return False
    return True


def instance_thresholds(arch: str, s: int, L: int, eps_star: float = theory.EPS_STAR) -> dict[str, float]:
    """{test_error: eps_star, S: .., D: ..}: the thresholds of the metrics of `metric_columns` for one LCN, CNN or
    FCN instance (srhm.theory.invariance; ValueError where the paper defines none)."""
    invariance = theory.invariance(arch, s, L)
    return {ERROR: eps_star, SYNONYM: invariance.synonym, DIFFEO: invariance.diffeo}


def scaling_fits(complexities: PStarTable) -> dict:
    """Power-law fits (srhm.scaling.fit_scaling) of P* against the prediction, P*_S and P*_D, for the
    columns the table has: fit name -> {"x": column, "y": column, every ScalingFit field}. A sample
    complexity brings its seed resamples (P* and P*_S of a resample from the same seeds); the
    prediction has none."""
    table, boot = complexities
    fits = {}
    for name, (x, y) in FITS.items():
        if x in table and y in table and table[x].notna().any():
            fit = fit_scaling(table[x].to_numpy(float), table[y].to_numpy(float), x_boot=_resamples(boot, x),
                              y_boot=_resamples(boot, y), n_seeds=table["n_seeds"].to_numpy())
            fits[name] = {"x": x, "y": y, **fit.to_dict()}
    return fits


def _resamples(boot: dict, column: str):
    """The seed resamples [n_instances, n_boot] behind a {metric}_p_star column; None for any other column."""
    metric = column.removesuffix("_p_star")
    return boot[metric] if column != metric else None


def read_fit(results: Path, experiment: str | None, name: str) -> dict | None:
    """The fit `name` (a key of FITS) of `experiment` as `srhm analyse` wrote it (results/fits/{experiment}.json:
    a `scaling_fits` entry); None when `experiment` is None, its fits file is absent or holds no such fit.
    The report and the figures read their fits here."""
    if experiment is None:
        return None
    path = Path(results) / paths.fits(experiment)
    return read_json(path)["fits"].get(name) if path.is_file() else None
