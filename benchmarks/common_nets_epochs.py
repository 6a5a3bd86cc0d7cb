"""What an epoch cap leaves of a common net's training on the Fig. 1 instance (v = n_c = m = 10, s = L = s0 = 2):
trains one net with the workflow's protocol on the workflow's pool and, after every epoch, prints its training
loss, its test error, the seconds the epoch took and the sensitivities S and D (level 1) of its output and of its
hidden layer at 4/5 depth, measured on that epoch's weights as `srhm measure` does (README, "Reductions").

The pool is the workflow's (results/data/balanced/..._n{P + test_size}.npz, written by any run that trained the
Fig. 1 instance at this P, or by `python -m srhm dataset`), so the run at a given epoch is the run an epoch cap
there gives, up to its test error being the best of the evaluations every 10 epochs and at the stop.

Usage: python benchmarks/common_nets_epochs.py ARCH P EPOCHS [--results results] [--seed 0] [--threads 1]
       [--csv out.csv]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
from pathlib import Path

import pandas as pd

from srhm.data import SRHM, Batch
from srhm.defaults import PROBE_SIZE
from srhm.figures.common_nets import depth_layer
from srhm.models import build_model
from srhm.paths import pool_stem
from srhm.protocol import MemberSpec, TrainSpec
from srhm.sensitivity import measure_sensitivities
from srhm.train import EnsembleTrainer

INSTANCE = dict(v=10, n_classes=10, s=2, s0=2, L=2)
TEST_SIZE = 2000
DEPTH = 4 / 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("arch")
    parser.add_argument("P", type=int)
    parser.add_argument("epochs", type=int)
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--csv", type=Path, default=None)
    args = parser.parse_args()
    ds = SRHM(m=INSTANCE["v"], seed=args.seed, **INSTANCE)
    pool = args.results / "data" / "balanced" / f"{pool_stem(ds.name, args.P + TEST_SIZE)}.npz"
    spec = TrainSpec(arch=args.arch, **INSTANCE, n_test=TEST_SIZE, threads=args.threads, device="cpu",
                     members=[MemberSpec(pool=str(pool), P=args.P, seed=args.seed, out_dir="unused")],
                     max_epochs=args.epochs, eval_every=1, progress_every_s=1e9)
    with contextlib.redirect_stdout(io.StringIO()):
        trainer = EnsembleTrainer(spec)
    probe = Batch.load(pool)[0][:PROBE_SIZE]
    steps = -(-args.P // trainer.protocol.batch_size)
    rows = []
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            trainer.run(max_steps=steps)
        seconds = time.perf_counter() - start
        net = build_model(**spec.model_kwargs(), init_seeds=(0,))
        net.load_member_states([trainer.member_state(0)])
        table = measure_sensitivities(net, ds, probe, levels=1, encoding=spec.encoding, seed=ds.seed)
        n_hidden = len(net.hidden_layers)
        layers = {"out": n_hidden + 1, "deep": int(depth_layer(n_hidden, DEPTH))}
        record = trainer.state.records[0]
        row = {"arch": args.arch, "P": args.P, "epoch": epoch, "seconds": seconds, "train_loss": record.train_loss[-1],
               "test_error": record.test_error[-1], "deep_layer": layers["deep"]}
        for kind in ("S", "D"):
            for name, index in layers.items():
                row[f"{kind}_{name}"] = float(table[(table["kind"] == kind) & (table["layer_index"] == index)]["value"].iloc[0])
        rows.append(row)
        print(" ".join(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}" for key, value in row.items()),
              flush=True)
        if trainer.finished:
            break
    if args.csv:
        pd.DataFrame(rows).to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
