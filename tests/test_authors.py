"""srhm.authors: parsing the authors' notebook outputs, the committed table, and the paper's P* rule.

Notebook fixtures are written here as small .ipynb files whose printed outputs have the shapes of the
authors' cells (github.com/UmbertoTomasini/sparse_hierarchy_model); the numbers are theirs where a test
checks a property of real data, otherwise invented.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from srhm import cli
from srhm.authors import (
    CELLS,
    COLUMNS,
    COMMIT,
    NOTEBOOK_BLOBS,
    PER_CLASS,
    STALE,
    TOTAL,
    Cell,
    check_table,
    git_blob_id,
    load_authors_measurements,
    logical_lines,
    older_grid,
    parse_cells,
    parse_notebooks,
    verify_snapshot,
)
from srhm.io import write_csv
from srhm.scaling import paper_rule

FIXTURE = "fixture.ipynb"


def registered(notebook: str, index: int) -> Cell:
    (cell,) = [cell for cell in CELLS if (cell.notebook, cell.index) == (notebook, index)]
    return cell


def write_notebook(path, cells: list[tuple[str, str]]) -> None:
    """An nbformat-4 notebook: a markdown cell first (cell indices count it), then (code, stdout) cells."""
    nb_cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# fixture"]}]
    for code, stdout in cells:
        nb_cells.append({"cell_type": "code", "execution_count": 1, "metadata": {}, "source": code.splitlines(True),
                         "outputs": [{"output_type": "stream", "name": "stdout", "text": stdout.splitlines(True)},
                                     {"output_type": "display_data", "metadata": {},
                                      "data": {"text/plain": ["<Figure size 400x400 with 1 Axes>"]}}]})
    path.write_text(json.dumps({"cells": nb_cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}))


def parse_as(tmp_path, notebook: str, index: int, stdout: str, code: str | None = None) -> pd.DataFrame:
    """Parse `stdout` with the parser registered for (notebook, index), from a fixture notebook's cell 1."""
    cell = registered(notebook, index)
    write_notebook(tmp_path / FIXTURE, [(" ".join(cell.markers) if code is None else code, stdout)])
    return parse_cells(tmp_path, [replace(cell, notebook=FIXTURE, index=1)])


def one(table: pd.DataFrame, **where) -> pd.Series:
    mask = np.logical_and.reduce([table[key] == value for key, value in where.items()])
    (index,) = np.flatnonzero(mask)
    return table.iloc[index]


# ---------------------------------------------------------------------------------------------------------
# Output shapes, units and stale repeats


LCN_STDOUT = """tensor([34.])
L,s,s0,n
2 2 0 4
tensor([112.])
L,s,s0,n
2 2 0 6
tensor([112.])
L,s,s0,n
2 2 0 8
L,s,s0,n
2 2 0 10
tensor([226.])
L,s,s0,n
2 2 1 4
"""


def test_per_class_values_are_multiplied_by_n_c_and_a_repeated_value_is_flagged_stale(tmp_path):
    table = parse_as(tmp_path, "scale_P_TASK-LCN.ipynb", 2, LCN_STDOUT)
    assert list(table.columns) == list(COLUMNS)
    assert table[["v", "s0", "value"]].values.tolist() == [[4, 0, 136], [4, 1, 904], [6, 0, 672], [8, 0, 896]], \
        "P* per class x v; v = 10 printed only its header (missing files): no row"
    assert (table["quantity"] == "p_star").all() and (table["arch"] == "lcn").all()
    assert (table["n_c"] == table["v"]).all() and (table["m"] == table["v"]).all() and (table["width"] == 512).all()
    assert table["P"].isna().all() and table["note"].str.contains(PER_CLASS, regex=False).all()
    stale = table["note"].str.contains(STALE)
    assert table.loc[stale, "v"].tolist() == [8], "the v = 8 print repeats v = 6's 112: stale"
    assert "lcn s=2 L=2 v=6 s0=0" in one(table, v=8)["note"]
    assert not stale[table["v"] == 4].any(), "v = 4, s0 = 1 follows the header of v = 10, not an equal value"
    assert one(table, v=6, s0=0)["source"] == f"{FIXTURE} cell 1 @ {COMMIT[:7]}"

    write_csv(tmp_path / "table.csv", table)
    assert load_authors_measurements(tmp_path / "table.csv")["v"].tolist() == [4, 4, 6], "stale rows left out"
    assert len(load_authors_measurements(tmp_path / "table.csv", include_stale=True)) == 4


