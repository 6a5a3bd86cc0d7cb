"""Where and with what code a run ran: recorded in every metrics.json."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import srhm

# The SLURM job, partition and GPUs of a job (unset outside SLURM).
HOST_VARIABLES = ("SLURM_JOB_ID", "SLURM_JOB_PARTITION", "SLURM_GPUS_ON_NODE", "CUDA_VISIBLE_DEVICES")


def environment(device: str) -> dict:
    """Device, torch and srhm versions, git commit, host name and SLURM job of this process."""
    import torch

    return {"device": str(device), "torch_version": torch.__version__,
            "code_version": {"srhm": srhm.__version__, "git_commit": git_commit()},
            "host": {"name": socket.gethostname(), **{key.lower(): os.environ.get(key) for key in HOST_VARIABLES}}}


def git_commit() -> str | None:
    """The commit of the checkout the package runs from, or None outside a git checkout."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                                text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None
