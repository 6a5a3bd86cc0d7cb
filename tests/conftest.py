"""Shared fixtures: one run of the workflow's smoke preset for the whole session.

It runs through the CI's SLURM cluster when one answers (training jobs then ask for a GPU, which
the cluster's stand-in GPUs grant; the training itself runs on the CPU), locally otherwise.
"""

from __future__ import annotations

import shutil

import pytest
from cluster import REPO, SMOKE_CONFIG, SnakemakeRun, run_snakemake, slurm_controller_problem, slurm_required

WORKFLOW_FILES = ("Snakefile", "config.yaml", "workflow", "envs")


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """Training specs and command lines in the tests set torch's thread count, which is process-wide: restore
    it after each test, so that no test depends on the ones before it."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> SnakemakeRun:
    """The smoke preset, run once in a fresh copy of the workflow."""
    work = tmp_path_factory.mktemp("smoke")
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(source, work / name)
    problem = slurm_controller_problem()
    if problem is not None and slurm_required():
        pytest.fail(f"SRHM_REQUIRE_SLURM=1 but {problem}")
    if problem is None:
        run = run_snakemake(work, *SMOKE_CONFIG, via_slurm=True)
    else:
        run = run_snakemake(work, "--cores", "2", *SMOKE_CONFIG)
    assert run.returncode == 0, run.log[-4000:]
    return run
