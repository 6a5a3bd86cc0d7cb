"""Trainings per P*: a P* search (srhm.search) against fixed grids of the same resolution.

    python benchmarks/search_vs_grid.py                       # planted error curves
    python benchmarks/search_vs_grid.py --results results     # and the searches of a finished run

Planted: test-error curves falling through eps* at P* = r x prediction, for ratios r spread as the paper's
predictions miss (x1/3 to x6: the LCN under sparsity B and the FCN sit near x6, the CNN near x2). The search
starts from `--start` (x prediction) and refines to `--resolution`; a fixed grid (one grid in units of the
prediction, as a config's relative grid is) brackets every one of those P* at the same resolution only if it
spans them all with steps of at most that ratio. Both count distinct P per instance (each trained by every
seed). A finished run (`--results`) gives, per experiment, what its searches trained (their own runs and those
a fixed grid lent them), their rounds and statuses, and the fixed grid that would have bracketed the same P*
at the same resolution, knowing their spread in advance.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from srhm.io import read_json
from srhm.search import Settings, planted_error, simulate

RATIOS = (1 / 3, 0.5, 0.7, 1.0, 1.4, 2.0, 3.0, 4.5, 6.0)
"""P* / prediction of the planted curves."""


def grid_points(ratios, resolution: float) -> int:
    """Points of one geometric grid (in units of the prediction) with steps <= resolution that brackets every
    ratio in `ratios`: from just below the smallest to just above the largest."""
    span = max(ratios) / min(ratios) * resolution  # one step beyond each end
    return math.ceil(math.log(span) / math.log(resolution)) + 1


def planted_table(start, settings: Settings, prediction: float = 1000.0) -> list[tuple[float, int, int, str]]:
    """(ratio, P trained, training rounds, status) of a search on each planted curve."""
    rows = []
    for ratio in RATIOS:
        plan, rounds = simulate({"test_error": planted_error(ratio * prediction)}, {"test_error": 0.1},
                                [round(f * prediction) for f in start], settings, floor=16, limit=10**6)
        rows.append((ratio, sum(map(len, rounds)), len(rounds), plan["metrics"]["test_error"]["status"]))
    return rows


def measured_table(results: Path) -> dict[str, list[dict]]:
    """experiment -> one dict per finished search of a run: training rounds, distinct P (its own and those fixed
    grids lent it), statuses, P* / prediction."""
    import pandas as pd

    searches = {path.parent.name: read_json(path) for path in sorted((results / "search").glob("*/runs.json"))}
    out: dict[str, list[dict]] = {}
    for table_path in sorted((results / "tables").glob("*_pstar.csv")):
        experiment = table_path.name.removesuffix("_pstar.csv")
        runs = pd.read_csv(results / "tables" / f"{experiment}.csv")
        pstar = pd.read_csv(table_path)
        for search, result in searches.items():
            rows = runs[runs["run"].isin(result["runs"])]
            if rows.empty:
                continue
            first = rows.iloc[0]
            match = pstar[(pstar["arch"] == first["arch"]) & (pstar["v"] == first["v"]) & (pstar["m"] == first["m"])
                          & (pstar["s"] == first["s"]) & (pstar["L"] == first["L"]) & (pstar["s0"] == first["s0"])
                          & (pstar["sparsity"] == first["sparsity"])]
            ratio = float(match["test_error_p_star"].iloc[0] / match["prediction"].iloc[0]) if len(match) else math.nan
            out.setdefault(experiment, []).append({
                "search": search, "rounds": result["rounds"], "P": int(rows["P"].nunique()),
                "status": {metric: entry["status"] for metric, entry in result["metrics"].items()}, "ratio": ratio})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", type=float, nargs="+", default=[1.2, 2.4], help="first round, x prediction")
    parser.add_argument("--resolution", type=float, default=1.35, help="bracket ratio at which P* is found")
    parser.add_argument("--results", type=Path, default=None, help="a finished run's results folder")
    args = parser.parse_args()
    settings = Settings(resolution=args.resolution)

    rows = planted_table(args.start, settings)
    print(f"planted curves, search from {args.start} x prediction to resolution {args.resolution}:")
    print("P*/prediction  P trained  rounds  status")
    for ratio, count, n_rounds, status in rows:
        print(f"{ratio:13.2f}  {count:9d}  {n_rounds:6d}  {status}")
    print(f"search: {np.mean([c for _, c, _, _ in rows]):.1f} P per P* on average, {max(c for _, c, _, _ in rows)} at "
          f"most, in {np.mean([r for _, _, r, _ in rows]):.1f} training rounds; "
          f"a fixed grid bracketing all of them at the same resolution: {grid_points(RATIOS, args.resolution)} P "
          f"per instance")
    if args.results is None:
        return
    print(f"\nsearches of {args.results}:")
    every = []
    for experiment, searches in measured_table(args.results).items():
        every += searches
        print(_summary(experiment, searches, args.resolution))
        for search in searches:
            print("   ", json.dumps(search))
    if every:
        print(_summary("all", every, args.resolution))


def _summary(label: str, searches: list[dict], resolution: float) -> str:
    """One line on `searches`: their count, distinct P per instance, training rounds, and the fixed grid in units
    of the prediction that brackets their P* at `resolution`, chosen knowing their P*/prediction in advance
    (which a search does not need)."""
    line = (f"{label}: {len(searches)} searches, {np.mean([s['P'] for s in searches]):.1f} P per instance (max "
            f"{max(s['P'] for s in searches)}), {np.mean([s['rounds'] for s in searches]):.1f} rounds; ")
    ratios = [s["ratio"] for s in searches if np.isfinite(s["ratio"])]
    if not ratios:
        return line + "no prediction to place a fixed grid by"
    return line + (f"P*/prediction {min(ratios):.2f}-{max(ratios):.2f}: a fixed grid at resolution {resolution} "
                   f"spanning it, placed knowing this range, needs {grid_points(ratios, resolution)} P per instance")


if __name__ == "__main__":
    main()
