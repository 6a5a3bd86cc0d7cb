"""P* searches (srhm.search): bracketing and refining planted error curves, their flags, and their plans."""

import copy
import json
import math

import numpy as np
import pandas as pd
import pytest

from srhm.config import resolve
from srhm.plan import Plan
from srhm.search import (ABOVE_AT_LIMIT, BELOW_AT_FLOOR, DIVERGED, FOUND, MAX_ROUNDS, Settings, plan_round,
                         finished, planted_error, refinement, seed_mean_curves, simulate, step)


def search(curves, start, settings=None, *, floor=8, limit=10**6, thresholds=None):
    """simulate on metric -> curve; returns (final plan, every P trained, rounds)."""
    settings = settings or Settings(metrics=tuple(curves))
    thresholds = thresholds or {metric: 0.1 for metric in curves}
    plan, rounds = simulate(curves, thresholds, start, settings, floor=floor, limit=limit)
    trained = [P for train in rounds for P in train]
    assert len(trained) == len(set(trained)) and len(rounds) == plan["round"]
    return plan, sorted(trained), plan["round"]


def test_the_planted_curve_crosses_eps_star_at_its_p_star():
    error = planted_error(1234.0)
    assert error([1234.0])[0] == pytest.approx(0.1) and error([10.0])[0] > 0.85 and error([10**6])[0] < 1e-4


@pytest.mark.parametrize("p_star, start", [
    (1000.0, [800, 1600]),     # bracketed by the first round
    (6000.0, [1000, 2000]),    # prediction off by x6 (LCN sparsity B, FCN): widened upwards
    (150.0, [1000, 2000]),     # far below the prediction: widened downwards
    (1234.5, [1234]),          # one starting point
])
def test_search_brackets_and_refines_a_planted_p_star_within_its_resolution(p_star, start):
    settings = Settings(resolution=1.2)
    plan, trained, _ = search({"test_error": planted_error(p_star)}, start, settings)
    entry = plan["metrics"]["test_error"]
    assert entry["status"] == FOUND
    lo, hi = entry["bracket"]
    assert lo < p_star < hi and hi / lo <= 1.2
    assert lo in trained and hi in trained


def test_search_needs_fewer_trainings_than_a_fixed_grid_of_the_same_resolution():
    """Over P* planted from x1/3 to x6 of the prediction, a fixed grid that would bracket all of them at the
    search's resolution needs ln(18 x 2) / ln(1.25) + 1 = 17 points; the search needs far fewer."""
    prediction = 1000.0
    counts = [len(search({"test_error": planted_error(prediction * r)}, [prediction, 2 * prediction])[1])
              for r in (1 / 3, 0.7, 1.0, 1.6, 3.0, 6.0)]
    grid = math.ceil(math.log(36) / math.log(1.25)) + 1
    assert max(counts) <= 8 < grid


def test_a_search_that_cannot_bracket_within_its_limit_ends_with_a_flag():
    plan, trained, rounds = search({"test_error": planted_error(50_000.0)}, [1000, 2000], limit=9000)
    assert plan["done"] and plan["metrics"]["test_error"]["status"] == ABOVE_AT_LIMIT
    assert max(trained) == 9000 and rounds <= 4


def test_a_search_below_its_floor_and_one_out_of_rounds_end_with_flags():
    plan, trained, _ = search({"test_error": planted_error(5.0)}, [1000], floor=40)
    assert plan["metrics"]["test_error"]["status"] == BELOW_AT_FLOOR and min(trained) == 40
    plan, trained, rounds = search({"test_error": planted_error(10**5)}, [100], Settings(max_rounds=2), limit=10**7)
    assert plan["metrics"]["test_error"]["status"] == MAX_ROUNDS and rounds == 2 and len(trained) == 2


def test_a_plateau_above_the_threshold_is_not_searched_forever():
    """A metric that never crosses (S of the FCN's second layer stays near 0.5) widens up to the limit, then stops."""
    plan, trained, _ = search({"S": lambda P: np.full(len(P), 0.5)}, [100, 200], limit=3000,
                              thresholds={"S": 0.3}, settings=Settings(metrics=("S",)))
    assert plan["metrics"]["S"]["status"] == ABOVE_AT_LIMIT and max(trained) == 3000


