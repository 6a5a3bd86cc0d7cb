"""The cluster profiles drive a real SLURM cluster.

The profile checks run everywhere the SLURM executor plugin is installed. The cluster runs need a
SLURM controller that answers (`.ci/slurm/up.sh` brings up a single-node one) and are skipped
otherwise; with SRHM_REQUIRE_SLURM=1 (set by CI) a missing controller fails instead of skipping.

The workflow under test is tests/slurm_workflow/Snakefile, whose rules carry the real rule names.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from srhm.io import write_json

REPO = Path(__file__).resolve().parents[1]
PROFILE_ARGS = ["--profile", str(REPO / "profiles/slurm"), "--profile", str(REPO / "profiles/slurm-ci")]
SNAKEFILE = REPO / "tests/slurm_workflow/Snakefile"
# Config of the successful run: two datasets, bundled into one SLURM job by the datasets group.
RUN_CONFIG = ["datasets=a,b"]
# Config and target of the failing run: training on dataset b fails on every attempt. Its input
# is written beforehand, so the run holds nothing but the failing attempts.
FAIL_CONFIG = ["datasets=b", "fail_train=b"]
FAIL_INPUT = "data/b.json"
FAIL_TARGET = "runs/b/metrics.json"
# Attempts of a failing job: the first plus profiles/slurm's `retries`.
RETRIES = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())["retries"]
# Kill Snakemake (SIGKILL: it ignores SIGTERM while waiting on jobs) if a run takes longer.
SNAKEMAKE_TIMEOUT_S = 600

requires_plugin = pytest.mark.skipif(
    importlib.util.find_spec("snakemake_executor_plugin_slurm") is None,
    reason="snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')",
)


@dataclass(frozen=True)
class SnakemakeRun:
    workdir: Path
    returncode: int
    log: str

    def record(self, path: str) -> dict:
        return json.loads((self.workdir / path).read_text())

    def slurm_logs(self) -> dict[str, list[Path]]:
        """SLURM job logs kept by the executor, by rule or group directory (e.g. `rule_train/a`)."""
        root = self.workdir / ".snakemake/slurm_logs"
        logs: dict[str, list[Path]] = {}
        for log in sorted(root.rglob("*.log")):
            logs.setdefault(str(log.parent.relative_to(root)), []).append(log)
        return logs


def run_snakemake(workdir: Path, *args: str) -> SnakemakeRun:
    """Run Snakemake on the test workflow in `workdir` and capture its combined log."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), "--directory", str(workdir), *args]
    try:
        done = subprocess.run(
            command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            timeout=SNAKEMAKE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as expired:
        output = expired.output or ""
        cancel_jobs(output)
        pytest.fail(f"snakemake did not finish within {SNAKEMAKE_TIMEOUT_S} s; its log ends:\n{output[-4000:]}")
    cancel_jobs(done.stdout)
    return SnakemakeRun(workdir, done.returncode, done.stdout)


def cancel_jobs(log: str) -> None:
    """Cancel SLURM jobs left by a run (none after a normal exit); jobs are named by the run id."""
    for run_id in re.findall(r"SLURM run ID: (\S+)", log):
        subprocess.run(["scancel", "--name", run_id], check=False, capture_output=True)


def scontrol_job(job_id: str) -> dict[str, str]:
    """`scontrol show job` as a dict; finished jobs stay visible for MinJobAge seconds."""
    text = subprocess.run(["scontrol", "--oneliner", "show", "job", job_id], capture_output=True, text=True,
                          check=True).stdout
    return dict(field.split("=", 1) for field in text.split() if "=" in field)


def slurm_controller_problem() -> str | None:
    """Why no SLURM cluster can be used here, or None if one answers."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')"
    if shutil.which("sinfo") is None:
        return "no SLURM client (sinfo) on PATH; .ci/slurm/up.sh installs and starts a single-node cluster"
    try:
        probe = subprocess.run(["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 20 s"
    if probe.returncode != 0:
        last_error = (probe.stderr.strip().splitlines() or ["no error message"])[-1]
        return f"no SLURM controller answers (sinfo: {last_error})"
    if not {"idle", "mixed", "allocated"} & set(probe.stdout.split()):
        return f"SLURM has no usable node (node states: {probe.stdout.split()})"
    return None


@pytest.fixture(scope="module")
def slurm_cluster() -> None:
    problem = slurm_controller_problem()
    if problem is None:
        return
    if os.environ.get("SRHM_REQUIRE_SLURM") == "1":
        pytest.fail(f"SRHM_REQUIRE_SLURM=1 but {problem}")
    pytest.skip(problem)


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory) -> SnakemakeRun:
    """The test workflow run to completion through profiles/slurm + profiles/slurm-ci."""
    return run_snakemake(tmp_path_factory.mktemp("slurm_run"), *PROFILE_ARGS, "--config", *RUN_CONFIG)


@pytest.fixture(scope="module")
def failing_run(slurm_cluster, tmp_path_factory) -> SnakemakeRun:
    """A run whose training job fails on every attempt."""
    workdir = tmp_path_factory.mktemp("slurm_fail")
    write_json(workdir / FAIL_INPUT, {"dataset": "b"})
    return run_snakemake(workdir, *PROFILE_ARGS, "--config", *FAIL_CONFIG, "--", FAIL_TARGET)


# --- the profiles themselves -------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["profiles/slurm/config.yaml", "profiles/slurm-ci/config.yaml"])
def test_every_profile_key_is_commented(profile):
    """Each key line has a comment on the line above it or at its end."""
    lines = (REPO / profile).read_text().splitlines()
    key = re.compile(r"^\s*[A-Za-z_][\w-]*:")
    uncommented = [
        line for previous, line in zip([""] + lines, lines)
        if key.match(line) and not previous.strip().startswith("#") and " # " not in line
    ]
    assert uncommented == []


def test_profile_sends_jobs_to_slurm_with_resources():
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert {"slurm_partition", "runtime", "mem_mb"} <= set(profile["default-resources"])
    assert "gpu_model" not in profile["default-resources"], "a gpu_model would make every job a GPU job"
    assert profile["retries"] >= 1 and profile["jobs"] >= 1 and profile["latency-wait"] > 0
    assert set(profile["groups"]) == {"dataset", "sensitivity", "collect"}
    assert set(profile["groups"].values()) == set(profile["group-components"])
    assert all(count > 1 for count in profile["group-components"].values())


@requires_plugin
def test_dry_run_applies_groups_and_partitions(tmp_path):
    """Both profiles merge key by key: the overlay's defaults, the base's per-rule partition and groups."""
    run = run_snakemake(tmp_path, *PROFILE_ARGS, "--dry-run", "--config", *RUN_CONFIG)
    assert run.returncode == 0, run.log
    assert "Using profiles" in run.log
    assert re.search(r"Group job datasets", run.log)
    jobs = re.findall(r"rule (\w+):\n(?:.*\n)*?\s+resources: (.*)", run.log)
    partitions = {rule: re.search(r"slurm_partition=(\w+)", resources).group(1) for rule, resources in jobs}
    assert partitions == {"dataset": "cpu", "train": "gpu", "collect": "cpu", "all": "cpu"}


# --- runs on a real SLURM cluster (about a minute or two each) ----------------------------------


@pytest.mark.slow
def test_workflow_completes_through_slurm(slurm_run):
    assert slurm_run.returncode == 0, slurm_run.log[-4000:]
    assert re.search(r"(\d+) of \1 steps \(100%\) done", slurm_run.log)


@pytest.mark.slow
def test_every_job_ran_as_its_own_slurm_job(slurm_run):
    datasets = [slurm_run.record(f"data/{name}.json") for name in "ab"]
    table = slurm_run.record("tables/runs.json")
    trains = [table["runs"][name] for name in "ab"]
    # The two dataset jobs were bundled by the `datasets` group into one SLURM job.
    assert datasets[0]["slurm_job_id"] == datasets[1]["slurm_job_id"] is not None
    job_ids = [datasets[0]["slurm_job_id"], trains[0]["slurm_job_id"], trains[1]["slurm_job_id"],
               table["collect"]["slurm_job_id"]]
    assert None not in job_ids and len(set(job_ids)) == 4
    # set-resources routes training to the GPU partition; gpu=0 requests no GPU.
    assert [t["partition"] for t in trains] == ["gpu", "gpu"]
    assert [t["gpus"] for t in trains] == [None, None]
    assert datasets[0]["partition"] == table["collect"]["partition"] == "cpu"


@pytest.mark.slow
def test_slurm_saw_the_jobs_with_their_resources(slurm_run):
    table = slurm_run.record("tables/runs.json")
    for name in "ab":
        job = scontrol_job(table["runs"][name]["slurm_job_id"])
        assert job["JobState"] == "COMPLETED"
        assert job["Partition"] == "gpu"
        assert job["Comment"] == f"rule_train_wildcards_{name}"
        assert job["TimeLimit"] == "00:05:00"  # runtime=5 in the rule
        assert job["MinMemoryNode"] == "300M"  # mem_mb=300 in the rule
    logs = slurm_run.slurm_logs()
    assert set(logs) == {"group_datasets_dataset", "rule_train/a", "rule_train/b", "group_tables_collect"}
    assert logs["rule_train/a"][0].stem == table["runs"]["a"]["slurm_job_id"]


@pytest.mark.slow
def test_failing_job_is_retried_on_slurm(failing_run):
    attempts = [json.loads(path.read_text()) for path in (failing_run.workdir / "attempts").glob("train_b_*")]
    assert len(attempts) == RETRIES + 1
    assert len({attempt["slurm_job_id"] for attempt in attempts}) == RETRIES + 1
    for attempt in attempts:
        assert scontrol_job(attempt["slurm_job_id"])["JobState"] == "FAILED"


@pytest.mark.slow
def test_failure_is_reported_by_rule(failing_run):
    assert failing_run.returncode != 0
    assert "Error in rule train" in failing_run.log
    assert re.search(r"SLURM-job '\d+' failed, SLURM status is: 'FAILED'", failing_run.log)
    assert "Exiting because a job execution failed" in failing_run.log
    kept_logs = failing_run.slurm_logs()["rule_train/b"]
    assert len(kept_logs) == RETRIES + 1
    assert all("fails on purpose" in log.read_text() for log in kept_logs)


@pytest.mark.slow
def test_failed_job_leaves_no_output(failing_run):
    run_dir = (failing_run.workdir / FAIL_TARGET).parent
    assert not run_dir.exists() or list(run_dir.iterdir()) == []
