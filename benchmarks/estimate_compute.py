"""Estimate what a preset costs before running it: its training FLOPs from the plan, its wall time from a
calibration on finished runs of this machine.

    python benchmarks/estimate_compute.py --preset smoke --calibrate results
    python benchmarks/estimate_compute.py --preset paper --calibrate results --stop-factor lcn=3.3 cnn=2.1

FLOPs. The plan (srhm.plan) lists every training job (an ensemble) and its runs. One run's training costs

    epochs x P x (forward + backward FLOPs per sample) + ceil(epochs / eval_every) x n_test x forward FLOPs per sample

(`training_flops`: every epoch passes the P training samples forward and backward, every eval_every epochs and
at the stop the n_test test samples forward), the per-sample FLOPs those the network itself counts (`flops_per_sample`:
srhm.models.EnsembleNet.flops_per_sample, the count each run's metrics.json records).

Epochs. Where a run learns the task it stops after about as many SGD steps whatever its P (the default preset's
LCN members take 5400 to 6600 steps from P = 666 to 1946, at 149 to 44 epochs), but no run stops before it has
seen its data a few times. The calibration's runs of an architecture that stopped before their epoch cap give
both (`Stopping`): the median steps and the fewest epochs to stop. A run trains for the larger of the two, in
epochs of ceil(P / batch) steps, times its --stop-factor (a stricter stopping rule than the calibration's: the
LCN stopped at loss 1e-3 takes 3.3 times the epochs of 1e-2, README "Reductions"), and at most its protocol's
max_epochs (all of them where every calibration run of its architecture reached its cap; an architecture the
calibration lacks takes the stopping of all its converged runs). A job steps its members in lockstep: as many
steps as its slowest member.

Time. Each training job of the calibration (--calibrate, a results directory of finished runs) gives its wall time
(metrics.json's ensemble_wall_time_s) and its FLOPs (metrics.json's ensemble_flops where it has one, else counted
as above from its runs' own epochs). A non-negative least-squares fit over those jobs of

    training seconds = FLOPs / rate + lockstep steps x step_seconds

gives the engine's FLOP rate and its overhead per step on this machine, so a faster engine or another machine is
recalibrated by one finished run. Every job of the workflow (`snakemake --dry-run` in an empty directory:
datasets, trainings, sensitivities, tables, figures, report) takes --job-seconds besides its training, to start
Python, import, read and write. The expected wall time on --cores cores is the larger of the total core-seconds
(a training job holds `threads` cores) spread over the cores and the longest job. Training times are those of
the calibration's thread count: a preset with more `threads` per job is assumed no faster.

Disk. Each run's model.pt holds two copies (best and final) of its network's state, and each pool its samples
with their latent digits (srhm.data.Batch); logs, tables, figures and metrics.json add a few MB.

GPU hours assume --gpu-tflops sustained and --gpu-step-ms per lockstep step: measure both on the target GPU.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from scipy.optimize import nnls

from srhm import SRHM
from srhm.architectures import ARCHITECTURES
from srhm.config import resolve
from srhm.data import family_name
from srhm.io import read_json
from srhm.models import build_model
from srhm.search import planted_error, simulate
from srhm.paths import model_id, pool_dataset
from srhm.plan import Ensemble, Plan, train_spec
from srhm.protocol import TrainSpec

REPO = Path(__file__).resolve().parent.parent
JOB_SECONDS = 3.0
"""Seconds a job of the workflow takes besides its training, Snakemake's own share included: a smoke run's user
plus system CPU seconds less its training jobs' training time (ensemble_wall_time_s), over its jobs. Measured on
the 2-core machine of the README's "Compute": 1.8 s in its smoke run (at a load average of 3.6, its own jobs
included), 3.4 s for the same jobs rerun one at a time at a load average of 7."""
CALIBRATION_KEYS = ("arch", "pool", "model", "spec", "protocol", "P", "epochs", "steps", "ensemble_wall_time_s")
"""The entries of a run's metrics.json (srhm.runs.member_metrics) that the calibration reads."""

PerSample = tuple[float, float]
"""(training, forward) FLOPs per sample of one member: training = forward + backward."""