def test_file_name_lines_name_the_configuration(tmp_path):
    stdout = "".join(f"tensor([{x}.])\ntensor([{x}.]) pstars/pstars_task_fcn2_L_{L}_n_6_m_6_s_2_s0_{s0}_net_fcn2.pt\n"
                     f"checl\ntensor([{x}.])\n" for L, s0, x in ((2, 0, 348), (3, 0, 9507), (3, 1, 9507)))
    table = parse_as(tmp_path, "scale_P_TASK-FCN.ipynb", 2, stdout)
    assert table[["L", "s0", "value"]].values.tolist() == [[2, 0, 2088], [3, 0, 57042], [3, 1, 57042]]
    assert table["width"].tolist() == [512, 256, 256], "the authors' FCN is 256 wide at L = 3"
    assert table["note"].str.contains(STALE).tolist() == [False, False, True]

    with pytest.raises(ValueError, match="m = 5 is not v"):
        parse_as(tmp_path, "scale_P_TASK-FCN.ipynb", 2,
                 "tensor([348.]) pstars/pstars_task_fcn2_L_2_n_6_m_5_s_2_s0_0_net_fcn2.pt\n")


def test_bare_values_follow_the_loop_order_and_d_at_s0_0_is_dropped(tmp_path):
    stdout = "".join(f"tensor([{x}.])\n" for x in (36, 509, 1085, 315, 29588, 29588))
    table = parse_as(tmp_path, "scale_P_TASK-FCN.ipynb", 4, stdout)
    expected = [[2, 1, 3054], [2, 2, 6510], [3, 1, 177528], [3, 2, 177528]]
    assert table[["L", "s0", "value"]].values.tolist() == expected, \
        "(L, s0) in the loop's order, x v = 6; P*_D at s0 = 0 (36, 315) left out"
    assert (table["quantity"] == "p_star_D").all()
    assert table["note"].str.contains(STALE).tolist() == [False, False, False, True]
    assert table["note"].str.contains("threshold 0.2").all()

    with pytest.raises(ValueError, match="expected 6 values"):
        parse_as(tmp_path, "scale_P_TASK-FCN.ipynb", 4, stdout + "tensor([1.])\n")


def saved_pairs_stdout(loaded: dict[tuple[int, int, int], tuple[int, int]], ranges: str) -> str:
    cell = registered("scale_P_TASK-FCN.ipynb", 5)
    lines = []
    for L, s0, v in cell.parse.keywords["loop"]:
        lines.append(str(v))
        if (L, s0, v) in loaded:
            lines += [f"{L} {v}", "[{}.] [{}.]".format(*loaded[L, s0, v])]
    return "\n".join(lines) + "\n" + ranges


def test_values_read_back_from_files_and_the_printed_range_proves_the_n_c_factor(tmp_path):
    loaded = {(2, 0, 6): (348, 238), (3, 1, 8): (102399, 307199)}
    table = parse_as(tmp_path, "scale_P_TASK-FCN.ipynb", 5,
                     saved_pairs_stdout(loaded, "[1428.] [2457592.]\n[3054.] [384296.]\n"))
    assert table[["quantity", "L", "v", "s0", "value"]].values.tolist() == [
        ["p_star", 2, 6, 0, 2088], ["p_star", 3, 8, 1, 819192],
        ["p_star_S", 2, 6, 0, 1428], ["p_star_S", 3, 8, 1, 2457592]]
    assert table["note"].str.contains("read back").all()

    with pytest.raises(ValueError, match="printed range"):
        parse_as(tmp_path, "scale_P_TASK-FCN.ipynb", 5, saved_pairs_stdout(loaded, "[238.] [307199.]\n[1.] [2.]\n"))
    with pytest.raises(ValueError, match=r"expected the line 6 of \(L=2, s0=0, v=6\)"):
        parse_as(tmp_path, "scale_P_TASK-FCN.ipynb", 5, "4\n8\n")


