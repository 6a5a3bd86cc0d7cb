"""Training throughput of the lockstep ensemble: ms per step, samples/s, model GFLOP/s and the fraction of
the machine's float32 matmul rate they reach; optionally against training the same members one at a time.
Any architecture: the BatchNorm nets' members train stacked with torch.func (--width applies to LCN/CNN/FCN).

Default instance: v = n_c = m = 6, s = 2, L = 2, s0 = 1 (d = 16), width 256 (--width), the paper's batch of
4 n_c = 24 and lr table, 16 members = 8 log-spaced P values (100 to 5000) x 2 seeds (--seeds; seed 1 is
another grammar). --v, --s0, --points, --members pick another instance or ensemble size (e.g. the default
run's CNN at --v 4 --s0 2 --seeds 3 --points 5: 15 members). Each trainer runs `--steps` steps after
`--warmup` untimed ones, with the paper's evaluation every 10 epochs on `--n-test` test points, members
never stopping (loss threshold 0). Throughput counts the members' real samples (a partial last batch counts
its real rows); GFLOP/s counts the model's products (srhm.models.EnsembleNet.flops_per_sample, the rate
metrics.json records); the matmul rate is torch.mm of two 2048 x 2048 float32 matrices (on a GPU 8192),
median of 5, measured in the same process on the same threads. With --single, the same members are also
trained one at a time; with --profile, the ensemble's steps are profiled with torch.profiler. On a GPU
(--device cuda) the peak memory allocated is printed too.

Usage: python benchmarks/bench_train.py [--threads 2] [--width 256] [--steps 200] [--archs lcn cnn] [--single]
       [--profile] [--device cpu|cuda] [--members N] [--precision fp32|tf32|bf16]
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
from srhm.architectures import HIERARCHICAL
from srhm.paths import pool_stem
from srhm.protocol import MemberSpec, TrainSpec
from srhm.train import EnsembleTrainer, resolve_device


def make_pools(folder: Path, instance: dict, seeds: list[int], size: int) -> dict[int, str]:
    """One balanced pool of `size` samples per seed (grammar and sample stream), as the workflow's."""
    paths = {}
    for seed in seeds:
        ds = SRHM(m=instance["v"], seed=seed, **instance)
        paths[seed] = str(folder / f"{pool_stem(ds.name, size)}.npz")
        ds.sample(size, seed=seed, balanced=True).save(paths[seed], **ds.params, sampling="balanced")
    return paths


def matmul_rate(device: torch.device) -> float:
    """GFLOP/s of a float32 torch.mm of two n x n matrices (n = 2048, 8192 on a GPU), median of 5."""
    n = 8192 if device.type == "cuda" else 2048
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    times = []
    for _ in range(7):
        synchronize(device)
        start = time.perf_counter()
        a @ b
        synchronize(device)
        times.append(time.perf_counter() - start)
    return 2 * n**3 / float(np.median(times[2:])) / 1e9


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_run(spec: TrainSpec, warmup: int, steps: int) -> dict:
    """Seconds for `steps` steps after `warmup` steps, the real training samples and model FLOPs they took."""
    device = resolve_device(spec.device)
    with contextlib.redirect_stdout(io.StringIO()):
        trainer = EnsembleTrainer(spec)
        trainer.run(max_steps=warmup)
        before = samples_seen(trainer), trainer.state.flops.sum()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        synchronize(device)
        start = time.perf_counter()
        trainer.run(max_steps=steps)
        synchronize(device)
        elapsed = time.perf_counter() - start
    assert not trainer.finished, "a member stopped during the benchmark; lower --steps"
    return {"seconds": elapsed, "samples": samples_seen(trainer) - before[0],
            "flops": trainer.state.flops.sum() - before[1],
            "peak_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None}


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
    parser.add_argument("--v", type=int, default=6, help="v = n_c = m")
    parser.add_argument("--s0", type=int, default=1)
    parser.add_argument("--points", type=int, default=8, help="P values, log-spaced from 100 to 5000")
    parser.add_argument("--seeds", type=int, default=2, help="seeds (grammars) per P value")
    parser.add_argument("--members", type=int, default=None,
                        help="members instead of points x seeds: P values log-spaced over the members, seed 0")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--single", action="store_true", help="also train the members one at a time")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    instance = dict(v=args.v, n_classes=args.v, s=2, s0=args.s0, L=2)
    if args.members:
        P_values, seeds = np.geomspace(100, 5000, args.members).astype(int), [0] * args.members
    else:
        P_values = np.repeat(np.unique(np.geomspace(100, 5000, args.points).astype(int)), args.seeds)
        seeds = list(range(args.seeds)) * (len(P_values) // args.seeds)
    batch = 4 * args.v
    rate = matmul_rate(device)
    print(f"torch {torch.__version__} on {device}, {args.threads} threads; v = n_c = m = {args.v}, s0 = {args.s0}, "
          f"width {args.width}, batch {batch}, {args.precision}; {len(P_values)} members, P {sorted(set(P_values.tolist()))}; "
          f"{args.steps} timed steps; float32 matmul {rate:.0f} GFLOP/s")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pools = make_pools(folder, instance, sorted(set(seeds)), int(P_values.max()) + args.n_test)
        members = [MemberSpec(pool=pools[seed], P=int(P), seed=seed + 100 * i, out_dir=str(folder / f"m{i}"))
                   for i, (P, seed) in enumerate(zip(P_values, seeds))]

        def spec(arch: str, chosen: list[MemberSpec]) -> TrainSpec:
            width = args.width if arch in HIERARCHICAL else None  # the common nets' widths are fixed
            return TrainSpec(arch=arch, **instance, width=width, n_test=args.n_test, members=chosen,
                             threads=args.threads, device=args.device, progress_every_s=1e9, loss_threshold=1e-30,
                             max_epochs=10**9, precision=args.precision)

        for arch in args.archs:
            run = timed_run(spec(arch, members), args.warmup, args.steps)
            gflops = run["flops"] / run["seconds"] / 1e9
            line = (f"{arch}: ensemble of {len(members)}: {run['seconds'] / args.steps * 1e3:7.2f} ms/step, "
                    f"{run['samples'] / run['seconds']:9.0f} samples/s, {gflops:6.1f} GFLOP/s, "
                    f"{gflops / rate:5.1%} of the matmul rate")
            if run["peak_gib"] is not None:
                line += f", peak {run['peak_gib']:.2f} GiB"
            if args.single:
                single = [timed_run(spec(arch, [m]), args.warmup, args.steps) for m in members]
                single_s = sum(r["seconds"] for r in single)
                line += (f" | one at a time: {single_s / args.steps / len(members) * 1e3:6.2f} ms/step per member, "
                         f"{sum(r['samples'] for r in single) / single_s:8.0f} samples/s | speed-up "
                         f"{single_s / run['seconds']:5.2f}x")
            print(line, flush=True)
            if args.profile:
                profile(spec(arch, members), args.warmup, min(args.steps, 50))


if __name__ == "__main__":
    main()
