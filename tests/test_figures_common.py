"""The common-architecture figures (Figs. 1, 9, 17) from small synthetic tables, the schematics (Figs. 2, 3)
against the generator and the models they are drawn from, and the experiments that feed them: several
architectures in one experiment, the number of hidden layers in the run table, the presets' grids."""

from __future__ import annotations

import itertools
import json
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.collections import LineCollection

from srhm.architectures import COMMON, HIERARCHICAL
from srhm.cifar import tables as cifar_tables
from srhm.config import WORKFLOW_DIR, resolve
from srhm.data import EMPTY, SRHM
from srhm.paths import pool_stem
from srhm.figures import common_nets, figure_module, render
from srhm.figures import fig02, fig03
from srhm.models import build_model
from srhm.plan import Plan
from srhm.runs import collect_runs
from srhm.sensitivity import measure_sensitivities

N_HIDDEN = {"lcn": 2, "cnn": 2, "vgg11": 8, "vgg16": 13, "resnet18": 17, "resnet34": 33, "efficientnetb0": 64}
GRID = (1000, 4400, 7400, 13400, 50000)
SINGLE_P = 7400
SEEDS = (0, 1)
SETTINGS = {"experiments": ["common"], "P": SINGLE_P}


def synthetic_common_runs() -> pd.DataFrame:
    """Runs of every net over GRID and SEEDS, the columns collect_runs writes.

    Sensitivities encode where they come from: {kind}_{k}_1 = (k + 100 [kind == D]) / 1000 + net / 10 with
    net the index in NETS, so a value names its layer; the output's are 0.5 + net / 20. The test error falls
    with P and reaches 0 for VGG16 at the largest P (left out of the sweeps, eps < 0.001).
    """
    rows = []
    for (index, net), P, seed in itertools.product(enumerate(common_nets.NETS), GRID, SEEDS):
        error = 0.0 if (net == "vgg16" and P == GRID[-1]) else 0.8 / (1 + P / 3000) * (1 + 0.1 * seed)
        row = {"experiment": "common", "dataset": f"v10_nc10_m10_s2_L2_s02_A_seed{seed}", "arch": net, "model": net,
               "v": 10, "n_classes": 10, "m": 10, "s": 2, "L": 2, "s0": 2, "sparsity": "A", "seed": seed, "P": P,
               "test_error": error, "epochs": 12 + seed,
               "stop_reason": "max epochs" if net == "resnet34" else "loss threshold", "n_hidden": N_HIDDEN[net]}
        for kind, offset in (("S", 0), ("D", 100)):
            row.update({f"{kind}_{k}_{level}": (k + offset) / 1000 + index / 10 + 0.01 * seed
                        for k in range(1, N_HIDDEN[net] + 1) for level in (1, 2)})
            row[f"{kind}_out_1"] = 0.5 + index / 20 + offset / 1000 + 0.01 * seed
        rows.append(row)
    return pd.DataFrame(rows)


def synthetic_cifar() -> pd.DataFrame:
    """Both sources of srhm.cifar.tables: four nets digitised at P = 50000 (no seed), and ResNet18 and LeNet
    measured at three P with two seeds."""
    rows = [{"net": net, "source": "digitised", "P": 50000, "seed": np.nan, "test_error": error,
             "relative_sensitivity": r, "diffeo_sensitivity": np.nan, "noise_sensitivity": np.nan}
            for net, r, error in (("resnet18", 0.04, 0.04), ("lenet", 0.6, 0.25), ("fullconnl4", 3.5, 0.575),
                                  ("vgg11", 0.28, 0.085))]
    rows += [{"net": net, "source": "measured", "P": P, "seed": seed, "test_error": 0.5 / np.log10(P) + 0.01 * seed,
              "relative_sensitivity": 0.05 * scale * 50000 / P, "diffeo_sensitivity": 0.01, "noise_sensitivity": 0.02}
             for (net, scale), P, seed in itertools.product((("resnet18", 1.0), ("lenet", 8.0)), (512, 5000, 50000),
                                                           (0, 1))]
    return pd.DataFrame(rows, columns=list(cifar_tables.COLUMNS))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    (root / "tables").mkdir()
    synthetic_common_runs().to_csv(root / "tables" / "common.csv", index=False)
    synthetic_cifar().to_csv(root / "tables" / "cifar_stability.csv", index=False)
    return root