def test_common_nets_p_stars_per_class_with_their_own_thresholds(tmp_path):
    stdout = "ok\n740.0 840.0 740.0\nok\nok\n447.0 447.0 440.0\nok\nok\n4470.0 7400.0\n"
    table = parse_as(tmp_path, "scale_P_TASK-NewNets.ipynb", 6, stdout)
    p_star = table[table["quantity"] == "p_star"]
    assert p_star[["arch", "value"]].values.tolist() == [["vgg11", 7400], ["resnet18", 4470]], \
        "VGG16 printed no values; x n_c = 10"
    assert one(table, quantity="p_star_D", arch="resnet18")["value"] == 4400
    assert p_star["note"].str.contains("threshold 7 %").all()
    assert table["width"].isna().all(), "the common nets have no width parameter"
    assert ((table["s"] == 2) & (table["L"] == 2) & (table["v"] == 10) & (table["s0"] == 2)).all()

    with pytest.raises(ValueError, match="printed range"):
        parse_as(tmp_path, "scale_P_TASK-NewNets.ipynb", 6, stdout.replace("4470.0 7400.0", "447.0 740.0"))


def test_printed_grids_give_grid_rows_and_repeats_must_agree(tmp_path):
    block = ("mats/mat_terr_L_2_n_10_m_10_s0_2_s_2_bs_20_{net}.pt\n"
             "tensor([   10,    17,\n          440,   740])\nok\n")
    stdout = block.format(net="VGG11") + block.format(net="ResNet18") + block.format(net="VGG11")
    table = parse_as(tmp_path, "scale_P_TASK-NewNets.ipynb", 3, stdout)
    assert (table["quantity"] == "grid").all()
    assert table[["arch", "P", "value"]].values.tolist() == [
        ["vgg11", 100, 10], ["vgg11", 170, 17], ["vgg11", 4400, 440], ["vgg11", 7400, 740],
        ["resnet18", 100, 10], ["resnet18", 170, 17], ["resnet18", 4400, 440], ["resnet18", 7400, 740]], \
        "P = ptr x n_c, value = ptr; the repeated VGG11 grid once"

    with pytest.raises(ValueError, match="two different grids"):
        parse_as(tmp_path, "scale_P_TASK-NewNets.ipynb", 3, stdout + block.format(net="VGG11").replace("740", "741"))


def test_curve_after_its_file_name_with_a_grid_point_listed_twice(tmp_path):
    stdout = ("L,s,s0,n\n2 2 0 6\n"
              "mats/mat_terr_L_2_n_4_m_16_s0_0_s_3_bs_20_cnn.pt\n"
              "mats/mat_terr_L_3_n_4_m_16_s0_0_s_3_bs_20_cnn.pt\n"
              "tensor([7.3787e-01, 6.8187e-01, 1.7787e-02,\n        2.5000e-05, 2.5000e-05])\n"
              "tensor([   409,  14715,  24550,\n         40959,  40959])\n"
              "mats/mat_terr_L_3_n_3_m_3_s0_0_s_2_bs_20_cnn.pt\ntensor([])\ntensor([])\n")
    table = parse_as(tmp_path, "scale_P_TASK.ipynb", 2, stdout)
    assert table[["s", "L", "v", "P", "value"]].values.tolist() == [
        [3, 3, 4, 1636, 0.73787], [3, 3, 4, 58860, 0.68187], [3, 3, 4, 98200, 0.017787], [3, 3, 4, 163836, 2.5e-05]]
    assert (table["m"] == 16).all() and (table["quantity"] == "test_error").all()
    assert table["note"].str.contains("listed twice").tolist() == [False, False, False, True]

    with pytest.raises(ValueError, match="two test errors at P = 163836"):
        parse_as(tmp_path, "scale_P_TASK.ipynb", 2, stdout.replace("2.5000e-05])", "3.0000e-05])"))


def test_a_value_printed_after_the_notebooks_own_multiplication_is_kept(tmp_path):
    table = parse_as(tmp_path, "scale_P_TASK.ipynb", 10, "tensor([2744.])\n108 2519424\n")
    row = one(table, quantity="p_star_D")
    assert (row["arch"], row["s"], row["L"], row["v"], row["s0"], row["value"]) == ("cnn", 2, 3, 4, 1, 2744)