def flops_per_sample(model: dict) -> PerSample:
    """(training, forward) FLOPs per sample of one member of build_model(**model): the network's own count
    (srhm.models.EnsembleNet.flops_per_sample, the one the trainer records)."""
    forward, training = build_model(**model, init_seeds=(0,)).flops_per_sample()
    return float(training), float(forward)


class FlopTable:
    """flops_per_sample(model), counted once per network."""

    def __init__(self) -> None:
        self._known: dict[tuple, PerSample] = {}

    def __call__(self, model: dict) -> PerSample:
        key = tuple(sorted(model.items()))
        if key not in self._known:
            self._known[key] = flops_per_sample(model)
        return self._known[key]


def ensemble_spec(ensemble: Ensemble) -> TrainSpec:
    """The TrainSpec of a training job of the plan, as its rule passes it to `srhm train`."""
    return TrainSpec.from_dict(train_spec(ensemble, "results"))


def state_bytes(model: dict) -> int:
    """Bytes of the state (parameters and buffers) of one member of build_model(**model)."""
    net = build_model(**model, init_seeds=(0,))
    return sum(tensor.numel() * tensor.element_size() for tensor in net.state_dict().values())


def disk_bytes(plan: Plan) -> tuple[int, int]:
    """(weights, pools): bytes of the runs' model.pt files (two states each) and of the pools of `plan`."""
    weights, sizes = 0, {}
    for ensemble in training_jobs(plan).values():
        model = ensemble_spec(ensemble).model_kwargs()
        key = tuple(sorted(model.items()))
        if key not in sizes:
            sizes[key] = state_bytes(model)
        weights += 2 * sizes[key] * len(ensemble.runs)
    pools = 0
    for dataset in plan.datasets.values():
        sample = SRHM(**dataset.srhm_params).sample(1, seed=0)
        per_sample = sum(array.nbytes for array in (sample.x, sample.y, *sample.choices, *sample.arrangements))
        pools += dataset.pool_size * per_sample
    return weights, pools


def training_flops(P: int, epochs: float, n_test: int, eval_every: int, per_sample: PerSample) -> float:
    """FLOPs of one run: `epochs` passes of its P samples forward and backward, and its ceil(epochs / eval_every)
    test evaluations, n_test samples forward each."""
    train, forward = per_sample
    return epochs * P * train + math.ceil(epochs / eval_every) * n_test * forward


@dataclass(frozen=True)
class Stopping:
    """When runs stop before their epoch cap: after `steps` SGD steps (their median, a run that reached its cap
    counting as never stopping) and `epochs` epochs (the fewest of those that stopped); both inf where half of the
    runs or more reached their cap."""

    steps: float
    epochs: float

    @classmethod
    def of(cls, runs: list[dict]) -> Stopping:
        """The Stopping of runs given by their metrics.json."""
        converged = [run for run in runs if run["epochs"] < run["protocol"]["max_epochs"]]
        steps = statistics.median([run["steps"] for run in converged] + [math.inf] * (len(runs) - len(converged)))
        if not math.isfinite(steps):
            return cls(math.inf, math.inf)
        return cls(steps, min(run["epochs"] for run in converged))

    def epochs_to_stop(self, steps_per_epoch: int, factor: float = 1.0) -> float:
        """Epochs a run of `steps_per_epoch` steps per epoch trains for (before its cap), `factor` times longer."""
        return factor * max(self.steps / steps_per_epoch, self.epochs)


@dataclass(frozen=True)
class Calibration:
    """What finished runs say of this machine and engine.

    stopping: the Stopping of each architecture's runs, and "*" of all of them; rate: training FLOP/s (inf when
    the fit finds the calibration's time all per-step overhead); step_seconds: overhead per lockstep step; jobs:
    training jobs fitted.
    """

    stopping: dict[str, Stopping]
    rate: float
    step_seconds: float
    jobs: int

    def seconds(self, flops: float, steps: int) -> float:
        """Training seconds of a job of `flops` FLOPs in `steps` lockstep steps."""
        return flops / self.rate + steps * self.step_seconds


