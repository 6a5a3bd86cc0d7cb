"""Running one benchmark case in a fresh interpreter, so that its peak memory is its own."""

from __future__ import annotations

import json
import subprocess
import sys


def in_subprocess(script: str, threads: int, *worker_args: str, timeout_s: int = 1200) -> dict | str:
    """Run `script --threads N --worker ARGS...`; its last stdout line is a JSON dict of results.

    Returns that dict, or a short text saying why there is none (timeout, crash, likely out of memory).
    """
    command = [sys.executable, script, "--threads", str(threads), "--worker", *worker_args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return "timed out"
    if done.returncode != 0:
        reason = "likely out of memory" if done.returncode < 0 else done.stderr.strip().splitlines()[-1:]
        return f"failed (exit {done.returncode}): {reason}"
    return json.loads(done.stdout.strip().splitlines()[-1])