def test_every_searched_metric_is_bracketed():
    settings = Settings(metrics=("test_error", "S", "D"), resolution=1.3)
    curves = {"test_error": planted_error(2100.0), "S": planted_error(900.0), "D": planted_error(3300.0)}
    plan, trained, _ = search(curves, [1000, 2000], settings)
    for metric, p_star in (("test_error", 2100.0), ("S", 900.0), ("D", 3300.0)):
        lo, hi = plan["metrics"][metric]["bracket"]
        assert plan["metrics"][metric]["status"] == FOUND and lo < p_star < hi and hi / lo <= 1.3


def test_a_diverged_training_ends_the_search():
    plan = plan_round(1, [100], [100, 200], {"test_error": [0.5, 0.4]}, {"test_error": 0.1}, Settings(),
                      floor=8, limit=1000, diverged=True)
    assert plan["done"] and plan["metrics"]["test_error"]["status"] == DIVERGED and plan["train"] == []


def test_the_last_crossing_counts_and_non_finite_values_are_skipped():
    # a dip below at 200 that comes back above at 400: the crossing that counts lies after 400
    move = step([100, 200, 400, 800], [0.5, 0.05, 0.2, 0.01], 0.1, Settings(resolution=1.5), floor=1, limit=10**4)
    assert move.status is None and move.bracket == (400, 800) and move.propose == (566,)
    # the NaN at 200 is skipped; the bracket's geometric mean is that trained P, so no new training refines it
    move = step([100, 200, 400], [0.5, math.nan, 0.05], 0.1, Settings(resolution=1.5), floor=1, limit=10**4)
    assert move.status == FOUND and move.bracket == (100, 400) and move.propose == ()
    with pytest.raises(ValueError, match="ascending"):
        step([200, 100], [0.5, 0.05], 0.1, Settings(), floor=1, limit=10**4)


def test_settings_are_checked():
    for bad, match in (({"factor": 1.0}, "factor"), ({"resolution": 0.5}, "resolution"),
                       ({"metrics": ("P",)}, "metrics"), ({"max_rounds": 0}, "max_rounds")):
        with pytest.raises(ValueError, match=match):
            Settings(**bad)


def test_seed_mean_curves_keep_only_the_p_every_seed_has():
    runs = pd.DataFrame({"P": [100, 100, 200, 400, 400], "seed": [0, 1, 0, 0, 1],
                         "test_error": [0.4, 0.6, 0.3, 0.1, 0.3]})
    complete, curves = seed_mean_curves(runs, ["test_error"], [0, 1])
    assert complete == [100, 400] and np.allclose(curves["test_error"], [0.5, 0.2])


CONFIG = {
    "test_size": 500,
    "experiments": {
        "cnn": {"arch": "cnn", "s": 2, "L": 2, "v": 4, "s0": 1, "seeds": [0, 1], "width": 32,
                "P": {"relative_to": "cnn", "from": 1, "to": 2, "points": 2,
                      "search": {"metrics": ["test_error", "S"], "up_to": 8}}},
        "curve": {"arch": "cnn", "s": 2, "L": 2, "v": 4, "s0": 1, "seeds": [0], "width": 32,
                  "P": {"values": [256, 1000]}},
    },
    "figures": {},
}


def test_a_searched_instance_plans_a_search_that_borrows_the_fixed_grids_runs():
    plan = Plan.from_config(resolve(copy.deepcopy(CONFIG)))
    assert plan.experiments["cnn"].runs == () and plan.experiments["cnn"].searches == ("cnn_H32__v4_nc4_m4_s2_L2_s01_A",)
    search = plan.searches["cnn_H32__v4_nc4_m4_s2_L2_s01_A"]
    prediction = 2 * 2 * 4 * 16  # (s0 + 1)^2 n_c m^L
    assert search.start == (prediction, 2 * prediction) and search.seeds == (0, 1)
    assert search.limit == 8 * prediction and search.floor == 16  # one batch: 4 per class x 4 classes
    assert {(run.P, run.seed) for run in search.borrowed} == {(256, 0), (1000, 0)}
    # a round trains every seed at its P but the runs the fixed grid trains, on the search's pools (its limit)
    ensemble = search.round_ensemble([256, 512])
    assert {(run.P, run.seed) for run in ensemble.runs} == {(256, 1), (512, 0), (512, 1)}
    assert set(ensemble.datasets) == set(search.datasets) and {d.pool_size for d in search.datasets} == {500 + 8 * prediction}
    spec = search.spec("results", 0.1, "best")
    json.dumps(spec)
    assert spec["run_dirs"].format(P=512, seed=1) == "results/" + ensemble.runs[-1].dir


