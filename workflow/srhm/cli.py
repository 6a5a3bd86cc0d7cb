"""`srhm <verb>` (or `python -m srhm <verb>`): the operations the workflow rules run, usable by hand.

    srhm dataset v8_nc8_m8_s2_L3_s02_A_seed0 --size 20000 --out results/data/v8_nc8_m8_s2_L3_s02_A_seed0.npz
    srhm train --spec spec.json
    srhm measure RUN_DIR... --probe-size 1000
    srhm collect RUN_DIR... --experiment lcn_s2 --out results/tables/lcn_s2.csv
    srhm analyse results/tables/lcn_s2.csv --pstar results/tables/lcn_s2_pstar.csv --fits results/fits/lcn_s2.json
    srhm report --config "$(cat config.json)" --out results/report.md
    srhm figure fig06 --settings '{"experiments": ["lcn_s2"]}' --results results --out results/figures/fig06.pdf
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from srhm.data import SRHM
from srhm.io import write_csv, write_json


def dataset(args: argparse.Namespace) -> None:
    """Sample the pool of one dataset: `size` distinct samples (train prefixes, test tail)."""
    ds = SRHM.from_name(args.name)
    start = time.perf_counter()
    pool = ds.sample(args.size, seed=ds.seed)
    pool.save(args.out, **ds.params, **{f"rules_{g}": rules for g, rules in enumerate(ds.rules)})
    print(f"{ds.name}: {args.size} distinct samples of d={ds.d} (P_max={ds.P_max}) "
          f"in {time.perf_counter() - start:.2f} s -> {args.out}")


def train(args: argparse.Namespace) -> None:
    """Train one ensemble described by a JSON train spec (a file path or the JSON text itself)."""
    from srhm.protocol import TrainSpec
    from srhm.train import train_ensemble

    text = args.spec if args.spec.lstrip().startswith("{") else Path(args.spec).read_text()
    spec = TrainSpec.from_dict(json.loads(text))
    for metrics in train_ensemble(spec):
        print(f"{metrics['out_dir']}: best test error {metrics['best_test_error']:.4f}, "
              f"final {metrics['final_test_error']:.4f} after {metrics['epochs']} epochs ({metrics['stop_reason']})")


def measure(args: argparse.Namespace) -> None:
    """Measure S_{k,l} and D_{k,l} of trained runs; writes sensitivity.csv into each run directory."""
    import torch

    from srhm.runs import measure_runs

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    measure_runs(args.runs, probe_size=args.probe_size, weights=args.weights, distinct=args.distinct)
    print(f"measured {len(args.runs)} runs in {time.perf_counter() - start:.1f} s")


def collect(args: argparse.Namespace) -> None:
    """Collect runs into one tidy table (one row per run)."""
    from srhm.runs import collect_runs

    table = collect_runs(args.runs, args.experiment, error_convention=args.error_convention)
    write_csv(args.out, table)
    print(f"{args.experiment}: {len(table)} runs -> {args.out}")


def analyse(args: argparse.Namespace) -> None:
    """Sample complexities (P*, P*_S, P*_D with bootstrap intervals) and scaling fits of one table."""
    import pandas as pd

    from srhm.analysis import sample_complexities, scaling_fits

    runs = pd.read_csv(args.table)
    table = sample_complexities(runs, eps_star=args.eps_star, n_boot=args.bootstrap)
    fits = scaling_fits(table, n_boot=args.bootstrap)
    write_csv(args.pstar, table)
    write_json(args.fits, {"table": str(args.table), "eps_star": args.eps_star, "fits": fits})
    for name, fit in fits.items():
        print(f"{name}: slope {fit['slope']} (95% CI {fit['slope_ci95']}), prefactor {fit['prefactor']}")


def report(args: argparse.Namespace) -> None:
    """Write the reproduction report (each paper claim beside what was measured) as Markdown."""
    from srhm.config import resolve
    from srhm.io import atomic_path
    from srhm.report import markdown

    config = resolve(json.loads(args.config))
    with atomic_path(args.out) as tmp:
        tmp.write_text(markdown(config, Path(args.results)))
    print(f"report -> {args.out}")


def figure(args: argparse.Namespace) -> None:
    """Draw one paper figure from the result tables: its PDF, a PNG and a Markdown caption beside it."""
    import matplotlib

    matplotlib.use("Agg")
    from srhm.figures import render

    text = args.settings if args.settings.lstrip().startswith("{") else Path(args.settings).read_text()
    start = time.perf_counter()
    paths = render(args.name, json.loads(text), args.results, args.out)
    print(f"{args.name} -> {', '.join(map(str, paths))} in {time.perf_counter() - start:.1f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="srhm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)

    p = verbs.add_parser("dataset", help=dataset.__doc__)
    p.add_argument("name", help="dataset id, e.g. v8_nc8_m8_s2_L3_s02_A_seed0 (the seed is the grammar and sample seed)")
    p.add_argument("--size", type=int, required=True, help="number of distinct samples in the pool")
    p.add_argument("--out", required=True, help="output .npz path")
    p.set_defaults(run=dataset)

    p = verbs.add_parser("train", help=train.__doc__)
    p.add_argument("--spec", required=True, help="train spec: a JSON file or JSON text (srhm.protocol.TrainSpec)")
    p.set_defaults(run=train)

    p = verbs.add_parser("measure", help=measure.__doc__)
    p.add_argument("runs", nargs="+", help="run directories (model.pt, metrics.json)")
    p.add_argument("--probe-size", type=int, default=1000, help="base points: the head of each test set")
    p.add_argument("--weights", choices=("best", "final"), default="best", help="which saved weights to measure")
    p.add_argument("--distinct", action="store_true", help="force every redrawn synonym/position to change")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.set_defaults(run=measure)

    p = verbs.add_parser("collect", help=collect.__doc__)
    p.add_argument("runs", nargs="+", help="run directories (metrics.json, sensitivity.csv)")
    p.add_argument("--experiment", required=True, help="experiment name written in the table")
    p.add_argument("--error-convention", choices=("best", "final"), default="best",
                   help="which test error the test_error column holds")
    p.add_argument("--out", required=True, help="output CSV")
    p.set_defaults(run=collect)

    p = verbs.add_parser("analyse", help=analyse.__doc__)
    p.add_argument("table", help="run table written by `srhm collect`")
    p.add_argument("--eps-star", type=float, default=0.1, help="test-error threshold of P*")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--pstar", required=True, help="output CSV of sample complexities")
    p.add_argument("--fits", required=True, help="output JSON of scaling fits")
    p.set_defaults(run=analyse)

    p = verbs.add_parser("report", help=report.__doc__)
    p.add_argument("--config", required=True, help="the workflow config as JSON (resolved; presets applied)")
    p.add_argument("--results", default="results", help="results directory")
    p.add_argument("--out", required=True, help="output Markdown file")
    p.set_defaults(run=report)

    p = verbs.add_parser("figure", help=figure.__doc__)
    p.add_argument("name", help="paper figure, e.g. fig04 (srhm.figures.FIGURES)")
    p.add_argument("--settings", default="{}", help="the figure's entry of config['figures']: JSON text or a JSON file")
    p.add_argument("--results", default="results", help="results directory (tables/ under it)")
    p.add_argument("--out", required=True, help="output PDF; the .png and .md are written beside it")
    p.set_defaults(run=figure)

    args = parser.parse_args(argv)
    try:
        args.run(args)
    except ValueError as error:
        parser.exit(2, f"srhm {args.verb}: error: {error}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
