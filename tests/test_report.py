"""The report's verdict rules, compute summary, claim resolution and the claims table's method and columns."""

import itertools
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from srhm import comparison, theory
from srhm.analysis import sample_complexities
from srhm.authors import DATA as AUTHORS_DATA
from srhm.authors import load_authors_measurements
from srhm.paths import AUTHORS_TABLE
from srhm.config import resolve
from srhm.report import (AGREES, CLAIMS, DISAGREES, INCONCLUSIVE, NOT_MEASURED, authors_value, claim_rows,
                         compute_section, compute_summary, factor_exponents, markdown, same_instances_cell, verdict)
from srhm.scaling import local_slopes
from srhm.text import MISSING, interval, number

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "quantity, paper, value, ci, expected",
    [
        ("slope", 1.0, 1.08, (1.05, 1.12), AGREES),  # within the tolerance
        ("slope", 1.0, 0.85, (0.79, 0.89), DISAGREES),  # outside the tolerance, interval excludes 1
        ("slope", 1.0, 1.3, (0.9, 1.7), AGREES),  # interval covers the paper's value
        ("slope", 1.0, 1.5, (1.3, 1.7), DISAGREES),
        ("slope", 1.0, 2.2, (-1.4, 2.6), INCONCLUSIVE),  # an interval this wide says nothing
        ("unit_slope_prefactor", 2.5, 4.0, (3.5, 4.5), AGREES),  # within a factor 2
        ("unit_slope_prefactor", 2.5, 8.0, (4.0, 12.0), AGREES),  # interval reaches the band
        ("unit_slope_prefactor", 2.5, 8.0, (1.0, 16.0), INCONCLUSIVE),  # ... but only a 16-fold wide one
        ("unit_slope_prefactor", 2.5, 8.0, (7.0, 9.0), DISAGREES),
        ("slope", 1.0, None, None, NOT_MEASURED),
        ("slope", 1.0, float("nan"), (None, None), NOT_MEASURED),
    ],
)
def test_verdict_rules(quantity, paper, value, ci, expected):
    assert verdict(quantity, paper, value, ci) == expected


@pytest.mark.parametrize("ours_rule, expected", [(1.9, AGREES), (2.6, AGREES), (2.8, DISAGREES), (1.1, DISAGREES)])
def test_prefactors_compare_with_the_authors_data_by_their_rule(ours_rule, expected):
    """With the authors' own value (1.8), ours by their rule must lie within x1.5 of it, whatever the guide."""
    assert verdict("unit_slope_prefactor", 1.0, 2.4, (2.1, 2.7), authors=1.8, ours_rule=ours_rule) == expected


def test_the_authors_data_give_each_claim_the_same_fit_of_their_printed_values():
    authors = pd.read_csv(AUTHORS_DATA)
    claims = {claim.text[:40]: claim for claim in CLAIMS}
    lcn_prefactor = next(c for c in CLAIMS if c.text.startswith("LCN, s = 2: prefactor"))
    lcn = authors[(authors["quantity"] == "p_star") & (authors["arch"] == "lcn") & (authors["s"] == 2)]
    prediction = 2 ** (lcn["L"] / 2) * (lcn["s0"] + 1) ** lcn["L"] * lcn["v"] * lcn["v"] ** lcn["L"]
    assert authors_value(lcn_prefactor, authors) == pytest.approx(np.exp(np.mean(np.log(lcn["value"] / prediction))))
    assert 1.5 < authors_value(lcn_prefactor, authors) < 2.5, "their points sit above the guide y = x"
    fcn_s = next(c for c in CLAIMS if c.text.startswith("FCN: P* ≈ P*_S"))
    assert authors_value(fcn_s, authors) == pytest.approx(1.0, abs=0.3), "their FCN P* against P*_S"
    lcn_s = next(c for c in CLAIMS if c.text.startswith("LCN: P* ≈ P*_S — exponent"))
    assert authors_value(lcn_s, authors) is None, "they printed no P*_S of the LCN"
    assert len(claims) == len(CLAIMS)


