"""P* searches: the training-set sizes of one SRHM instance, chosen round by round from the runs before.

A fixed grid has to guess where P* lies: the paper's prediction misses it by up to ×6 (the LCN under
sparsity B, the FCN, Figs. 7 and 16), so a grid wide enough to be safe spends most of its trainings far
from the crossing. A search brackets each crossing instead, then refines it:
- round 0 trains the starting grid (the experiment's `P` entry: a few points around the prediction);
- each later round reads every run so far (every seed of the instance at each P), takes the seed-mean
  curve of each searched metric (the test error against eps*, and where asked S_{k,1} and D_{k,1}
  against the architecture's thresholds, srhm.analysis.metric_columns) and, per metric (`step`):
  - "below_at_min_P": below its threshold already at the smallest P: adds P_min / factor;
  - "above_at_max_P": still above at the largest P (or back above after a dip: the crossing that counts
    is the last one, as srhm.scaling.crossing reads it): adds P_max x factor;
  - "bracketed": above at one P and below at the next, apart by more than `resolution`: adds their
    geometric mean, or the two points that cut it into three steps within `resolution` where that costs
    no more trainings than two halvings (`refinement`);
  and ends with a status (STATUSES): "found" (bracketed within `resolution`, or by two consecutive
  integers), "above_at_limit" (still above at the largest P the search may train: P_max minus the
  test set, or its `up_to`), "below_at_floor" (below at the smallest P it may train: one batch),
  "max_rounds" (still searching after max_rounds rounds), "diverged" (a training diverged: its curve
  measures no learning).
A search ends when every metric has a status; a round never trains a P that every seed already has.
The P* themselves are read by srhm.analysis from the experiment's run table, like those of a fixed grid:
the search only chooses where to train.

The workflow (workflow/rules/search.smk) runs each round as a Snakemake checkpoint writing the round's
plan (`plan_round`, JSON) and a job that trains and measures the P it lists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from srhm.checks import check_int, check_real

FOUND, ABOVE_AT_LIMIT, BELOW_AT_FLOOR, MAX_ROUNDS, DIVERGED = (
    "found", "above_at_limit", "below_at_floor", "max_rounds", "diverged")
STATUSES = (FOUND, ABOVE_AT_LIMIT, BELOW_AT_FLOOR, MAX_ROUNDS, DIVERGED)
"""How a metric's search ends (module docstring)."""
METRICS = ("test_error", "S", "D")
"""Metrics a search may bracket: the run-table columns of srhm.analysis.metric_columns."""


@dataclass(frozen=True)
class Settings:
    """How a search moves (config: an experiment's P.search; srhm.config's schema gives the defaults).

    metrics: crossings to bracket (METRICS); factor (> 1): widening factor; resolution (> 1): largest
    ratio of a bracket's two P at which its crossing is found; max_rounds (>= 1): rounds before the
    search gives up on the crossings it has not bracketed.
    """

    metrics: tuple[str, ...] = ("test_error",)
    factor: float = 2.0
    resolution: float = 1.25
    max_rounds: int = 8

    def __post_init__(self) -> None:
        metrics = tuple(self.metrics)
        if not metrics or any(metric not in METRICS for metric in metrics) or len(set(metrics)) < len(metrics):
            raise ValueError(f"search.metrics must be distinct names among {METRICS}, got {list(metrics)}")
        object.__setattr__(self, "metrics", metrics)
        for name in ("factor", "resolution"):
            check_real(f"search.{name}", getattr(self, name), positive=True)
            if getattr(self, name) <= 1:
                raise ValueError(f"search.{name} must be > 1, got {getattr(self, name)}")
        check_int("search.max_rounds", self.max_rounds, 1)


@dataclass(frozen=True)
class Step:
    """One metric's move at one round: its status (None while searching), the P it asks for (none once it has
    a status), and the two P around its crossing (None until bracketed)."""

    status: str | None
    propose: tuple[int, ...]
    bracket: tuple[int, int] | None


