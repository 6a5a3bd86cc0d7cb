"""The device a job computes on, and which GPU it takes where several jobs share a machine's GPUs.

Snakemake hands out GPUs as a count (`--resources gpu=N`, each training job claiming `gpus_per_training`) and
does not say which device a job gets. A job that asks for CUDA without naming a device takes the first GPU
that no other job on the machine holds: it locks one file per GPU (fcntl.flock on LOCK_DIR/srhm-cuda{i}.lock,
released when the process ends, however it ends), so N jobs on N GPUs run one per GPU. Where a single GPU is
visible (a SLURM job sees only its own) nothing is locked. torch is imported only when a device is resolved.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

LOCK_DIR = Path(tempfile.gettempdir())
_held: list[int] = []
"""Descriptors of the GPU lock files this process holds, open until it exits."""


def claim_gpu(count: int, lock_dir: str | os.PathLike = LOCK_DIR) -> int | None:
    """The index of one of `count` GPUs that no other process holds, now held by this process until it exits;
    None when every one is held. Raises ValueError if count < 1."""
    if count < 1:
        raise ValueError(f"count must be >= 1 GPU, got {count}")
    for index in range(count):
        descriptor = os.open(Path(lock_dir) / f"srhm-cuda{index}.lock", os.O_RDONLY | os.O_CREAT, 0o666)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            continue
        _held.append(descriptor)
        return index
    return None


def job_device(device: str) -> str:
    """The device a job runs on: `device` ("auto", "cpu", "cuda" or "cuda:N") checked, with "cuda" (or "auto"
    where CUDA is available) made "cuda:i", the first GPU no other job holds, when several are visible.

    Raises ValueError, before any work, for an unknown device or for CUDA asked for where there is none
    (srhm.train.resolve_device's message).
    """
    import torch

    from srhm.train import resolve_device

    resolved = resolve_device(device)
    if resolved.type != "cuda" or resolved.index is not None or torch.cuda.device_count() < 2:
        return str(resolved)
    index = claim_gpu(torch.cuda.device_count())
    if index is None:
        print(f"every one of the {torch.cuda.device_count()} GPUs is held by another job: sharing cuda:0")
        return "cuda:0"
    return f"cuda:{index}"
