"""Devices of jobs: a job that asks for CUDA without it fails at once, and jobs sharing a machine's GPUs take one each."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from srhm.cli import main
from srhm.devices import claim_gpu, job_device

NO_CUDA = "device='cuda' was asked for but CUDA is not available"
needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")


def test_jobs_take_distinct_gpus_and_free_them_when_they_end(tmp_path):
    """Another process holding GPU 0's lock makes a claim take GPU 1; once it exits, GPU 0 is free again."""
    holder = subprocess.Popen(
        [sys.executable, "-c", ("import time; from srhm.devices import claim_gpu; "
                                f"print(claim_gpu(2, {str(tmp_path)!r}), flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "0"
        assert claim_gpu(2, tmp_path) == 1
        assert claim_gpu(2, tmp_path) is None, "both GPUs are held"
    finally:
        holder.kill()
        holder.wait()
    assert claim_gpu(2, tmp_path) == 0, "a killed job's GPU is free"


def test_claiming_no_gpu_is_refused(tmp_path):
    with pytest.raises(ValueError, match="count must be >= 1"):
        claim_gpu(0, tmp_path)


@needs_no_cuda
def test_job_device_without_cuda():
    assert job_device("auto") == "cpu" and job_device("cpu") == "cpu"
    with pytest.raises(ValueError, match=NO_CUDA):
        job_device("cuda")


@needs_no_cuda
def test_train_asking_for_cuda_without_it_fails_in_one_line_before_reading_data(tmp_path, capsys):
    """The pool named does not exist: the device error, not the pool's, shows that nothing was read before."""
    member = {"pool": str(tmp_path / "absent.npz"), "P": 12, "seed": 0, "out_dir": str(tmp_path / "run")}
    spec = {"arch": "lcn", "v": 3, "n_classes": 3, "s": 2, "s0": 1, "L": 2, "n_test": 10, "members": [member]}
    with pytest.raises(SystemExit) as exited:
        main(["train", "--spec", json.dumps(spec), "--device", "cuda"])
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"srhm train: error: {NO_CUDA}\n"
    assert not (tmp_path / "run").exists()


@needs_no_cuda
def test_train_on_auto_says_the_device_it_chose_first(tmp_path, capsys):
    """`--device auto` is resolved before any data is read, and the choice is the job's first line (here the
    pool does not exist, so nothing after the choice runs)."""
    member = {"pool": str(tmp_path / "absent.npz"), "P": 12, "seed": 0, "out_dir": str(tmp_path / "run")}
    spec = {"arch": "lcn", "v": 3, "n_classes": 3, "s": 2, "s0": 1, "L": 2, "n_test": 10, "members": [member]}
    with pytest.raises(SystemExit):
        main(["train", "--spec", json.dumps(spec), "--device", "auto"])
    assert capsys.readouterr().out.splitlines()[0] == "device 'auto' chose cpu"