def test_a_claim_without_enough_instances_says_which_lack_a_sample_complexity(tmp_path):
    (tmp_path / "fits").mkdir()
    (tmp_path / "tables").mkdir()
    fit = {"flag": "too_few_distinct_x", "slope": None, "n_distinct_x": 2, "n_points": 2}
    (tmp_path / "fits" / "fcn.json").write_text(json.dumps({"fits": {"p_star_vs_p_star_S": fit}}))
    pd.DataFrame({"v": [3, 4, 4], "L": 2, "s0": [1, 1, 2], "test_error_p_star": [900.0, 2000.0, np.nan],
                  "test_error_flag": ["ok", "ok", "never_below"], "test_error_at_max_P": [0.0, 0.01, 0.3],
                  "S_p_star": [800.0, np.nan, 1500.0], "S_flag": ["ok", "plateau_above", "ok"],
                  "S_at_max_P": [0.1, 0.35, 0.1]}).to_csv(tmp_path / "tables" / "fcn_pstar.csv", index=False)
    rows = claim_rows(tmp_path, {"fig16": {"experiments": ["fcn"]}}).set_index("claim")
    note = rows.loc["FCN: P* ≈ P*_S — exponent (Fig. 16)", "note"]
    assert note == ("2 distinct x with a sample complexity (at least 3 needed): no value for v=4 L=2 s0=1 "
                    "(S: plateau_above at 0.35); v=4 L=2 s0=2 (test_error: never_below)")
    assert rows.loc["CNN, s = 3: exponent (Fig. 13)", "note"] == "no experiment feeds fig13 in this preset"
    budget = "v = 6 would need P = 20 000"
    rows = claim_rows(tmp_path, {"fig16": {"experiments": ["fcn"]}}, notes={"fcn": budget}).set_index("claim")
    assert rows.loc["FCN: P* ≈ P*_S — exponent (Fig. 16)", "note"].endswith(". " + budget), "the experiment's note"


def test_an_inconclusive_claim_says_which_interval_says_nothing(tmp_path):
    (tmp_path / "fits").mkdir()
    fits = {"p_star_vs_p_star_S": {"flag": "ok", "slope": 2.2, "slope_ci95": [-1.4, 2.6], "n_distinct_x": 3,
                                   "unit_slope_prefactor": 8.0, "unit_slope_prefactor_ci95": [0.5, 16.0]}}
    (tmp_path / "fits" / "lcn.json").write_text(json.dumps({"fits": fits}))
    rows = claim_rows(tmp_path, {"fig06": {"experiments": ["lcn"]}}).set_index("claim")
    slope = rows.loc["LCN: P* ≈ P*_S — exponent of P* vs P*_S (Eq. 8, Fig. 6C)"]
    ratio = rows.loc["LCN: P* ≈ P*_S — ratio P*/P*_S (Fig. 6C, y ∝ x)"]
    assert slope["verdict"] == ratio["verdict"] == INCONCLUSIVE
    assert slope["note"] == "95 % interval 4.00 wide, more than 1 (3 distinct x)"
    assert ratio["note"] == ("outside a factor 2 of the paper's value, with a 95 % interval wider than a factor 4 "
                             "(3 distinct x)")


