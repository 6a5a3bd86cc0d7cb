"""`srhm <verb>` (or `python -m srhm <verb>`): the operations the workflow rules run, usable by hand.

    srhm dataset v8_nc8_m8_s2_L3_s02_A_seed0 --size 20000 --out results/data/balanced/v8_nc8_m8_s2_L3_s02_A_seed0.npz
    srhm train --spec spec.json                   (--measure: then measure the runs, as srhm measure)
    srhm measure RUN_DIR... --probe-size 1000
    srhm search --spec search.json --round 1 --previous round0.json --out round1.json
    srhm collect RUN_DIR... --experiment lcn_s2 --out results/tables/lcn_s2.csv
    srhm analyse results/tables/lcn_s2.csv --pstar results/tables/lcn_s2_pstar.csv --fits results/fits/lcn_s2.json
    srhm report --config "$(cat config.json)" --out results/report.md --html results/report.html
    srhm figure fig06 --settings '{"experiments": ["lcn_s2"]}' --results results --out results/figures/fig06.pdf
    srhm cifar train --data cifar-10-batches-py --net resnet18 --size 512 --epochs 250 --out results/cifar/r18
    srhm cifar measure results/cifar/r18 --data cifar-10-batches-py
    srhm cifar collect results/cifar/*/P*_seed* --out results/tables/cifar_stability.csv
    srhm cifar digitised --out results/tables/cifar_stability_digitised.csv
    srhm authors --notebooks sparse_hierarchy_model --out workflow/data/authors_measurements.csv
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import srhm
from srhm.data import SRHM
from srhm.defaults import N_BOOT, PROBE_SIZE
from srhm.io import write_csv, write_json
from srhm.theory import EPS_STAR


def dataset(args: argparse.Namespace) -> None:
    """Sample the pool of one dataset: `size` distinct samples (test head, then nested training prefixes)."""
    ds = SRHM.from_name(args.name)
    start = time.perf_counter()
    pool = ds.sample(args.size, seed=ds.seed, balanced=args.sampling == "balanced")
    pool.save(args.out, **ds.params, sampling=args.sampling,
              **{f"rules_{g}": rules for g, rules in enumerate(ds.rules)})
    print(f"{ds.name}: {args.size} distinct {args.sampling} samples of d={ds.d} (P_max={ds.P_max}) "
          f"in {time.perf_counter() - start:.2f} s -> {args.out}")


def train(args: argparse.Namespace) -> None:
    """Train one ensemble described by a JSON train spec (a file path or the JSON text itself)."""
    from srhm.devices import job_device
    from srhm.protocol import TrainSpec
    from srhm.train import train_ensemble, untrained

    runtime = {"device": args.device, "threads": args.threads, "checkpoint": args.checkpoint,
               "checkpoint_every_s": args.checkpoint_every}
    spec = TrainSpec.from_dict({**_json_argument("--spec", args.spec),
                                **{k: v for k, v in runtime.items() if v is not None}})
    device = job_device(spec.device)  # fails here, before any data, without CUDA
    if device != spec.device:
        print(f"device {spec.device!r} chose {device}", flush=True)
    spec = dataclasses.replace(spec, device=device)
    left = untrained(spec) if args.keep_trained else spec
    if args.keep_trained:
        print(f"{len(spec.members) - (len(left.members) if left else 0)} of {len(spec.members)} members trained "
              "already (--keep-trained)", flush=True)
    for metrics in train_ensemble(left) if left is not None else ():
        print(f"{metrics['out_dir']}: best test error {metrics['best_test_error']:.4f}, "
              f"final {metrics['final_test_error']:.4f} after {metrics['epochs']} epochs ({metrics['stop_reason']})")
    if args.measure:  # in this process: a P* search's round saves the start-up of a measuring job
        if spec.threads is not None:
            import torch

            torch.set_num_threads(spec.threads)
        _measure([member.out_dir for member in spec.members], args, device)


def measure(args: argparse.Namespace) -> None:
    """Measure S_{k,l} and D_{k,l} of trained runs; writes sensitivity.csv into each run directory."""
    import torch

    torch.set_num_threads(args.threads)
    _measure(args.runs, args, args.device)


def _measure(runs: list[str], args: argparse.Namespace, device: str) -> None:
    """measure_runs on `runs` with the measuring options (_measure_options) of `args`."""
    from srhm.runs import measure_runs

    start = time.perf_counter()
    measure_runs(runs, probe_size=args.probe_size, weights=args.weights, distinct=args.distinct, device=device)
    print(f"measured {len(runs)} runs in {time.perf_counter() - start:.1f} s")


def search(args: argparse.Namespace) -> None:
    """Plan one round of a P* search: the P to train next, from the runs of the rounds before (srhm.search)."""
    from srhm.io import read_json
    from srhm.runs import collect_runs
    from srhm.search import finished, run_dirs, run_round, searched

    spec = _json_argument("--spec", args.spec)
    if args.finished is not None:
        result = finished(spec, read_json(args.finished))
        write_json(args.out, result)
        print(f"{result['search']}: {len(result['runs'])} runs in {result['rounds']} training rounds -> {args.out}")
        return
    if args.round is None:
        raise ValueError("--round is required unless --finished is given")
    previous = None if args.previous is None else read_json(args.previous)
    dirs = run_dirs(spec, searched(previous))
    plan = run_round(spec, args.round, previous, collect_runs(dirs, spec["id"], spec["error_convention"]) if dirs
                     else None)
    write_json(args.out, plan)
    statuses = ", ".join(f"{metric} {entry['status'] or 'searching'}" + (f" in {entry['bracket']}" if entry["bracket"]
                         else "") for metric, entry in plan["metrics"].items())
    print(f"{plan['search']} round {plan['round']}: {'done' if plan['done'] else 'trains P = ' + str(plan['train'])}"
          f" ({statuses})")


def collect(args: argparse.Namespace) -> None:
    """Collect runs into one tidy table (one row per run)."""
    from srhm.io import read_json
    from srhm.runs import collect_runs

    runs = list(dict.fromkeys([*args.runs, *(run for path in args.searches for run in read_json(path)["runs"])]))
    if not runs:
        raise ValueError("no runs to collect: give run directories or --searches")
    table = collect_runs(runs, args.experiment, error_convention=args.error_convention)
    write_csv(args.out, table)
    print(f"{args.experiment}: {len(table)} runs -> {args.out}")


def analyse(args: argparse.Namespace) -> None:
    """Sample complexities (P*, P*_S, P*_D with bootstrap intervals) and scaling fits of one table."""
    import pandas as pd

    from srhm.analysis import sample_complexities, scaling_fits

    try:
        runs = pd.read_csv(args.table)
    except ValueError as error:  # pandas' parse errors
        raise ValueError(f"{args.table}: not a readable run table ({error}); `srhm collect` writes one") from None
    complexities = sample_complexities(runs, eps_star=args.eps_star, n_boot=args.bootstrap)
    fits = scaling_fits(complexities)
    write_csv(args.pstar, complexities.table)
    write_json(args.fits, {"table": str(args.table), "eps_star": args.eps_star, "fits": fits})
    for name, fit in fits.items():
        print(f"{name}: slope {fit['slope']} (95% CI {fit['slope_ci95']}, {fit['ci_method']}; "
              f"least-squares s.e. {fit['slope_se']}), prefactor {fit['prefactor']} ({fit['flag']})")


def report(args: argparse.Namespace) -> None:
    """Write the reproduction report (each paper claim beside what was measured) as Markdown, and as an HTML page."""
    from srhm.config import validate
    from srhm.io import atomic_path
    from srhm.pages import html_page
    from srhm.report import markdown

    config = _json_argument("--config", args.config)
    validate(config)
    text = markdown(config, Path(args.results))
    with atomic_path(args.out) as tmp:
        tmp.write_text(text)
    if args.html is not None:
        with atomic_path(args.html) as tmp:
            tmp.write_text(html_page(text, "srhm-repro: reproduction report"))
    print(f"report -> {', '.join(filter(None, (args.out, args.html)))}")


def figure(args: argparse.Namespace) -> None:
    """Draw one paper figure from the result tables: its PDF, a PNG and a Markdown caption beside it."""
    import matplotlib

    matplotlib.use("Agg")
    from srhm.figures import render

    settings = _json_argument("--settings", args.settings)
    start = time.perf_counter()
    paths = render(args.name, settings, args.results, args.out)
    print(f"{args.name} -> {', '.join(map(str, paths))} in {time.perf_counter() - start:.1f} s")


def cifar_train(args: argparse.Namespace) -> None:
    """Train one network on a local CIFAR-10 copy (Fig. 1A-B); writes model.pt, metrics.json, train.log."""
    import torch

    from srhm.cifar.runs import train_run
    from srhm.cifar.settings import TrainSettings
    from srhm.devices import job_device

    device = job_device(args.device)
    settings = TrainSettings(net=args.net, P=args.size, seed=args.seed, epochs=args.epochs, batch_size=args.batch_size,
                             lr=args.lr, augment=not args.no_augment, evaluations=args.evaluations,
                             test_size=args.test_size, rescale_epochs=args.rescale_epochs)
    torch.set_num_threads(args.threads)
    metrics = train_run(settings, args.data, args.out, device=device)
    print(f"{args.out}: best test error {metrics['best_test_error']:.4f} at epoch {metrics['best_epoch']} "
          f"of {metrics['total_epochs']} ({metrics['wall_time']:.1f} s)")


def cifar_measure(args: argparse.Namespace) -> None:
    """Relative stability D_f, G_f, R_f of trained CIFAR-10 runs; writes stability.json into each."""
    import torch

    from srhm.cifar.runs import measure_run
    from srhm.cifar.settings import ProbeSettings

    torch.set_num_threads(args.threads)
    for run_dir in args.runs:
        probe = ProbeSettings(cut=args.cut, delta=args.delta, n_probe=args.n_probe)
        result = measure_run(run_dir, args.data, probe, device=args.device)
        print(f"{run_dir}: D_f {result['diffeo_sensitivity']:.4g}, G_f {result['noise_sensitivity']:.4g}, "
              f"R_f {result['relative_sensitivity']:.4g}")


def cifar_collect(args: argparse.Namespace) -> None:
    """Collect measured CIFAR-10 runs into the stability table (source "measured")."""
    from srhm.cifar.runs import collect_runs

    table = collect_runs(args.runs)
    write_csv(args.out, table)
    print(f"{len(table)} CIFAR-10 runs -> {args.out}")


def cifar_digitised(args: argparse.Namespace) -> None:
    """Check the digitised published table and copy it to the results (source "digitised")."""
    from srhm.cifar.runs import digitised_table
    from srhm.cifar.tables import DIGITISED_DATA

    data_file = args.data_file or DIGITISED_DATA
    table = digitised_table(data_file)
    write_csv(args.out, table)
    print(f"{len(table)} digitised points from {data_file} -> {args.out}")


def authors(args: argparse.Namespace) -> None:
    """Table of the authors' printed measurements (srhm.authors): built from a copy of their notebooks, or,
    without --notebooks, the committed table checked and copied (stale repeats kept, flagged)."""
    from srhm.authors import DATA, load_authors_measurements, parse_notebooks

    table = parse_notebooks(args.notebooks) if args.notebooks else load_authors_measurements(include_stale=True)
    write_csv(args.out, table)
    print(f"{len(table)} rows from {args.notebooks or DATA} -> {args.out}")


def _json_argument(option: str, value: str):
    """The JSON an option gives: its text where it starts with "{", else the file it names. ValueError naming
    the option, and the file, when it is not JSON; OSError when the file cannot be read."""
    text = value if value.lstrip().startswith("{") else Path(value).read_text()
    try:
        return json.loads(text)
    except ValueError as error:  # json.JSONDecodeError
        source = "its JSON text" if text is value else f"the file {value}"
        raise ValueError(f"{option}: {source} is not valid JSON ({error})") from None


def _measure_options(p: argparse.ArgumentParser) -> None:
    """The options of a sensitivity measurement (`srhm measure`, `srhm train --measure`)."""
    p.add_argument("--probe-size", type=int, default=PROBE_SIZE, help="base points: the head of each test set")
    p.add_argument("--weights", choices=("best", "final"), default="best", help="which saved weights to measure")
    p.add_argument("--distinct", action="store_true", help="force every redrawn synonym/position to change")


def _verb(verbs, name: str, function) -> argparse.ArgumentParser:
    """The parser of verb `name`, which `function` runs; the function's docstring is the verb's line in
    `srhm -h` and the description its own `-h` opens with."""
    parser = verbs.add_parser(name, help=function.__doc__, description=function.__doc__)
    parser.set_defaults(run=function)
    return parser


def _cifar_parser(verbs) -> None:
    """The `srhm cifar` verb group."""
    from srhm.cifar.settings import DEFAULT_LR, NETS, ProbeSettings, TrainSettings

    about = "CIFAR-10 relative stability to diffeomorphisms (Fig. 1A-B): train, measure, collect, digitised"
    cifar = verbs.add_parser("cifar", help=about, description=about)
    steps = cifar.add_subparsers(dest="step", required=True)

    p = _verb(steps, "train", cifar_train)
    p.add_argument("--data", required=True, help="directory of the CIFAR-10 python-pickle batches")
    p.add_argument("--net", required=True, choices=NETS, help="network")
    p.add_argument("--size", type=int, required=True, help="training-set size P")
    p.add_argument("--seed", type=int, default=0, help="run seed: subset, initialisation, order, augmentation")
    p.add_argument("--epochs", type=int, required=True, help="epochs (at P = 50000 with --rescale-epochs)")
    p.add_argument("--rescale-epochs", action="store_true", help="train epochs x 50000 / P epochs, at most 5000")
    p.add_argument("--batch-size", type=int, default=TrainSettings.batch_size, help="batch size")
    p.add_argument("--lr", type=float, default=None, help=f"learning rate (default {DEFAULT_LR}, SGD and Adam alike)")
    p.add_argument("--no-augment", action="store_true", help="no random crops and flips")
    p.add_argument("--evaluations", type=int, default=TrainSettings.evaluations,
                   help="test-error evaluations, evenly spaced")
    p.add_argument("--test-size", type=int, default=TrainSettings.test_size, help="test images of the test error")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--out", required=True, help="run directory")

    p = _verb(steps, "measure", cifar_measure)
    p.add_argument("runs", nargs="+", help="run directories (model.pt, metrics.json)")
    p.add_argument("--data", required=True, help="directory of the CIFAR-10 python-pickle batches")
    p.add_argument("--cut", type=int, default=ProbeSettings.cut, help="diffeomorphism cut-off c")
    p.add_argument("--delta", type=float, default=ProbeSettings.delta,
                   help="typical diffeomorphism displacement (pixels)")
    p.add_argument("--n-probe", type=int, default=ProbeSettings.n_probe, help="probe images: the head of the test batch")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, default=1, help="torch threads")

    p = _verb(steps, "collect", cifar_collect)
    p.add_argument("runs", nargs="+", help="measured run directories (stability.json)")
    p.add_argument("--out", required=True, help="output CSV")

    p = _verb(steps, "digitised", cifar_digitised)
    p.add_argument("--data-file", default=None, help="the digitised CSV (default: workflow/data/petrini2021_fig1.csv)")
    p.add_argument("--out", required=True, help="output CSV")


def build_parser() -> argparse.ArgumentParser:
    """The command line: every verb with its options."""
    parser = argparse.ArgumentParser(prog="srhm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {srhm.__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True)

    p = _verb(verbs, "dataset", dataset)
    p.add_argument("name", help="dataset id, e.g. v8_nc8_m8_s2_L3_s02_A_seed0 (the seed is the grammar and sample seed)")
    p.add_argument("--size", type=int, required=True, help="number of distinct samples in the pool")
    p.add_argument("--sampling", choices=("balanced", "uniform"), default="balanced",
                   help="classes in turn (balanced) or uniform draws (srhm.data.SRHM.sample)")
    p.add_argument("--out", required=True, help="output .npz path")

    p = _verb(verbs, "train", train)
    p.add_argument("--spec", required=True, help="train spec: a JSON file or JSON text (srhm.protocol.TrainSpec)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (overrides the spec's)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (overrides the spec's)")
    p.add_argument("--checkpoint", default=None, help="checkpoint file, resumed from when it exists (overrides the spec's)")
    p.add_argument("--checkpoint-every", type=float, default=None, help="seconds between checkpoints (overrides the spec's)")
    p.add_argument("--keep-trained", action="store_true",
                   help="leave out members whose run folder holds a finished run of this very training")
    p.add_argument("--measure", action="store_true",
                   help="then measure every member's sensitivities, as `srhm measure` with the options below does")
    _measure_options(p)

    p = _verb(verbs, "measure", measure)
    p.add_argument("runs", nargs="+", help="run directories (model.pt, metrics.json)")
    _measure_options(p)
    p.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, default=1, help="torch threads")

    p = _verb(verbs, "search", search)
    p.add_argument("--spec", required=True, help="the search: a JSON file or JSON text (srhm.plan.Search.spec)")
    p.add_argument("--round", type=int, default=None, help="the round to plan (0: the starting grid)")
    p.add_argument("--previous", default=None, help="the previous round's plan (JSON), for rounds after 0")
    p.add_argument("--finished", default=None,
                   help="instead of planning a round, list the runs of the search this plan (JSON) ended")
    p.add_argument("--out", required=True, help="output JSON: the round's plan, or the finished search's runs")

    p = _verb(verbs, "collect", collect)
    p.add_argument("runs", nargs="*", help="run directories (metrics.json, sensitivity.csv)")
    p.add_argument("--searches", nargs="*", default=[],
                   help="finished P* searches' run lists (srhm search --finished), whose runs are collected too")
    p.add_argument("--experiment", required=True, help="experiment name written in the table")
    p.add_argument("--error-convention", choices=("best", "final"), default="best",
                   help="which test error the test_error column holds")
    p.add_argument("--out", required=True, help="output CSV")

    p = _verb(verbs, "analyse", analyse)
    p.add_argument("table", help="run table written by `srhm collect`")
    p.add_argument("--eps-star", type=float, default=EPS_STAR, help="test-error threshold of P*")
    p.add_argument("--bootstrap", type=int, default=N_BOOT, help="seed resamples per instance")
    p.add_argument("--pstar", required=True, help="output CSV of sample complexities")
    p.add_argument("--fits", required=True, help="output JSON of scaling fits")

    p = _verb(verbs, "report", report)
    p.add_argument("--config", required=True,
                   help="the workflow config (resolved; presets applied): JSON text or a JSON file")
    p.add_argument("--results", default="results", help="results directory")
    p.add_argument("--out", required=True, help="output Markdown file")
    p.add_argument("--html", default=None, help="output HTML page of the same report (optional)")

    p = _verb(verbs, "figure", figure)
    p.add_argument("name", help="paper figure, e.g. fig04 (srhm.figures.FIGURES)")
    p.add_argument("--settings", default="{}", help="the figure's entry of config['figures']: JSON text or a JSON file")
    p.add_argument("--results", default="results", help="results directory (tables/ under it)")
    p.add_argument("--out", required=True, help="output PDF; the .png and .md are written beside it")

    _cifar_parser(verbs)

    p = _verb(verbs, "authors", authors)
    p.add_argument("--notebooks", default=None,
                   help="copy of UmbertoTomasini/sparse_hierarchy_model at srhm.authors.COMMIT (its notebooks); "
                        "without it, the committed table is checked and copied")
    p.add_argument("--out", required=True, help="output CSV")

    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except ValueError as error:
        parser.exit(2, f"srhm {args.verb}: error: {error}\n")
    except OSError as error:  # a file missing or unreadable
        problem = f"{error.filename}: {error.strerror}" if error.filename else str(error)
        parser.exit(2, f"srhm {args.verb}: error: {problem}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
