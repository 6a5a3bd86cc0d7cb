"""The paper's figures: drawn from small synthetic result tables, with the paper's styles, the files they
read and the files the CLI writes."""

from __future__ import annotations

import itertools
import json
import re
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgba

from srhm import analysis, theory
from srhm.authors import DATA as AUTHORS_DATA
from srhm.authors import load_authors_measurements
from srhm.paths import AUTHORS_TABLE
from srhm.cli import main
from srhm.comparison import authors_predictions, local_slope_table
from srhm.figures import FIGURES, figure_experiments, figure_module, figure_selections, figure_sources, render, style
from srhm.figures.fits import FittedLine, fitted_line
from srhm.figures.layouts import authors_points
from srhm.figures.tables import Selection
from srhm.report import CLAIMS, claim_rows
from srhm.scaling import least_squares_band
from srhm.sources import PACKAGE_ROOT, module_sources
from srhm.text import interval, number

# --------------------------------------------------------------------------------------- synthetic data

SETTINGS = {
    "fig04": {"lcn": ["lcn_s2"], "cnn": ["cnn_s2"], "curve": {"experiment": "lcn_s2", "v": 4, "L": 2, "s0": 1}},
    "fig05": {},
    "fig06": {"experiments": ["lcn_s2"]},
    "fig07": {"experiments": ["lcn_B"]},
    "fig08": {"experiments": ["cnn_B"]},
    "fig10": {"experiments": ["lcn_s3", "lcn_s2"]},
    "fig11": {"experiments": ["lcn_s3"]},
    "fig12": {"experiment": "lcn_s2", "v": 4, "L": 2},
    "fig13": {"experiments": ["cnn_s3"]},
    "fig14": {"experiments": ["cnn_s2", "cnn_s3"]},
    "fig15": {"experiment": "cnn_s2", "v": 4, "L": 2},
    "fig16": {"experiments": ["fcn"]},
    "authors_curves": {"experiments": ["cnn_s2", "lcn_s3"]},
    "local_slopes": {"experiments": ["lcn_s2", "cnn_s2"], "decades": 1},
}
DATA_AXES = {"fig04": 3, "fig05": 1, "fig06": 2, "fig07": 2, "fig08": 2, "fig10": 2, "fig11": 2, "fig12": 6,
             "fig13": 1, "fig14": 4, "fig15": 6, "fig16": 2, "authors_curves": 4, "local_slopes": 2}
"""Panels of each figure, colourbars not counted (Figs. 12 and 15 at L = 2: S and D x 2 layers + output;
authors_curves: the CNN at v = 4, 6 and s0 = 1, 2, whose curves the authors printed)."""
EXPERIMENTS = {  # name -> (arch, sparsity, s, v values, L values, s0 values)
    "lcn_s2": ("lcn", "A", 2, (4, 6), (2, 3), (0, 1, 2)),
    "cnn_s2": ("cnn", "A", 2, (4, 6), (2,), (0, 1, 2)),  # no L = 3: a regime the data lack
    "lcn_s3": ("lcn", "A", 3, (3,), (2,), (0, 1)),
    "cnn_s3": ("cnn", "A", 3, (3,), (2,), (0, 1)),
    "lcn_B": ("lcn", "B", 2, (4,), (2, 3), (1, 2)),
    "cnn_B": ("cnn", "B", 2, (4,), (2,), (1, 2)),
    "fcn": ("fcn", "A", 2, (4,), (2,), (0, 1)),
}
STUCK = {"experiment": "lcn_s2", "v": 6, "L": 3, "s0": 2}
"""A setting whose test error never reaches eps*: its P* is NaN."""
SEEDS = (0, 1)


