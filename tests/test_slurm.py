"""The cluster profiles drive a real SLURM cluster.

The profile checks run everywhere (the dry run needs the SLURM executor plugin). The cluster checks
(marked slow) need a SLURM controller that answers, as brought up by `.ci/slurm/up.sh`, and are
skipped otherwise; with SRHM_REQUIRE_SLURM=1 (set by CI) a missing controller fails instead.

The session's smoke run (conftest.py) is the real workflow through profiles/slurm + profiles/slurm-ci;
its checks here read the executor's job logs and the SLURM job recorded in each run's metrics.json.
A stand-in workflow (tests/slurm_workflow/Snakefile, with the real rule names) has a training job
made to fail, to check retries and error reporting.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml
from cluster import PLUGIN_HINT, PLUGIN_MISSING, REPO, SnakemakeRun, run_snakemake, \
    slurm_controller_problem, slurm_required

from srhm.io import write_json

SNAKEFILE = REPO / "tests/slurm_workflow/Snakefile"
# Rules of the real workflow, as patterns (training and sensitivity rules are named per ensemble).
# (collect, analyse, figure, report and cifar_digitised_table are local rules: they run outside SLURM.)
SMOKE_RULES = frozenset({"dataset", r"train_\w+", r"sensitivity_\w+", "search_train"})  # a P* search's rounds:
# their plans are local checkpoints, their trainings SLURM jobs
# Config and target of the failing run: training on dataset b fails on every attempt.
# Its input is written beforehand, so the run holds nothing but the failing attempts.
FAIL_CONFIG = ["datasets=b", "fail_train=b"]
FAIL_INPUT = "data/b.json"
FAIL_TARGET = "runs/b/metrics.json"
# Attempts of a failing job: the first plus profiles/slurm's `retries`.
RETRIES = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())["retries"]


def scontrol_job(job_id: str) -> dict[str, str]:
    """`scontrol show job` as a dict; finished jobs stay visible for MinJobAge seconds."""
    text = subprocess.run(["scontrol", "--oneliner", "show", "job", job_id], capture_output=True, text=True,
                          check=True).stdout
    return dict(field.split("=", 1) for field in text.split() if "=" in field)


@pytest.fixture(scope="module")
def slurm_cluster() -> None:
    problem = slurm_controller_problem()
    if problem is None:
        return
    if slurm_required():
        pytest.fail(f"SRHM_REQUIRE_SLURM=1 but {problem}")
    pytest.skip(problem)


@pytest.fixture(scope="module")
def slurm_smoke(slurm_cluster, smoke_run) -> SnakemakeRun:
    assert smoke_run.via_slurm, "a SLURM cluster answers, so the smoke run went through it"
    return smoke_run


@pytest.fixture(scope="module")
def failing_run(slurm_cluster, tmp_path_factory) -> SnakemakeRun:
    """A run of the stand-in workflow whose training job fails on every attempt."""
    workdir = tmp_path_factory.mktemp("slurm_fail")
    write_json(workdir / FAIL_INPUT, {"dataset": "b"})
    return run_snakemake(workdir, "--config", *FAIL_CONFIG, "--", FAIL_TARGET, snakefile=SNAKEFILE, via_slurm=True)


# --- the profiles themselves -------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["profiles/slurm/config.yaml", "profiles/slurm-ci/config.yaml",
                                     "profiles/gpu/config.yaml"])
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
    assert set(profile["groups"]) == {"dataset"}
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
    run = run_snakemake(tmp_path, "--dry-run", "--config", "datasets=a,b", "train_gpus=1", snakefile=SNAKEFILE,
                        via_slurm=True)
    assert run.returncode == 0, run.log
    assert "Using profiles" in run.log
    assert "Group job datasets" in run.log
    assert re.search(r"rule all:\n(?:.*\n)*?\s+resources: .*mem_mb=1000.*runtime=10", run.log)


# --- runs on a real SLURM cluster ----------------------------------------------------------------


@pytest.mark.slow
def test_every_smoke_rule_ran_inside_slurm_jobs(slurm_smoke):
    """The executor's kept job logs, named by SLURM job id, show each rule's jobs finishing."""
    rules = slurm_smoke.rules_in_slurm_jobs()
    assert {rule for rule in rules if not any(re.fullmatch(pattern, rule) for pattern in SMOKE_RULES)} == set()
    assert {pattern for pattern in SMOKE_RULES if not any(re.fullmatch(pattern, rule) for rule in rules)} == set()
    assert all(job_id.isdigit() for job_ids in rules.values() for job_id in job_ids)
    # the short jobs were bundled: fewer SLURM jobs than dataset jobs
    dataset_slurm_jobs = slurm_smoke.slurm_logs()["group_datasets_dataset"]
    dataset_jobs = sum(len(re.findall(r"^rule dataset:", log.read_text(), re.MULTILINE)) for log in dataset_slurm_jobs)
    assert len(dataset_slurm_jobs) < dataset_jobs


@pytest.mark.slow
def test_training_ran_on_a_gpu_node_in_one_job_per_ensemble(slurm_smoke):
    hosts = [json.loads(path.read_text())["host"] for path in (slurm_smoke.workdir / "results/runs").rglob("metrics.json")]
    assert hosts and all(host["slurm_job_id"] and host["slurm_job_partition"] == "gpu" for host in hosts)
    assert all(host["slurm_gpus_on_node"] == "1" for host in hosts), "gpus_per_training=1 became sbatch --gpus=1"
    assert len({host["slurm_job_id"] for host in hosts}) < len(hosts), "members of one ensemble share a SLURM job"


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
