"""Runs on disk: a damaged or incomplete file of a run is refused naming the file and how to rebuild it."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from srhm import SRHM
from srhm.models import build_model
from srhm.paths import SENSITIVITY_FILE, pool_stem
from srhm.run_files import read_metrics, read_weights, write_run
from srhm.runs import collect_runs
from srhm.sensitivity import measure_sensitivities

DS = SRHM(v=3, n_classes=3, m=3, s=2, L=2, s0=1, seed=0)


def make_run(run_dir: Path, *, levels=None) -> Path:
    """A run folder as the workflow leaves it, without weights: metrics.json and the sensitivity.csv that
    `srhm measure` writes for a 2-layer LCN (layers 1, 2 and the output x S, D x levels 1, 2: 12 rows)."""
    net = build_model("lcn", v=DS.v, n_classes=DS.n_classes, s=DS.s, s0=DS.s0, L=DS.L, width=8, init_seeds=(0,))
    table = measure_sensitivities(net, DS, DS.sample(20, seed=0), levels=levels)
    run_dir.mkdir(parents=True)
    table.assign(weights="best").to_csv(run_dir / SENSITIVITY_FILE, index=False)
    metrics = {"pool": f"data/{pool_stem(DS.name, 400)}.npz", "arch": "lcn", "model": {"width": 8}, "seed": 0,
               "P": 100, "best_test_error": 0.5, "final_test_error": 0.6, "epochs": 3, "steps": 30,
               "stop_reason": "max epochs", "wall_time_s": 1.0, "device": "cpu"}
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    return run_dir / SENSITIVITY_FILE


def test_a_whole_sensitivity_table_is_collected(tmp_path):
    make_run(tmp_path / "run")
    (row,) = collect_runs([tmp_path / "run"], "x").to_dict("records")
    assert row["n_hidden"] == 2
    assert all(np.isfinite(row[f"{kind}_{k}_{l}"]) for kind in "SD" for k in ("1", "2", "out") for l in (1, 2))


def _keep_rows(path: Path, n: int) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:1 + n]))


def _cut_last_line(path: Path) -> None:
    path.write_text(path.read_text()[:-12])


def _drop_a_middle_row(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:4] + lines[5:]))


def _repeat_a_row(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines + lines[3:4]))


@pytest.mark.parametrize("damage, reason", [
    (lambda path: _keep_rows(path, 6), r"it has no rows of the output layer"),
    (lambda path: _keep_rows(path, 10), r"it holds 10 rows where layers 1..3 \(the output last\) x kinds S, D x "
                                        r"levels 1..2 make 12; \(layer, kind, level\) missing: \[\(3, 'D', 1\)"),
    (_cut_last_line, r"its last line is cut short"),
    (_drop_a_middle_row, r"missing: \[\(1, 'D', 2\)\]"),
    (_repeat_a_row, r"it holds 13 rows .* some rows repeat"),
    (lambda path: path.write_text(""), r"it is empty"),
])
def test_a_damaged_sensitivity_table_is_refused_naming_the_file(tmp_path, damage, reason):
    """A sensitivity.csv cut short (header and 6 of its 12 rows, say) would silently move the run's
    P*_S, P*_D: collecting refuses it, naming the file, what is wrong and how to rebuild it."""
    path = make_run(tmp_path / "run")
    damage(path)
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: damaged or incomplete sensitivity table "
                                         rf"\(.*{reason}.*\); delete it and rerun the workflow") as error:
        collect_runs([tmp_path / "run"], "x")
    assert f"snakemake --forcerun {path}" in str(error.value)


def test_a_sensitivity_table_of_other_levels_is_refused(tmp_path):
    """measure writes every level 1..L of the run's SRHM: a table of level 1 alone is not this run's."""
    path = make_run(tmp_path / "run", levels=1)
    with pytest.raises(ValueError, match=r"rows where layers 1..3 \(the output last\) x kinds S, D x levels 1..2 "
                                         r"make 12; \(layer, kind, level\) missing: \[\(1, 'D', 2\)"):
        collect_runs([tmp_path / "run"], "x")
    assert path.is_file()


def _truncate(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


@pytest.mark.parametrize("keep", [0, 50])
def test_a_truncated_metrics_file_is_refused_naming_it(tmp_path, keep):
    """`srhm measure` and `srhm collect` said only 'Expecting property name ... (char 50)': the error names the
    file, says it is damaged or truncated and how to rebuild it."""
    make_run(tmp_path / "run")
    _truncate(tmp_path / "run" / "metrics.json", keep)
    message = (rf"{re.escape(str(tmp_path / 'run' / 'metrics.json'))}: damaged or truncated \(.+\); delete the files "
               rf"of its run folder {re.escape(str(tmp_path / 'run'))} and rerun the workflow, which retrains only "
               r"the training job that wrote them")
    with pytest.raises(ValueError, match=message):
        read_metrics(tmp_path / "run")
    with pytest.raises(ValueError, match=message):
        collect_runs([tmp_path / "run"], "x")


def test_a_metrics_file_that_is_not_an_object_is_refused(tmp_path):
    (tmp_path / "metrics.json").write_text("[1, 2]\n")
    with pytest.raises(ValueError, match=r"metrics.json: damaged or truncated \(a JSON list, not an object\)"):
        read_metrics(tmp_path)


@pytest.mark.parametrize("keep", [0, 10, 200, -30])
def test_a_truncated_model_file_is_refused_naming_it(tmp_path, keep):
    """A model.pt cut short gave torch's bare 'PytorchStreamReader failed reading zip archive' traceback."""
    import torch

    write_run(tmp_path, {"best": {"w": torch.zeros(50)}, "final": {"w": torch.ones(50)}}, {"P": 1}, [])
    assert read_weights(tmp_path)["final"]["w"].sum() == 50
    _truncate(tmp_path / "model.pt", keep)
    with pytest.raises(ValueError, match=rf"{re.escape(str(tmp_path / 'model.pt'))}: damaged or truncated \(not a "
                                         r"whole torch.save archive: .+\); delete the files of its run folder .* "
                                         r"rerun the workflow"):
        read_weights(tmp_path)


def test_a_whole_model_file_that_torch_cannot_load_keeps_torchs_error(tmp_path):
    """Only damage is reported as damage: a whole archive that weights_only refuses keeps torch's own error."""
    import torch

    torch.save({"best": object()}, tmp_path / "model.pt")
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        read_weights(tmp_path)
