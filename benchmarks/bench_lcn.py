"""Training-step cost of the batched LCN against a naive broadcast LCN, and its achieved matmul rate.

One SGD step (forward, cross-entropy backward, SGD with momentum 0.9 update) on the paper's instance
v = n_c = 10, s = 2, s0 = 2, L = 2 (d = 36), widths H = 512 and 256, batches 4 n_c = 40 and 1024.

- ours: `build_model("lcn", ...)` with one member (and, for reference, 8 members trained together);
- naive: the same parametrisation written as `x[:, None] * W` summed over patches, which materialises
  a [B, H, C_in, d_in] tensor per layer.

Every configuration runs in its own subprocess. Peak memory is the rise of the process's peak resident
set size (getrusage ru_maxrss) from just before the first step to the end: what the steps themselves
added on top of torch, the model and the data. The matmul rate of this machine is a large fp32 torch.mm
timed in the same way. Usage: python benchmarks/bench_lcn.py [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time

from isolated import in_subprocess

V = N_CLASSES = 10
S, S0, L = 2, 2, 2
K = S * (S0 + 1)
D = K**L
LEARNING_RATE = 0.01  # base lr of the paper's LCN, multiplied by H as in the authors' main_bs_S.py
STEPS = {40: 30, 1024: 6}
NAIVE_STEPS = {40: 10, 1024: 2}
MATMUL_SIZE = 4096


def naive_lcn(width: int):
    """The broadcast LCN: weights [C_out, C_in, d_in] per layer, pre-activation (x[:, None] * W) summed."""
    import torch
    from torch import nn

    class NaiveLayer(nn.Module):
        def __init__(self, c_in: int, c_out: int, d_in: int):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(c_out, c_in, d_in))
            self.bias = nn.Parameter(torch.randn(c_out, d_in // K))

        def forward(self, x):
            product = x[:, None] * self.weight  # [B, C_out, C_in, d_in]
            b, c_out, c_in, d_in = product.shape
            summed = product.view(b, c_out, c_in, d_in // K, K).sum(dim=(2, 4))
            return summed / c_in**0.5 + 0.1 * self.bias

    class NaiveLCN(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([NaiveLayer(V, width, D), NaiveLayer(width, width, D // K)])
            self.readout = nn.Parameter(torch.randn(width, N_CLASSES))

        def forward(self, x):
            for layer in self.layers:
                x = torch.relu(layer(x))
            return x[:, :, 0] @ self.readout / width

    return NaiveLCN()


def lcn_step_flops(batch: int, width: int, n_members: int) -> int:
    """Matmul flops of one step: forward, weight gradients, input gradients of layers above the first."""
    channels = [V, width]
    forward = [2 * batch * (D // K ** (l + 1)) * channels[l] * K * width for l in range(L)]
    readout = 2 * batch * width * N_CLASSES
    return n_members * (2 * sum(forward) + sum(forward[1:]) + 3 * readout)


def run_worker(impl: str, width: int, batch: int, n_members: int) -> dict:
    import torch
    import torch.nn.functional as F

    from srhm.models import build_model

    generator = torch.Generator().manual_seed(0)
    if impl == "naive":
        net = naive_lcn(width)
        x = torch.randn(batch, V, D, generator=generator)
        labels = torch.randint(N_CLASSES, (batch,), generator=generator)
        steps = NAIVE_STEPS[batch]

        def loss_fn():
            return F.cross_entropy(net(x), labels)
    else:
        net = build_model("lcn", v=V, n_classes=N_CLASSES, s=S, s0=S0, L=L, width=width,
                          init_seeds=tuple(range(n_members)))
        x = torch.randn(n_members, batch, V, D, generator=generator)
        labels = torch.randint(N_CLASSES, (n_members, batch), generator=generator)
        steps = STEPS[batch]

        def loss_fn():
            logits = net(x)
            return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="sum") / batch

    optimiser = torch.optim.SGD(net.parameters(), lr=LEARNING_RATE * width, momentum=0.9)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(steps + 1):  # the first step warms up and is not timed
        start = time.perf_counter()
        optimiser.zero_grad(set_to_none=True)
        loss_fn().backward()
        optimiser.step()
        times.append(time.perf_counter() - start)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": statistics.median(times[1:]), "peak_mib": (rss_after - rss_before) / 1024}


def run_matmul_worker() -> dict:
    import torch

    a, b = torch.randn(MATMUL_SIZE, MATMUL_SIZE), torch.randn(MATMUL_SIZE, MATMUL_SIZE)
    torch.mm(a, b)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return {"gflops": 2 * MATMUL_SIZE**3 / min(times) / 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.worker:
        if args.worker[0] == "matmul":
            print(json.dumps(run_matmul_worker()))
        else:
            impl, width, batch, n_members = args.worker[0], *map(int, args.worker[1:])
            print(json.dumps(run_worker(impl, width, batch, n_members)))
        return

    print(f"torch {torch.__version__}, {args.threads} threads, load average at start {os.getloadavg()[0]:.2f}")
    machine = in_subprocess(__file__, args.threads, "matmul")
    print(f"fp32 torch.mm {MATMUL_SIZE}x{MATMUL_SIZE}: {machine['gflops']:.1f} GFLOP/s\n")
    header = (f"{'H':>4} {'batch':>6} {'impl':>12} {'ms/step':>10} {'ms/member':>10} {'peak MiB':>9} "
              f"{'speed-up':>9} {'GFLOP/s':>8} {'of mm':>6}")
    print(header)
    print("-" * len(header))
    for width in (512, 256):
        for batch in (40, 1024):
            naive = in_subprocess(__file__, args.threads, "naive", str(width), str(batch), "1")
            ours = in_subprocess(__file__, args.threads, "ours", str(width), str(batch), "1")
            rows = [("naive", 1, naive), ("ours", 1, ours)]
            if batch == 40:
                rows.append(("ours E=8", 8, in_subprocess(__file__, args.threads, "ours", str(width), str(batch), "8")))
            for name, n_members, result in rows:
                if isinstance(result, str):
                    print(f"{width:>4} {batch:>6} {name:>12} {result}")
                    continue
                per_member = result["seconds"] / n_members
                speedup = (f"{naive['seconds'] / per_member:>8.1f}x"
                           if name != "naive" and not isinstance(naive, str) else f"{'':>9}")
                rate = f"{'':>8} {'':>6}"
                if name != "naive":
                    gflops = lcn_step_flops(batch, width, n_members) / result["seconds"] / 1e9
                    rate = f"{gflops:>8.1f} {gflops / machine['gflops']:>6.0%}"
                print(f"{width:>4} {batch:>6} {name:>12} {1e3 * result['seconds']:>10.2f} {1e3 * per_member:>10.2f} "
                      f"{result['peak_mib']:>9.0f} {speedup} {rate}")
    print(f"\nload average at end {os.getloadavg()[0]:.2f}; speed-up = naive ms/step over ours ms/member")


if __name__ == "__main__":
    main()
