"""Trained runs on disk: measuring their sensitivities and collecting them into one table.

A run directory holds model.pt ({"final", "best": state dicts, "model": build_model kwargs}),
metrics.json and train.log (written by srhm.train through srhm.run_files) and, once measured,
sensitivity.csv (srhm.sensitivity_table's tidy table for that run). What metrics.json holds is defined here
once, with its two sides: `member_metrics` makes it (srhm.train) and `run_row` reads it into a run's
columns of the collected table.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from srhm import theory
from srhm.data import SRHM, Batch, parse_dataset_name
from srhm.defaults import PASS_BYTES
from srhm.io import write_csv
from srhm.memory import reuse_freed_memory
from srhm.paths import SENSITIVITY_FILE, model_id, pool_dataset
from srhm.protocol import TrainSpec
from srhm.run_files import read_metrics, read_weights
from srhm.streams import torch_seed

if TYPE_CHECKING:  # torch (the record's module) and pandas load only where used: training needs no pandas
    import pandas as pd

    from srhm.train_state import MemberRecord

WEIGHTS = ("best", "final")
RUN_COMPUTE = {"precision": "fp32", "job": None, "flops": None, "ensemble_flops": None, "ensemble_wall_time_s": None,
               "ensemble_gflop_per_s": None}
"""run_row's compute columns and their values for runs trained before metrics.json recorded them."""


def member_metrics(spec: TrainSpec, e: int, record: MemberRecord, *, dataset: dict, epochs: int, steps: int,
                   ensemble_wall_time_s: float, environment: dict, compute: dict) -> dict:
    """metrics.json of member e of the ensemble `spec`, from its record (srhm.train_state.MemberRecord).

    dataset: its pool's metadata; epochs, steps: what it trained; ensemble_wall_time_s: seconds the whole
    job took; environment: where, with what code and in what arithmetic it ran (srhm.provenance, and
    "numerics": srhm.precision.settings); compute: its training job ("job", an id shared by the job's members)
    and the model FLOPs ("flops": this member's, training and evaluation; "ensemble_flops" and
    "ensemble_gflop_per_s": the whole job's, the latter over its wall time; "flops_per_sample": {"forward",
    "train_step"}). Besides the spec, the member's P, seed and streams, pool
    and out_dir, the model's build_model kwargs and the resolved protocol, it holds the precision, the
    curves (train_loss per epoch; test_error and test_loss, fractions and mean cross-entropy, at each
    eval_epoch), best_test_error and best_epoch, the final test error and losses, stop_reason and
    wall_time_s (seconds until the member stopped).
    """
    member = spec.members[e]
    settings = spec.to_dict()
    del settings["members"]
    return {
        "arch": spec.arch,
        "P": member.P,
        "seed": member.seed,
        "seeds": {"member": member.seed, "init_stream": ["init", member.seed],
                  "init_torch_seed": torch_seed("init", member.seed), "order_stream": ["order", member.seed]},
        "pool": pool_entry(member.pool, member.out_dir),
        "out_dir": member.out_dir,
        "dataset": dataset,
        "model": spec.model_kwargs(),
        "protocol": dataclasses.asdict(spec.protocol()),
        "precision": spec.precision,
        "spec": settings,
        "n_members": len(spec.members),
        "curves": {"epoch": list(range(1, len(record.train_loss) + 1)), "train_loss": record.train_loss,
                   "eval_epoch": record.eval_epoch, "test_error": record.test_error, "test_loss": record.test_loss},
        "best_test_error": record.best_error,
        "best_epoch": record.best_epoch,
        "final_test_error": record.test_error[-1],
        "final_test_loss": record.test_loss[-1],
        "final_train_loss": record.train_loss[-1],
        "epochs": epochs,
        "steps": steps,
        "stop_reason": record.stop_reason,
        "wall_time_s": record.wall_at_stop,
        "ensemble_wall_time_s": ensemble_wall_time_s,
        **compute,
        **environment,
    }


def pool_entry(pool: str, out_dir: str) -> str:
    """A member's pool as metrics.json records it: its path from the directory that out_dir, as recorded beside
    it, is relative to (the training's working directory; the root where out_dir is absolute), so that
    run_pool finds the pool from the run's folder wherever the run is read. For a spec whose pool and out_dir
    are both relative, or both absolute, as the workflow's, this is the spec's pool, normalised."""
    return os.path.normpath(os.path.join(out_dir, os.path.relpath(pool, out_dir)))


