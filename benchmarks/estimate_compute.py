"""Estimate the training compute of a preset (the paper's by default) from its plan.

For every run of the plan: SGD steps = epochs x ceil(P / batch), with the epochs to stop taken per
architecture from a finished results directory (the median epochs of its runs, scaled by --epoch-factor
for a stricter stopping threshold), and FLOPs per step counted by torch's FlopCounterMode on one
forward and backward pass of the run's network; test evaluations (forward only, every eval_every
epochs on the test set) are added. Ensembles step in lockstep, so a training job takes as many steps
as its slowest member, each costing at least a fixed per-step overhead.

Time = sum over jobs of max(FLOPs / rate, steps x overhead). The CPU rate and overhead are measured
here (one LCN ensemble); the GPU figures are assumptions (--gpu-tflops, --gpu-step-ms), to be
replaced by a measurement on the target GPU.

    python benchmarks/estimate_compute.py --preset paper --calibrate results
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections import defaultdict
from pathlib import Path

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from srhm.config import resolve
from srhm.io import read_json
from srhm.models import build_model
from srhm.plan import Ensemble, Plan, train_spec
from srhm.protocol import TrainSpec


def flops_per_sample(kwargs: dict) -> tuple[float, float]:
    """(forward + backward, forward) FLOPs per training sample of a 1-member network."""
    net = build_model(**kwargs, init_seeds=(0,))
    x = torch.randn(1, 8, kwargs["v"], (kwargs["s"] * (kwargs["s0"] + 1)) ** kwargs["L"])
    with FlopCounterMode(display=False) as forward:
        logits = net(x)
    with FlopCounterMode(display=False) as backward:
        logits.sum().backward()
    return (forward.get_total_flops() + backward.get_total_flops()) / 8, forward.get_total_flops() / 8


def calibrated_epochs(results: Path) -> dict[str, float]:
    """Median epochs to stop per architecture among the runs of a finished results directory."""
    epochs = defaultdict(list)
    for path in results.glob("runs/*/*/*/metrics.json"):
        metrics = read_json(path)
        epochs[metrics["arch"]].append(metrics["epochs"])
    return {arch: statistics.median(values) for arch, values in epochs.items()}


def ensemble_cost(ensemble: Ensemble, spec: TrainSpec, epochs: float, flops: dict) -> tuple[float, int]:
    """(FLOPs, lockstep steps) of one training job."""
    protocol = spec.protocol()
    train, forward = flops[tuple(sorted(spec.model_kwargs().items()))]
    total, steps = 0.0, 0
    for run in ensemble.runs:
        run_epochs = min(epochs, protocol.max_epochs)
        run_steps = math.ceil(run_epochs * math.ceil(run.P / protocol.batch_size))
        evaluations = run_epochs / protocol.eval_every
        total += run_steps * protocol.batch_size * train + evaluations * spec.n_test * forward
        steps = max(steps, run_steps)
    return total, steps


def cpu_rate() -> tuple[float, float]:
    """(FLOP/s, seconds of overhead per step) of an LCN ensemble step on this machine."""
    times = {}
    for width in (16, 256):
        net = build_model("lcn", v=6, n_classes=6, s=2, s0=1, L=2, width=width, init_seeds=tuple(range(8)))
        optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        x, y = torch.randn(8, 24, 6, 16), torch.randint(6, (8, 24))
        for _ in range(5):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(x).flatten(0, 1), y.flatten()).backward()
            optimizer.step()
        start = time.perf_counter()
        for _ in range(50):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(x).flatten(0, 1), y.flatten()).backward()
            optimizer.step()
        train, _ = flops_per_sample(dict(arch="lcn", v=6, n_classes=6, s=2, s0=1, L=2, width=width, bias=True))
        times[width] = ((time.perf_counter() - start) / 50, 8 * 24 * train)
    (t_small, f_small), (t_big, f_big) = times[16], times[256]
    rate = (f_big - f_small) / max(t_big - t_small, 1e-9)
    return rate, max(t_small - f_small / rate, 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--calibrate", type=Path, default=Path("results"), help="finished results directory")
    parser.add_argument("--epoch-factor", type=float, default=2.0,
                        help="epochs multiplier for the preset's stopping rule against the calibration run's")
    parser.add_argument("--gpu-tflops", type=float, default=10.0, help="assumed sustained fp32 TFLOP/s on a GPU")
    parser.add_argument("--gpu-step-ms", type=float, default=1.5, help="assumed overhead per lockstep step on a GPU")
    args = parser.parse_args()
    torch.set_num_threads(1)

    base = yaml.safe_load(Path("config.yaml").read_text())
    config = resolve(dict(base, preset=args.preset), {"preset": args.preset})
    plan = Plan.from_config(config)
    measured = calibrated_epochs(args.calibrate)
    if not measured:
        raise SystemExit(f"no metrics.json under {args.calibrate}/runs: run the default workflow first")
    fallback = statistics.median(measured.values())
    specs, flops = {}, {}
    for ensemble in plan.ensembles.values():
        spec = TrainSpec.from_dict(train_spec(ensemble, config, "results"))
        key = tuple(sorted(spec.model_kwargs().items()))
        if key not in flops:
            flops[key] = flops_per_sample(spec.model_kwargs())
        specs[ensemble.id] = spec
    rate, overhead = cpu_rate()
    totals = defaultdict(lambda: [0.0, 0, 0.0, 0.0])  # arch -> FLOPs, steps, cpu s, gpu s
    for ensemble in plan.ensembles.values():
        epochs = measured.get(ensemble.arch, fallback) * args.epoch_factor
        flop, steps = ensemble_cost(ensemble, specs[ensemble.id], epochs, flops)
        total = totals[ensemble.arch]
        total[0] += flop
        total[1] += steps
        total[2] += max(flop / rate, steps * overhead)
        total[3] += max(flop / (args.gpu_tflops * 1e12), steps * args.gpu_step_ms / 1e3)
    print(f"preset {args.preset}: {sum(len(e.runs) for e in plan.ensembles.values())} runs in "
          f"{len(plan.ensembles)} training jobs")
    print(f"epochs per run (median of {args.calibrate}, x{args.epoch_factor}): "
          + ", ".join(f"{arch} {value * args.epoch_factor:.0f}" for arch, value in sorted(measured.items())))
    print(f"this CPU, 1 thread: {rate / 1e9:.1f} GFLOP/s sustained, {overhead * 1e3:.2f} ms overhead per step")
    print(f"{'arch':<16}{'PFLOP':>10}{'steps':>14}{'CPU-hours':>12}{'GPU-hours':>12}")
    for arch, (flop, steps, cpu, gpu) in sorted(totals.items()):
        print(f"{arch:<16}{flop / 1e15:10.1f}{steps:14,d}{cpu / 3600:12.0f}{gpu / 3600:12.1f}")
    flop, steps, cpu, gpu = (sum(t[i] for t in totals.values()) for i in range(4))
    print(f"{'total':<16}{flop / 1e15:10.1f}{steps:14,d}{cpu / 3600:12.0f}{gpu / 3600:12.1f}")
    print(f"GPU-hours assume {args.gpu_tflops} TFLOP/s sustained and {args.gpu_step_ms} ms per step; "
          "measure them on the target GPU before relying on this figure.")


if __name__ == "__main__":
    main()
