"""What figures read: the result tables of the experiments named in their settings.

Their paths, relative to the results folder, come from srhm.paths (run_table: one row per run, srhm.runs;
pstar_table: one row per setting, srhm.analysis).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

SETTING = ("arch", "model", "v", "n_classes", "m", "s", "L", "s0", "sparsity")
"""Columns that identify one setting (a curve over P and seeds)."""


@dataclass(frozen=True)
class Selection:
    """Runs a figure's settings choose, for the plan to check that the experiments train some before any job:
    the runs of `experiments` whose parameters equal `chosen` (the values the settings set, e.g. {"v": 4, "L": 2})
    among those whose parameters lie in `among` (what the figure draws, e.g. {"arch": ("lcn",)}). Parameters are
    a run's arch, P, seed and SRHM parameters (v, n_classes, m, s, L, s0, sparsity). `setting` is the key of the
    figure's settings that holds the chosen values ("" for the figure's own level, e.g. "curve")."""

    experiments: tuple[str, ...]
    chosen: Mapping[str, object]
    among: Mapping[str, tuple] = field(default_factory=dict)
    setting: str = ""


def no_selections(settings: Mapping) -> list[Selection]:
    """The selections of a figure whose settings choose no parameter values: none."""
    return []


def experiment_list(settings: Mapping, key: str = "experiments") -> list[str]:
    """The non-empty list of experiment names under `key`, or ValueError naming the key."""
    names = settings.get(key) if isinstance(settings, Mapping) else None
    if not isinstance(names, list) or not names or not all(isinstance(name, str) and name for name in names):
        raise ValueError(f"settings.{key} must be a non-empty list of experiment names, got {names!r}")
    return names


def no_experiments(settings: Mapping) -> list[str]:
    """The experiments of a figure drawn from the generator or the model code alone: none."""
    return []


def single_experiment(settings: Mapping) -> list[str]:
    """settings["experiment"], the one experiment a figure reads, as a list."""
    return [string_setting(settings, "experiment")]


def integer_setting(settings: Mapping, key: str, where: str = "settings") -> int:
    value = settings.get(key) if isinstance(settings, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}.{key} must be an integer, got {value!r}")
    return value


def string_setting(settings: Mapping, key: str, where: str = "settings") -> str:
    value = settings.get(key) if isinstance(settings, Mapping) else None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}.{key} must be an experiment name, got {value!r}")
    return value


def read(results: Path, paths: Iterable[str]) -> pd.DataFrame:
    """The tables at `paths` (relative to `results`) stacked into one, in order."""
    frames = [pd.read_csv(Path(results) / path) for path in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def select(table: pd.DataFrame, **equal) -> pd.DataFrame:
    """Rows of `table` whose columns equal the given values (all rows of an empty table: none)."""
    if table.empty:
        return table
    keep = pd.Series(True, index=table.index)
    for column, value in equal.items():
        keep &= table[column] == value
    return table[keep]


def describe(row: Mapping, columns: Iterable[str] = ("v", "L", "s", "s0")) -> str:
    """A setting in words, e.g. 'v=4, L=2, s=2, s0=1'."""
    return ", ".join(f"{column}={row[column]}" for column in columns)


def missing_regimes(table: pd.DataFrame, regimes: Mapping[str, Iterable[int]]) -> list[str]:
    """The paper's parameter values (`regimes`: column -> values) that `table` has no row for,
    e.g. ['L = 3', 's0 = 2, 4']."""
    missing = []
    for column, values in regimes.items():
        present = set(table[column]) if column in table else set()
        absent = [value for value in values if value not in present]
        if absent:
            missing.append(f"{column} = {', '.join(map(str, absent))}")
    return missing