def calibrate(results: Path, flops: Callable[[dict], PerSample]) -> Calibration:
    """Fit the Calibration on the runs under `results`/runs (see the module docstring).

    Runs whose metrics.json name the same `job` (srhm.train records it) are one training job; runs from before it
    was recorded, by model and SRHM family. ValueError naming --calibrate when `results` holds fewer than 2 training
    jobs, or naming the file whose metrics.json lacks an entry of CALIBRATION_KEYS.
    """
    jobs: dict[str | tuple[str, str], list[dict]] = defaultdict(list)
    for path in sorted(Path(results).glob("runs/*/*/*/metrics.json")):
        metrics = read_json(path)
        missing = [key for key in CALIBRATION_KEYS if key not in metrics]
        if missing:
            raise ValueError(f"--calibrate: {path} has no {missing} entries; srhm.train writes them")
        job = metrics.get("job") or (family_name(pool_dataset(metrics["pool"])),
                                     model_id(metrics["arch"], metrics["model"]["width"]))
        jobs[job].append(metrics)
    if len(jobs) < 2:
        raise ValueError(f"--calibrate: {len(jobs)} training jobs under {results}/runs, where the fit of a FLOP rate "
                         "and a time per step needs 2 or more; give the results directory of a finished workflow "
                         "run (e.g. `snakemake --cores all --config preset=smoke`)")
    runs: dict[str, list[dict]] = defaultdict(list)
    work, seconds = [], []
    for members in jobs.values():
        for m in members:
            runs[m["arch"]].append(m)
            runs["*"].append(m)
        counted = sum(training_flops(m["P"], m["epochs"], m["spec"]["n_test"], m["protocol"]["eval_every"],
                                     flops(m["model"])) for m in members)
        work.append((members[0].get("ensemble_flops", counted), max(m["steps"] for m in members)))
        seconds.append(members[0]["ensemble_wall_time_s"])
    work = np.array(work, dtype=float)
    scale = np.where(work.max(axis=0) > 0, work.max(axis=0), 1.0)
    (per_flop, step_seconds), _ = nnls(work / scale, np.array(seconds))
    per_flop, step_seconds = per_flop / scale[0], step_seconds / scale[1]
    return Calibration({arch: Stopping.of(group) for arch, group in sorted(runs.items())},
                       1 / per_flop if per_flop > 0 else math.inf, float(step_seconds), len(jobs))


@dataclass(frozen=True)
class JobCost:
    """One training job of a plan: its architecture, runs, FLOPs, lockstep steps and training seconds."""

    ensemble: str
    arch: str
    runs: int
    flops: float
    steps: int
    seconds: float


def training_costs(plan: Plan, calibration: Calibration, flops: Callable[[dict], PerSample],
                   stop_factor: dict[str, float] | None = None) -> list[JobCost]:
    """The JobCost of every training job of `plan` (see the module docstring); stop_factor: {architecture:
    factor} ("*": any other; 1 where none is given)."""
    stop_factor = stop_factor or {}
    costs = []
    for name, ensemble in training_jobs(plan).items():
        spec = ensemble_spec(ensemble)
        protocol = spec.protocol()
        per_sample = flops(spec.model_kwargs())
        stopping = calibration.stopping.get(ensemble.arch, calibration.stopping["*"])
        factor = stop_factor.get(ensemble.arch, stop_factor.get("*", 1.0))
        total, steps = 0.0, 0
        for run in ensemble.runs:
            per_epoch = math.ceil(run.P / protocol.batch_size)
            epochs = min(stopping.epochs_to_stop(per_epoch, factor), protocol.max_epochs)
            total += training_flops(run.P, epochs, spec.n_test, protocol.eval_every, per_sample)
            steps = max(steps, math.ceil(epochs * per_epoch))
        costs.append(JobCost(name, ensemble.arch, len(ensemble.runs), total, steps,
                             calibration.seconds(total, steps)))
    return costs


def training_jobs(plan: Plan) -> dict[str, Ensemble]:
    """Every training job of `plan`: its ensembles (by id), and the rounds of its P* searches as `search_jobs`
    guesses them (by "{search}_round{r}")."""
    rounds = {f"{key}_round{r}": job for key, jobs in search_jobs(plan).items() for r, job in enumerate(jobs)}
    return {**plan.ensembles, **rounds}