def data_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def marker_points(ax) -> dict[str, tuple[float, float]]:
    """Legend label -> (x, y) of the error-bar points of a single-P panel."""
    return {container.get_label(): tuple(float(v[0]) for v in container.lines[0].get_data())
            for container in ax.containers}


def seed_mean(runs: pd.DataFrame, arch: str, P: int, column: str) -> float:
    return float(runs[(runs["arch"] == arch) & (runs["P"] == P)][column].mean())


# ------------------------------------------------------------------------------------- layer at depth


@pytest.mark.parametrize("arch", HIERARCHICAL[:2] + COMMON)
def test_depth_layer_is_the_models_layer_at_depth(arch):
    net = build_model(arch, v=10, n_classes=10, s=2, s0=2, L=2, init_seeds=(0,))
    n_hidden = len(net.hidden_layers)
    assert n_hidden == N_HIDDEN[arch]
    for fraction in common_nets.DEPTHS:
        assert common_nets.depth_layer(n_hidden, fraction) == net.hidden_layers.index(net.layer_at_depth(fraction)) + 1
    assert common_nets.depth_layer(2, 0.8) == 2, "the LCN's second layer at 4/5 depth (as the authors' stabs.py)"


def test_sensitivity_reads_the_output_or_the_layer_at_depth():
    runs = synthetic_common_runs()
    output = common_nets.sensitivity(runs, "D", common_nets.OUTPUT)
    assert np.array_equal(output, runs["D_out_1"])
    deep = common_nets.sensitivity(runs, "S", 0.8)
    layer = np.rint((deep - runs["arch"].map(common_nets.NETS.index) / 10 - 0.01 * runs["seed"]) * 1000).astype(int)
    expected = (runs["n_hidden"] * 0.8).astype(int) + 1
    assert np.array_equal(layer, expected), "each run's value comes from its own layer k = int(0.8 N) + 1"
    with pytest.raises(ValueError, match="fraction"):
        common_nets.sensitivity(runs, "S", 1.0)
    with pytest.raises(ValueError, match="n_hidden"):
        common_nets.sensitivity(runs.drop(columns="n_hidden"), "S", 0.5)
    with pytest.raises(ValueError, match="kind"):
        common_nets.sensitivity(runs, "X", common_nets.OUTPUT)


def test_opacity_grows_with_p():
    alpha = common_nets.opacity(pd.Series([400, 100, 200, 100], index=[3, 5, 7, 9]))
    assert alpha.tolist() == pytest.approx([1.0, 0.2, 0.6, 0.2]) and alpha.index.tolist() == [3, 5, 7, 9]
    assert common_nets.opacity(pd.Series([7400, 7400])).tolist() == [1.0, 1.0], "a single P is opaque"


# --------------------------------------------------------------------------------- Figs. 1, 9 and 17


def test_fig17_single_p_panels_plot_seed_means_at_four_fifths_depth(results):
    runs = synthetic_common_runs()
    fig = figure_module("fig17").draw(results, SETTINGS)
    axes = data_axes(fig)
    assert len(axes) == 4
    runs = runs.assign(D_deep=common_nets.sensitivity(runs, "D", 0.8))
    points = marker_points(axes[0])
    assert sorted(points) == sorted(common_nets.LABELS.values()), "the seven nets"
    for arch, label in common_nets.LABELS.items():
        assert points[label] == pytest.approx((seed_mean(runs, arch, SINGLE_P, "D_deep"),
                                               seed_mean(runs, arch, SINGLE_P, "test_error")))
    guide = [line for line in axes[0].lines if line.get_linestyle() == "-"]
    assert len(guide) == 1 and np.allclose(guide[0].get_ydata(), guide[0].get_xdata() / 2), "eps = D / 2"
    notes = "\n".join(fig.notes)
    assert "SRHM instances: v10_nc10_m10_s2_L2_s02_A (the paper's: v10_nc10_m10_s2_L2_s02_A)." in notes
    assert "VGG16 k = 11 of 13" in notes and "LCN k = 2 of 2" in notes and "EfficientNetB0 k = 52 of 64" in notes
    assert "ResNet34: 10 runs" in notes and "stopped before the training loss reached its threshold" in notes