def step(P: Sequence[int], values: Sequence[float], threshold: float, settings: Settings, *, floor: int,
         limit: int) -> Step:
    """The next move for one seed-mean curve: values[i] at training-set size P[i] (P ascending, distinct).

    floor, limit: the smallest and largest P the search may train (1 <= floor <= limit). Non-finite values
    are skipped, as srhm.scaling.crossing skips them; a bracket whose refinement (`refinement`) holds only P
    already trained (its ends or skipped ones) is found. ValueError when no value is finite.
    """
    P = np.asarray(P, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    if P.ndim != 1 or P.shape != values.shape or P.size == 0 or np.any(np.diff(P) <= 0):
        raise ValueError(f"P must be ascending and distinct, one per value; got P {P.tolist()}, values {values.tolist()}")
    finite = np.isfinite(values)
    if not finite.any():
        raise ValueError("a searched curve needs at least one finite value")
    trained = set(P.tolist())
    P, values = P[finite], values[finite]
    above = np.flatnonzero(values > threshold)
    if above.size == 0:  # below everywhere: the crossing lies below the smallest P
        if P[0] <= floor:
            return Step(BELOW_AT_FLOOR, (), None)
        return Step(None, (max(floor, int(round(P[0] / settings.factor))),), None)
    last = above[-1]
    if last == P.size - 1:  # above at the largest P
        if P[-1] >= limit:
            return Step(ABOVE_AT_LIMIT, (), None)
        return Step(None, (min(limit, int(round(P[-1] * settings.factor))),), None)
    lo, hi = int(P[last]), int(P[last + 1])
    untrained = tuple(p for p in refinement(lo, hi, settings.resolution) if p not in trained)
    if hi / lo <= settings.resolution or not untrained:
        return Step(FOUND, (), (lo, hi))
    return Step(None, untrained, (lo, hi))


def refinement(lo: int, hi: int, resolution: float) -> tuple[int, ...]:
    """The P that refine a bracket (lo, hi) of a crossing in one round: its geometric midpoint, or, where that
    takes no more trainings than halving it round after round would, the k points that cut it into k + 1
    geometric steps of at most `resolution` (k = 2 for a bracket of resolution^2 to resolution^3, e.g. x2 at
    resolution 1.35: the same two trainings as two halvings, in one round instead of two).

    Returns ascending integers strictly between lo and hi where they exist (rounding may merge them).
    """
    ratio = math.log(hi / lo) / math.log(resolution)  # the bracket in units of the resolution
    one_round = math.ceil(ratio) - 1
    halvings = math.ceil(math.log2(ratio)) if ratio > 1 else 0
    k = one_round if 1 <= one_round <= halvings else 1
    points = {int(round(lo * (hi / lo) ** (i / (k + 1)))) for i in range(1, k + 1)}
    return tuple(sorted(p for p in points if lo < p < hi)) or (int(round(math.sqrt(lo * hi))),)


def plan_round(round_: int, start: Sequence[int], complete: Sequence[int], curves: Mapping[str, Sequence[float]],
               thresholds: Mapping[str, float], settings: Settings, *, floor: int, limit: int,
               diverged: bool = False) -> dict:
    """The plan of round `round_` of one search (JSON-serialisable), from the runs of the rounds before it.

    start: the starting grid (round 0 trains those of its P in [floor, limit] that are not complete);
    complete: ascending P that every seed has trained so far; curves: metric -> seed-mean values at those P;
    thresholds: metric -> its threshold; diverged: whether a run so far diverged.
    Returns {"round", "train": P to train this round (ascending; empty once done), "done", "metrics": {metric:
    {"status", "bracket", "threshold"}}}. A round that is not done always trains at least one P.
    """
    check_int("round", round_, 0)
    if not 1 <= floor <= limit:
        raise ValueError(f"the search's floor and limit must satisfy 1 <= floor <= limit, got {floor}, {limit}")
    have = set(int(p) for p in complete)
    metrics = {metric: {"status": None, "bracket": None, "threshold": float(thresholds[metric])}
               for metric in settings.metrics}
    if round_ == 0:
        train = sorted({min(limit, max(floor, int(p))) for p in start} - have)
        if train or not have:
            if not train:
                raise ValueError("the starting grid of a search holds no P to train")
            return {"round": 0, "train": train, "done": False, "metrics": metrics}
    proposals: set[int] = set()
    for metric, entry in metrics.items():
        if diverged:
            entry["status"] = DIVERGED
            continue
        move = step(complete, curves[metric], thresholds[metric], settings, floor=floor, limit=limit)
        entry["bracket"] = list(move.bracket) if move.bracket else None
        entry["status"] = move.status
        if move.status is None and round_ >= settings.max_rounds:
            entry["status"] = MAX_ROUNDS
        elif move.status is None:
            proposals |= set(move.propose)
    return {"round": round_, "train": sorted(proposals), "done": not proposals, "metrics": metrics}


def simulate(curves: Mapping[str, Callable[[np.ndarray], np.ndarray]], thresholds: Mapping[str, float],
             start: Sequence[int], settings: Settings, *, floor: int, limit: int) -> tuple[dict, list[list[int]]]:
    """A search run to its end on known curves, metric -> function from P [n] (ascending) to values [n]: what
    the workflow's rounds would train if every seed-mean curve were exactly these. Returns the last plan and the
    P each round trained, in order (for planted curves in tests, and for estimates of a search's cost)."""
    rounds: list[list[int]] = []
    for round_ in range(settings.max_rounds + 1):
        trained = sorted(p for train in rounds for p in train)
        values = {metric: list(curves[metric](np.asarray(trained, dtype=float))) for metric in settings.metrics}
        plan = plan_round(round_, start, trained, values, thresholds, settings, floor=floor, limit=limit)
        if plan["done"]:
            return plan, rounds
        rounds.append(plan["train"])
    raise AssertionError("plan_round ends every search by round max_rounds")


def planted_error(p_star: float, width: float = 0.6, top: float = 0.9, eps_star: float = 0.1):
    """A synthetic test-error curve: falling from `top` to 0 as a logistic in log P of scale `width`, equal to
    `eps_star` at P = p_star. Returns a function from P [n] to errors [n]."""
    shift = math.log(top / eps_star - 1)
    return lambda P: top / (1 + np.exp(np.log(np.asarray(P, dtype=float) / p_star) / width + shift))


def seed_mean_curves(runs, metrics: Sequence[str], seeds: Sequence[int]) -> tuple[list[int], dict[str, list[float]]]:
    """The P that every seed in `seeds` has in `runs` (a run table: columns P, seed and the metrics), ascending,
    and each metric's mean over those seeds at each of them (NaN where every seed's value is NaN)."""
    by_P = runs[runs["seed"].isin(list(seeds))].groupby("P")
    counts = by_P["seed"].nunique()
    complete = sorted(int(P) for P in counts.index[counts == len(set(seeds))])
    means = by_P[list(metrics)].mean()
    return complete, {metric: [float(means.at[P, metric]) for P in complete] for metric in metrics}


def searched(previous: Mapping | None) -> list[int]:
    """The P that the rounds up to `previous` (a round's plan; None before round 0) trained, ascending."""
    return [] if previous is None else sorted({*previous["searched"], *previous["train"]})


def run_round(spec: Mapping, round_: int, previous: Mapping | None, runs) -> dict:
    """Plan round `round_` of the search `spec` (srhm.plan.Search.spec) from its runs so far.

    previous: round_ - 1's plan (None for round 0); runs: the run table (srhm.runs.collect_runs) of the
    borrowed runs and of every seed at every P `searched(previous)` (None when there are none). Returns
    plan_round's dict with "search" (the id) and "searched" added. ValueError when `previous` is missing, of
    another search or round, or ended the search, or when a searched metric has no column in `runs`.
    """
    from srhm.analysis import ERROR, instance_thresholds, metric_columns
    from srhm.protocol import DIVERGED_STOP

    settings = Settings(**{**spec["settings"], "metrics": tuple(spec["settings"]["metrics"])})
    if (previous is None) != (round_ == 0):
        raise ValueError(f"round {round_} of search {spec['id']} needs {'no' if round_ == 0 else 'the'} previous "
                         "round's plan")
    if previous is not None and (previous["search"] != spec["id"] or previous["round"] != round_ - 1
                                 or previous["done"]):
        raise ValueError(f"the previous plan is round {previous['round']} of search {previous['search']}"
                         f"{' (which ended it)' if previous['done'] else ''}, not round {round_ - 1} of {spec['id']}")
    instance = spec["instance"]
    thresholds = ({ERROR: spec["eps_star"]} if set(settings.metrics) == {ERROR}
                  else instance_thresholds(spec["arch"], instance["s"], instance["L"], spec["eps_star"]))
    complete, curves, diverged = [], {metric: [] for metric in settings.metrics}, False
    if runs is not None:
        runs, _ = metric_columns(runs, spec["eps_star"])
        missing = [metric for metric in settings.metrics if metric not in runs]
        if missing:
            raise ValueError(f"search {spec['id']}: its runs have no column {missing} (S and D need every run's "
                             "sensitivity.csv)")
        diverged = bool((runs["stop_reason"] == DIVERGED_STOP).any())
        complete, curves = seed_mean_curves(runs, settings.metrics, spec["seeds"])
    plan = plan_round(round_, spec["start"], complete, curves, {m: thresholds[m] for m in settings.metrics},
                      settings, floor=spec["floor"], limit=spec["limit"], diverged=diverged)
    return {"search": spec["id"], "searched": searched(previous), **plan}


def run_dirs(spec: Mapping, P: Sequence[int]) -> list[str]:
    """The run directories of the search `spec` once it has trained the P `P`: its borrowed runs, then every
    seed at every P of `P`."""
    return list(dict.fromkeys([*spec["borrowed"], *own_run_dirs(spec, P)]))


def finished(spec: Mapping, last: Mapping) -> dict:
    """The runs of a finished search (what an experiment's table reads): {"search", "rounds" (the rounds that
    trained: every round before `last`, which ends the search and trains nothing), "metrics" (the last plan's
    statuses and brackets), "runs": run directories, borrowed first}. ValueError unless `last` is the plan that
    ended the search `spec`."""
    if last["search"] != spec["id"] or not last["done"]:
        raise ValueError(f"round {last['round']} of search {last['search']} did not end search {spec['id']}")
    return {"search": spec["id"], "rounds": last["round"], "metrics": last["metrics"],
            "runs": run_dirs(spec, last["searched"])}


def own_run_dirs(spec: Mapping, P: Sequence[int]) -> list[str]:
    """The run directories the search `spec` trains at the P `P`, every seed: its run_dirs pattern filled in."""
    return [spec["run_dirs"].format(P=p, seed=seed) for p in sorted(P) for seed in spec["seeds"]]