def test_older_runs_print_totals_on_the_recomputed_grid(tmp_path):
    stdout = "s0: 2\n10\n[0.8726, 0.8492, 0.8107, 0.7589, 0.6283]\n4\n[0.6791, 0.6651]\ns0: 6\n3\n[]\n"
    table = parse_as(tmp_path, "plotting-L2.ipynb", 2, stdout)
    ten = table[table["v"] == 10]
    assert ten["P"].tolist() == [1000, 1730, 2994, 5182, 8968], "the first five points of older_grid, totals"
    assert ten["value"].tolist() == [0.8726, 0.8492, 0.8107, 0.7589, 0.6283]
    assert table.loc[table["v"] == 4, "P"].tolist() == [63, 103], "4^3 truncated to 63, like the notebook's int()"
    assert table["note"].str.contains(TOTAL).all() and (table["arch"] == "cnn").all()

    with pytest.raises(ValueError, match="but 14 grid points"):
        parse_as(tmp_path, "plotting-L2.ipynb", 2, "s0: 1\n3\n[" + ", ".join(["0.5"] * 15) + "]\n")


def test_older_grid():
    for arch, v, s0 in (("cnn", 10, 1), ("cnn", 6, 4), ("fcn", 4, 2), ("fcn", 10, 6)):
        grid = older_grid(arch, v, s0)
        P_code = (2 * (s0 + 1)) ** 3 * v ** 4
        assert 0 < len(grid) <= 15 and np.all(np.diff(grid) > 0) and grid[-1] < P_code
        assert grid[0] in (v ** 3, v ** 3 - 1), "starts at v^3 (or one below after int())"
    assert older_grid("cnn", 10, 4)[-1] == 110000, "s0 >= 4: capped at 110000"
    assert older_grid("cnn", 10, 1)[-1] == 403402, "14 points: the 15th, P_code = 640000, is not below P_code"
    assert older_grid("fcn", 10, 1)[-2:] == [326717, 510000], "15 points: the FCN's P_hi = 510000 < P_code"
    with pytest.raises(ValueError, match="arch must be 'cnn' or 'fcn'"):
        older_grid("lcn", 10, 1)


def test_single_P_errors_of_several_nets(tmp_path):
    stdout = ("LCN\n--check--\nlcn\n740 tensor(663)\n------------\n##value##\ntensor(0.6733)\nokkk\n"
              "CNN\n--check--\ncnn2\n740 tensor(896.8000)\n------------\nokkk\n"
              "tensor([   10,    17,\n  740])\n--check--\nVGG11\n740 tensor(740)\nokkk\n"
              "[tensor(0.7706), tensor(0.6283), tensor(0.0393)]\nok\n")
    table = parse_as(tmp_path, "stabilities_s-NewNets.ipynb", 16, stdout)
    assert table[["arch", "P", "value"]].values.tolist() == [["lcn", 6630, 0.7706], ["cnn", 8968, 0.6283],
                                                             ["vgg11", 7400, 0.0393]]
    with pytest.raises(ValueError, match="one list of 3 test errors"):
        parse_as(tmp_path, "stabilities_s-NewNets.ipynb", 16, stdout.replace(", tensor(0.0393)", ""))


def test_outputs_of_another_shape_or_cell_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"fixture.ipynb cell 1 @ \w+: unexpected printed line 'Legend'"):
        parse_as(tmp_path, "scale_P_TASK-LCN.ipynb", 2, LCN_STDOUT + "Legend\n")
    with pytest.raises(ValueError, match=r"lacks \['pstars_task_'\]"):
        parse_as(tmp_path, "scale_P_TASK-LCN.ipynb", 2, LCN_STDOUT, code="mat_terr = load()")
    with pytest.raises(ValueError, match="ends inside brackets"):
        logical_lines("tensor([1,\n 2,")
    assert logical_lines("\ntensor([1,\n   2])\nok\n") == ["tensor([1, 2])", "ok"]


def test_the_same_measurement_from_two_cells_merges_or_conflicts(tmp_path):
    cell = registered("scale_P_TASK-LCN.ipynb", 2)
    write_notebook(tmp_path / FIXTURE, [("mat_terr pstars_task_", "tensor([34.])\nL,s,s0,n\n2 2 0 4\n"),
                                        ("mat_terr pstars_task_", "tensor([34.])\nL,s,s0,n\n2 2 0 4\n"),
                                        ("mat_terr pstars_task_", "tensor([35.])\nL,s,s0,n\n2 2 0 4\n")])
    cells = [replace(cell, notebook=FIXTURE, index=i) for i in (1, 2, 3)]
    merged = parse_cells(tmp_path, cells[:2])
    assert len(merged) == 1 and merged["source"].item().count(FIXTURE) == 2
    assert merged["note"].item() == PER_CLASS, "notes joined without repeats"
    with pytest.raises(ValueError, match="different values"):
        parse_cells(tmp_path, cells)


