"""The cluster profiles drive a real SLURM cluster.

The profile checks run everywhere (the dry run needs the SLURM executor plugin). The cluster runs
(marked slow: a minute or two each) need a SLURM controller that answers, as brought up by
`.ci/slurm/up.sh`, and are skipped otherwise; with SRHM_REQUIRE_SLURM=1 (set by CI) a missing
controller fails instead of skipping.

Every workflow in WORKFLOWS is run through SLURM and checked from the executor's job logs alone.
The test workflow (tests/slurm_workflow/Snakefile, with the real rule names) also records in its
outputs the SLURM job, partition and GPUs each job had, and has a training job made to fail.
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
PLUGIN_MISSING = importlib.util.find_spec("snakemake_executor_plugin_slurm") is None
PLUGIN_HINT = "snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')"


@dataclass(frozen=True)
class Workflow:
    snakefile: Path
    args: tuple[str, ...]
    slurm_rules: frozenset[str]  # patterns of the rules that must run inside SLURM jobs


WORKFLOWS = {
    # Two datasets, bundled into one SLURM job by the datasets group, and training on one GPU
    # each (the CI cluster has two stand-in GPUs).
    "test_workflow": Workflow(SNAKEFILE, ("--config", "datasets=a,b", "train_gpus=1"),
                              frozenset({"dataset", "train", "collect"})),
}
# Config and target of the failing run: training on dataset b (on no GPU) fails on every attempt.
# Its input is written beforehand, so the run holds nothing but the failing attempts.
FAIL_CONFIG = ["datasets=b", "fail_train=b"]
FAIL_INPUT = "data/b.json"
FAIL_TARGET = "runs/b/metrics.json"
# Attempts of a failing job: the first plus profiles/slurm's `retries`.
RETRIES = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())["retries"]
# Kill Snakemake (SIGKILL: it ignores SIGTERM while waiting on jobs) if a run takes longer.
SNAKEMAKE_TIMEOUT_S = 600

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

    def rules_in_slurm_jobs(self) -> dict[str, set[str]]:
        """Rule name -> ids of the SLURM jobs in which a job of that rule finished."""
        rules: dict[str, set[str]] = {}
        for logs in self.slurm_logs().values():
            for log in logs:
                for rule in re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", log.read_text()):
                    rules.setdefault(rule, set()).add(log.stem)
        return rules


def run_snakemake(workdir: Path, snakefile: Path, *args: str) -> SnakemakeRun:
    """Run Snakemake on `snakefile` in `workdir` and capture its combined log."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile), "--directory", str(workdir), *args]
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
    if PLUGIN_MISSING:
        return PLUGIN_HINT
    if shutil.which("sinfo") is None:
        return "no SLURM client (sinfo) on PATH; .ci/slurm/up.sh installs and starts a single-node cluster"
    try:
        probe = subprocess.run(["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 20 s"
    if probe.returncode != 0:
        last_error = (probe.stderr.strip().splitlines() or ["no error message"])[-1]
        return f"no SLURM controller answers ({last_error})"
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
def workflow_run(slurm_cluster, tmp_path_factory):
    """`workflow_run(name)`: WORKFLOWS[name] run through profiles/slurm + profiles/slurm-ci, once."""
    runs: dict[str, SnakemakeRun] = {}

    def run(name: str) -> SnakemakeRun:
        if name not in runs:
            workflow = WORKFLOWS[name]
            runs[name] = run_snakemake(tmp_path_factory.mktemp(name), workflow.snakefile, *PROFILE_ARGS,
                                       *workflow.args)
        return runs[name]

    return run


@pytest.fixture(scope="module")
def slurm_run(workflow_run) -> SnakemakeRun:
    return workflow_run("test_workflow")


@pytest.fixture(scope="module")
def failing_run(slurm_cluster, tmp_path_factory) -> SnakemakeRun:
    """A run whose training job fails on every attempt."""
    workdir = tmp_path_factory.mktemp("slurm_fail")
    write_json(workdir / FAIL_INPUT, {"dataset": "b"})
    return run_snakemake(workdir, SNAKEFILE, *PROFILE_ARGS, "--config", *FAIL_CONFIG, "--", FAIL_TARGET)


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
    assert profile["retries"] >= 1 and profile["jobs"] >= 1 and profile["cores"] >= 1 and profile["latency-wait"] > 0
    assert {"runtime", "mem_mb"} <= set(profile["default-resources"])
    # A default partition or GPU model would override the choice of partition by requested GPUs.
    assert not {"slurm_partition", "gpu_model"} & set(profile["default-resources"])
    assert set(profile["groups"]) == {"dataset", "collect", "analyse", "figure"}
    assert set(profile["groups"].values()) == set(profile["group-components"])
    assert all(count > 1 for count in profile["group-components"].values())


def test_partitions_offer_gpus_and_match_the_ci_cluster():
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    partitions = yaml.safe_load((REPO / "profiles/slurm" / profile["slurm-partition-config"]).read_text())["partitions"]
    max_gpus = sorted(limits.get("max_gpu", 0) for limits in partitions.values())
    assert max_gpus[0] == 0 and max_gpus[-1] >= 1
    ci_partitions = re.findall(r"^PartitionName=(\S+)", (REPO / ".ci/slurm/slurm.conf.in").read_text(), re.MULTILINE)
    assert sorted(ci_partitions) == sorted(partitions)


@pytest.mark.skipif(PLUGIN_MISSING, reason=PLUGIN_HINT)
def test_dry_run_merges_profiles_and_groups_jobs(tmp_path):
    """Both profiles apply key by key: the base's groups, the overlay's default resources."""
    run = run_snakemake(tmp_path, SNAKEFILE, *PROFILE_ARGS, "--dry-run", *WORKFLOWS["test_workflow"].args)
    assert run.returncode == 0, run.log
    assert "Using profiles" in run.log
    assert "Group job datasets" in run.log and "Group job tables" in run.log
    assert re.search(r"rule all:\n(?:.*\n)*?\s+resources: .*mem_mb=1000.*runtime=10", run.log)


# --- runs on a real SLURM cluster ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", WORKFLOWS)
def test_workflow_completes_through_slurm(workflow_run, name):
    run = workflow_run(name)
    assert run.returncode == 0, run.log[-4000:]
    assert re.search(r"(\d+) of \1 steps \(100%\) done", run.log)


@pytest.mark.slow
@pytest.mark.parametrize("name", WORKFLOWS)
def test_every_rule_ran_inside_slurm_jobs(workflow_run, name):
    """The executor's kept job logs, named by SLURM job id, show each rule's jobs finishing."""
    rules = workflow_run(name).rules_in_slurm_jobs()
    patterns = WORKFLOWS[name].slurm_rules
    assert {rule for rule in rules if not any(re.fullmatch(pattern, rule) for pattern in patterns)} == set()
    assert {pattern for pattern in patterns if not any(re.fullmatch(pattern, rule) for rule in rules)} == set()
    assert all(job_id.isdigit() for job_ids in rules.values() for job_id in job_ids)


@pytest.mark.slow
def test_each_output_records_its_slurm_job(slurm_run):
    datasets = [slurm_run.record(f"data/{name}.json") for name in "ab"]
    table = slurm_run.record("tables/runs.json")
    trains = [table["runs"][name] for name in "ab"]
    # The two dataset jobs were bundled by the `datasets` group into one SLURM job.
    assert datasets[0]["slurm_job_id"] == datasets[1]["slurm_job_id"] is not None
    job_ids = [datasets[0]["slurm_job_id"], trains[0]["slurm_job_id"], trains[1]["slurm_job_id"],
               table["collect"]["slurm_job_id"]]
    assert None not in job_ids and len(set(job_ids)) == 4
    # set-resources routes training to the GPU partition; `resources: gpu=1` allocates one GPU.
    assert [t["partition"] for t in trains] == ["gpu", "gpu"]
    assert [t["gpus"] for t in trains] == ["1", "1"]
    assert {t["cuda_visible_devices"] for t in trains} <= {"0", "1"}  # one of the node's two GPUs
    assert datasets[0]["partition"] == table["collect"]["partition"] == "cpu"
    assert datasets[0]["gpus"] is None and table["collect"]["gpus"] is None


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
        assert job["TresPerJob"] == "gres:gpu:1"  # gpu=1: sbatch --gpus=1
    logs = slurm_run.slurm_logs()
    assert set(logs) == {"group_datasets_dataset", "rule_train/a", "rule_train/b", "group_tables_collect"}
    assert logs["rule_train/a"][0].stem == table["runs"]["a"]["slurm_job_id"]


@pytest.mark.slow
def test_failing_job_is_retried_on_slurm(failing_run):
    attempts = [json.loads(path.read_text()) for path in (failing_run.workdir / "attempts").glob("train_b_*")]
    assert len(attempts) == RETRIES + 1
    assert len({attempt["slurm_job_id"] for attempt in attempts}) == RETRIES + 1
    assert all(attempt["gpus"] is None for attempt in attempts)  # gpu=0: no GPU requested
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
