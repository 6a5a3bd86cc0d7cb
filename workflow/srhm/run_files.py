"""A trained run's directory: the one writer of its files, shared by srhm.train and srhm.cifar, and their readers.

    model.pt      (srhm.paths.MODEL_FILE)    torch.save of a dict of the run's state dicts and what
                                             rebuilds its network
    metrics.json  (srhm.paths.METRICS_FILE)  the run's settings, test errors, training statistics, provenance
    train.log     (srhm.paths.TRAIN_LOG)     the training's log lines

What the dicts hold is the trainer's: srhm.train writes {"final", "best", "model": build_model kwargs},
srhm.cifar.runs {"net", "best", "final"}. Each file is written atomically (srhm.io.atomic_path), so a
run directory holds either a complete file or none under each name. torch is imported only to write or
read model.pt, so reading metrics (srhm.runs.collect_runs) does not load it.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from srhm.io import atomic_path, read_json, write_json
from srhm.paths import METRICS_FILE, MODEL_FILE, TRAIN_LOG


def write_run(out_dir: str | os.PathLike, weights: dict[str, Any], metrics: dict[str, Any], log: Sequence[str]) -> None:
    """Write `weights` to model.pt, `metrics` to metrics.json (JSON, numpy values as lists) and the `log`
    lines to train.log in `out_dir`, creating it; in that order, each file atomically."""
    import torch

    out_dir = Path(out_dir)
    with atomic_path(out_dir / MODEL_FILE) as tmp:
        torch.save(weights, tmp)
    write_json(out_dir / METRICS_FILE, metrics)
    with atomic_path(out_dir / TRAIN_LOG) as tmp:
        tmp.write_text("\n".join(log) + "\n")


def read_metrics(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The metrics.json of the run in `run_dir`; ValueError naming the file and how to rebuild it unless it
    holds a whole JSON object (a file cut short, say)."""
    path = Path(run_dir) / METRICS_FILE
    try:
        metrics = read_json(path)
    except ValueError as error:  # json.JSONDecodeError, UnicodeDecodeError
        raise ValueError(_damaged(path, str(error))) from None
    if not isinstance(metrics, dict):
        raise ValueError(_damaged(path, f"a JSON {type(metrics).__name__}, not an object"))
    return metrics


def read_weights(run_dir: str | os.PathLike, map_location: str | None = None) -> dict[str, Any]:
    """The model.pt of the run in `run_dir`, read with torch.load(weights_only=True) onto `map_location`
    (None: the devices it was saved from). ValueError naming the file and how to rebuild it when it is not a
    whole torch.save archive (a file cut short, say); torch's own error for a whole one it cannot load."""
    import torch

    path = Path(run_dir) / MODEL_FILE
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (EOFError, RuntimeError, pickle.UnpicklingError) as error:
        if zipfile.is_zipfile(path):
            raise
        reason = str(error).split(". ")[0] or "it ends early"
        raise ValueError(_damaged(path, f"not a whole torch.save archive: {reason}")) from None


def _damaged(path: Path, reason: str) -> str:
    """The error of a run file that is damaged or truncated: the file, why, and how to rebuild it."""
    return (f"{path}: damaged or truncated ({reason}); delete the files of its run folder {path.parent} and rerun "
            "the workflow, which retrains only the training job that wrote them")