def test_fig01_output_panels_and_sweeps(results):
    runs = synthetic_common_runs()
    fig = figure_module("fig01").draw(results, dict(SETTINGS, cifar="measured"))
    axes = data_axes(fig)
    assert len(axes) == 6
    single_s = marker_points(axes[2])  # top row: A, C, D
    assert single_s["VGG11"] == pytest.approx((seed_mean(runs, "vgg11", SINGLE_P, "S_out_1"),
                                               seed_mean(runs, "vgg11", SINGLE_P, "test_error")))
    sweep = axes[4]  # bottom row: B, E, F
    offsets = np.concatenate([collection.get_offsets() for collection in sweep.collections])
    shown = runs[runs["arch"].isin(common_nets.SWEEP_NETS)].groupby(["arch", "P"])["test_error"].mean()
    assert len(offsets) == int((shown >= common_nets.MIN_ERROR).sum()) == len(shown) - 1, "VGG16's eps = 0 left out"
    assert offsets[:, 1].min() >= common_nets.MIN_ERROR
    for collection in sweep.collections:
        alphas = np.asarray(collection.get_alpha())
        assert np.all(np.diff(alphas) > 0), "opacity grows with P along each net"
    assert "(E) SRHM, increasing P: 1 (net, P) points left out" in "\n".join(fig.notes)


def test_fig01_cifar_panels_name_their_sources(results):
    fig = figure_module("fig01").draw(results, dict(SETTINGS, cifar="measured"))
    full, sweep = data_axes(fig)[0], data_axes(fig)[3]
    legend = [text.get_text() for text in full.get_legend().get_texts()]
    assert legend[:2] == ["digitised (Petrini et al. 2021)", "measured here"]
    assert legend[2].startswith("fit"), "grey power-law line"
    assert len(full.collections) == 4 + 2, "four digitised nets and two measured ones, each at its largest P"
    assert {text.get_text() for text in full.texts} == {"ResNet18", "LeNet", "FullConnL4", "VGG11"}
    hollow = [c for c in full.collections if c.get_facecolor().size == 0 or c.get_facecolor()[0][3] == 0]
    assert len(hollow) == 4, "digitised points are hollow"
    notes = "\n".join(fig.notes)
    assert "CIFAR-10 table: tables/cifar_stability.csv (figures.fig01.cifar = measured); 4 rows digitised" in notes
    assert "(B) CIFAR-10, increasing P: no points for EfficientNetB0." in notes
    sweep_points = sum(len(collection.get_offsets()) for collection in sweep.collections)
    assert sweep_points == 2 * (3 + 1) + 1, "ResNet18, LeNet: three measured P and the digitised one; FullConnL4"


def test_fig09_has_a_panel_per_net_and_depth_with_three_curves(results):
    fig = figure_module("fig09").draw(results, {"experiments": ["common"]})
    axes = data_axes(fig)
    assert len(axes) == 3 * 5
    assert all(len(ax.lines) == 3 for ax in axes), "test error, S_k and D_k"
    titles = [ax.get_title() for ax in axes]
    assert titles[5 * 2 + 1] == "VGG16, depth 4/5 (k = 11 of 13)"
    assert titles[0] == "VGG11, depth 1/5 (k = 2 of 8)"
    runs = synthetic_common_runs()
    s_curve = axes[5 * 2 + 1].lines[1]
    vgg16 = runs[runs["arch"] == "vgg16"]
    expected = vgg16.assign(S=common_nets.sensitivity(vgg16, "S", 0.8)).groupby("P")["S"].mean()
    assert np.allclose(s_curve.get_xdata(), expected.index) and np.allclose(s_curve.get_ydata(), expected)


