"""benchmarks/pstar_shift.py: the shift of P* between two runs' tables and the reference's seed noise."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("pstar_shift", REPO / "benchmarks" / "pstar_shift.py")
pstar_shift = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pstar_shift)


def _table(folder: Path, rows: list[dict]) -> None:
    """A P* table (results/tables/exp_pstar.csv) of CNN instances at v = 4, 6: P* and 68 % intervals per metric."""
    (folder / "tables").mkdir(parents=True)
    records = []
    for row in rows:
        record = {"arch": "cnn", "m": row["v"], "s": 2, "L": 2, "s0": 1, "sparsity": "A", "v": row["v"]}
        for metric in pstar_shift.METRICS:
            p, lo, hi = row.get(metric, (math.nan, math.nan, math.nan))
            record |= {f"{metric}_p_star": p, f"{metric}_boot_lo68": lo, f"{metric}_boot_hi68": hi}
        records.append(record)
    pd.DataFrame(records).to_csv(folder / "tables" / "exp_pstar.csv", index=False)


def test_shifts_are_log_ratios_beside_half_the_reference_interval_and_skip_missing_crossings(tmp_path):
    _table(tmp_path / "ref", [{"v": 4, "test_error": (100.0, 90.0, 160.0), "S": (80.0, 40.0, 160.0)},
                              {"v": 6, "test_error": (500.0, 450.0, 550.0)}])
    _table(tmp_path / "new", [{"v": 4, "test_error": (110.0, 99.0, 170.0), "S": (80.0, 40.0, 160.0)},
                              {"v": 6, "test_error": (400.0, 380.0, 420.0), "D": (300.0, 290.0, 310.0)}])
    table = pstar_shift.shifts(tmp_path / "ref", tmp_path / "new", ["exp"])
    assert len(table) == 3, "a crossing missing from either run (D of the reference) gives no row"
    by = table.set_index(["instance", "metric"])
    v4, v6 = "v=4 m=4 s=2 s0=1", "v=6 m=6 s=2 s0=1"
    assert by.at[(v4, "test_error"), "shift"] == pytest.approx(math.log(1.1))
    assert by.at[(v4, "test_error"), "noise"] == pytest.approx(math.log(160 / 90) / 2)
    assert by.at[(v4, "S"), "shift"] == 0 and by.at[(v4, "S"), "noise"] == pytest.approx(math.log(2))
    assert by.at[(v6, "test_error"), "shift"] == pytest.approx(math.log(0.8))
    assert abs(by.at[(v6, "test_error"), "shift"]) > by.at[(v6, "test_error"), "noise"], "beyond its noise"


def test_the_table_keeps_each_run_in_its_column_where_one_run_lacks_an_instance(tmp_path):
    _table(tmp_path / "ref", [{"v": 4, "test_error": (100.0, 90.0, 110.0)},
                              {"v": 6, "test_error": (500.0, 450.0, 550.0)}])
    _table(tmp_path / "a", [{"v": 6, "test_error": (510.0, 460.0, 560.0)}])
    _table(tmp_path / "b", [{"v": 4, "test_error": (120.0, 100.0, 130.0)},
                            {"v": 6, "test_error": (400.0, 380.0, 420.0)}])
    table = pd.concat([pstar_shift.shifts(tmp_path / "ref", tmp_path / other, ["exp"]).assign(label=other)
                       for other in ("a", "b")])
    lines = pstar_shift.markdown_table(table, ["a", "b"])[2:]
    rows = {line.split(" | ")[1]: line.split(" | ")[4:6] for line in lines}
    assert rows["v=4 m=4 s=2 s0=1"] == ["—", "120, +0.182"], "run a has no P* at v = 4: its cell is empty"
    assert rows["v=6 m=6 s=2 s0=1"] == ["510, +0.020", "400, -0.223"]


def test_a_missing_table_is_named_before_anything_is_read(tmp_path):
    _table(tmp_path / "ref", [{"v": 4, "test_error": (100.0, 90.0, 110.0)}])
    assert pstar_shift.missing_inputs([tmp_path / "ref", tmp_path / "nope"], ["exp"]) == [
        str(tmp_path / "ref" / "tables" / "exp.csv"), str(tmp_path / "nope" / "tables" / "exp_pstar.csv"),
        str(tmp_path / "nope" / "tables" / "exp.csv")]