def test_an_inconclusive_slope_gives_its_lever_arm_seeds_degrees_of_freedom_and_cost(tmp_path):
    (tmp_path / "fits").mkdir()
    (tmp_path / "tables").mkdir()
    fit = {"flag": "ok", "slope": 1.1, "slope_ci95": [0.1, 2.1], "slope_se": 0.15, "slope_dof": 1.0,
           "n_distinct_x": 3}
    (tmp_path / "fits" / "lcn.json").write_text(json.dumps({"fits": {"p_star_vs_p_star_S": fit}}))
    pd.DataFrame({"v": [3, 4, 5], "L": 2, "s0": 1, "n_seeds": 2, "test_error_p_star": [100.0, 400.0, 1000.0],
                  "S_p_star": [100.0, 300.0, 1000.0], "test_error_boot_lo95": [90.0, 380.0, 900.0],
                  "test_error_boot_hi95": [108.0, 456.0, 1000.0]}).to_csv(tmp_path / "tables" / "lcn_pstar.csv",
                                                                           index=False)
    rows = claim_rows(tmp_path, {"fig06": {"experiments": ["lcn"]}}, costs={"lcn": 180.0}).set_index("claim")
    slope = rows.loc["LCN: P* ≈ P*_S — exponent of P* vs P*_S (Eq. 8, Fig. 6C)"]
    assert slope["verdict"] == INCONCLUSIVE
    assert slope["note"] == (
        "95 % interval 2.00 wide, more than 1 (3 distinct x). measured: 3 instances over 1.00 decades of x, 2 seeds "
        "each, whose P* spans ×1.20 within an instance (median 95 % range); least-squares s.e. ±0.15; the "
        "small-sample t correction at 1.0 degrees of freedom widens the interval 6.5 times. its trainings took "
        "3.0 min. an interval 1 wide would take about 2.0 decades of x at this scatter (the largest x 10 times "
        "larger, and P* with it), or more seeds per instance, each of which also adds degrees of freedom")


def test_compute_summary_counts_jobs_and_hours():
    """Runs without a recorded job are grouped as the plan trains them (seeds of one family share a job, the
    BatchNorm nets train alone); hours split by device."""
    runs = pd.DataFrame({
        "experiment": ["x"] * 6,
        "run": ["a", "b", "c", "c", "d", "e"],
        "arch": ["lcn"] * 4 + ["vgg11"] * 2,
        "model": ["lcn_H8"] * 4 + ["vgg11"] * 2,
        "dataset": ["v3_x_seed0", "v3_x_seed1", "v4_x_seed0", "v4_x_seed0", "v10_x_seed0", "v10_x_seed0"],
        "wall_time_s": [3600.0, 1800.0, 7200.0, 7200.0, 360.0, 720.0],
        "device": ["cpu", "cpu", "cuda:0", "cuda:0", "cpu", "cpu"],
    })
    total = compute_summary([runs]).set_index("experiment").loc["all"]
    assert total["trainings"] == 5 and total["training_jobs"] == 4
    assert total["cpu_hours"] == pytest.approx(1.3) and total["gpu_hours"] == pytest.approx(2.0)
    assert np.isnan(total["gflop_per_s"]), "no FLOPs recorded: no rate"


def test_compute_summary_shares_a_job_by_flops_and_sums_per_experiment():
    """Two experiments share job j (runs r1, r2 of one model and family): its 100 s are shared 3:1 by their
    FLOPs; experiment b also has job k alone. The total counts each job once."""
    runs = pd.DataFrame({
        "experiment": ["a", "b", "b"], "run": ["r1", "r2", "r3"], "arch": ["cnn"] * 3, "model": ["cnn_H8"] * 3,
        "dataset": ["v4_x_seed0", "v4_x_seed1", "v5_x_seed0"], "job": ["j", "j", "k"],
        "flops": [3e12, 1e12, 2e12], "ensemble_wall_time_s": [100.0, 100.0, 50.0], "wall_time_s": [90.0, 80.0, 50.0],
        "device": ["cpu"] * 3, "precision": ["fp32"] * 3,
    })
    compute = compute_summary([runs[runs["experiment"] == "a"], runs[runs["experiment"] == "b"]]).set_index("experiment")
    assert compute.loc["a", "wall_s"] == pytest.approx(75.0) and compute.loc["b", "wall_s"] == pytest.approx(75.0)
    assert compute.loc["all", "wall_s"] == pytest.approx(150.0) and compute.loc["all", "training_jobs"] == 2
    assert compute.loc["all", "flops"] == pytest.approx(6e12)
    assert compute.loc["a", "gflop_per_s"] == pytest.approx(3e12 / 75 / 1e9)
    lines = compute_section(compute.reset_index())
    assert lines[0] == "## Compute" and any(line.startswith("| **all** | 3 | 2 | cpu | fp32 | 2.5 min | 100% | 6e+12 |")
                                            for line in lines)


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


