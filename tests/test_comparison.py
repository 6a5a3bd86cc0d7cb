"""Our P* beside the authors' printed ones: their rule on both curves, ratios, summary, and the check preset."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from srhm.authors import COLUMNS, load_authors_measurements, older_grid
from srhm.comparison import (authors_p_stars, authors_predictions, compare, local_slope, local_slope_table,
                             markdown_section, summary, threshold)
from srhm.scaling import local_slopes

ROOT = Path(__file__).resolve().parent.parent


def authors_row(quantity, arch, v, s0, value, P=None, s=2, L=2):
    return {"quantity": quantity, "arch": arch, "s": s, "L": L, "v": v, "n_c": v, "m": v ** (s - 1), "s0": s0,
            "sparsity": "A", "width": 512, "P": P, "value": value, "source": "nb.ipynb cell 1 @ 3a964f5", "note": ""}


AUTHORS = pd.DataFrame([
    authors_row("p_star", "lcn", 4, 1, 904.0),
    # a curve without a printed P*: their rule picks 400 (error 0.13, nearest 0.1 within 0.1)
    *[authors_row("test_error", "cnn", 4, 1, e, P) for P, e in ((200, 0.5), (400, 0.13), (800, 0.01))],
    # a curve and a printed P*: the printed one wins
    *[authors_row("test_error", "lcn", 4, 1, e, P) for P, e in ((500, 0.3), (1000, 0.05))],
    # a curve none of whose points is within 0.1 of 10 %
    *[authors_row("test_error", "cnn", 6, 1, e, P) for P, e in ((100, 0.6), (200, 0.45))],
], columns=COLUMNS)


def our_runs(arch, v, s0, curves, experiment="exp", model=None):
    """curves: {seed: {P: test error}}."""
    return pd.DataFrame([{"experiment": experiment, "model": model or f"{arch}_H64", "arch": arch, "s": 2, "L": 2,
                          "v": v, "n_classes": v, "m": v, "s0": s0, "sparsity": "A", "seed": seed, "P": P,
                          "test_error": error}
                         for seed, curve in curves.items() for P, error in curve.items()])


def test_authors_values_prefer_the_printed_p_star_and_apply_their_rule_to_curves():
    table = authors_p_stars(AUTHORS).set_index(["arch", "v", "s0"])
    assert table.loc[("lcn", 4, 1), "authors"] == 904.0 and table.loc[("lcn", 4, 1), "authors_from"] == "printed"
    assert table.loc[("lcn", 4, 1), "authors_interpolated"] == pytest.approx(500 * 2 ** ((0.3 - 0.1) / 0.25))
    assert table.loc[("cnn", 4, 1), "authors"] == 400.0
    assert table.loc[("cnn", 4, 1), "authors_from"] == "their rule on their curve"
    assert ("cnn", 6, 1) not in table.index, "no grid point within 0.1 of the threshold: no value"
    assert threshold("vgg11") == 0.07 and threshold("cnn") == 0.1


def test_compare_reads_our_seed_mean_curve_by_their_rule_and_interpolated():
    runs = pd.concat([
        our_runs("cnn", 4, 1, {0: {300: 0.40, 450: 0.16, 700: 0.02}, 1: {300: 0.30, 450: 0.10, 700: 0.00}}),
        our_runs("lcn", 4, 1, {0: {600: 0.5, 1200: 0.2, 2400: 0.0}}, model="lcn_H512"),
        our_runs("cnn", 5, 1, {0: {100: 0.5, 900: 0.0}}),  # the authors did not run it
    ])
    table = compare(runs, AUTHORS).set_index(["arch", "v"])
    cnn = table.loc[("cnn", 4)]
    assert cnn["seeds"] == 2 and cnn["grid_points"] == 3
    assert cnn["ours_rule"] == 450 and cnn["ratio"] == pytest.approx(450 / 400)  # mean error 0.13 at 450
    expected = math.exp(math.log(450) + (0.13 - 0.1) / (0.13 - 0.01) * math.log(700 / 450))
    assert cnn["ours_interpolated"] == pytest.approx(expected)
    lcn = table.loc[("lcn", 4)]
    assert lcn["ours_rule"] == 1200 and lcn["ratio"] == pytest.approx(1200 / 904) and lcn["model"] == "lcn_H512"
    assert ("cnn", 5) not in table.index


def test_summary_counts_ratios_within_a_factor_1_5():
    table = pd.DataFrame({"ratio": [1.0, 1.4, 0.5, np.nan], "arch": ["cnn"] * 4, "s": 2, "L": 2, "v": [3, 4, 5, 6],
                          "s0": 1, "model": "cnn_H64"})
    result = summary(table)
    assert (result["instances"], result["measured"], result["within"]) == (4, 3, 2)
    assert result["median_factor"] == pytest.approx(1.4) and result["worst_factor"] == pytest.approx(2.0)
    assert result["worst"]["v"] == 5
    assert summary(table.iloc[3:])["measured"] == 0


def test_the_report_section_lists_every_compared_instance():
    runs = our_runs("cnn", 4, 1, {0: {300: 0.40, 450: 0.13, 700: 0.02}})
    lines = markdown_section(compare(runs, AUTHORS))
    assert lines[0] == "## Against the authors' measurements"
    assert any(line.startswith("| exp | cnn_H64 | cnn | 2 | 2 | 4 | 1 | 1 | 400 (their curve) | 450 |") for line in lines)
    assert any(line.startswith("Summary: 1 of 1 instances lie within ×1.5") for line in lines)
    assert "No instance" in "\n".join(markdown_section(compare(runs.iloc[:0], AUTHORS)))


def test_the_check_preset_trains_on_the_authors_grids_around_their_p_star():
    """Every P of the check preset is a point of the authors' own grid for that instance, within x2.5 of
    their P*, and every instance has an authors' value to compare with."""
    preset = yaml.safe_load((ROOT / "workflow/presets/check.yaml").read_text())
    theirs = authors_p_stars(load_authors_measurements()).set_index(["arch", "s", "L", "v", "s0"])
    for experiment in preset["experiments"].values():
        for block in experiment["instances"]:
            v, s0 = block.get("v", experiment.get("v")), block.get("s0", experiment.get("s0"))
            arch, L, s = experiment["arch"], experiment["L"], experiment["s"]
            values = block["P"]["values"]
            if arch == "cnn":
                assert set(values) <= set(older_grid("cnn", v, s0)), (v, s0)
            else:
                per_class = {int(x) for x in np.logspace(np.log10(v**L), np.log10(200 * v**L), 15)}
                assert {P // v for P in values} <= per_class and all(P % v == 0 for P in values), (arch, v, s0)
            p_star = theirs.loc[(arch, s, L, v, s0), "authors"]
            assert all(p_star / 2.5 <= P <= 2.5 * p_star for P in values), (arch, v, s0)


def test_local_slope_tables_set_our_local_exponents_beside_the_authors_on_the_same_windows():
    """Our CNN P* planted with exponent 1 up to x = 10^3 and 0.7 beyond: the windows on either side recover
    each; the authors' windows are those of their printed CNN P* (s = 2) against the same prediction."""
    x = np.geomspace(100, 1e5, 16)
    pstar = pd.DataFrame({"arch": "cnn", "s": 2, "sparsity": "A", "prediction": x,
                          "test_error_p_star": np.where(x <= 1e3, 2 * x, 2e3 * (x / 1e3) ** 0.7)})
    authors = authors_predictions(load_authors_measurements())
    table = local_slope_table(pstar.assign(test_error_p_star=lambda t: t["test_error_p_star"].where(x < 9e4)),
                              authors, 1.0)
    assert set(table["arch"]) == {"cnn"} and set(table["data"]) == {"ours", "authors"}
    ours = table[table["data"] == "ours"]
    np.testing.assert_allclose(ours.loc[ours["x_high"] <= 1e3, "slope"], 1.0)
    np.testing.assert_allclose(ours.loc[ours["x_low"] >= 1e3, "slope"], 0.7)
    assert ours["x_max"].max() < 9e4, "an instance without a P* is left out"
    theirs = authors[(authors["arch"] == "cnn") & (authors["s"] == 2)]
    expected = local_slopes(theirs["prediction"].to_numpy(float), theirs["authors"].to_numpy(float), 1.0)
    pd.testing.assert_frame_equal(table[table["data"] == "authors"][list(expected)].reset_index(drop=True), expected)
    assert local_slope_table(pstar.assign(sparsity="B"), authors, 1.0).query("data == 'authors'").empty, \
        "the authors ran no sparsity B"
    assert local_slope(ours.iloc[0]) == f"{ours['slope'].iloc[0]:.2f} ± {ours['slope_se'].iloc[0]:.2f}"


def test_authors_predictions_are_the_papers_formula_for_their_instances():
    theirs = authors_predictions(load_authors_measurements()).set_index(["arch", "s", "L", "v", "s0"])
    assert set(theirs.index.get_level_values("arch")) == {"lcn", "cnn"}, "the common nets have no prediction"
    assert theirs.loc[("cnn", 2, 2, 4, 1), "prediction"] == (1 + 1) ** 2 * 4 * 4**2
    assert theirs.loc[("lcn", 2, 2, 4, 1), "prediction"] == 2 * 2**2 * 4 * 4**2