def test_sweep_panels_draw_the_nets_the_settings_name_in_their_order(results):
    fig = figure_module("fig17").draw(results, dict(SETTINGS, sweep_nets=["vgg11", "cnn"]))
    legend = [text.get_text() for text in data_axes(fig)[2].get_legend().get_texts()]
    assert legend == ["VGG11", "CNN", "opacity: P = 1000..50000"]
    assert len(data_axes(fig)[2].collections) == 2


@pytest.mark.parametrize("name, panel", [("fig01", 1), ("fig01", 2), ("fig17", 0), ("fig17", 1)])
def test_single_p_panels_draw_one_point_per_net_in_the_papers_order(name, panel, results):
    fig = figure_module(name).draw(results, dict(SETTINGS, cifar="measured"))
    ax = data_axes(fig)[panel]
    labels = [common_nets.LABELS[net] for net in common_nets.NETS]
    assert [container.get_label() for container in ax.containers] == labels, "one error-bar point per net"
    assert [text.get_text() for text in ax.get_legend().get_texts()][-len(labels):] == labels, "after the guide"
    markers = [container.lines[0].get_marker() for container in ax.containers]
    assert markers == [common_nets.MARKERS[net] for net in common_nets.NETS] and len(set(markers)) == len(labels)


def test_missing_nets_are_said(results, tmp_path):
    (tmp_path / "tables").mkdir()
    runs = synthetic_common_runs()
    runs[runs["arch"].isin(["lcn", "vgg16"])].to_csv(tmp_path / "tables" / "common.csv", index=False)
    fig = figure_module("fig09").draw(tmp_path, {"experiments": ["common"]})
    assert "ResNet34, depth 1/2: no runs." in fig.notes
    fig = figure_module("fig17").draw(tmp_path, SETTINGS)
    assert "(A) SRHM, P = 7400: no run with a finite D at P = 7400 for CNN, VGG11, ResNet18, ResNet34, " \
           "EfficientNetB0." in fig.notes


@pytest.mark.parametrize("name", ["fig01", "fig09", "fig17"])
def test_inputs_are_exactly_the_tables_read(name, results, monkeypatch):
    read = []
    original = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda path, *a, **k: read.append(path) or original(path, *a, **k))
    settings = dict(SETTINGS, cifar="measured")
    module = figure_module(name)
    module.draw(results, settings)
    assert {str(path.relative_to(results)) for path in read} == set(module.inputs(settings))


def test_fig01_reads_the_cifar_table_its_settings_name():
    assert fig01_inputs("digitised") == ["tables/common.csv", "tables/cifar_stability_digitised.csv"]
    assert fig01_inputs("measured") == ["tables/common.csv", "tables/cifar_stability.csv"]


def fig01_inputs(source: str) -> list[str]:
    return figure_module("fig01").inputs(dict(SETTINGS, cifar=source))


@pytest.mark.parametrize("name, settings, message", [
    ("fig17", {"experiments": ["common"]}, "settings.P"),
    ("fig01", {"experiments": ["common"], "P": 7400, "cifar": "scanned"}, "settings.cifar"),
    ("fig09", {}, "settings.experiments"),
    ("fig01", {"experiments": ["common"], "P": 7400, "sweep_nets": ["fcn"], "cifar": "digitised"},
     "settings.sweep_nets"),
])
def test_bad_settings_name_the_key(name, settings, message, results):
    with pytest.raises(ValueError, match=re.escape(message)):
        render(name, settings, results, results / "unused.pdf")


# ---------------------------------------------------------------------------------- Figs. 2 and 3


def test_fig02_draws_every_arrangement_of_both_sparsities():
    fig = figure_module("fig02").draw(None, {})
    slots = [patch.get_gid() for ax in fig.axes for patch in ax.patches]
    for sparsity in "AB":
        ds = SRHM(**fig02.SPARSE, sparsity=sparsity, seed=fig02.GRAMMAR_SEED)
        assert slots.count(f"slot-{sparsity}") == ds.n_arrangements * ds.s
    assert slots.count("slot-A") == 4 * 2 and slots.count("slot-B") == 6 * 2, "Fig. 2(3): 4 and 6 arrangements"
    assert slots.count("rule") == (2 + 3) * 3 * 2, "(n_c + v) parents x m rules x s symbols"


