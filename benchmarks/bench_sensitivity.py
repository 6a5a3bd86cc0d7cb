"""Cost of one sensitivity measurement (every layer, levels 1..L, S and D) on the paper's instance.

Instance v = n_c = m = 10, s = 2, s0 = 2, L = 2 (d = 36), whitened inputs; networks untrained (the cost
does not depend on the weights):
- LCN and CNN, H = 512, ensembles of E = 1 and 4 members, probe sizes N = 1000 and 4000,
  chunk sizes 64, 256 and 1024 probe points per forward pass;
- VGG11 (BatchNorm, single member), N = 1000.

Each configuration runs in its own subprocess. Printed: wall seconds of `measure_sensitivities` (median
of 3 after a warm-up), the share spent drawing the transformed copies (`SRHM.resample`), and the peak
resident memory the measurement added (ru_maxrss after minus before), which chunk_size bounds.
Usage: python benchmarks/bench_sensitivity.py [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time

from isolated import in_subprocess

INSTANCE = dict(v=10, n_classes=10, m=10, s=2, L=2, s0=2)
REPEATS = 3
CONFIGS = [  # arch, members, N, chunk_size
    *[("lcn", 1, 1000, chunk) for chunk in (64, 256, 1024)],
    ("lcn", 4, 1000, 256), ("lcn", 1, 4000, 256), ("lcn", 4, 4000, 256),
    ("cnn", 1, 1000, 256), ("cnn", 4, 1000, 256),
    ("vgg11", 1, 1000, 256),
]


def run_worker(arch: str, n_members: int, n_probe: int, chunk_size: int) -> dict:
    from srhm.data import SRHM
    from srhm.models import build_model
    from srhm.sensitivity import measure_sensitivities

    ds = SRHM(**INSTANCE)
    probe = ds.sample(n_probe, seed=1)
    shape = {key: INSTANCE[key] for key in ("v", "n_classes", "s", "s0", "L")}
    if arch == "vgg11":
        net = build_model(arch, **shape)
    else:
        net = build_model(arch, **shape, width=512, init_seeds=tuple(range(n_members)))
    resample_start = time.perf_counter()
    for kind in ("synonym", "diffeo"):
        for level in range(1, ds.L + 1):
            ds.resample(probe, kind, level, seed=0)
    resample_seconds = time.perf_counter() - resample_start
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(REPEATS + 1):  # the first run warms up and is not timed
        start = time.perf_counter()
        measure_sensitivities(net, ds, probe, chunk_size=chunk_size)
        times.append(time.perf_counter() - start)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds = statistics.median(times[1:])
    return {"seconds": seconds, "resample_share": resample_seconds / seconds,
            "peak_mib": (rss_after - rss_before) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.worker:
        arch, n_members, n_probe, chunk_size = args.worker[0], *map(int, args.worker[1:])
        print(json.dumps(run_worker(arch, n_members, n_probe, chunk_size)))
        return

    print(f"torch {torch.__version__}, {args.threads} threads, load average at start {os.getloadavg()[0]:.2f}")
    header = (f"{'arch':>6} {'E':>2} {'N':>5} {'chunk':>5} {'seconds':>8} {'ms/point/member':>15} {'resample':>8} "
              f"{'peak MiB':>8}")
    print(header)
    print("-" * len(header))
    for arch, n_members, n_probe, chunk_size in CONFIGS:
        result = in_subprocess(__file__, args.threads, arch, str(n_members), str(n_probe), str(chunk_size))
        prefix = f"{arch:>6} {n_members:>2} {n_probe:>5} {chunk_size:>5}"
        if isinstance(result, str):
            print(f"{prefix} {result}")
            continue
        per_point = 1e3 * result["seconds"] / (n_probe * n_members)
        print(f"{prefix} {result['seconds']:>8.2f} {per_point:>15.3f} {result['resample_share']:>8.0%} "
              f"{result['peak_mib']:>8.0f}")
    print(f"\nload average at end {os.getloadavg()[0]:.2f}; each probe point is evaluated 1 + 2L = 5 times in the "
          "main pass plus once in the pass for the layer means")


if __name__ == "__main__":
    main()