def test_an_unmeasured_ratio_of_sparsity_prefactors_names_the_experiment_without_one(tmp_path):
    (tmp_path / "fits").mkdir()
    fit = {"flag": "ok", "slope": 1.0, "slope_ci95": [0.9, 1.1], "unit_slope_prefactor": 1.3,
           "unit_slope_prefactor_ci95": [1.1, 1.5], "n_points": 8}
    (tmp_path / "fits" / "lcn_a.json").write_text(json.dumps({"fits": {"p_star_vs_prediction": fit}}))
    rows = claim_rows(tmp_path, {"fig04": {"lcn": ["lcn_a"]}, "fig07": {"experiments": ["lcn_b"]}})
    ratio = rows[rows["claim"].str.startswith("Sparsity B vs A, LCN: ratio")].iloc[0]
    assert ratio["verdict"] == NOT_MEASURED and pd.isna(ratio["ours"])
    assert "no unit-slope prefactor of lcn_b" in ratio["note"] and "lcn_a" not in ratio["note"]


def s_factor_tables(results, s_values, rng) -> None:
    """P* tables of Fig. 10's experiments with P* = 1.5 s^{L/2} (s0+1)^L n_c m^L, scattered by 10 %."""
    (results / "tables").mkdir()
    for s in s_values:
        rows = [{"arch": "lcn", "s": s, "L": L, "v": v, "s0": s0, "n_classes": v, "m": v ** (s - 1)}
                for L, v, s0 in itertools.product((2, 3), (4, 6), (0, 1))]
        table = pd.DataFrame(rows)
        prediction = table["s"] ** (table["L"] / 2) * (table["s0"] + 1) ** table["L"] * table["n_classes"] * \
            table["m"] ** table["L"]
        table["test_error_p_star"] = 1.5 * prediction * np.exp(rng.normal(0, 0.1, len(table)))
        table.to_csv(results / "tables" / f"lcn_s{s}_pstar.csv", index=False)


def test_the_s_factor_row_is_a_least_squares_fit_of_the_p_star_tables(tmp_path):
    s_factor_tables(tmp_path, (2, 3), np.random.default_rng(3))
    rows = claim_rows(tmp_path, {"fig10": {"experiments": ["lcn_s3", "lcn_s2"]}})
    row = rows[rows["claim"].str.contains("extra factor")].iloc[0]
    assert row["n_points"] == 8 and row["experiment"] == "lcn_s3, lcn_s2" and row["verdict"] == AGREES
    assert row["ours"] == pytest.approx(1.0, abs=0.15) and row["se"] > 0
    half_width = stats.t.ppf(0.975, 8 - 2) * row["se"]
    assert row["ci95"] == pytest.approx((row["ours"] - half_width, row["ours"] + half_width))


def test_the_s_factor_row_with_two_distinct_x_is_not_measured(tmp_path):
    s_factor_tables(tmp_path, (2,), np.random.default_rng(3))  # s^{L/2} takes two values: L = 2, 3
    rows = claim_rows(tmp_path, {"fig10": {"experiments": ["lcn_s2"]}})
    row = rows[rows["claim"].str.contains("extra factor")].iloc[0]
    assert row["verdict"] == NOT_MEASURED and row["ours"] is None and row["n_points"] == 4


