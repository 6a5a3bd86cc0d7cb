"""Config validation, presets and the expansion of a config into datasets, ensembles and runs."""

import copy
from pathlib import Path

import pytest
import yaml

from srhm import theory
from srhm.config import resolve
from srhm.plan import Plan, p_grid, result_config, train_spec

BASE = {
    "test_size": 1000,
    "experiments": {
        "lcn": {"arch": "lcn", "s": 2, "L": 2, "v": [4, 6], "s0": [1, 2], "seeds": [0, 1], "width": 64,
                "P": {"relative_to": "lcn", "from": 0.5, "to": 4, "points": 4}},
        "cnn": {"arch": "cnn", "s": 2, "L": 2, "v": 4, "s0": 1, "seeds": [0],
                "P": {"values": [300, 100, 300]}},
    },
    "figures": {},
}


def plan_of(config: dict) -> Plan:
    return Plan.from_config(resolve(config))


def test_defaults_are_filled_in():
    config = resolve(BASE)
    assert config["train"]["batch_per_class"] == 4 and config["train"]["base_lr"] is None
    assert config["experiments"]["cnn"]["sparsity"] == "A" and config["experiments"]["cnn"]["train"] == {}
    assert config["device"] == "auto" and config["error_convention"] == "best"
    assert "train" not in BASE, "resolve does not modify its argument"


def test_experiment_train_overrides_only_the_keys_it_sets():
    config = copy.deepcopy(BASE)
    config["train"] = {"max_epochs": 50, "eval_every": 5}
    config["experiments"]["cnn"]["train"] = {"eval_every": 2}
    plan = plan_of(config)
    protocols = {e.arch: dict(e.protocol) for e in plan.ensembles.values()}
    assert protocols["cnn"]["eval_every"] == 2 and protocols["cnn"]["max_epochs"] == 50
    assert protocols["lcn"]["eval_every"] == 5 and protocols["lcn"]["batch_per_class"] == 4


def test_result_config_ignores_runtime_settings_only():
    """Jobs reading the whole config (the report) see the same config whatever the threads, device or checkpoint
    interval, and still see every setting that changes a result."""
    runtime = copy.deepcopy(BASE)
    runtime.update(threads=4, device="cpu", train={"checkpoint_seconds": 7})
    assert result_config(resolve(runtime)) == result_config(resolve(BASE))
    changed = copy.deepcopy(BASE)
    changed["experiments"]["cnn"]["train"] = {"max_epochs": 9}
    assert result_config(resolve(changed)) != result_config(resolve(BASE))
    assert Plan.from_config(result_config(resolve(BASE))).ensembles == plan_of(BASE).ensembles

def test_relative_grid_spans_the_prediction():
    grid = p_grid({"relative_to": "lcn", "from": 0.5, "to": 4, "points": 4}, arch="lcn", n_classes=6, m=6, s=2,
                  L=2, s0=2)
    prediction = theory.p_star_lcn(6, 6, 2, 2, 2)
    assert len(grid) == 4 and grid[0] == round(0.5 * prediction) and grid[-1] == round(4 * prediction)
    ratios = [b / a for a, b in zip(grid, grid[1:])]
    assert max(ratios) / min(ratios) < 1.01, "log-spaced"
    assert p_grid({"values": [300, 100, 300]}, arch="cnn", n_classes=4, m=4, s=2, L=2, s0=1) == [100, 300]


def test_plan_datasets_runs_and_ensembles():
    plan = plan_of(BASE)
    lcn = plan.experiments["lcn"]
    assert len(lcn.runs) == 2 * 2 * 2 * 4  # v x s0 x seeds x P
    assert {run.model for run in lcn.runs} == {"lcn_H64"}
    run = lcn.runs[0]
    assert run.dir == f"runs/{run.dataset.name}/lcn_H64/P{run.P}_seed{run.seed}"
    # each ensemble reads one pool per (SRHM parameters, seed), sized for its own largest P plus the test set
    for ensemble in plan.ensembles.values():
        for dataset in ensemble.datasets:
            biggest = max(r.P for r in ensemble.runs if r.dataset.name == dataset.name)
            assert dataset.pool_size == biggest + dataset.n_test and plan.datasets[dataset.key] == dataset
            assert dataset.pool_size <= theory.p_max(dataset.n_classes, dataset.m, dataset.s, dataset.L, dataset.s0)
    # the cnn experiment shares the v4 s0=1 seed-0 dataset with the lcn one
    assert plan.experiments["cnn"].runs[0].dataset.name == "v4_nc4_m4_s2_L2_s01_A_seed0"
    # ensembles: one per (model, SRHM family), holding every P and seed
    assert len(plan.ensembles) == 4 + 1
    ensemble = plan.ensembles["lcn_H64__v4_nc4_m4_s2_L2_s01_A"]
    assert len(ensemble.runs) == 2 * 4 and [d.seed for d in ensemble.datasets] == [0, 1]
    assert sum(len(e.runs) for e in plan.ensembles.values()) == len({r for e in plan.experiments.values() for r in e.runs})


