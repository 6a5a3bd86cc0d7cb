"""How much a reduction of the paper's protocol moves P*: the "Reductions" table of the README.

Reads the runs of the width sweep of benchmarks/reductions.yaml at the paper's stopping rule (training
loss below 1e-3):

    snakemake --cores all --directory /tmp/reductions --configfile benchmarks/reductions.yaml \\
        -- $(python benchmarks/reductions.py --targets)
    python benchmarks/reductions.py /tmp/reductions/results [--loose /tmp/reductions_loose/results]

and prints, per instance, model and stopping rule: P* of the seed-averaged curve (interpolated at 10 %),
its 68 % seed-bootstrap interval, the per-seed P*, the shift from the paper's protocol (width 512, loss
1e-3) on the log scale, and that reference's seed noise (half the width of its 68 % interval, log scale).

The looser stopping rule (1e-2) is replayed from the same deterministic trajectories: a run stopped at
1e-2 follows its 1e-3 twin step for step up to the first epoch whose training loss is below 1e-2, so its
best test error is the best of the twin's evaluations up to that epoch (the replay misses only the one
evaluation a real run makes at its stop). `--loose` reads real runs at 1e-2 instead and prints both.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from srhm.io import read_json
from srhm.runs import collect_runs
from srhm.scaling import p_star_table

SWEEP = Path(__file__).with_name("reductions.yaml")
GROUP = ["arch", "v", "s", "L", "s0", "model", "width"]
REFERENCE_WIDTH = 512
LOOSE = 1e-2


def replayed_error(metrics: dict, loss_threshold: float) -> float:
    """Best test error a run stopped at `loss_threshold` would report, from its trajectory to a stricter one."""
    losses = np.asarray(metrics["curves"]["train_loss"])
    below = np.flatnonzero(losses < loss_threshold)
    stop = int(below[0]) + 1 if below.size else len(losses)
    seen = [error for epoch, error in zip(metrics["curves"]["eval_epoch"], metrics["curves"]["test_error"])
            if epoch <= stop]
    return min(seen) if seen else math.nan


def runs_table(results: Path, replay: float | None = None) -> pd.DataFrame:
    """Every run under results/runs, with its test error (replayed at `replay` when given)."""
    directories = sorted(str(path.parent) for path in Path(results).glob("runs/*/*/P*_seed*/metrics.json"))
    table = collect_runs(directories, "reductions")
    if replay is not None:
        table["test_error"] = [replayed_error(read_json(Path(d) / "metrics.json"), replay) for d in table["run"]]
    return table


def p_stars(table: pd.DataFrame, rule: str) -> pd.DataFrame:
    """P* of each (instance, model) with its 68 % seed-bootstrap interval and per-seed P*."""
    summary = p_star_table(table, GROUP, {"test_error": 0.1}, n_boot=2000).table
    per_seed = p_star_table(table.assign(run_seed=table["seed"]), [*GROUP, "run_seed"], {"test_error": 0.1},
                            n_boot=1).table
    summary["per_seed"] = [
        per_seed.loc[(per_seed[GROUP] == row[GROUP]).all(axis=1), "test_error_p_star"].round().tolist()
        for _, row in summary.iterrows()]
    summary["rule"] = rule
    summary["epochs"] = [table.loc[(table[GROUP] == row[GROUP]).all(axis=1), "epochs"].median()
                         for _, row in summary.iterrows()]
    return summary


def report(tables: list[pd.DataFrame]) -> str:
    """The Markdown table: shifts of log P* against the reference (width 512, loss 1e-3) of each instance."""
    rows = pd.concat(tables, ignore_index=True)
    lines = ["| instance | width | stop at loss | P* | 68 % interval | per seed | median epochs | shift "
             "log(P*/P*_ref) | seed noise of P*_ref (log) |", "|---|---|---|---|---|---|---|---|---|"]
    for instance, group in rows.groupby(["arch", "v", "s", "L", "s0"]):
        reference = group[(group["width"] == REFERENCE_WIDTH) & (group["rule"] == "1e-3")]
        ref = reference.iloc[0] if len(reference) else None
        noise = (math.log(ref["test_error_boot_hi68"] / ref["test_error_boot_lo68"]) / 2 if ref is not None
                 else math.nan)
        for _, row in group.sort_values(["rule", "width"], ascending=[False, True]).iterrows():
            shift = math.log(row["test_error_p_star"] / ref["test_error_p_star"]) if ref is not None else math.nan
            name = f"{instance[0].upper()} v={instance[1]} s={instance[2]} L={instance[3]} s0={instance[4]}"
            lines.append(f"| {name} | {row['width']} | {row['rule']} | {row['test_error_p_star']:.0f} | "
                         f"[{row['test_error_boot_lo68']:.0f}, {row['test_error_boot_hi68']:.0f}] | "
                         f"{row['per_seed']} | {row['epochs']:.0f} | {shift:+.3f} | {noise:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="?", help="results directory of the sweep at loss 1e-3")
    parser.add_argument("--loose", default=None, help="results directory of real runs stopped at loss 1e-2")
    parser.add_argument("--targets", action="store_true", help="print the workflow targets of the sweep and exit")
    args = parser.parse_args()
    if args.targets:
        print(" ".join(f"results/tables/{name}.csv" for name in yaml.safe_load(SWEEP.read_text())["experiments"]))
        return
    if args.results is None:
        parser.error("results is required (or --targets)")
    strict = runs_table(Path(args.results))
    tables = [p_stars(strict, "1e-3"), p_stars(runs_table(Path(args.results), replay=LOOSE), "1e-2 (replayed)")]
    if args.loose:
        tables.append(p_stars(runs_table(Path(args.loose)), "1e-2"))
    print(report(tables))


if __name__ == "__main__":
    main()
