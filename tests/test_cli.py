"""The verbs by hand (`srhm <verb>`): clean one-line errors naming the file, and runs read from anywhere."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import srhm
from srhm import SRHM
from srhm.cli import build_parser, main
from srhm.paths import pool_stem
from srhm.run_files import read_metrics
from srhm.runs import collect_runs, pool_entry, run_pool

DS = SRHM(v=3, n_classes=3, m=3, s=2, L=2, s0=1, seed=0)
RUN = "results/runs/lcn/P60_seed0"


def refused(capsys, argv: list[str]) -> str:
    """The one line `srhm` prints on stderr when it refuses `argv` with exit status 2."""
    with pytest.raises(SystemExit) as exit:
        main(argv)
    err = capsys.readouterr().err
    assert exit.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("argv, message", [
    (["train", "--spec", "/nonexistent.json"], "srhm train: error: /nonexistent.json: No such file or directory"),
    (["measure", "/nonexistent"], "srhm measure: error: /nonexistent/metrics.json: No such file or directory"),
    (["collect", "/nonexistent", "--experiment", "x", "--out", "unused.csv"],
     "srhm collect: error: /nonexistent/metrics.json: No such file or directory"),
    (["analyse", "/nonexistent.csv", "--pstar", "a.csv", "--fits", "b.json"],
     "srhm analyse: error: /nonexistent.csv: No such file or directory"),
    (["report", "--config", "/nonexistent.json", "--out", "unused.md"],
     "srhm report: error: /nonexistent.json: No such file or directory"),
    (["figure", "fig06", "--settings", "/nonexistent.json", "--out", "unused.pdf"],
     "srhm figure: error: /nonexistent.json: No such file or directory"),
    (["cifar", "collect", "/nonexistent", "--out", "unused.csv"],
     "srhm cifar: error: /nonexistent/stability.json: No such file or directory"),
    (["cifar", "digitised", "--data-file", "/nonexistent.csv", "--out", "unused.csv"],
     "srhm cifar: error: /nonexistent.csv: No such file or directory"),
])
def test_a_missing_file_is_one_line_naming_it(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert refused(capsys, argv) == message + "\n"


def test_a_file_that_is_not_what_its_option_needs_is_named(capsys, tmp_path):
    (tmp_path / "spec.json").write_text('{"arch": ')
    assert refused(capsys, ["train", "--spec", str(tmp_path / "spec.json")]).startswith(
        f"srhm train: error: --spec: the file {tmp_path / 'spec.json'} is not valid JSON (Expecting value")
    assert refused(capsys, ["train", "--spec", '{"arch": }']).startswith(
        "srhm train: error: --spec: its JSON text is not valid JSON")
    (tmp_path / "table.csv").write_text('"run\n')
    assert refused(capsys, ["analyse", str(tmp_path / "table.csv"), "--pstar", "a", "--fits", "b"]).startswith(
        f"srhm analyse: error: {tmp_path / 'table.csv'}: not a readable run table")
    assert refused(capsys, ["train", "--spec", str(tmp_path)]) == f"srhm train: error: {tmp_path}: Is a directory\n"


@pytest.fixture
def trained(tmp_path, monkeypatch) -> Path:
    """A workflow-like folder `work` holding results/ with one pool and one LCN run trained from `work` on it,
    its spec's paths relative to `work` as the workflow writes them."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    pool = f"results/data/balanced/{pool_stem(DS.name, 160)}.npz"
    main(["dataset", DS.name, "--size", "160", "--out", pool])
    spec = {"arch": "lcn", **{key: getattr(DS, key) for key in ("v", "n_classes", "s", "s0", "L")}, "n_test": 100,
            "width": 8, "max_epochs": 2, "members": [{"pool": pool, "P": 60, "seed": 0, "out_dir": RUN}]}
    main(["train", "--spec", json.dumps(spec), "--threads", "1"])
    assert read_metrics(RUN)["pool"] == pool, "a workflow run's metrics.json keeps the spec's pool"
    return work