def search_jobs(plan: Plan) -> dict[str, list[Ensemble]]:
    """search id -> the training job of each round of that P* search, as srhm.search.simulate plays it when every
    searched crossing lies at the geometric middle of its starting grid (the config's guess of P*; a guess off by
    xk adds about log2(k) rounds of one P each, benchmarks/search_vs_grid.py)."""
    jobs = {}
    for key, search in plan.searches.items():
        guess = math.sqrt(min(search.start) * max(search.start))
        curves = {metric: planted_error(guess) for metric in search.settings.metrics}
        _, rounds = simulate(curves, {metric: 0.1 for metric in search.settings.metrics}, search.start,
                             search.settings, floor=search.floor, limit=search.limit)
        borrowed = {(run.P, run.seed) for run in search.borrowed}
        jobs[key] = [search.round_ensemble(P) for P in rounds
                     if any((p, seed) not in borrowed for p in P for seed in search.seeds)]
    return jobs


def workflow_seconds(costs: list[JobCost], n_jobs: int, *, threads: int, cores: int,
                     job_seconds: float) -> tuple[float, float]:
    """(core-seconds, expected wall seconds) of a workflow of `n_jobs` jobs, `costs` its training jobs, each holding
    `threads` cores (at most `cores`), on `cores` cores: the wall time is the larger of the core-seconds over the
    cores and the longest job."""
    core_seconds = n_jobs * job_seconds + min(threads, cores) * sum(cost.seconds for cost in costs)
    return core_seconds, max(core_seconds / cores, job_seconds + max((cost.seconds for cost in costs), default=0.0))


def matmul_gflops(threads: int = 2, size: int = 2048, repeats: int = 5) -> float:
    """This machine's speed, to compare with the README's: the best GFLOP/s of torch.mm on two size x size fp32
    matrices with `threads` torch threads (torch's thread count is restored after)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(size, size), torch.randn(size, size)
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)
    return 2 * size**3 / best / 1e9


def workflow_jobs(preset: str) -> int:
    """Jobs of the workflow for `preset` from an empty results/ (`snakemake --dry-run`'s job count).
    RuntimeError with Snakemake's output when the dry run fails."""
    with tempfile.TemporaryDirectory() as empty:
        done = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                               "--directory", empty, "--dry-run", "--config", f"preset={preset}"],
                              check=False, capture_output=True, text=True)
    total = re.search(r"^total\s+(\d+)\s*$", done.stdout + done.stderr, re.MULTILINE)
    if done.returncode or total is None:
        raise RuntimeError(f"snakemake --dry-run --config preset={preset} failed:\n{done.stdout}{done.stderr}")
    return int(total.group(1))


def preset_config(preset: str) -> dict:
    """The validated config of `preset` (as `--config preset=...`); ValueError naming preset otherwise."""
    return resolve(yaml.safe_load((REPO / "config.yaml").read_text()), [("--preset", {"preset": preset})])


def duration(seconds: float) -> str:
    """`seconds` in minutes, or in hours beyond 2 hours."""
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:,.0f} h"