def test_snapshot_check_uses_git_blob_ids(tmp_path):
    assert git_blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a", "git hash-object of 'hello\\n'"
    with pytest.raises(ValueError, match="plotting-L2.ipynb is missing"):
        verify_snapshot(tmp_path)
    for name in NOTEBOOK_BLOBS:
        (tmp_path / name).write_text("{}")
    with pytest.raises(ValueError, match=f"differs from the version at commit {COMMIT[:7]}"):
        verify_snapshot(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["authors", "--notebooks", str(tmp_path), "--out", str(tmp_path / "out.csv")])
    assert exit_info.value.code == 2 and not (tmp_path / "out.csv").exists()


# ---------------------------------------------------------------------------------------------------------
# The committed table


@pytest.fixture(scope="module")
def committed() -> pd.DataFrame:
    return load_authors_measurements(include_stale=True)


def test_committed_table_rows_are_complete_and_in_range(committed):
    assert list(committed.columns) == list(COLUMNS)
    instance = ["quantity", "arch", "s", "L", "v", "n_c", "m", "s0", "sparsity", "value", "source"]
    assert committed[instance].notna().all().all()
    counts = committed["quantity"] != "test_error"
    assert (committed.loc[counts, "value"] > 0).all() and (committed.loc[counts, "value"] % 1 == 0).all()
    assert committed.loc[~counts, "value"].between(0, 1).all()
    sized = committed["quantity"].isin(["test_error", "grid"])
    assert committed.loc[sized, "P"].notna().all() and committed.loc[~sized, "P"].isna().all()
    assert (committed.loc[sized, "P"] > 0).all()
    hierarchical = committed["arch"].isin(["lcn", "cnn", "fcn"])
    assert committed.loc[hierarchical, "width"].isin([256, 512]).all()
    assert committed.loc[~hierarchical, "width"].isna().all()
    cited = {part.split(" cell ")[0] for source in committed["source"] for part in source.split("; ")}
    assert cited <= set(NOTEBOOK_BLOBS) and committed["source"].str.contains(f"@ {COMMIT[:7]}").all()
    assert not committed.duplicated(["quantity", "arch", "s", "L", "v", "s0", "P"]).any()


def test_committed_table_contents(committed):
    by = committed.groupby(["quantity", "arch"]).size()
    assert by["p_star", "lcn"] == 37 and by["p_star", "fcn"] == 14 and by["test_error", "cnn"] == 409
    assert set(committed.loc[committed["quantity"] == "p_star", "arch"]) == {
        "lcn", "fcn", "vgg11", "vgg16", "resnet18", "resnet34", "efficientnetb0"}, "no CNN P* is printed"
    assert by["grid"].to_dict() == {"vgg11": 25, "vgg16": 25, "resnet18": 26, "resnet34": 26, "efficientnetb0": 25}
    stale = committed[committed["note"].str.contains(STALE)]
    assert len(stale) == 4 and (stale["arch"] == "fcn").all() and (stale[["L", "v"]] == [3, 6]).all().all()
    assert len(load_authors_measurements()) == len(committed) - 4
    assert not ((committed["quantity"] == "p_star_D") & (committed["s0"] == 0)).any()
    assert one(committed, quantity="p_star", arch="lcn", s=2, L=2, v=10, s0=0)["value"] == 3110


def test_lcn_p_stars_lie_on_the_per_class_grid(committed):
    """The printed LCN P* (s = 2, s0 < 4) are points of the notebook's grid in P/n_c units: evidence that
    they were printed per class, and that the table multiplied them by n_c."""
    lcn = committed[(committed["quantity"] == "p_star") & (committed["arch"] == "lcn") & (committed["s"] == 2)
                    & (committed["s0"] < 4)]
    assert len(lcn) == 24
    for _, row in lcn.iterrows():
        grid = [int(x) * row["v"] for x in np.logspace(row["L"] * np.log10(row["v"]),
                                                       np.log10(200 * row["v"] ** row["L"]), 15)]
        assert row["value"] in grid, row


def test_the_cnn_point_printed_by_two_notebooks_agrees(committed):
    """stabilities_s-NewNets.ipynb finds the older CNN run at P/n_c = 896.8 with error 0.6283; it is the 5th
    point of the grid recomputed for plotting-L2.ipynb, whose list has 0.6283 there."""
    row = one(committed, quantity="test_error", arch="cnn", v=10, s0=2, P=8968)
    assert row["value"] == 0.6283 and row["source"].count("; ") == 1
    assert older_grid("cnn", 10, 2)[4] == 8968


