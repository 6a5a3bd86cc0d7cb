"""Speed and memory of SRHM sampling, on one core.

Prints samples/s and the peak of NumPy allocations (tracemalloc sees NumPy's buffers) relative to
the size of the output x, for the reference case of the performance target (10**6 distinct
samples of v=8, n_c=8, m=8, s=2, L=3, s0=2, sparsity A in <= 2 s), a sparsity-B case and an
s=3, L=3 case whose P_max exceeds 2**63 (rejection path).

    python benchmarks/bench_data.py [--n 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

import numpy as np

from srhm import SRHM

CASES = {
    "A  v8 s2 L3 s0=2": dict(v=8, n_classes=8, m=8, s=2, L=3, s0=2, sparsity="A"),
    "B  v8 s2 L3 s0=2": dict(v=8, n_classes=8, m=8, s=2, L=3, s0=2, sparsity="B"),
    "A  v4 s3 L3 s0=1": dict(v=4, n_classes=4, m=16, s=3, L=3, s0=1, sparsity="A"),
}


def measure(params: dict, n: int, repeats: int) -> tuple[float, float, int, str]:
    ds = SRHM(**params, seed=0)
    ds.sample(1000, seed=0)  # warm-up
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        batch = ds.sample(n, seed=r + 1)
        times.append(time.perf_counter() - start)
    out_bytes = batch.x.nbytes
    del batch
    tracemalloc.start()
    ds.sample(n, seed=99)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    path = "indices" if ds.P_max < 2**63 else "rejection"
    return min(times), peak, out_bytes, f"d={ds.d} P_max~{float(ds.P_max):.1e} ({path})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10**6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(f"numpy {np.__version__}, n = {args.n:,}, best of {args.repeats}, one core")
    print(f"{'case':<18} {'seconds':>8} {'samples/s':>12} {'peak MB':>9} {'x MB':>7}  notes")
    for name, params in CASES.items():
        seconds, peak, out_bytes, notes = measure(params, args.n, args.repeats)
        print(f"{name:<18} {seconds:8.2f} {args.n / seconds:12,.0f} {peak / 2**20:9.0f} {out_bytes / 2**20:7.0f}  {notes}")


if __name__ == "__main__":
    main()