def test_a_run_is_measured_from_any_working_directory(trained, tmp_path, monkeypatch):
    """metrics.json records the pool relative to the workflow's folder: `srhm measure` found it only from
    there. The pool is found from the run's folder, from anywhere, and after the results folder moved."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    main(["measure", str(trained / RUN), "--probe-size", "50"])
    (row,) = collect_runs([trained / RUN], "x").to_dict("records")
    assert row["n_hidden"] == 2 and row["P"] == 60
    moved = tmp_path / "moved"
    shutil.move(trained / "results", moved)
    (moved / RUN.removeprefix("results/") / "sensitivity.csv").unlink()
    main(["measure", f"../moved/{RUN.removeprefix('results/')}", "--probe-size", "50"])
    assert (moved / RUN.removeprefix("results/") / "sensitivity.csv").is_file()


def test_collecting_a_measured_run_does_not_import_torch(trained, tmp_path):
    """A P* search's planning rounds and the collect steps only read tables; each is its own process, and
    importing torch (more than a second) would cost more than their work. `srhm collect` of a measured run, in a
    fresh interpreter, leaves torch out of sys.modules, and so do the modules a search's planning imports."""
    run = trained / RUN
    main(["measure", str(run), "--probe-size", "50"])
    out = tmp_path / "table.csv"
    script = ("import sys; from srhm.cli import main; import srhm.search, srhm.analysis, srhm.scaling; "
              f"main(['collect', {str(run)!r}, '--experiment', 'x', '--out', {str(out)!r}]); "
              "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split()[-1] == "False", done.stdout + done.stderr
    assert "S_1_1" in out.read_text().splitlines()[0], "the collected row carries the measured sensitivities"



def test_a_missing_pool_is_named_with_its_run(trained, capsys):
    pool = Path(read_metrics(RUN)["pool"])
    pool.unlink()
    message = refused(capsys, ["measure", RUN])
    assert message.startswith(f"srhm measure: error: {pool}: no pool file (the run "
                              f"{RUN} was trained on {pool}; the workflow's dataset job rebuilds it)")


def test_a_damaged_metrics_file_is_one_line_naming_it(trained, capsys):
    path = Path(RUN) / "metrics.json"
    path.write_text(path.read_text()[:50])
    assert refused(capsys, ["measure", RUN]).startswith(f"srhm measure: error: {path}: damaged or truncated")


@pytest.mark.parametrize("pool, out_dir", [
    ("results/data/a.npz", "results/runs/r"),
    ("{abs}/data/a.npz", "{abs}/runs/r"),
    ("../abs/data/a.npz", "{abs}/runs/r"),
    ("{abs}/data/a.npz", "../abs/runs/r"),
])
def test_the_recorded_pool_keeps_its_place_relative_to_the_run(tmp_path, monkeypatch, pool, out_dir):
    """Whatever mix of relative and absolute paths a spec gives, the pool metrics.json records (pool_entry, in
    the trainer's working directory) leads from the run's folder to the pool (run_pool, from anywhere)."""
    pool, out_dir = (path.format(abs=tmp_path / "abs") for path in (pool, out_dir))
    (tmp_path / "trainer").mkdir()
    monkeypatch.chdir(tmp_path / "trainer")
    for folder in (Path(pool).parent, Path(out_dir)):
        folder.mkdir(parents=True, exist_ok=True)
    Path(pool).touch()
    pool_file, run_dir = Path(pool).resolve(), Path(out_dir).resolve()
    metrics = {"pool": pool_entry(pool, out_dir), "out_dir": out_dir}
    monkeypatch.chdir(tmp_path)
    assert run_pool(run_dir, metrics).resolve() == pool_file


def test_version_is_the_packages(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0 and capsys.readouterr().out == f"srhm {srhm.__version__}\n"


def _subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """(words, parser) of every subcommand under `parser`, e.g. (("cifar", "train"), its parser)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _subcommands(sub, (*prefix, name))


def test_every_subcommand_describes_itself_in_its_help(capsys):
    subcommands = dict(_subcommands(build_parser()))
    assert {("train",), ("measure",), ("cifar",), ("cifar", "digitised"), ("authors",)} <= set(subcommands)
    for words, parser in subcommands.items():
        assert parser.description and len(parser.description.split()) >= 5, words
        with pytest.raises(SystemExit):
            main([*words, "-h"])
        shown = " ".join(capsys.readouterr().out.split())
        assert " ".join(parser.description.split()) in shown, words