def synthetic_runs(experiment: str) -> pd.DataFrame:
    """One row per run, the columns of srhm.runs.collect_runs that figures and analysis use.

    Every metric falls as a sigmoid of log(P / P_pred) (P_pred: the paper's prediction), with a small
    seed offset, so P* is a known multiple of the prediction; S and D stay above zero; D is NaN at s0 = 0.
    """
    arch, sparsity, s, vs, Ls, s0s = EXPERIMENTS[experiment]
    rows = []
    for v, L, s0, seed in itertools.product(vs, Ls, s0s, SEEDS):
        m = v ** (s - 1)
        predictions = {"p_star_rhm": float(theory.p_star_rhm(v, m, L)), "p_star_lcn": float(theory.p_star_lcn(v, m, s, L, s0)),
                       "p_star_cnn": float(theory.p_star_cnn(v, m, L, s0))}
        scale = predictions["p_star_cnn" if arch == "cnn" else "p_star_lcn"]
        stuck = dict(experiment=experiment, v=v, L=L, s0=s0) == STUCK
        for P in np.unique(np.round(scale * np.geomspace(0.2, 20, 7)).astype(int)):
            drop = 1.0 / (1.0 + (P / scale) ** 2 * (1.0 + 0.1 * seed))
            row = {"experiment": experiment, "arch": arch, "model": f"{arch}_H16", "width": 16, "v": v,
                   "n_classes": v, "m": m, "s": s, "L": L, "s0": s0, "sparsity": sparsity, "seed": seed, "P": int(P),
                   "test_error": 0.5 if stuck else 0.9 * drop, "stop_reason": "loss threshold",
                   **predictions}
            for kind, k, level in itertools.product("SD", [*map(str, range(1, L + 1)), "out"], range(1, L + 1)):
                value = 0.05 + 0.9 * drop ** (1.0 / level)
                row[f"{kind}_{k}_{level}"] = np.nan if kind == "D" and s0 == 0 else value
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results folder with a run table, a P* table and the fits of every synthetic experiment (`srhm analyse`)."""
    root = tmp_path_factory.mktemp("results")
    (root / "tables").mkdir()
    for experiment in EXPERIMENTS:
        table = root / "tables" / f"{experiment}.csv"
        synthetic_runs(experiment).to_csv(table, index=False)
        main(["analyse", str(table), "--bootstrap", "20", "--pstar", str(root / "tables" / f"{experiment}_pstar.csv"),
              "--fits", str(root / "fits" / f"{experiment}.json")])
    shutil.copy(AUTHORS_DATA, root / AUTHORS_TABLE)
    return root


def data_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


# ------------------------------------------------------------------------------------------------- style


def test_markers_follow_the_paper():
    assert [style.marker("s0", s0) for s0 in (0, 1, 2, 4, 6)] == ["D", "o", "x", "s", "v"]
    assert style.marker("s", 2) == "D" and style.marker("s", 3) == "o"
    assert style.marker("s0", 3) not in style.S0_MARKERS.values(), "an s0 the paper never used gets its own marker"
    with pytest.raises(ValueError, match="parameter"):
        style.marker("L", 2)


def test_depth_colours_are_reds_and_blues_darker_for_larger_v():
    v_range = (4.0, 10.0)
    for v in (4, 6, 8, 10):
        red, blue = style.v_colour(2, v, v_range), style.v_colour(3, v, v_range)
        assert red[0] > red[2] and blue[2] > blue[0]
    for L in (2, 3):
        brightness = [sum(style.v_colour(L, v, v_range)[:3]) for v in (4, 6, 8, 10)]
        assert np.all(np.diff(brightness) < 0), f"L={L}: larger v must be darker, got {brightness}"
    assert style.v_colour(2, 5, (5.0, 5.0)) == style.v_colourmap(2)(0.5), "a single v takes the middle shade"


def test_levels_follow_the_tab10_cycle():
    assert [style.level_colour(level) for level in (1, 2, 3)] == ["C0", "C1", "C2"]
    with pytest.raises(ValueError, match="level"):
        style.level_colour(0)


# ------------------------------------------------------------------------------------------------ fits


def test_fitted_line_recovers_a_power_law_and_brackets_it_with_the_least_squares_band():
    x = np.geomspace(10, 1e5, 12)
    y = 3.0 * x**1.5 * np.exp(0.05 * np.sin(np.arange(12)))
    line = fitted_line(x, y)
    assert isinstance(line, FittedLine) and line.fit.ci_method == "least_squares"
    assert line.fit.slope == pytest.approx(1.5, abs=0.02) and line.fit.prefactor == pytest.approx(3.0, rel=0.2)
    assert np.all(line.lo95 < line.y) and np.all(line.y < line.hi95)
    assert line.x.min() == pytest.approx(10) and line.x.max() == pytest.approx(1e5)
    low, high = least_squares_band(x, y, line.x)
    assert np.array_equal(line.lo95, low) and np.array_equal(line.hi95, high)
    assert "least squares" in line.label()


def test_fitted_line_with_too_few_distinct_x_gives_the_bare_fit():
    fit = fitted_line([1.0, 2.0, np.nan], [1.0, 2.0, 3.0])
    assert not isinstance(fit, FittedLine) and fit.flag == "too_few_distinct_x"


# --------------------------------------------------------------------------------------------- figures


def test_the_registry_has_every_figure_of_this_package():
    assert sorted(FIGURES) == sorted(set(SETTINGS) | {"fig01", "fig02", "fig03", "fig09", "fig17"})
    for name in FIGURES:
        module = figure_module(name)
        assert callable(module.draw) and callable(module.inputs) and callable(module.experiments)
        assert len(module.CAPTION) > 100
    with pytest.raises(ValueError, match="figure must be one of"):
        figure_module("fig99")


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_figure_draws_its_panels(name, results):
    fig = figure_module(name).draw(results, SETTINGS[name])
    assert len(data_axes(fig)) == DATA_AXES[name]
    assert fig.notes, "every figure says what its data show or lack"


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_inputs_are_exactly_the_tables_read(name, results, monkeypatch):
    """Every table and fits file a figure reads is among its inputs (its rule's inputs), and nothing else is."""
    read = []
    for module, reader in ((pd, "read_csv"), (analysis, "read_json")):
        original = getattr(module, reader)
        monkeypatch.setattr(module, reader, lambda path, *a, _original=original, **k: read.append(path)
                            or _original(path, *a, **k))
    module = figure_module(name)
    module.draw(results, SETTINGS[name])
    assert {str(path.relative_to(results)) for path in read} == set(module.inputs(SETTINGS[name]))


def test_scaling_panels_plot_every_finite_p_star_and_name_the_missing(results):
    fig = figure_module("fig04").draw(results, SETTINGS["fig04"])
    lcn = pd.read_csv(results / "tables" / "lcn_s2_pstar.csv")
    finite = int(lcn["test_error_p_star"].notna().sum())
    assert finite == len(lcn) - 1, "the synthetic data have exactly one setting without P*"
    notes = "\n".join(fig.notes)
    assert f"(B) LCN, s = 2: {finite} of {len(lcn)} settings plotted." in notes
    assert "v=6, L=3, s=2, s0=2 (test_error_p_star: plateau_above)" in notes
    assert re.search(r"\(C\) CNN, s = 2: not in the data \(the paper has them\): L = 3; s0 = 4, 6", notes)
    assert re.search(r"\(B\) LCN, s = 2: fit y = \S+ x\^(\S+) on 11 points by least squares", notes)
    assert "the shaded band is the least-squares 95% confidence band" in notes
    legend = [text.get_text() for text in data_axes(fig)[1].get_legend().get_texts()]
    assert "least-squares 95% band" in legend and any("(seed bootstrap)" in text for text in legend)
    assert "(B) LCN, s = 2: fit y" in notes and "the report's fit (fits/lcn_s2.json)" in notes
    texts = [text.get_text() for text in data_axes(fig)[2].texts]
    assert any("not in the data: L = 3" in text for text in texts), "the panel itself says what it lacks"


def test_a_fit_legend_prints_the_interval_the_report_prints(results):
    """Fig. 6D draws the fit of every instance of its experiment: its legend gives the report's seed-bootstrap
    interval of that slope (results/fits), in the report's digits, not a least-squares one of its own."""
    claims = claim_rows(results, {"fig06": SETTINGS["fig06"]}).set_index("claim")
    printed = interval(claims.loc["LCN: P* ≈ P*_D — exponent of P* vs P*_D (Eq. 8, Fig. 6D)", "ci95"])
    fig = figure_module("fig06").draw(results, SETTINGS["fig06"])
    legend = [text.get_text() for text in data_axes(fig)[1].get_legend().get_texts()]
    assert printed.startswith("[") and any(printed in text and "seed bootstrap" in text for text in legend), legend
    assert any(f"95% CI {printed} (seed bootstrap" in note for note in fig.notes)


def test_points_of_several_experiments_are_fitted_by_least_squares_and_a_stale_fit_is_refused(results, tmp_path):
    """A panel of two experiments' points draws no fit of the report (each fits its own experiment) but its own
    least-squares fit, and says so; a fits file whose fit is not that of its P* table stops the figure."""
    shutil.copytree(results, tmp_path, dirs_exist_ok=True)
    for folder, suffix in (("tables", "_pstar.csv"), ("fits", ".json")):
        shutil.copy(tmp_path / folder / f"lcn_s2{suffix}", tmp_path / folder / f"lcn_again{suffix}")
    fig = figure_module("fig06").draw(tmp_path, {"experiments": ["lcn_s2", "lcn_again"]})
    legend = [text.get_text() for text in data_axes(fig)[0].get_legend().get_texts()]
    assert any("(least squares)" in text for text in legend) and not any("seed bootstrap" in text for text in legend)
    assert any("a least-squares fit of the points drawn" in note for note in fig.notes)
    fits = json.loads((tmp_path / "fits" / "lcn_s2.json").read_text())
    fits["fits"]["p_star_vs_p_star_S"]["slope"] += 0.1
    (tmp_path / "fits" / "lcn_s2.json").write_text(json.dumps(fits))
    with pytest.raises(ValueError, match=re.escape("fits/lcn_s2.json: its fit p_star_vs_p_star_S is not that")):
        figure_module("fig06").draw(tmp_path, SETTINGS["fig06"])


def test_prediction_panels_show_the_authors_values_as_open_markers(results):
    """Figs. 4B/C, 10 and 13: every P* the authors printed for the panel's family, at its prediction, hollow."""
    for name, panel, arch, family in (("fig04", 1, "lcn", {"s": 2}), ("fig04", 2, "cnn", {"s": 2}),
                                      ("fig10", 0, "lcn", {"s": 3}), ("fig13", 0, "cnn", {"s": 3})):
        fig = figure_module(name).draw(results, SETTINGS[name])
        theirs = authors_points(results, arch, **family)
        hollow = [line for line in data_axes(fig)[panel].lines if line.get_markerfacecolor() == "none"]
        assert len(theirs) and len(hollow) == len(theirs), (name, panel)
        drawn = sorted((float(line.get_xdata()[0]), float(line.get_ydata()[0])) for line in hollow)
        assert drawn == sorted(zip(theirs["prediction"], theirs["test_error_p_star"]))
        assert any(f"{len(theirs)} P* printed by the authors (open markers" in note for note in fig.notes)
    lcn = authors_points(results, "lcn", s=2).set_index(["v", "L", "s0"])
    assert lcn.loc[(4, 2, 1), "test_error_p_star"] == 904 and lcn.loc[(4, 2, 1), "prediction"] == 2 * 4 * 4 * 16


def test_local_slopes_draw_the_windows_of_the_report_and_its_fits(results):
    """Each panel draws our windows and the authors' (srhm.comparison.local_slope_table), our exponent over all
    our instances with the report's seed-bootstrap interval, and the authors' exponent over all theirs as the
    report's "authors' data" prints it."""
    fig = figure_module("local_slopes").draw(results, SETTINGS["local_slopes"])
    claims = claim_rows(results, {"fig04": {"lcn": ["lcn_s2"], "cnn": ["cnn_s2"]}},
                        load_authors_measurements(results / AUTHORS_TABLE)).set_index("claim")
    authors = authors_predictions(load_authors_measurements(results / AUTHORS_TABLE))
    for ax, experiment, claim in zip(data_axes(fig), ("lcn_s2", "cnn_s2"), (CLAIMS[0], CLAIMS[2])):
        row = claims.loc[claim.text]
        legend = [text.get_text() for text in ax.get_legend().get_texts()]
        assert f"ours, all {row['n_points']:.0f}: {number(row['ours'])}, 95% CI {interval(row['ci95'])} (seed bootstrap)" \
            in legend, legend
        assert any(text.startswith("authors, all ") and f": {number(row['authors'])} (least squares)" in text
                   for text in legend)
        windows = local_slope_table(pd.read_csv(results / "tables" / f"{experiment}_pstar.csv"), authors, 1.0)
        drawn = [line for line in ax.lines if line.get_marker() == "o"]
        for line, data in zip(drawn, ("ours", "authors")):
            expected = windows[windows["data"] == data]
            np.testing.assert_allclose(line.get_xdata(), expected["x_centre"])
            np.testing.assert_allclose(line.get_ydata(), expected["slope"])
        assert len(drawn) == 2 and drawn[1].get_markerfacecolor() == "none", "the authors' windows are open"


def test_invariance_panels_leave_out_s0_zero_from_d(results):
    fig = figure_module("fig06").draw(results, SETTINGS["fig06"])
    lcn = pd.read_csv(results / "tables" / "lcn_s2_pstar.csv")
    with_d = lcn[lcn["s0"] > 0]
    finite_d = int((with_d["D_p_star"].notna() & with_d["test_error_p_star"].notna()).sum())
    notes = "\n".join(fig.notes)
    assert f"P* vs P*_D: {finite_d} of {len(with_d)} settings plotted." in notes
    assert f"P* vs P*_D: {int((lcn['s0'] == 0).sum())} settings with s0 = 0 left out" in notes
    assert "($S_2$ = 30%)" in data_axes(fig)[0].get_xlabel(), "LCN s = 2 synonym threshold, from the table"
    fcn = figure_module("fig16").draw(results, SETTINGS["fig16"])
    assert r"($S_{\rm out}$ = 20%)" in data_axes(fcn)[0].get_xlabel(), "the FCN's output sensitivity at 20 %"


def test_layers_figure_without_sparse_runs_says_d_is_undefined(results, tmp_path):
    (tmp_path / "tables").mkdir()
    runs = pd.read_csv(results / "tables" / "lcn_s2.csv")
    runs[runs["s0"] == 0].to_csv(tmp_path / "tables" / "lcn_s2.csv", index=False)
    fig = figure_module("fig12").draw(tmp_path, SETTINGS["fig12"])
    axes = data_axes(fig)
    assert len(axes) == 6 and all(ax.lines for ax in axes[:3]), "S panels still drawn"
    assert all(any("D is undefined" in text.get_text() for text in ax.texts) for ax in axes[3:])


def test_collapse_divides_p_by_the_predicted_sample_complexity(results):
    fig = figure_module("fig07").draw(results, SETTINGS["fig07"])
    raw, collapsed = data_axes(fig)
    settings = pd.read_csv(results / "tables" / "lcn_B.csv")[["v", "m", "L", "s0"]].drop_duplicates()
    scales = sorted(float(theory.sparsity_factor("lcn", s0, L) * theory.p_star_rhm(v, m, L))
                    for v, m, L, s0 in settings.itertuples(index=False))
    curves = zip(raw.lines[: len(settings)], collapsed.lines[: len(settings)])  # then the eps* lines
    ratios = [np.asarray(a.get_xdata(), float) / np.asarray(b.get_xdata(), float) for a, b in curves]
    assert all(np.allclose(ratio, ratio[0]) for ratio in ratios)
    assert sorted(ratio[0] for ratio in ratios) == pytest.approx(scales)


def test_fig5_keeps_only_points_with_at_least_one_informative_patch():
    fig = figure_module("fig05").draw(None, {})
    (dots,) = [c for c in data_axes(fig)[0].collections if isinstance(c, PathCollection)]
    F, d = dots.get_offsets().T
    assert np.all(F * d >= theory.FIG5_S)
    assert len(F) == theory.fig5_map().F.size < theory.FIG5_F.size * theory.FIG5_D.size


def test_panel_a_marks_p_star_at_eps_star(results):
    fig = figure_module("fig04").draw(results, SETTINGS["fig04"])
    ax = data_axes(fig)[0]
    row = pd.read_csv(results / "tables" / "lcn_s2_pstar.csv").query("v == 4 and L == 2 and s0 == 1").iloc[0]
    assert any(np.allclose(line.get_ydata(), row["test_error_threshold"]) for line in ax.lines)
    assert any(np.allclose(line.get_xdata(), row["test_error_p_star"]) for line in ax.lines)
    red = to_rgba(ax.lines[0].get_color())
    assert red[0] > red[2], "an L = 2 curve is red"


def test_drawing_is_deterministic(results):
    first = figure_module("fig14").draw(results, SETTINGS["fig14"]).notes
    assert figure_module("fig14").draw(results, SETTINGS["fig14"]).notes == first


@pytest.mark.parametrize("name, settings, message", [
    ("fig06", {}, "settings.experiments"),
    ("fig12", {"experiment": "lcn_s2", "L": 2}, "settings.v"),
    ("fig04", {"lcn": ["lcn_s2"], "cnn": ["cnn_s2"]}, "settings.curve"),
    ("fig04", {"lcn": [], "cnn": ["cnn_s2"], "curve": SETTINGS["fig04"]["curve"]}, "settings.lcn"),
    ("local_slopes", {"experiments": ["lcn_s2"], "decades": 0}, "settings.decades"),
])
def test_bad_settings_name_the_key(name, settings, message, results):
    with pytest.raises(ValueError, match=re.escape(message)):
        render(name, settings, results, results / "unused.pdf")


def test_each_figure_declares_the_experiments_it_reads():
    assert figure_experiments("fig04", SETTINGS["fig04"]) == ["lcn_s2", "cnn_s2"]
    assert figure_experiments("fig14", SETTINGS["fig14"]) == ["cnn_s2", "cnn_s3"]
    assert figure_experiments("fig12", SETTINGS["fig12"]) == ["lcn_s2"] and figure_experiments("fig05", {}) == []
    for name, settings in SETTINGS.items():  # every table a figure reads belongs to an experiment it declares
        experiments = set(figure_experiments(name, settings))
        tables = [Path(path).stem.removesuffix("_pstar") for path in figure_module(name).inputs(settings)
                  if path != AUTHORS_TABLE]
        assert set(tables) == experiments, name
    with pytest.raises(ValueError, match="settings.experiments must be a non-empty list"):
        figure_experiments("fig06", {"experiment": "lcn_s2"})


def test_each_figure_selects_runs_of_the_experiments_it_declares():
    """What the plan checks before any job (srhm.plan refuses a selection no experiment trains)."""
    assert figure_selections("fig12", SETTINGS["fig12"]) == [
        Selection(("lcn_s2",), {"v": 4, "L": 2}, {"arch": ("lcn",), "sparsity": ("A",)})]
    assert figure_selections("fig04", SETTINGS["fig04"]) == [
        Selection(("lcn_s2",), {"v": 4, "L": 2, "s0": 1}, setting="curve")]
    assert figure_selections("fig06", SETTINGS["fig06"]) == []
    for name, settings in SETTINGS.items():
        for selection in figure_selections(name, settings):
            assert set(selection.experiments) <= set(figure_experiments(name, settings)), name
    with pytest.raises(ValueError, match="settings.v must be an integer"):
        figure_selections("fig15", {"experiment": "cnn_s2", "L": 2})


def test_a_figure_is_drawn_by_its_module_and_the_modules_it_imports():
    sources = figure_sources("fig04")
    assert {"srhm/figures/fig04.py", "srhm/figures/panels.py", "srhm/figures/layouts.py", "srhm/theory.py"} <= set(sources)
    assert not [path for path in sources if path.startswith("srhm/figures/fig") and path != "srhm/figures/fig04.py"]
    assert "srhm/models/hierarchical.py" in figure_sources("fig03")  # imported inside a function: it counts too
    assert not {"srhm/train.py", "srhm/figures/fig04.py"} & set(module_sources("srhm.report"))
    assert all((PACKAGE_ROOT / path).is_file() for path in sources) and sources == sorted(sources)
    with pytest.raises(ValueError, match="module must be an srhm module"):
        module_sources("numpy")
    with pytest.raises(ValueError, match="figure must be one of"):
        figure_sources("fig99")


# ------------------------------------------------------------------------------------------------- CLI


def test_cli_writes_pdf_png_and_caption_atomically(results, tmp_path):
    out = tmp_path / "figures" / "fig06.pdf"
    main(["figure", "fig06", "--settings", json.dumps(SETTINGS["fig06"]), "--results", str(results), "--out", str(out)])
    assert out.read_bytes().startswith(b"%PDF")
    assert out.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
    caption = out.with_suffix(".md").read_text()
    assert figure_module("fig06").CAPTION in caption and "settings plotted" in caption
    assert "`tables/lcn_s2_pstar.csv`" in caption
    assert sorted(path.name for path in out.parent.iterdir()) == ["fig06.md", "fig06.pdf", "fig06.png"]


def test_cli_reports_missing_tables_before_drawing(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["figure", "fig06", "--settings", '{"experiments": ["nowhere"]}', "--results", str(tmp_path),
              "--out", str(tmp_path / "fig06.pdf")])
    assert exit_info.value.code == 2
    assert "tables/nowhere_pstar.csv" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
