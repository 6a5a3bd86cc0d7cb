"""Analysis of one experiment's run table: sample complexities and the paper's scaling fits.

P* is where the test error crosses eps* (interpolated in log P); P*_S and P*_D where S_{2,1} and
D_{2,1} cross the paper's thresholds for the architecture (srhm.theory.sensitivity_thresholds).
Fits (srhm.scaling.fit_power_law) relate P* to the paper's prediction for the architecture and to
P*_S and P*_D.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from srhm import theory
from srhm.architectures import HIERARCHICAL
from srhm.scaling import fit_power_law, p_star_table

GROUP = ("arch", "model", "v", "n_classes", "m", "s", "L", "s0", "sparsity")
ERROR, SYNONYM, DIFFEO = "test_error", "S_2_1", "D_2_1"
PREDICTION = {"lcn": "p_star_lcn", "cnn": "p_star_cnn"}  # column of the paper's P* formula per architecture
FITS = {  # fit name -> (x column of the P* table, y column)
    "p_star_vs_prediction": ("prediction", f"{ERROR}_p_star"),
    "p_star_vs_p_star_S": (f"{SYNONYM}_p_star", f"{ERROR}_p_star"),
    "p_star_vs_p_star_D": (f"{DIFFEO}_p_star", f"{ERROR}_p_star"),
}


def sample_complexities(runs: pd.DataFrame, *, eps_star: float = theory.EPS_STAR, n_boot: int = 1000,
                        seed: int = 0) -> pd.DataFrame:
    """One row per SRHM instance and model: P*, P*_S, P*_D with bootstrap intervals over seeds, the
    paper's nearest-grid-point values beside them, and the theory predictions (`prediction` is the
    paper's formula for the architecture, NaN where the paper gives none)."""
    thresholds: dict = {ERROR: eps_star}
    if set(runs["arch"]) <= set(HIERARCHICAL) and SYNONYM in runs and DIFFEO in runs:
        thresholds[SYNONYM] = lambda g: theory.sensitivity_thresholds(g["arch"], g["s"], g["L"])[0]
        thresholds[DIFFEO] = lambda g: theory.sensitivity_thresholds(g["arch"], g["s"], g["L"])[1]
    table = p_star_table(runs, by=GROUP, thresholds=thresholds, n_boot=n_boot, seed=seed)
    predictions = runs.groupby(list(GROUP))[["p_star_rhm", "p_star_lcn", "p_star_cnn"]].first().reset_index()
    table = table.merge(predictions, on=list(GROUP), how="left")
    table["prediction"] = [row[PREDICTION[row["arch"]]] if row["arch"] in PREDICTION else np.nan
                           for _, row in table.iterrows()]
    return table


def scaling_fits(table: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0) -> dict:
    """Power-law fits of P* against the prediction, P*_S and P*_D, for the columns `table` has."""
    fits = {}
    for name, (x, y) in FITS.items():
        if x in table and y in table and table[x].notna().any():
            fit = fit_power_law(table[x].to_numpy(float), table[y].to_numpy(float), n_boot=n_boot, seed=seed)
            fits[name] = {"x": x, "y": y, **fit.to_dict()}
    return fits