def test_fig02_trees_end_in_the_input_and_empties_expand_to_empty_patches():
    rhm = SRHM(**fig02.RHM, seed=fig02.GRAMMAR_SEED)
    batch = rhm.sample(50, seed=3)
    tree = fig02.feature_tree(rhm, batch)
    assert [level.shape for level in tree] == [(50, 1), (50, 2), (50, 4)]
    assert np.array_equal(tree[-1], batch.x), "s0 = 0: the leaves are the input"
    sparse = SRHM(**fig02.SPARSE, seed=fig02.GRAMMAR_SEED)
    batch = sparse.sample(50, seed=3)
    upper = fig02.top_patch(sparse, batch)
    blocks = batch.x.reshape(50, sparse.patch, -1)
    informative = (blocks != EMPTY).sum(axis=2)
    assert np.array_equal(informative == 0, upper == EMPTY), "an empty element expands into an empty block"
    assert np.all(informative[upper != EMPTY] == sparse.s)
    leaves = fig02.feature_tree(sparse, batch)[-1]
    assert np.array_equal(leaves, batch.x[batch.x != EMPTY].reshape(50, -1)), "leaves in order are the input's symbols"


def test_fig03_lcn_has_a_filter_per_position_and_the_cnn_one_shared():
    nets = {arch: build_model(arch, **fig03.NET) for arch in ("lcn", "cnn")}
    assert [fig03.filter_groups(layer).tolist() for layer in nets["lcn"].layers] == [[0, 1, 2, 3], [0]]
    assert [fig03.filter_groups(layer).tolist() for layer in nets["cnn"].layers] == [[0, 0, 0, 0], [0]]
    fig = figure_module("fig03").draw(None, {})
    collections = {c.get_gid(): c for ax in fig.axes for c in ax.collections if isinstance(c, LineCollection)}
    for arch, net in nets.items():
        for l, layer in enumerate(net.layers, start=1):
            lines = collections[f"{arch}-layer{l}"]
            assert len(lines.get_segments()) == layer.n_out * layer.k == net.d // layer.k ** (l - 1)
            colours = np.unique(lines.get_colors(), axis=0)
            assert len(colours) == (layer.n_out if arch == "lcn" else 1)


def test_schematics_read_no_tables():
    for name in ("fig02", "fig03"):
        assert figure_module(name).inputs({}) == []


# --------------------------------------------------------------------------------- experiments


BASE = {
    "test_size": 500,
    "experiments": {"common": {"arch": ["lcn", "vgg11", "resnet18"], "v": 10, "s": 2, "L": 2, "s0": 2,
                               "seeds": [0, 1], "width": 32, "P": {"values": [400, 800]}}},
    "figures": {},
}


def test_an_experiment_may_list_several_architectures():
    plan = Plan.from_config(resolve(BASE))
    experiment = plan.experiments["common"]
    assert experiment.archs == ("lcn", "vgg11", "resnet18")
    assert {(run.arch, run.width) for run in experiment.runs} == {("lcn", 32), ("vgg11", None), ("resnet18", None)}
    assert len(experiment.runs) == 3 * 2 * 2
    assert len({run.dataset.name for run in experiment.runs}) == 2, "every architecture trains on the same datasets"
    single = [e for e in plan.ensembles.values() if e.arch != "lcn"]
    assert len(single) == 2 * 2 * 2 and all(len(e.runs) == 1 for e in single), "BatchNorm nets train one per job"
    assert sum(len(e.runs) for e in plan.ensembles.values() if e.arch == "lcn") == 4


@pytest.mark.parametrize("arch, message", [
    (["vgg11", "vgg16"], r"experiments.common.width must be null for vgg11, vgg16"),
    (["lcn", "lcn"], r"experiments.common.arch"),
    ([], r"experiments.common.arch"),
])
def test_bad_architecture_lists_name_the_key(arch, message):
    config = json.loads(json.dumps(BASE))
    config["experiments"]["common"]["arch"] = arch
    with pytest.raises(ValueError, match=message):
        Plan.from_config(resolve(config))