def test_markdown_states_the_interval_method_above_the_claims_and_gives_the_standard_error(tmp_path):
    config = resolve(yaml.safe_load((ROOT / "config.yaml").read_text()), [("--config", {"preset": "smoke"})])
    experiment = config["figures"]["fig04"]["lcn"][0]
    (tmp_path / "fits").mkdir()
    fit = {"flag": "ok", "slope": 1.05, "slope_se": 0.04, "slope_ci95": [0.9, 1.2], "unit_slope_prefactor": 1.3,
           "log_unit_slope_prefactor_se": 0.1, "unit_slope_prefactor_ci95": [1.1, 1.5], "n_points": 8}
    (tmp_path / "fits" / f"{experiment}.json").write_text(json.dumps({"fits": {"p_star_vs_prediction": fit}}))
    (tmp_path / "tables").mkdir()
    shutil.copy(AUTHORS_DATA, tmp_path / AUTHORS_TABLE)
    lines = markdown(config, tmp_path).splitlines()
    assert "## Against the authors' measurements" in lines, "the report compares with the authors' values"
    header = lines.index("| claim | paper | authors' data | authors' data, our instances | ours | 95 % CI | ± s.e. | "
                         "ours, their rule | points | experiment | verdict | note |")
    method = lines[header - 4]
    assert lines[header - 1] == "" and method.startswith("Intervals.") and lines[header - 2].startswith("Like for like.")
    for statement in ("resampling the seeds within each instance", "no instance is ever dropped",
                      "sqrt(n/(n-1))", "least-squares Student t interval", "least-squares standard error",
                      "fewer than 3 distinct x the slope is not measured"):
        assert statement in method, statement
    assert f"| 1.05 | [0.9, 1.2] | ± 0.04 | — | 8 | {experiment} | agrees |  |" in lines[header + 2]
    assert f"| 1.3 | [1.1, 1.5] | ×/÷ 1.11 | — | 8 | {experiment} | agrees |  |" in lines[header + 3]
    authors = lines[header + 2].split(" | ")[2]
    assert 0.8 < float(authors) < 1.2, "the slope of the authors' printed LCN P* against the prediction"


def test_the_sparsity_ratio_divides_the_prefactors_and_adds_their_log_standard_errors(tmp_path):
    (tmp_path / "fits").mkdir()
    for name, prefactor, ci, se in (("lcn_a", 2.0, [1.6, 2.5], 0.1), ("lcn_b", 3.0, [2.4, 3.6], 0.2)):
        fit = {"unit_slope_prefactor": prefactor, "unit_slope_prefactor_ci95": ci, "log_unit_slope_prefactor_se": se}
        (tmp_path / "fits" / f"{name}.json").write_text(json.dumps({"fits": {"p_star_vs_prediction": fit}}))
    rows = claim_rows(tmp_path, {"fig04": {"lcn": ["lcn_a"]}, "fig07": {"experiments": ["lcn_b"]}})
    row = rows[rows["experiment"] == "lcn_b / lcn_a"].iloc[0]
    assert row["ours"] == pytest.approx(1.5) and row["ci95"] == pytest.approx((2.4 / 2.5, 3.6 / 1.6))
    assert row["se"] == pytest.approx(np.hypot(0.1, 0.2)) and row["verdict"] == AGREES


def test_factor_exponents_recover_planted_exponents_of_each_factor():
    """P* = 2 ((s0+1)^L)^0.7 (n_c m^L)^1.1: the joint fit separates the two factors exactly."""
    rows = [{"v": v, "s0": s0, "L": 2} for v in (4, 5, 6) for s0 in (1, 2, 4)]
    table = pd.DataFrame(rows)
    rhm = table["v"] ** 3.0
    table["prediction"] = (table["s0"] + 1.0) ** 2 * rhm
    table["test_error_p_star"] = 2 * ((table["s0"] + 1.0) ** 2) ** 0.7 * rhm ** 1.1
    a, b = factor_exponents(table)
    assert a == pytest.approx(0.7) and b == pytest.approx(1.1)
    assert factor_exponents(table[table["s0"] == 1]) is None, "one s0: the factors cannot be separated"


def test_user_text_stays_in_its_cell_of_the_claims_table(tmp_path):
    """An experiment's note holding '|', a newline and braces neither splits a row nor ends the table."""
    config = resolve(yaml.safe_load((ROOT / "config.yaml").read_text()), [("--config", {"preset": "smoke"})])
    experiment = config["figures"]["fig07"]["experiments"][0]
    config["experiments"][experiment]["note"] = "budget | time\nsee {fig07}"
    (tmp_path / "tables").mkdir()
    shutil.copy(AUTHORS_DATA, tmp_path / AUTHORS_TABLE)
    lines = markdown(config, tmp_path).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| claim |"))
    end = lines.index("", header)
    table = lines[header:end]
    assert len(table) == 2 + len(CLAIMS) + 3, "one line per claim"
    assert {len(re.findall(r"(?<!\\)\|", line)) for line in table} == {13}, "12 cells in every row"
    assert sum(r"budget \| time see {fig07}" in line for line in table) == 1


