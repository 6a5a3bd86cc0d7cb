"""Running Snakemake in tests, locally or through the CI's single-node SLURM cluster.

A SLURM cluster is used when a controller answers (as brought up by .ci/slurm/up.sh); with
SRHM_REQUIRE_SLURM=1 (set by CI) a missing controller is an error instead.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROFILE_ARGS = ("--profile", str(REPO / "profiles/slurm"), "--profile", str(REPO / "profiles/slurm-ci"))
PLUGIN_MISSING = importlib.util.find_spec("snakemake_executor_plugin_slurm") is None
PLUGIN_HINT = "snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')"
# The config of the session's smoke run (conftest.py); training claims a GPU, which the CI cluster's
# stand-in GPUs grant and a local run ignores. The stand-ins are not CUDA devices, so the device is
# named: cpu (with the default auto, a job that claims a GPU requires CUDA).
SMOKE_CONFIG = ("--config", "preset=smoke", "gpus_per_training=1", "device=cpu")
# Kill Snakemake (SIGKILL: it ignores SIGTERM while waiting on SLURM jobs) if a run takes longer.
SNAKEMAKE_TIMEOUT_S = 1200


@dataclass(frozen=True)
class SnakemakeRun:
    workdir: Path
    returncode: int
    log: str
    via_slurm: bool

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


def run_snakemake(workdir: Path, *args: str, snakefile: Path | None = None, via_slurm: bool = False) -> SnakemakeRun:
    """Run Snakemake in `workdir` (through the SLURM profiles if via_slurm) and capture its log."""
    command = [sys.executable, "-m", "snakemake", "--directory", str(workdir)]
    if snakefile is not None:
        command += ["--snakefile", str(snakefile)]
    command += [*PROFILE_ARGS] if via_slurm else []
    try:
        done = subprocess.run([*command, *args], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=SNAKEMAKE_TIMEOUT_S)
    except subprocess.TimeoutExpired as expired:
        output = expired.output or ""
        cancel_jobs(output)
        pytest.fail(f"snakemake did not finish within {SNAKEMAKE_TIMEOUT_S} s; its log ends:\n{output[-4000:]}")
    cancel_jobs(done.stdout)
    return SnakemakeRun(workdir, done.returncode, done.stdout, via_slurm)


def cancel_jobs(log: str) -> None:
    """Cancel SLURM jobs left by a run (none after a normal exit); jobs are named by the run id."""
    for run_id in re.findall(r"SLURM run ID: (\S+)", log):
        subprocess.run(["scancel", "--name", run_id], check=False, capture_output=True)


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


def slurm_required() -> bool:
    return os.environ.get("SRHM_REQUIRE_SLURM") == "1"