def positive(text: str) -> float:
    """A command-line number that must be finite and positive (argparse names the option when it is not)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def arch_factor(text: str) -> tuple[str, float]:
    """("*", factor) of "FACTOR", (arch, factor) of "ARCH=FACTOR" (ARCH one of srhm.architectures.ARCHITECTURES)."""
    arch, _, factor = text.rpartition("=")
    if arch and arch not in ARCHITECTURES:
        raise argparse.ArgumentTypeError(f"{arch!r} is not an architecture; they are {list(ARCHITECTURES)}")
    return arch or "*", positive(factor)


@dataclass(frozen=True)
class Estimate:
    preset: str
    calibration: Calibration
    costs: list[JobCost]
    n_jobs: int
    core_seconds: float
    wall_seconds: float
    disk_bytes: tuple[int, int]


def main(argv: list[str] | None = None) -> Estimate:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="default", help="default, smoke, check or paper")
    parser.add_argument("--calibrate", type=Path, default=Path("results"),
                        help="results directory of finished runs on this machine (default: results)")
    parser.add_argument("--stop-factor", nargs="+", default=[], type=arch_factor, metavar="[ARCH=]FACTOR",
                        help="how many times longer runs train before they stop than the calibration's of their architecture, for every "
                             "architecture or for ARCH (default 1)")
    parser.add_argument("--cores", type=positive, default=os.cpu_count(), help="cores Snakemake runs on (--cores)")
    parser.add_argument("--job-seconds", type=positive, default=JOB_SECONDS,
                        help="seconds a job takes besides its training (start-up, imports, files)")
    parser.add_argument("--gpu-tflops", type=positive, default=10.0, help="assumed sustained fp32 TFLOP/s on a GPU")
    parser.add_argument("--gpu-step-ms", type=positive, default=1.5,
                        help="assumed overhead per lockstep step on a GPU")
    args = parser.parse_args(argv)
    stop_factor = dict(args.stop_factor)
    torch.set_num_threads(1)
    try:
        config = preset_config(args.preset)
        plan = Plan.from_config(config)
        flops = FlopTable()
        calibration = calibrate(args.calibrate, flops)
    except ValueError as error:
        parser.error(str(error))
    costs = training_costs(plan, calibration, flops, stop_factor)
    # the dry run lists each search's first plan and its list of runs; each round adds a training, a measuring
    # and the next round's plan
    n_jobs = workflow_jobs(args.preset) + 3 * sum(map(len, search_jobs(plan).values()))
    core_seconds, wall = workflow_seconds(costs, n_jobs, threads=config["threads"], cores=args.cores,
                                          job_seconds=args.job_seconds)

    print(f"preset {args.preset}: {sum(cost.runs for cost in costs)} trainings in {len(costs)} training jobs, "
          f"{n_jobs} jobs in all")
    print(f"calibration ({args.calibrate}, {calibration.jobs} training jobs): {calibration.rate / 1e9:.2f} GFLOP/s, "
          f"{calibration.step_seconds * 1e3:.2f} ms per lockstep step")
    print("stopping (the calibration's median steps, and fewest epochs, to stop before the epoch cap): "
          + ", ".join(f"{arch} {stop.steps:.0f} steps, {stop.epochs:.0f} epochs" if math.isfinite(stop.steps)
                      else f"{arch} at its cap" for arch, stop in calibration.stopping.items() if arch != "*")
          + (f"; times {', '.join(f'{arch} {factor:g}' for arch, factor in stop_factor.items())}"
             if stop_factor else ""))
    print(f"{'arch':<15}{'trainings':>10}{'jobs':>6}{'TFLOP':>12}{'steps':>14}{'train-hours':>13}{'GPU-hours':>11}")
    rows = defaultdict(list)
    for cost in costs:
        rows[cost.arch].append(cost)
    rows["total"] = costs
    for arch, group in rows.items():
        gpu = sum(max(c.flops / (args.gpu_tflops * 1e12), c.steps * args.gpu_step_ms / 1e3) for c in group)
        print(f"{arch:<15}{sum(c.runs for c in group):>10}{len(group):>6}{sum(c.flops for c in group) / 1e12:12.3f}"
              f"{sum(c.steps for c in group):14,d}{sum(c.seconds for c in group) / 3600:13.2f}"
              f"{gpu / 3600:11.2f}")
    print(f"expected wall time on {args.cores:g} cores: {duration(wall)}, {duration(core_seconds)} of core time "
          f"({n_jobs} jobs x {args.job_seconds:g} s besides training, training jobs at {config['threads']} thread(s))")
    disk = disk_bytes(plan)
    print(f"disk: {sum(disk) / 1e9:.2f} GB in results/ ({disk[0] / 1e9:.2f} GB of weights, {disk[1] / 1e9:.2f} GB of "
          "pools; logs, tables and figures add a few MB)")
    print(f"this machine: torch.mm 2048x2048 fp32 at {matmul_gflops():.0f} GFLOP/s on 2 threads")
    print(f"GPU-hours assume {args.gpu_tflops:g} TFLOP/s sustained and {args.gpu_step_ms:g} ms per step; measure "
          "them on the target GPU before relying on them.")
    return Estimate(args.preset, calibration, costs, n_jobs, core_seconds, wall, disk)


if __name__ == "__main__":
    main()
