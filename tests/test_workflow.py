"""The Snakemake workflow: lint, dry runs of every preset, config rejection, and the smoke preset end to end
(the session's smoke run, see conftest.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from cluster import SMOKE_CONFIG

from srhm.cifar.tables import COLUMNS as CIFAR_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
FIGURES = tuple(f"fig{number:02d}" for number in range(1, 18))  # all 17 of the paper
REQUIRED = ("experiment", "run", "arch", "v", "s", "L", "s0", "seed", "P", "test_error", "test_error_best",
            "test_error_final", "epochs", "wall_time_s", "p_star_lcn", "p_star_cnn", "S_1_1", "S_2_1", "S_out_1")


def snakemake(*args: str, cwd: Path = ROOT, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["snakemake", *args], cwd=cwd, capture_output=True, text=True, timeout=1200)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def job_counts(output: str) -> dict[str, int]:
    """The job table of a (dry) run: rule name -> number of jobs."""
    table = output.split("Job stats:", 1)[1] if "Job stats:" in output else ""
    return {rule: int(count) for rule, count in re.findall(r"^(\S+)\s+(\d+)$", table, re.MULTILINE)
            if rule != "total"}


def test_lint_is_clean():
    result = snakemake("--lint")
    assert "Congratulations" in result.stdout + result.stderr


@pytest.mark.parametrize("preset", ["default", "smoke", "paper"])
def test_dry_run_of_every_preset(preset):
    result = snakemake("-n", "--config", f"preset={preset}")
    jobs = job_counts(result.stdout + result.stderr)
    assert any(rule.startswith("train_") for rule in jobs) or "Nothing to be done" in result.stdout
    if jobs:
        assert jobs.get("report") == 1


@pytest.mark.parametrize(
    "override, message",
    [
        ("device: tpu", r"invalid config: device: 'tpu' is not one of"),
        ("colour: red", r"invalid config: config: Additional properties are not allowed \('colour' was unexpected\)"),
        ("experiments: {lcn_s2: {m: 99}}", r"invalid config: experiments.lcn_s2: n_classes\*m = \d+\*99 must be <="),
        ("experiments: {lcn_s2: {v: [three]}}", r"invalid config: experiments.lcn_s2.v"),
        ("test_size: 0", r"invalid config: test_size: 0 is less than the minimum of 1"),
        ("figures: {fig06: {experiments: [nowhere]}}", r"invalid config: figures.fig06: names experiments \['nowhere'\]"),
    ],
)
def test_bad_config_is_rejected_before_any_job(override, message, tmp_path):
    (tmp_path / "override.yaml").write_text(override + "\n")
    result = snakemake("-n", "--configfile", str(tmp_path / "override.yaml"), check=False)
    assert result.returncode != 0
    assert re.search(message, result.stdout + result.stderr), result.stdout[-2000:]
    assert "Building DAG" not in result.stdout + result.stderr


@pytest.mark.slow
def test_smoke_builds_every_figure_and_the_report(smoke_run):
    results = smoke_run.workdir / "results"
    for figure in FIGURES:
        for extension in ("pdf", "png", "md"):
            assert (results / "figures" / f"{figure}.{extension}").stat().st_size > 0
    report = (results / "report.md").read_text()
    assert "| claim | paper | ours |" in report and "## Compute" in report
    for table in (results / "tables").glob("*.csv"):
        if table.name.startswith("cifar_stability"):
            assert set(pd.read_csv(table).columns) == set(CIFAR_COLUMNS)
            continue
        frame = pd.read_csv(table)
        assert len(frame) > 0
        if table.stem.endswith("_pstar"):
            assert {"test_error_p_star", "test_error_flag", "prediction"} <= set(frame.columns)
            assert frame["test_error_flag"].notna().all()
        else:
            assert set(REQUIRED) <= set(frame.columns), table.name
            assert frame[list(REQUIRED)].notna().all().all(), f"a required value is missing in {table.name}"
            assert frame["D_2_1"].isna().eq(frame["s0"] == 0).all(), "D is NaN exactly where s0 = 0"


@pytest.mark.slow
def test_second_run_does_nothing(smoke_run):
    result = snakemake("-n", *SMOKE_CONFIG, cwd=smoke_run.workdir)
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.slow
def test_deleting_one_training_output_reruns_only_its_branch(smoke_run):
    """Asking for a figure rebuilds a deleted run and what depends on it, nothing else.

    (Runs last: it leaves the smoke run's directory with one run to rebuild.)"""
    run = next((smoke_run.workdir / "results" / "runs").glob("*_s01_A_seed0/lcn_*/P*_seed0"))
    (run / "model.pt").unlink()
    jobs = job_counts(snakemake("-n", "fig12", *SMOKE_CONFIG, cwd=smoke_run.workdir).stdout)
    ensemble = f"{run.parent.name}__{run.parent.parent.name.rsplit('_seed', 1)[0]}"
    branch = {f"train_{ensemble}", f"sensitivity_{ensemble}", "collect", "figure", "fig12"}
    assert branch <= set(jobs) <= branch | {"analyse"}, jobs
    assert all(count == 1 for count in jobs.values()), "one training job, one table, one figure"