def run_pool(run_dir: str | os.PathLike, metrics: dict) -> Path:
    """The pool file of the run in `run_dir`, from its metrics.json's pool and out_dir (pool_entry): the pool
    keeps its place relative to the run's folder, so it is found from any working directory, and after the
    whole results folder has moved. FileNotFoundError naming the run when it is absent."""
    pool = Path(os.path.normpath(Path(run_dir) / os.path.relpath(metrics["pool"], metrics["out_dir"])))
    if not pool.is_file():
        raise FileNotFoundError(2, f"no pool file (the run {run_dir} was trained on {metrics['pool']}; the "
                                   "workflow's dataset job rebuilds it)", str(pool))
    return pool


def measure_runs(run_dirs: Sequence[str], *, probe_size: int, weights: str = "best", distinct: bool = False,
                 pass_bytes: int = PASS_BYTES, device: str = "cpu") -> None:
    """Write sensitivity.csv into every run directory.

    Runs trained on the same pool are loaded into one ensemble and measured in the same passes, on
    the same probe: the first `probe_size` test points of the pool (its head, never trained on), transformed
    with the resample streams of the pool's seed, so every run of a dataset sees the same copies.
    weights: which saved weights to measure ("best" matches the paper's best-test-error convention).
    pass_bytes bounds memory: each forward pass holds at most about that many bytes of layer activations
    (srhm.sensitivity.chunk_size_for), whatever the network and the number of runs. device: where the networks run (srhm.train.resolve_device's
    names: "auto", "cpu", "cuda", "cuda:N").
    """
    from srhm.models import build_model
    from srhm.sensitivity import chunk_size_for, measure_sensitivities
    from srhm.train import resolve_device

    _check_weights("weights", weights)
    device = resolve_device(device)
    reuse_freed_memory()
    by_pool: dict[Path, list[tuple[str, dict]]] = defaultdict(list)
    for run_dir in run_dirs:
        metrics = read_metrics(run_dir)
        by_pool[run_pool(run_dir, metrics).resolve()].append((run_dir, metrics))
    for pool_path, runs in by_pool.items():
        batch, _ = Batch.load(pool_path)
        ds = SRHM.from_name(pool_dataset(pool_path))
        n_test = runs[0][1]["spec"]["n_test"]
        probe = batch[: min(probe_size, n_test)]
        net = build_model(**runs[0][1]["model"], init_seeds=(0,) * len(runs))
        net.load_member_states([_member_weights(net, read_weights(d, map_location="cpu"), weights) for d, _ in runs])
        net.to(device)
        encoding = runs[0][1]["spec"]["encoding"]
        chunk_size = chunk_size_for(net, ds, probe, encoding=encoding, pass_bytes=pass_bytes)
        table = measure_sensitivities(net, ds, probe, encoding=encoding, chunk_size=chunk_size, seed=ds.seed,
                                      distinct=distinct)
        for member, (run_dir, _) in enumerate(runs):
            write_csv(Path(run_dir) / SENSITIVITY_FILE,
                      table[table["member"] == member].assign(member=0, weights=weights))


def _member_weights(net, saved: dict, which: str) -> dict:
    """The `which` state dict of a model.pt for `net`, in the position-major layout of srhm.models.hierarchical
    (model.pt files written before it held the channel-major one and no "layout" entry)."""
    from srhm.models.hierarchical import (
        POSITION_MAJOR,
        HierarchicalNet,
        position_major_state,
    )

    if isinstance(net, HierarchicalNet) and saved.get("layout") != POSITION_MAJOR:
        return position_major_state(net, saved[which])
    return saved[which]