def test_grid_points_beyond_p_max_are_dropped_and_reported():
    config = copy.deepcopy(BASE)
    config["experiments"]["cnn"] = {"arch": "cnn", "s": 2, "L": 2, "v": 4, "s0": 0,
                                    "P": {"values": [50, 100, 250]}}
    plan = plan_of(config)
    exp = plan.experiments["cnn"]
    p_max = theory.p_max(4, 4, 2, 2, 0)  # 256: the test set is capped at P_max // 5 = 51
    assert [r.P for r in exp.runs] == [50, 100] and exp.dropped == (("v4_nc4_m4_s2_L2_s00_A_seed0", 250),)
    assert exp.runs[0].dataset.n_test == p_max // 5


def test_instances_take_the_union_of_their_products():
    config = copy.deepcopy(BASE)
    lcn = config["experiments"]["lcn"]
    del lcn["v"], lcn["s0"]
    lcn.update(seeds=[0], instances=[{"v": [4, 6], "s0": 1}, {"v": 4, "s0": [1, 2]}])
    plan = plan_of(config)
    families = {(r.dataset.v, r.dataset.s0) for r in plan.experiments["lcn"].runs}
    assert families == {(4, 1), (6, 1), (4, 2)}, "the shared (4, 1) appears once"
    del lcn["L"]
    with pytest.raises(ValueError, match="experiments.lcn: L must be given"):
        plan_of(config)


def test_pools_beyond_the_memory_guard_are_refused():
    config = dict(copy.deepcopy(BASE), max_pool_gb=1e-4)
    with pytest.raises(ValueError, match=r"max_pool_gb: the pool of v\d.* GB"):
        plan_of(config)


def test_figures_must_name_defined_experiments():
    config = dict(copy.deepcopy(BASE), figures={"fig06": {"experiments": ["lcn", "lcn_s9"]}})
    with pytest.raises(ValueError, match=r"figures.fig06: names experiments \['lcn_s9'\]"):
        plan_of(config)


SMOKE = yaml.safe_load((Path(__file__).resolve().parent.parent / "workflow/presets/smoke.yaml").read_text())


@pytest.mark.parametrize("figure, settings, message", [
    ("fig12", {"experiment": "lcn_s2", "v": 9, "L": 2},
     r"figures.fig12: v = 9, L = 2 selects no run of experiments \['lcn_s2'\] that fig12 draws \(arch lcn; sparsity "
     r"A\), so the figure would be empty; they train \(v, L\) in \[\(3, 2\)\]"),
    ("fig15", {"experiment": "lcn_s2", "v": 3, "L": 2},
     r"figures.fig15: v = 3, L = 2 selects no run of experiments \['lcn_s2'\] that fig15 draws \(arch cnn; sparsity "
     r"A\), .*; they train none that it draws"),
    ("fig17", {"experiments": ["common"], "P": 999},
     r"figures.fig17: P = 999 selects no run of experiments \['common'\] that fig17 draws \(arch lcn or cnn or "
     r"vgg11 .*\), so the figure would be empty; they train P in \[240\]"),
    ("fig01", {"experiments": ["common", "lcn_s2"], "P": 60, "cifar": "digitised"},
     r"figures.fig01: P = 60 selects no run .* they train P in \[27, 108, 240, 305, 864\]"),
    ("fig04", {"lcn": ["lcn_s2"], "cnn": ["cnn_s2"], "curve": {"experiment": "lcn_s2", "v": 3, "L": 2, "s0": 4}},
     r"figures.fig04.curve: v = 3, L = 2, s0 = 4 selects no run of experiments \['lcn_s2'\], so the figure would be "
     r"empty; they train \(v, L, s0\) in \[\(3, 2, 0\), \(3, 2, 1\)\]"),
])
def test_figure_settings_that_select_no_run_are_refused(figure, settings, message):
    """A figure whose settings choose a v, L, s0 or P that its experiments do not train (among the runs it
    draws) would be drawn empty: the plan refuses it before any job, naming the setting and the values trained."""
    config = copy.deepcopy(SMOKE)
    assert plan_of(config).experiments, "the smoke preset's own settings select runs"
    config["figures"] = {figure: settings}
    with pytest.raises(ValueError, match=message):
        plan_of(config)


def test_common_architectures_train_alone():
    config = copy.deepcopy(BASE)
    config["experiments"] = {"vgg": {"arch": "vgg11", "s": 2, "L": 2, "v": 4, "s0": 2, "seeds": [0, 1],
                                     "P": {"values": [400, 800]}}}
    plan = plan_of(config)
    assert len(plan.ensembles) == 4 and all(len(e.runs) == 1 for e in plan.ensembles.values())
    assert all(r.model == "vgg11" for r in plan.experiments["vgg"].runs)


def _set(path: str, value):
    """A config edit: set the dotted key `path` to `value`."""
    def edit(config):
        *parents, last = path.split(".")
        node = config
        for key in parents:
            node = node[key]
        node[last] = value
    return edit