def stopped_runs() -> pd.DataFrame:
    """One experiment's run table (the columns srhm.runs.collect_runs writes): LCN instances v = 4 and 5, two
    seeds, four P. v = 4 learns, its 3 largest-P runs of seed 1 stopped at the epoch cap (400 epochs); every
    run of v = 5 beyond the smallest P diverged (non-finite training loss), its test error flat at chance."""
    rows = []
    for v, seed, P in itertools.product((4, 5), (0, 1), (100, 200, 400, 800)):
        stop = ("non-finite loss" if v == 5 and P > 100 else "max epochs" if v == 4 and seed == 1 and P > 100
                else "loss threshold")
        rows.append({"experiment": "lcn_s2", "run": f"runs/v{v}/P{P}_seed{seed}", "dataset": f"v{v}_seed{seed}",
                     "arch": "lcn", "model": "lcn_H8", "width": 8, "v": v, "n_classes": v, "m": v, "s": 2, "L": 2,
                     "s0": 1, "sparsity": "A", "seed": seed, "P": P,
                     "test_error": 0.8 if v == 5 else 0.2 / (1 + (P / 200) ** 2),
                     "epochs": 400 if stop == "max epochs" else 3 if stop == "non-finite loss" else 120,
                     "stop_reason": stop, "wall_time_s": 1.0, "device": "cpu",
                     "p_star_rhm": np.nan, "p_star_lcn": 100.0 * v, "p_star_cnn": np.nan})
    return pd.DataFrame(rows)


def stopped_report(tmp_path) -> list[str]:
    """The smoke preset's report over the run table `stopped_runs` as its lcn_s2 and that table's analysis."""
    config = resolve(yaml.safe_load((ROOT / "config.yaml").read_text()), [("--config", {"preset": "smoke"})])
    (tmp_path / "tables").mkdir()
    shutil.copy(AUTHORS_DATA, tmp_path / AUTHORS_TABLE)
    runs = stopped_runs()
    runs.to_csv(tmp_path / "tables" / "lcn_s2.csv", index=False)
    sample_complexities(runs, n_boot=20).table.to_csv(tmp_path / "tables" / "lcn_s2_pstar.csv", index=False)
    return markdown(config, tmp_path).splitlines()


def test_the_report_names_the_instances_whose_training_diverged(tmp_path):
    lines = stopped_report(tmp_path)
    section = lines[lines.index("## How the runs stopped"):lines.index("## Claims")]
    assert any(line.startswith("- **lcn_s2**: the training diverged (non-finite training loss) in 6 runs: "
                               "lcn_H8 v=5 s=2 L=2 s0=1 (6 runs)") for line in section), section
    rows = [line for line in lines if line.startswith("| lcn | 5 |")]
    assert len(rows) == 1 and "| — (diverged) |" in rows[0], "its P* table calls it diverged, not plateau_above"


def test_the_report_counts_the_runs_stopped_by_the_epoch_cap_per_experiment(tmp_path):
    lines = stopped_report(tmp_path)
    section = lines[lines.index("## How the runs stopped"):lines.index("## Claims")]
    capped = [line for line in section if "epoch cap" in line and line.startswith("- **")]
    assert capped == [("- **lcn_s2**: 3 of 16 runs stopped at their epoch cap before their training loss reached its "
                       "threshold (lcn_H8: 3 at 400 epochs).")]
    assert "(a reduction)" in section[2], "the section says once why these runs matter"