def run_row(run_dir: str | os.PathLike, metrics: dict, experiment: str, error_convention: str = "best") -> dict:
    """The columns of one run in a collected table, from its metrics.json (srhm.train) and its pool's name.

    experiment, run (the run directory), dataset (the pool's SRHM instance, srhm.data.dataset_name),
    arch, model (srhm.paths.model_id of arch and width, as the run folders are named), width (H, None for
    the common nets), v, n_classes, m, s, L, s0, sparsity (the instance's parameters), seed, P,
    test_error (at the `error_convention` weights: "best" or "final"), test_error_best, test_error_final
    (fractions of the test set), epochs, steps, stop_reason, wall_time_s (seconds until the run stopped),
    device, precision, job (its training job's id), flops (the run's model FLOPs), ensemble_flops, ensemble_wall_time_s and
    ensemble_gflop_per_s (its training job's), and p_star_{formula} for each of srhm.theory.P_STAR_FORMULAS (rhm, lcn, cnn: the instance's
    predicted sample complexities).
    ValueError when error_convention is not one of WEIGHTS, the pool is not named by srhm.paths.pool_stem
    or an entry of the metrics is missing.
    """
    _check_weights("error_convention", error_convention)
    try:
        dataset = pool_dataset(metrics["pool"])
        params = parse_dataset_name(dataset)
        width = metrics["model"]["width"]
        return {
            "experiment": experiment,
            "run": str(run_dir),
            "dataset": dataset,
            "arch": metrics["arch"],
            "model": model_id(metrics["arch"], width),
            "width": width,
            **{k: params[k] for k in ("v", "n_classes", "m", "s", "L", "s0", "sparsity")},
            "seed": metrics["seed"],
            "P": metrics["P"],
            "test_error": metrics[f"{error_convention}_test_error"],
            "test_error_best": metrics["best_test_error"],
            "test_error_final": metrics["final_test_error"],
            "epochs": metrics["epochs"],
            "steps": metrics["steps"],
            "stop_reason": metrics["stop_reason"],
            "wall_time_s": metrics["wall_time_s"],
            "device": metrics["device"],
            **{key: metrics.get(key, default) for key, default in RUN_COMPUTE.items()},
            **{f"p_star_{formula}": float(theory.p_star(formula, params["n_classes"], params["m"], params["s"],
                                                        params["L"], params["s0"]))
               for formula in theory.P_STAR_FORMULAS},
        }
    except KeyError as error:
        raise ValueError(f"{run_dir}: its metrics.json has no {error.args[0]!r} entry; srhm.train writes one") from error


def collect_runs(run_dirs: Sequence[str | os.PathLike], experiment: str, error_convention: str = "best") -> pd.DataFrame:
    """One tidy row per run: its run_row columns and, once measured, the number of hidden layers
    (n_hidden) and every sensitivity in wide form (S_{k}_{l}, D_{k}_{l}, k = layer index 1..n_hidden or
    "out"); sorted by arch, v, s, L, s0, seed, P. ValueError for an unknown error_convention, and for a
    sensitivity.csv that is not a whole measure of its run (read_sensitivity)."""
    import pandas as pd

    from srhm.sensitivity_table import wide_sensitivities

    _check_weights("error_convention", error_convention)
    rows = []
    for run_dir in run_dirs:
        row = run_row(run_dir, read_metrics(run_dir), experiment, error_convention)
        sensitivity = Path(run_dir) / SENSITIVITY_FILE
        if sensitivity.is_file():
            measured = read_sensitivity(sensitivity, row["L"])
            row["n_hidden"] = int(measured.loc[measured["layer"] != "output", "layer_index"].max())
            row.update(wide_sensitivities(measured).iloc[0].to_dict())
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.sort_values(["arch", "v", "s", "L", "s0", "seed", "P"], kind="stable").reset_index(drop=True)


def read_sensitivity(path: str | os.PathLike, L: int) -> pd.DataFrame:
    """The sensitivity.csv at `path` of a run on an SRHM of depth L (srhm.sensitivity_table's tidy table).

    ValueError naming the file and how to rebuild it unless it is whole: a last line ended (measure writes
    every line to its end) and every layer, kind and level of its network (srhm.sensitivity_table.check_complete).
    """
    import pandas as pd

    from srhm.sensitivity_table import check_complete

    text = Path(path).read_text()
    try:
        if not text.endswith("\n"):
            raise ValueError("it is empty" if not text else "its last line is cut short")
        table = pd.read_csv(io.StringIO(text))
        check_complete(table, L)
    except ValueError as error:  # pandas' parse errors included
        raise ValueError(f"{path}: damaged or incomplete sensitivity table ({error}); delete it and rerun the "
                         "workflow, which measures that run's ensemble again without retraining (or rerun it with "
                         f"snakemake --forcerun {path})") from None
    return table


def _check_weights(argument: str, value: str) -> None:
    """ValueError naming `argument` unless `value` names saved weights (WEIGHTS)."""
    if value not in WEIGHTS:
        raise ValueError(f"{argument}={value!r} must be one of {WEIGHTS}")
