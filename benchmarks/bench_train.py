"""Training throughput of the lockstep ensemble against training the same members one at a time.

Instance: v = n_c = m = 6, s = 2, L = 2, s0 = 1 (d = 16), width 256 (--width), the paper's batch 4 n_c = 24 and
lr table, 16 members = 8 log-spaced P values x 2 seeds (two pools: seed 1 is another grammar).
Each trainer runs `--steps` steps after `--warmup` untimed steps, with the paper's evaluation every
10 epochs on `--n-test` test points. Throughput is training samples per second summed over members
(partial last batches count their real samples); the speed-up is the summed one-at-a-time time over
the ensemble time for the same number of steps per member. With --profile, the ensemble's steps are
also profiled with torch.profiler and the top operators printed.

Usage: python benchmarks/bench_train.py [--threads 2] [--width 256] [--steps 200] [--archs lcn cnn] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from srhm import SRHM
from srhm.paths import pool_stem
from srhm.protocol import MemberSpec, TrainSpec
from srhm.train import EnsembleTrainer

INSTANCE = dict(v=6, n_classes=6, s=2, s0=1, L=2)
M = 6
P_VALUES = np.unique(np.logspace(np.log10(100), np.log10(5000), 8).astype(int))
SEEDS = (0, 1)


def make_pools(folder: Path, n_test: int) -> dict[int, str]:
    paths = {}
    for seed in SEEDS:
        ds = SRHM(m=M, seed=seed, **INSTANCE)
        size = int(P_VALUES.max()) + n_test
        paths[seed] = str(folder / f"{pool_stem(ds.name, size)}.npz")
        ds.sample(size, seed=seed).save(paths[seed], **ds.params)
    return paths


def spec_for(arch: str, width: int, members: list[MemberSpec], n_test: int, threads: int) -> TrainSpec:
    return TrainSpec(arch=arch, **INSTANCE, width=width, n_test=n_test, members=members, threads=threads,
                     device="cpu", progress_every_s=1e9)


def timed_run(spec: TrainSpec, warmup: int, steps: int) -> tuple[float, int]:
    """Seconds for `steps` steps after `warmup` steps, and the training samples they processed."""
    with contextlib.redirect_stdout(io.StringIO()):
        trainer = EnsembleTrainer(spec)
        trainer.run(max_steps=warmup)
        before = samples_seen(trainer)
        start = time.perf_counter()
        trainer.run(max_steps=steps)
        elapsed = time.perf_counter() - start
    assert not trainer.finished, "a member stopped during the benchmark; lower --steps"
    return elapsed, samples_seen(trainer) - before


def samples_seen(trainer: EnsembleTrainer) -> int:
    """Training samples processed so far, over all members."""
    return int((trainer.state.epoch * trainer.P + trainer.state.cursor).sum())


def profile(spec: TrainSpec, warmup: int, steps: int) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        trainer = EnsembleTrainer(spec)
        trainer.run(max_steps=warmup)
        with torch.profiler.profile() as prof:
            trainer.run(max_steps=steps)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--archs", nargs="+", default=["lcn", "cnn"])
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads; P values {P_VALUES.tolist()} x seeds {SEEDS}, "
          f"width {args.width}, batch {4 * INSTANCE['n_classes']}, {args.steps} timed steps per member")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pools = make_pools(folder, args.n_test)
        members = [MemberSpec(pool=pools[seed], P=int(P), seed=seed, out_dir=str(folder / f"P{P}_seed{seed}"))
                   for P in P_VALUES for seed in SEEDS]
        for arch in args.archs:
            ensemble_s, ensemble_samples = timed_run(spec_for(arch, args.width, members, args.n_test, args.threads),
                                                     args.warmup, args.steps)
            single = [timed_run(spec_for(arch, args.width, [m], args.n_test, args.threads), args.warmup, args.steps)
                      for m in members]
            single_s, single_samples = sum(s for s, _ in single), sum(n for _, n in single)
            assert single_samples == ensemble_samples
            print(f"{arch}: ensemble of {len(members)}: {ensemble_s / args.steps * 1e3:7.2f} ms/step, "
                  f"{ensemble_samples / ensemble_s:9.0f} samples/s | one at a time: "
                  f"{single_s / args.steps / len(members) * 1e3:6.2f} ms/step per member, "
                  f"{single_samples / single_s:8.0f} samples/s | speed-up {single_s / ensemble_s:5.2f}x")
            if args.profile:
                profile(spec_for(arch, args.width, members, args.n_test, args.threads), args.warmup,
                        min(args.steps, 50))


if __name__ == "__main__":
    main()
