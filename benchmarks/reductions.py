"""How much a reduction of the paper's protocol moves P*: the "Reductions" table of the README.

Reads the runs of the width sweeps of benchmarks/reductions.yaml (stopped at the paper's training loss
1e-3) and benchmarks/reductions_loose.yaml (the same instances stopped at 1e-2):

    for sweep in reductions reductions_loose; do
        snakemake --cores all --directory /tmp/$sweep --configfile benchmarks/$sweep.yaml \\
            -- $(python benchmarks/reductions.py --targets benchmarks/$sweep.yaml)
    done
    python benchmarks/reductions.py /tmp/reductions/results /tmp/reductions_loose/results

and prints, per instance, width and stopping rule: P* of the seed-averaged curve (interpolated at 10 %),
its 68 % seed-bootstrap interval, the per-seed P*, the median number of epochs, the shift from the
paper's protocol (width 512, loss 1e-3) on the log scale, and that reference's seed noise (half the
width of its 68 % interval, log scale). A third results directory, the 1e-3 sweep run again with another
`train.precision` (e.g. bf16, on a machine that has it), adds its rows beside the fp32 ones. Both sweeps
take about 2 hours on 2 CPU cores, most of it the LCN at width 512.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd
import yaml

from srhm.runs import collect_runs
from srhm.scaling import p_star_table

GROUP = ["arch", "v", "s", "L", "s0", "model", "width", "precision"]
REFERENCE_WIDTH = 512


def runs_table(results: Path, rule: str) -> pd.DataFrame:
    """Every run under results/runs, labelled with its stopping `rule`."""
    directories = sorted(str(path.parent) for path in Path(results).glob("runs/*/*/P*_seed*/metrics.json"))
    return collect_runs(directories, "reductions").assign(rule=rule)


def p_stars(table: pd.DataFrame) -> pd.DataFrame:
    """P* of each (instance, model) with its 68 % seed-bootstrap interval, per-seed P* and median epochs."""
    summary = p_star_table(table, GROUP, {"test_error": 0.1}, n_boot=2000).table
    per_seed = p_star_table(table.assign(run_seed=table["seed"]), [*GROUP, "run_seed"], {"test_error": 0.1},
                            n_boot=1).table
    rows = []
    for _, row in summary.iterrows():
        same = (per_seed[GROUP] == row[GROUP]).all(axis=1)
        runs = table[(table[GROUP] == row[GROUP]).all(axis=1)]
        rows.append({**row, "per_seed": per_seed.loc[same, "test_error_p_star"].round().astype(int).tolist(),
                     "epochs": runs["epochs"].median(), "rule": runs["rule"].iloc[0]})
    return pd.DataFrame(rows)


def report(tables: list[pd.DataFrame]) -> str:
    """The Markdown table: shifts of log P* against the reference (width 512, loss 1e-3) of each instance."""
    rows = pd.concat(tables, ignore_index=True)
    lines = ["| instance | width | stop at loss | precision | P* | 68 % interval | per seed | median epochs | shift "
             "log(P*/P*_ref) | seed noise of P*_ref (log) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for instance, group in rows.groupby(["arch", "v", "s", "L", "s0"]):
        reference = group[(group["width"] == REFERENCE_WIDTH) & (group["rule"] == "1e-3") & (group["precision"] == "fp32")]
        ref = reference.iloc[0] if len(reference) else None
        noise = (math.log(ref["test_error_boot_hi68"] / ref["test_error_boot_lo68"]) / 2 if ref is not None
                 else math.nan)
        for _, row in group.sort_values(["precision", "rule", "width"], ascending=[False, False, True]).iterrows():
            shift = math.log(row["test_error_p_star"] / ref["test_error_p_star"]) if ref is not None else math.nan
            name = f"{instance[0].upper()} v={instance[1]} s={instance[2]} L={instance[3]} s0={instance[4]}"
            lines.append(f"| {name} | {row['width']} | {row['rule']} | {row['precision']} | {row['test_error_p_star']:.0f} | "
                         f"[{row['test_error_boot_lo68']:.0f}, {row['test_error_boot_hi68']:.0f}] | "
                         f"{row['per_seed']} | {row['epochs']:.0f} | {shift:+.3f} | {noise:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="*", help="results directories: the sweep at loss 1e-3, then at 1e-2, then "
                        "(optionally) the sweep at 1e-3 in another precision (train.precision)")
    parser.add_argument("--targets", metavar="SWEEP", help="print the workflow targets of a sweep config and exit")
    args = parser.parse_args()
    if args.targets:
        print(" ".join(f"results/tables/{name}.csv" for name in yaml.safe_load(Path(args.targets).read_text())["experiments"]))
        return
    if not args.results:
        parser.error("give the results directories of the sweeps (or --targets SWEEP)")
    rules = ("1e-3", "1e-2", "1e-3")
    print(report([p_stars(runs_table(Path(results), rule)) for results, rule in zip(args.results, rules)]))


if __name__ == "__main__":
    main()