def test_check_table_names_the_problem(committed):
    table = committed.copy()
    with pytest.raises(ValueError, match="t.csv: columns must be"):
        check_table(table.drop(columns="note"), "t.csv")
    bad_rows = {
        "test_error values must be fractions": ("quantity", "test_error", "value", 1.5),
        "P must be given exactly on test_error and grid rows": ("quantity", "p_star", "P", 100),
        "must be positive whole numbers": ("quantity", "p_star", "value", 311.5),
        "n_c = v and m = v": ("quantity", "p_star", "m", 3),
        "arch must be one of": ("quantity", "p_star", "arch", "mlp"),
        "every source must name": ("quantity", "grid", "source", "elsewhere"),
    }
    for message, (column, quantity, field, value) in bad_rows.items():
        broken = table.astype({field: object}).copy()
        broken.loc[broken.index[broken[column] == quantity][0], field] = value
        with pytest.raises(ValueError, match=message):
            check_table(broken, "t.csv")
    with pytest.raises(ValueError, match="repeated"):
        check_table(pd.concat([table, table.iloc[:1]], ignore_index=True), "t.csv")


@pytest.mark.skipif(not os.environ.get("SRHM_AUTHORS_NOTEBOOKS"),
                    reason="SRHM_AUTHORS_NOTEBOOKS names no copy of the authors' repository")
def test_committed_table_rebuilds_from_the_notebooks(committed):
    rebuilt = parse_notebooks(os.environ["SRHM_AUTHORS_NOTEBOOKS"])
    pd.testing.assert_frame_equal(rebuilt, committed)


# ---------------------------------------------------------------------------------------------------------
# The authors' P* rule (srhm.scaling.paper_rule)


P = [100, 200, 400, 800]


def test_paper_rule_takes_the_grid_point_nearest_the_threshold():
    assert paper_rule(P, [0.8, 0.5, 0.15, 0.02], 0.1) == (400, "ok"), "|0.15-0.1| < |0.02-0.1|, no interpolation"
    assert paper_rule(P, [0.8, 0.5, 0.3, 0.09], 0.1) == (800, "ok")


def test_paper_rule_accepts_within_the_tolerance_inclusive():
    assert paper_rule(P, [0.9, 0.8, 0.7, 0.2], 0.1) == (800, "ok"), "distance exactly 0.1 is accepted"
    p_star, flag = paper_rule(P, [0.9, 0.8, 0.7, 0.25], 0.1)
    assert math.isnan(p_star) and flag == "outside_tolerance", \
        "no point within 0.1: the authors' loop would reprint the previous configuration's P* here"
    assert paper_rule(P, [0.9, 0.8, 0.7, 0.65], 0.2, tolerance=0.5) == (800, "ok"), "the +-0.5 of S_2 and D_2"
    assert math.isnan(paper_rule(P, [0.9, 0.8, 0.7, 0.65], 0.2).p_star)


def test_paper_rule_breaks_ties_towards_the_smallest_P():
    assert paper_rule(P, [0.6, 0.12, 0.12, 0.0], 0.1) == (200, "ok"), "equal values"
    assert paper_rule(P, [0.9, 0.75, 0.25, 0.0], 0.5, tolerance=0.5) == (200, "ok"), "equal distances both sides"


def test_paper_rule_ignores_nan():
    assert paper_rule(P, [math.nan, 0.5, 0.09, math.nan], 0.1) == (400, "ok")
    p_star, flag = paper_rule(P, [math.nan] * 4, 0.1)
    assert math.isnan(p_star) and flag == "too_few_points"


def test_paper_rule_on_a_printed_curve(committed):
    """CNN s = 3, L = 3, v = 4, s0 = 0 (scale_P_TASK.ipynb cell 2): 0.68187 at P = 58860, 0.017787 at 98200;
    0.017787 is nearest 10 % and within 0.1."""
    curve = committed[(committed["quantity"] == "test_error") & (committed["arch"] == "cnn") & (committed["s"] == 3)]
    assert paper_rule(curve["P"].to_numpy(float), curve["value"].to_numpy(), 0.1) == (98200, "ok")