@pytest.mark.parametrize(
    "edit, message",
    [
        (_set("experiments.lcn.colour", "red"), r"experiments.lcn: Additional properties .*'colour'"),
        (_set("experiments.lcn.v", "four"), r"experiments.lcn.v"),
        (_set("device", "tpu"), r"device: 'tpu' is not one of"),
        (_set("experiments.lcn.P", {"values": [10], "points": 3}), r"experiments.lcn.P"),
        (_set("experiments.lcn.P", {"values": [10**9]}), r"experiments.lcn.P: every P of the grid exceeds"),
        (_set("experiments.cnn", dict(BASE["experiments"]["lcn"], v=4, s0=1, seeds=[0], train={"base_lr": 0.5},
                                      P={"values": [int(0.5 * theory.p_star_lcn(4, 4, 2, 2, 1))]})),
         r"experiments.cnn: trains lcn_H64 on v4_nc4_m4_s2_L2_s01_A with another train protocol than "
         r"experiments.lcn"),
        (_set("experiments.cnn", dict(BASE["experiments"]["lcn"], v=4, s0=1, seeds=[0], train={"base_lr": 0.5},
                                      P={"values": [7]})),  # another P: the runs would still share a job
         r"experiments.cnn: trains lcn_H64 on v4_nc4_m4_s2_L2_s01_A with another train protocol"),
    ],
)
def test_bad_configs_name_the_key(edit, message):
    config = copy.deepcopy(BASE)
    edit(config)
    with pytest.raises(ValueError, match=message):
        plan_of(config)


@pytest.mark.parametrize(
    "edits, message",
    [
        ([_set("experiments.lcn.n_classes", 2), _set("experiments.lcn.m", 5)],
         r"experiments.lcn: m=5 must be <= v\*\*\(s-1\)"),
        ([_set("experiments.cnn.arch", "vgg11"), _set("experiments.cnn.width", 64)],
         r"experiments.cnn.width must be null"),
    ],
)
def test_inconsistent_values_name_the_key(edits, message):
    config = copy.deepcopy(BASE)
    for edit in edits:
        edit(config)
    with pytest.raises(ValueError, match=message):
        plan_of(config)


def test_another_experiments_grid_changes_no_run_of_this_one():
    """Two experiments share a dataset; a larger grid in one gives its ensemble a larger pool, and the other's
    training specs (pool files, test size, members) stay the same, so its runs are not retrained: an
    experiment's inputs depend on its own parameters only."""
    config = copy.deepcopy(BASE)
    bigger = copy.deepcopy(config)
    bigger["experiments"]["cnn"]["P"] = {"values": [100, 300, 4000]}
    plain, grown = plan_of(config), plan_of(bigger)
    cnn, = (name for name in plain.ensembles if name.startswith("cnn"))
    lcn = [name for name in plain.ensembles if name.startswith("lcn")]
    (small,), (large,) = plain.ensembles[cnn].datasets, grown.ensembles[cnn].datasets
    assert small.name == large.name and large.pool_size == 4000 + large.n_test and large.path != small.path
    assert lcn and all(train_spec(plain.ensembles[name], "results") == train_spec(grown.ensembles[name], "results")
                       for name in lcn)


def test_sampling_names_the_pool_folder():
    balanced, uniform = (plan_of(dict(copy.deepcopy(BASE), sampling=mode)) for mode in ("balanced", "uniform"))
    name = "v4_nc4_m4_s2_L2_s01_A_seed0"
    pools = {d.key for d in balanced.datasets.values() if d.name == name}
    assert pools and pools == {d.key for d in uniform.datasets.values() if d.name == name}
    assert all(balanced.datasets[key].path == f"data/balanced/{key}.npz" for key in pools)
    assert all(uniform.datasets[key].path == f"data/uniform/{key}.npz" for key in pools)
    assert resolve(BASE)["sampling"] == "balanced", "balanced classes by default, as the authors' data"


def test_instances_may_carry_their_own_grids():
    """A per-instance P grid overrides the experiment's; a family listed twice trains the union of grids."""
    config = copy.deepcopy(BASE)
    config["experiments"]["lcn"].update(seeds=[0], instances=[
        {"v": 4, "s0": 1, "P": {"values": [100, 200]}}, {"v": 6, "s0": 1}, {"v": 4, "s0": 1, "P": {"values": [150]}}])
    del config["experiments"]["lcn"]["v"], config["experiments"]["lcn"]["s0"]
    runs = plan_of(config).experiments["lcn"].runs
    assert sorted(r.P for r in runs if r.dataset.v == 4) == [100, 150, 200]
    assert len({r.P for r in runs if r.dataset.v == 6}) == 4, "the experiment's own grid"
    config["experiments"]["lcn"]["instances"].append({"v": 4, "s0": 2, "m": 2, "P": {"values": [120]}})
    runs = plan_of(config).experiments["lcn"].runs
    assert {(r.dataset.m, r.P) for r in runs if r.dataset.s0 == 2} == {(2, 120)}, "an instance may set m"
    assert {(r.dataset.v, r.dataset.m) for r in runs if r.dataset.s0 == 1} == {(4, 4), (6, 6)}, "m = v^(s-1) elsewhere"
    del config["experiments"]["lcn"]["P"]
    with pytest.raises(ValueError, match="experiments.lcn: P must be given"):
        plan_of(config)