def test_collected_runs_carry_their_number_of_hidden_layers(tmp_path):
    ds = SRHM(v=10, n_classes=10, m=10, s=2, L=2, s0=2, seed=0)
    probe = ds.sample(30, seed=0)
    run_dirs = []
    for arch in ("lcn", "resnet18"):
        net = build_model(arch, v=10, n_classes=10, s=2, s0=2, L=2, width=8 if arch == "lcn" else None,
                          init_seeds=(0,))
        table = measure_sensitivities(net, ds, probe)  # every level, as srhm measure writes it
        run_dir = tmp_path / arch
        run_dir.mkdir()
        table.to_csv(run_dir / "sensitivity.csv", index=False)
        metrics = {"pool": f"data/{pool_stem(ds.name, 400)}.npz", "arch": arch, "model": {"width": 8 if arch == "lcn" else None},
                   "seed": 0, "P": 400, "best_test_error": 0.5, "final_test_error": 0.6, "epochs": 3, "steps": 30,
                   "stop_reason": "max epochs", "wall_time_s": 1.0, "device": "cpu"}
        (run_dir / "metrics.json").write_text(json.dumps(metrics))
        run_dirs.append(str(run_dir))
    runs = collect_runs(run_dirs, "common").set_index("arch")
    assert runs.loc["lcn", "n_hidden"] == 2 and runs.loc["resnet18", "n_hidden"] == 17
    assert np.isnan(runs.loc["lcn", "S_17_1"]) and np.isfinite(runs.loc["resnet18", "S_17_1"])


# ------------------------------------------------------------------------------------------ presets


def preset(name: str) -> dict:
    config = yaml.safe_load((WORKFLOW_DIR.parent / "config.yaml").read_text())
    return resolve(dict(config, preset=name))


@pytest.mark.parametrize("name", ["default", "smoke", "paper"])
def test_every_preset_trains_the_nets_figs_1_9_17_draw_on_batchnorm_safe_grids(name):
    config = preset(name)
    plan = Plan.from_config(config)
    assert {"fig01", "fig02", "fig03", "fig09", "fig17"} <= set(config["figures"])
    for figure in ("fig01", "fig17"):
        settings = config["figures"][figure]
        runs = [run for experiment in settings["experiments"] for run in plan.experiments[experiment].runs]
        at_p = {run.arch for run in runs if run.P == settings["P"]}
        if name == "smoke":  # reduced for CPU time: some hierarchical and some common nets
            assert at_p & set(HIERARCHICAL) and at_p & set(COMMON) and at_p <= set(common_nets.NETS)
        else:
            assert at_p == set(common_nets.NETS), f"{figure}: the seven nets at P = {settings['P']}"
            swept = {run.arch for run in runs if run.P != settings["P"]}
            assert set(settings.get("sweep_nets", common_nets.SWEEP_NETS)) <= swept, "each swept net at a second P"
    layers = {run.arch for experiment in config["figures"]["fig09"]["experiments"]
              for run in plan.experiments[experiment].runs}
    if name != "smoke":
        assert set(common_nets.LAYER_NETS) <= layers, "Fig. 9: a column of runs for each of the five common nets"
    for run in (run for experiment in plan.experiments.values() for run in experiment.runs):
        if run.arch in COMMON:
            assert run.P % (4 * run.dataset.n_classes) == 0, "whole batches of 4 n_c: no tiny BatchNorm batch"


def test_paper_preset_has_the_papers_grid_on_the_papers_instance():
    config = preset("paper")
    plan = Plan.from_config(config)
    runs = [run for name in config["figures"]["fig09"]["experiments"] for run in plan.experiments[name].runs]
    for arch in common_nets.SWEEP_NETS + common_nets.LAYER_NETS:
        sizes = sorted({run.P // run.dataset.n_classes for run in runs if run.arch == arch})
        assert {100, 440, 640, 840, 940, 1040, 1340, 3000, 5000} <= set(sizes), arch
    assert {run.dataset.name.rsplit("_seed", 1)[0] for run in runs} == {"v10_nc10_m10_s2_L2_s02_A"}
    assert config["figures"]["fig01"]["P"] == 7400
