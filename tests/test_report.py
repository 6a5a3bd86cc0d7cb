"""The report's verdict rules, compute summary and claim resolution."""

import json

import pandas as pd
import pytest

from srhm.report import AGREES, CLAIMS, DISAGREES, NOT_MEASURED, claim_rows, compute_summary, verdict


@pytest.mark.parametrize(
    "quantity, paper, value, ci, expected",
    [
        ("slope", 1.0, 1.15, (1.05, 1.25), AGREES),  # within the tolerance
        ("slope", 1.0, 1.5, (0.9, 2.1), AGREES),  # interval covers the paper's value
        ("slope", 1.0, 1.5, (1.3, 1.7), DISAGREES),
        ("unit_slope_prefactor", 2.5, 4.0, (3.5, 4.5), AGREES),  # within a factor 2
        ("unit_slope_prefactor", 2.5, 8.0, (4.0, 16.0), AGREES),  # interval reaches the band
        ("unit_slope_prefactor", 2.5, 8.0, (7.0, 9.0), DISAGREES),
        ("slope", 1.0, None, None, NOT_MEASURED),
        ("slope", 1.0, float("nan"), (None, None), NOT_MEASURED),
    ],
)
def test_verdict_rules(quantity, paper, value, ci, expected):
    assert verdict(quantity, paper, value, ci) == expected


def test_compute_summary_counts_jobs_and_hours():
    runs = pd.DataFrame({
        "run": ["a", "b", "c", "c"],
        "model": ["lcn_H8"] * 4,
        "dataset": ["v3_x_seed0", "v3_x_seed1", "v4_x_seed0", "v4_x_seed0"],
        "wall_time_s": [3600.0, 1800.0, 7200.0, 7200.0],
        "device": ["cpu", "cpu", "cuda:0", "cuda:0"],
    })
    summary = compute_summary([runs])
    assert summary["trainings"] == 3 and summary["training_jobs"] == 2  # seeds of one family share a job
    assert summary["cpu_hours"] == pytest.approx(1.0) and summary["gpu_hours"] == pytest.approx(2.0)


def test_claims_read_the_fits_of_the_configured_experiments(tmp_path):
    (tmp_path / "fits").mkdir()
    fit = {"flag": "ok", "slope": 1.05, "slope_ci95": [0.9, 1.2], "unit_slope_prefactor": 1.3,
           "unit_slope_prefactor_ci95": [1.1, 1.5], "n_points": 8}
    (tmp_path / "fits" / "lcn_a.json").write_text(json.dumps({"fits": {"p_star_vs_prediction": fit}}))
    rows = claim_rows(tmp_path, {"fig04": {"lcn": ["lcn_a"], "cnn": ["cnn_a"]}})
    assert len(rows) == len(CLAIMS) + 3
    lcn = rows[rows["experiment"] == "lcn_a"]
    assert list(lcn["verdict"][:2]) == [AGREES, AGREES] and lcn["ours"].iloc[0] == 1.05
    assert (rows[rows["experiment"] == "cnn_a"]["verdict"] == NOT_MEASURED).all(), "no fit file: not measured"
