"""CIFAR-10 runs on disk: training one into its directory, measuring it, collecting the stability table.

A run directory holds model.pt ({"net", "best", "final"}: the net's name and state dicts at the best
test error and at the end), metrics.json (settings, test errors, losses, wall time, where it ran),
train.log (the three written by srhm.run_files.write_run), and after measurement stability.json (D_f,
G_f, R_f and the probe settings).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import torch

from srhm.cifar.data import load_cifar
from srhm.cifar.nets import build_net
from srhm.cifar.settings import ProbeSettings, TrainSettings
from srhm.cifar.stability import relative_stability
from srhm.cifar.tables import COLUMNS, read_table
from srhm.cifar.train import train
from srhm.io import read_json, write_json
from srhm.paths import STABILITY_FILE
from srhm.provenance import environment
from srhm.run_files import read_metrics, read_weights, write_run
from srhm.train import resolve_device


def train_run(settings: TrainSettings, data: str | os.PathLike, out_dir: str | os.PathLike,
              device: str = "auto") -> dict:
    """Train one net on the CIFAR-10 copy in directory `data`; write model.pt, metrics.json and train.log
    into `out_dir` and return the metrics."""
    resolved = resolve_device(device)
    cifar = load_cifar(data)
    log_lines = [f"{settings} on {resolved}"]

    def log(line: str) -> None:
        log_lines.append(line)
        print(line, flush=True)

    result = train(settings, cifar, resolved, log)
    metrics = {
        **asdict(settings), "optimizer": settings.optimizer, "learning_rate": settings.learning_rate,
        "total_epochs": settings.total_epochs, "best_test_error": result.best_test_error,
        "best_epoch": result.best_epoch, "final_test_error": result.test_errors[-1][1],
        "test_errors": result.test_errors, "train_losses": result.train_losses,
        "channel_mean": cifar.channel_mean, "channel_std": cifar.channel_std, "wall_time": result.wall_time,
        "environment": environment(resolved),
    }
    write_run(out_dir, {"net": settings.net, "best": result.best_state,
                        "final": {k: v.detach().cpu() for k, v in result.net.state_dict().items()}}, metrics, log_lines)
    return metrics


def measure_run(run_dir: str | os.PathLike, data: str | os.PathLike, probe: ProbeSettings,
                device: str = "auto") -> dict:
    """D_f, G_f, R_f of a run's best weights on the first probe.n_probe test images, perturbed with the
    run's seed; writes stability.json."""
    run_dir = Path(run_dir)
    metrics = read_metrics(run_dir)
    resolved = resolve_device(device)
    cifar = load_cifar(data)
    if probe.n_probe > len(cifar.test_labels):
        raise ValueError(f"n_probe must be <= {len(cifar.test_labels)}, the number of test images, got {probe.n_probe}")
    saved = read_weights(run_dir, map_location="cpu")
    net = build_net(saved["net"], metrics["seed"])
    net.load_state_dict(saved["best"])
    images = cifar.standardise(torch.from_numpy(cifar.test_images[:probe.n_probe]).to(resolved))
    result = {"net": metrics["net"], "P": metrics["P"], "seed": metrics["seed"],
              "test_error": metrics["best_test_error"], **asdict(probe),
              **relative_stability(net.to(resolved), images, probe, metrics["seed"])}
    write_json(run_dir / STABILITY_FILE, result)
    return result


def collect_runs(run_dirs: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """The measured stability table (srhm.cifar.tables.COLUMNS, source "measured"), one row per run."""
    rows = [{**read_json(Path(run_dir) / STABILITY_FILE), "source": "measured"} for run_dir in run_dirs]
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    return table.sort_values(["net", "P", "seed"], ignore_index=True)


def digitised_table(path: str | os.PathLike) -> pd.DataFrame:
    """The digitised published table at `path`, checked (srhm.cifar.tables.read_table)."""
    table = read_table(path)
    if set(table["source"]) != {"digitised"}:
        raise ValueError(f"{path}: every row's source must be 'digitised'")
    return table