def planted_lcn(results: Path, instances, exponent: float, experiment: str = "lcn_x") -> None:
    """A P* table of `experiment` (LCN, s = 2, sparsity A) at `instances` ((L, v, m, s0) each) with
    P* = 2 x^exponent exactly, x the paper's prediction, and its fits file."""
    rows = [{"arch": "lcn", "model": "lcn_H16", "s": 2, "L": L, "v": v, "n_classes": v, "m": m, "s0": s0,
             "sparsity": "A", "prediction": float(theory.predicted_p_star("lcn", v, m, 2, L, s0))}
            for L, v, m, s0 in instances]
    table = pd.DataFrame(rows).assign(test_error_p_star=lambda t: 2 * t["prediction"] ** exponent,
                                      test_error_p_star_paper=lambda t: t["test_error_p_star"], n_seeds=3,
                                      test_error_flag="ok", test_error_boot_lo68=lambda t: 0.9 * t["test_error_p_star"],
                                      test_error_boot_hi68=lambda t: 1.1 * t["test_error_p_star"])
    (results / "tables").mkdir()
    table.to_csv(results / "tables" / f"{experiment}_pstar.csv", index=False)
    (results / "fits").mkdir()
    fit = {"flag": "ok", "slope": exponent, "slope_ci95": [exponent - 0.1, exponent + 0.1], "unit_slope_prefactor": 2.0,
           "unit_slope_prefactor_ci95": [1.5, 2.5], "n_points": len(table)}
    (results / "fits" / f"{experiment}.json").write_text(json.dumps({"fits": {"p_star_vs_prediction": fit}}))


def test_the_authors_data_on_our_instances_fit_only_the_instances_both_hold(tmp_path):
    """The authors' printed LCN P* are planted as 3 x^1.2 on the five instances ours shares with theirs (the
    rest kept): their fit on our instances recovers 1.2, ours on them our planted 0.8. Ours at v = 5 (not theirs)
    and at m = 3 != v (not of their kind, though its v, L, s0 are theirs) do not count."""
    config = resolve(yaml.safe_load((ROOT / "config.yaml").read_text()), [("--config", {"preset": "smoke"})])
    experiment = config["figures"]["fig04"]["lcn"][0]
    shared = [(2, 4, 4, 1), (2, 4, 4, 2), (3, 4, 4, 0), (2, 6, 6, 1), (2, 6, 6, 2)]
    planted_lcn(tmp_path, [*shared, (2, 5, 5, 1), (2, 4, 3, 1)], exponent=0.8, experiment=experiment)
    authors = load_authors_measurements()
    for L, v, _, s0 in shared:
        row = ((authors["quantity"] == "p_star") & (authors["arch"] == "lcn") & (authors["s"] == 2)
               & (authors["L"] == L) & (authors["v"] == v) & (authors["s0"] == s0))
        assert row.sum() == 1
        authors.loc[row, "value"] = round(3 * float(theory.predicted_p_star("lcn", v, v, 2, L, s0)) ** 1.2)
    rows = claim_rows(tmp_path, {"fig04": {"lcn": [experiment]}}, authors).set_index("claim")
    slope, prefactor = (rows.loc[claim.text] for claim in CLAIMS[:2])
    assert slope["authors_shared"] == pytest.approx(1.2, abs=1e-3) and slope["ours_shared"] == pytest.approx(0.8)
    assert abs(slope["authors"] - 1.2) > 0.1, "their whole set is not planted"
    assert (slope["shared"], slope["shared_x"], slope["our_instances"]) == (5, 5, 7)
    x = np.array([float(theory.predicted_p_star("lcn", v, v, 2, L, s0)) for L, v, _, s0 in shared])
    assert prefactor["authors_shared"] == pytest.approx(np.exp(np.mean(np.log(3 * x**1.2 / x))), rel=1e-3)
    assert same_instances_cell(slope.to_dict()) == "1.2 (5 of our 7 instances; ours on them 0.8)"
    (tmp_path / AUTHORS_TABLE).parent.mkdir(exist_ok=True)
    authors.to_csv(tmp_path / AUTHORS_TABLE, index=False)
    claim = next(line for line in markdown(config, tmp_path).splitlines() if line.startswith(f"| {CLAIMS[0].text}"))
    assert claim.split(" | ")[2:5] == [number(slope["authors"]), "1.2 (5 of our 7 instances; ours on them 0.8)", "0.8"]