def test_a_search_without_sparsity_brackets_no_diffeomorphism_crossing():
    config = copy.deepcopy(CONFIG)
    config["experiments"]["cnn"].update(s0=0)
    config["experiments"]["cnn"]["P"]["search"]["metrics"] = ["test_error", "S", "D"]
    del config["experiments"]["curve"]
    (search,) = Plan.from_config(resolve(config)).searches.values()
    assert search.settings.metrics == ("test_error", "S")


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["experiments"]["cnn"].update(arch="vgg11", width=None), "searches are for"),
    (lambda c: c["experiments"]["cnn"]["P"]["search"].update(factor=1), "factor"),
    (lambda c: c["experiments"]["cnn"].update(s=4, v=2), "thresholds"),
    (lambda c: c["experiments"]["cnn"]["P"]["search"].update(up_to=1.5), r"up_to = 1.5 caps v4_nc4_m4_s2_L2_s01_A at P = 384 "
     r"\(1.5 x 256, the P that up_to multiplies\), below the largest P it starts from \(512\)"),
    (lambda c: c["experiments"]["cnn"]["P"]["search"].update(up_to=1.999), r"at P = 511 \(1.999 x 256.*\(512\)"),
    (lambda c: c["experiments"]["curve"].update(P={"values": [256], "search": {}}, seeds=[0, 1]),
     "other seeds or search settings"),
])
def test_bad_searches_name_the_key(edit, message):
    config = copy.deepcopy(CONFIG)
    edit(config)
    with pytest.raises(ValueError, match=message):
        Plan.from_config(resolve(config))


def test_a_finished_search_lists_its_borrowed_runs_then_every_seed_at_every_p_it_trained():
    plan = Plan.from_config(resolve(copy.deepcopy(CONFIG)))
    spec = plan.searches["cnn_H32__v4_nc4_m4_s2_L2_s01_A"].spec("results", 0.1, "best")
    last = {"search": spec["id"], "round": 3, "done": True, "searched": [256, 512, 362], "train": [],
            "metrics": {"test_error": {"status": FOUND, "bracket": [256, 362], "threshold": 0.1}}}
    result = finished(spec, last)
    runs = result["runs"]
    assert result["rounds"] == 3 and runs[:2] == spec["borrowed"] and len(runs) == len(set(runs)) == 2 + 3 * 2 - 1
    assert {run.rsplit("/", 1)[1] for run in runs} >= {"P362_seed0", "P362_seed1", "P256_seed1", "P1000_seed0"}
    with pytest.raises(ValueError, match="did not end"):
        finished(spec, {**last, "done": False})


def test_a_refinement_spends_no_more_trainings_than_halving_and_ends_in_one_round_where_it_can():
    resolution = 1.35
    assert refinement(1000, 2000, resolution) == (1260, 1587)  # x2: two points, steps of 1.26, one round
    assert refinement(1000, 1500, resolution) == (1225,)  # x1.5: the midpoint ends it
    assert refinement(1000, 4000, resolution) == (2000,)  # x4: three points in one round, two halvings: halve
    for lo in (7, 100, 1000):
        for ratio in np.geomspace(1.36, 20, 40):
            hi = int(round(lo * ratio))
            points = refinement(lo, hi, resolution)
            halvings = math.ceil(math.log2(math.log(hi / lo) / math.log(resolution)))
            assert len(points) <= max(halvings, 1)
            assert list(points) == sorted(set(points))
            assert all(lo < p < hi for p in points) or points == (round(math.sqrt(lo * hi)),)
            if len(points) > 1 and lo >= 100:  # (at small P rounding to integers stretches the steps)
                ends = [lo, *points, hi]
                assert max(b / a for a, b in zip(ends, ends[1:])) <= resolution * 1.01
