"""How far a change of protocol moves P*, instance by instance: the same experiments run with and without it.

The CNN's stopping loss in the default preset (README, "Reductions"): the default stops its scaling experiments'
CNN at a training loss of 3e-3; cnn_stop_paper.yaml runs them at the paper's 1e-3 and cnn_stop_loose.yaml at
1e-2 (about 9 and 4 minutes on 2 cores), and the default's own runs (in `results/`, already there after a
default run) are the third:

    targets=$(python benchmarks/pstar_shift.py --targets cnn_s2 cnn_curves cnn_s3 cnn_B)
    for stop in paper loose; do
        snakemake --cores all --directory /tmp/cnn_stop_$stop --configfile benchmarks/cnn_stop_$stop.yaml -- $targets
    done
    snakemake --cores all -- $targets
    python benchmarks/pstar_shift.py /tmp/cnn_stop_paper/results results /tmp/cnn_stop_loose/results \\
        --labels 1e-3 3e-3 1e-2 --experiments cnn_s2 cnn_curves cnn_s3 cnn_B --figure /tmp/cnn_stop.png

The first results folder is the reference. For each other folder, instance (a row of
results/tables/{experiment}_pstar.csv) and crossing that both measure (test error, S, D) it prints the shift
log(P*/P*_ref) beside the reference's seed noise, half the log-width of its 68 % seed-bootstrap interval ("—"
where a folder has no P* there); then, per folder and crossing, the geometric mean of P*/P*_ref with its range
and how many shifts exceed their noise; then each experiment's fit of P* against the prediction
(results/fits/{experiment}.json) and the training FLOPs and epochs of the folder's distinct runs of these
experiments. `--figure` draws the shifts with the noise as bars around zero.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd

from srhm.io import read_json

METRICS = ("test_error", "S", "D")
INSTANCE = ["arch", "v", "m", "s", "L", "s0", "sparsity"]


def shifts(reference: Path, other: Path, experiments: list[str]) -> pd.DataFrame:
    """One row per (experiment, instance, metric) where both folders have P*: P*_ref, P*, shift, noise (log).
    A crossing that either table does not measure (a column it lacks, or NaN) gives no row."""
    rows = []
    for experiment in experiments:
        ref = pd.read_csv(reference / "tables" / f"{experiment}_pstar.csv")
        new = pd.read_csv(other / "tables" / f"{experiment}_pstar.csv")
        both = ref.merge(new, on=INSTANCE, suffixes=("_ref", ""))
        measured = [metric for metric in METRICS if f"{metric}_p_star" in ref and f"{metric}_p_star" in new]
        for _, row in both.iterrows():
            for metric in measured:
                p_ref, p = row[f"{metric}_p_star_ref"], row[f"{metric}_p_star"]
                lo, hi = row[f"{metric}_boot_lo68_ref"], row[f"{metric}_boot_hi68_ref"]
                if not (np.isfinite(p_ref) and np.isfinite(p)):
                    continue
                rows.append({"experiment": experiment, "metric": metric, "P*_ref": p_ref, "P*": p,
                             "instance": f"v={row['v']} m={row['m']} s={row['s']} s0={row['s0']}",
                             "shift": math.log(p / p_ref), "noise": math.log(hi / lo) / 2})
    return pd.DataFrame(rows)


def markdown_table(table: pd.DataFrame, labels: list[str]) -> list[str]:
    """The shifts of `table` (rows of `shifts` with a "label" column) as Markdown lines: a row per experiment,
    instance and crossing, a column per label in `labels` ("—" where that label has no P*), then the noise."""
    lines = ["| experiment | instance | crossing | P*_ref | " + " | ".join(f"{label}: P*, shift" for label in labels)
             + " | noise |", "|---|---|---|---|" + "---|" * len(labels) + "---|"]
    for (experiment, instance, metric), group in table.groupby(["experiment", "instance", "metric"], sort=False):
        by_label = group.set_index("label")
        cells = [f"{by_label.at[label, 'P*']:.0f}, {by_label.at[label, 'shift']:+.3f}" if label in by_label.index
                 else "—" for label in labels]
        lines.append(f"| {experiment} | {instance} | {metric} | {group['P*_ref'].iloc[0]:.0f} | {' | '.join(cells)} | "
                     f"{group['noise'].iloc[0]:.3f} |")
    return lines


def fit_line(results: Path, experiment: str) -> str:
    """The fit of P* against the prediction: exponent and unit-slope prefactor with their 95 % intervals."""
    fit = (read_json(results / "fits" / f"{experiment}.json").get("fits") or {}).get("p_star_vs_prediction")
    if not fit or fit.get("slope") is None:
        return "no fit"
    lo, hi = fit["slope_ci95"]
    plo, phi = fit["unit_slope_prefactor_ci95"]
    return (f"exponent {fit['slope']:.3f} [{lo:.2f}, {hi:.2f}], prefactor {fit['unit_slope_prefactor']:.2f} "
            f"[{plo:.2f}, {phi:.2f}]")


def training_cost(results: Path, experiments: list[str]) -> tuple[float, int]:
    """(FLOPs, epochs) of training of the distinct runs of `experiments` (results/tables/{experiment}.csv)."""
    runs = pd.concat([pd.read_csv(results / "tables" / f"{experiment}.csv") for experiment in experiments])
    runs = runs.drop_duplicates("run")
    return float(runs["flops"].sum()), int(runs["epochs"].sum())


def missing_inputs(folders: list[Path], experiments: list[str]) -> list[str]:
    """The tables that the comparison reads and that are absent, as paths."""
    return [str(path) for folder in folders for experiment in experiments
            for path in (folder / "tables" / f"{experiment}_pstar.csv", folder / "tables" / f"{experiment}.csv")
            if not path.is_file()]


def draw(table: pd.DataFrame, reference: str, path: Path) -> None:
    """Shifts per instance (rows) and crossing (columns), one marker per folder, the seed noise as grey bars."""
    import matplotlib

    matplotlib.use("Agg")
    import seaborn as sns

    table = table.assign(instance=table["experiment"] + ": " + table["instance"])
    order = list(dict.fromkeys(table["instance"]))
    grid = sns.catplot(table, kind="strip", x="shift", y="instance", hue="label", col="metric", order=order,
                       col_order=[m for m in METRICS if m in set(table["metric"])], jitter=False,
                       height=0.3 * len(order) + 1.5, aspect=0.6)
    noise = table.drop_duplicates(["metric", "instance"]).set_index(["metric", "instance"])["noise"]
    for metric, ax in grid.axes_dict.items():
        for y, instance in enumerate(order):
            if (metric, instance) in noise.index:
                ax.plot([-noise[metric, instance], noise[metric, instance]], [y, y], color="0.75", lw=4, zorder=0)
        ax.axvline(0, color="0.4", lw=0.8)
    grid.set_axis_labels(f"log(P* / P* of {reference})", "")
    grid.set_titles("P* of {col_name}")
    grid.legend.set_title("run")
    grid.figure.suptitle(f"Shift of P* against {reference}; grey: its 68 % seed noise", y=1.01)
    grid.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="*", type=Path, help="results folders: the reference first")
    parser.add_argument("--experiments", nargs="+", default=[], help="the experiments to compare")
    parser.add_argument("--labels", nargs="+", help="a name per results folder (default: the folders)")
    parser.add_argument("--figure", type=Path, help="draw the shifts into this file (.png, .pdf)")
    parser.add_argument("--targets", nargs="+", metavar="EXPERIMENT",
                        help="print the workflow targets that these experiments' tables and fits need, and exit")
    args = parser.parse_args()
    if args.targets:
        print(" ".join(f"results/tables/{name}_pstar.csv" for name in args.targets))
        return
    if len(args.results) < 2 or not args.experiments:
        parser.error("give a reference and at least one other results folder, and --experiments")
    labels = args.labels or [str(path) for path in args.results]
    if len(labels) != len(args.results):
        parser.error(f"--labels: {len(labels)} names for {len(args.results)} results folders")
    missing = missing_inputs(args.results, args.experiments)
    if missing:
        parser.error(f"no such table: {', '.join(missing)} (a finished run's results folder holds "
                     "tables/{experiment}.csv and tables/{experiment}_pstar.csv)")
    reference, others = args.results[0], args.results[1:]
    table = pd.concat([shifts(reference, other, args.experiments).assign(label=label)
                       for other, label in zip(others, labels[1:])], ignore_index=True)
    if table.empty:
        raise SystemExit("no instance has P* in both the reference and another folder")

    print(f"shift log(P*/P*_ref) against {labels[0]} ({reference}); noise: half the log-width of its 68 % interval")
    print("\n".join(markdown_table(table, labels[1:])))
    print()
    for (label, metric), group in table.groupby(["label", "metric"], sort=False):
        beyond = int((group["shift"].abs() > group["noise"]).sum())
        low, high = math.exp(group["shift"].min()), math.exp(group["shift"].max())
        print(f"{label}, {metric}: geometric mean P*/P*_ref {math.exp(group['shift'].mean()):.3f} over {len(group)} "
              f"instances (range {low:.3f}-{high:.3f}), {beyond} beyond the noise (median noise "
              f"{group['noise'].median():.3f})")
    print()
    for results, label in zip(args.results, labels):
        for experiment in args.experiments:
            print(f"{label}, {experiment}: {fit_line(results, experiment)}")
        flops, epochs = training_cost(results, args.experiments)
        print(f"{label}: {flops / 1e12:.2f} TFLOP of training in {epochs} epochs")
    if args.figure:
        draw(table, labels[0], args.figure)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