def test_an_instance_interval_over_part_of_the_resamples_says_the_share_that_crossed(tmp_path):
    """An instance whose seed-mean curve never crossed eps* has no P*, yet the resamples that crossed give an
    interval: the experiment's table prints it with the share of resamples behind it, and a full one bare."""
    config = resolve(yaml.safe_load((ROOT / "config.yaml").read_text()), [("--config", {"preset": "smoke"})])
    experiment = config["figures"]["fig04"]["lcn"][0]
    planted_lcn(tmp_path, [(2, 4, 4, 1), (2, 4, 4, 2)], exponent=1.0, experiment=experiment)
    path = tmp_path / "tables" / f"{experiment}_pstar.csv"
    table = pd.read_csv(path).assign(test_error_cross_fraction=[0.18, 1.0])
    table.loc[0, ["test_error_p_star", "test_error_flag"]] = [np.nan, "never_below"]
    table.to_csv(path, index=False)
    load_authors_measurements().to_csv(tmp_path / AUTHORS_TABLE, index=False)
    rows = [line.split(" | ") for line in markdown(config, tmp_path).splitlines() if line.startswith("| lcn | 4 |")]
    (partial, full) = sorted(rows, key=lambda cells: cells[6])  # by s0
    low, high = table.loc[0, ["test_error_boot_lo68", "test_error_boot_hi68"]]
    assert partial[9:11] == [f"{MISSING} (never_below)", f"{interval((low, high))} (the 18% of resamples that crossed)"]
    assert full[10] == interval(tuple(table.loc[1, ["test_error_boot_lo68", "test_error_boot_hi68"]]))


def test_fewer_than_three_distinct_x_in_common_give_no_slope_of_the_authors(tmp_path):
    planted_lcn(tmp_path, [(2, 4, 4, 1), (2, 6, 6, 1), (2, 5, 5, 1)], exponent=1.0)
    rows = claim_rows(tmp_path, {"fig04": {"lcn": ["lcn_x"]}}, load_authors_measurements()).set_index("claim")
    slope, prefactor = (rows.loc[claim.text].to_dict() for claim in CLAIMS[:2])
    assert same_instances_cell(slope) == "no slope: 2 instances in common, 2 distinct x"
    assert same_instances_cell(prefactor).startswith(f"{prefactor['authors_shared']:.3g} (2 of our 3 instances")
    none = claim_rows(tmp_path, {"fig04": {"lcn": ["lcn_x"]}},
                      load_authors_measurements().query("arch != 'lcn'")).set_index("claim")
    assert same_instances_cell(none.loc[CLAIMS[0].text].to_dict()) == "no instance in common"


def test_the_local_exponents_table_gives_the_windows_of_the_figure_local_slopes(tmp_path):
    """Planted P* = 2 x^0.8: every window of ours gives 0.80 ± 0.00 beside the authors' window of the same x."""
    config = resolve(yaml.safe_load((ROOT / "config.yaml").read_text()), [("--config", {"preset": "smoke"})])
    experiment = config["figures"]["fig04"]["lcn"][0]
    planted_lcn(tmp_path, [(2, v, v, s0) for v in (4, 6, 8, 10) for s0 in (0, 1)], exponent=0.8, experiment=experiment)
    shutil.copy(AUTHORS_DATA, tmp_path / AUTHORS_TABLE)
    lines = markdown(config, tmp_path).splitlines()
    assert "The figure local_slopes is not configured in this preset, so no local exponents are given." in lines
    config["figures"]["local_slopes"] = {"experiments": [experiment], "decades": 1.0}
    lines = markdown(config, tmp_path).splitlines()
    rows = [line.split(" | ") for line in lines if line.startswith(f"| {experiment} | LCN, s = 2 |")]
    theirs = local_slopes(*(comparison.authors_predictions(load_authors_measurements())
                            .query("arch == 'lcn' and s == 2")[["prediction", "authors"]].to_numpy(float).T))
    ours = [row for row in rows if row[3] != "—"]
    assert len(ours) == 3 and all(row[3].startswith("0.80 ± 0.00 (") for row in ours)
    assert [row[4].removesuffix(" |") for row in rows] == [f"{comparison.local_slope(window)} ({window.n_points})"
                                                          for window in theirs.itertuples()]
    assert rows[0][2] == "10^2 to 10^3" and rows[0][3] == "0.80 ± 0.00 (3)", "x = 128, 432, 512 of ours"
