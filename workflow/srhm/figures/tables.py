"""What figures read: the result tables of the experiments named in their settings.

Their paths, relative to the results folder, come from srhm.paths (run_table: one row per run, srhm.runs;
pstar_table: one row per setting, and fits: the scaling fits the report prints, srhm.analysis). The settings
checks, the input lists and the selections here are what the workflow asks a figure module for while it reads
the Snakefile, so this module imports pandas only to read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping

from srhm.architectures import STYLED
from srhm.paths import fits, pstar_table, run_table

if TYPE_CHECKING:
    import pandas as pd

SETTING = ("arch", "model", "v", "n_classes", "m", "s", "L", "s0", "sparsity")
"""Columns that identify one setting (a curve over P and seeds)."""
WINDOW_DECADES = 1.0
"""Default width of the windows of local exponents, in decades of x."""
SWEEP_NETS = ("resnet34", "efficientnetb0", "vgg16", "lcn")
"""The nets the paper draws over P in Figs. 1E-F and 17C-D (settings["sweep_nets"] may name others)."""


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


def scaling_inputs(settings: Mapping, key: str = "experiments") -> list[str]:
    """The P* tables and the fits (those the report reads) of the experiments in settings[key]."""
    return [path for name in experiment_list(settings, key) for path in (pstar_table(name), fits(name))]


def curve_inputs(settings: Mapping) -> list[str]:
    """Run tables (the curves) and P* tables (the thresholds) of settings["experiments"]."""
    return [path for name in experiment_list(settings) for path in (run_table(name), pstar_table(name))]


def layers_inputs(settings: Mapping) -> list[str]:
    """The run table of settings["experiment"], whose sensitivities at every layer and level a figure draws."""
    return [run_table(name) for name in single_experiment(settings)]


def run_inputs(settings: Mapping) -> list[str]:
    """The run tables of settings["experiments"]."""
    return [run_table(name) for name in experiment_list(settings)]


def sensitivity_inputs(settings: Mapping) -> list[str]:
    """The run tables of Figs. 1C-F and 17, once settings["P"] and settings["sweep_nets"] are checked."""
    single_p(settings)
    sweep_nets(settings)
    return run_inputs(settings)


def sweep_nets(settings: Mapping) -> tuple[str, ...]:
    """settings["sweep_nets"]: the nets of the P-sweep panels (Figs. 1E-F, 17C-D), SWEEP_NETS when absent,
    among the nets with a style (srhm.architectures.STYLED)."""
    nets = settings.get("sweep_nets", SWEEP_NETS) if isinstance(settings, Mapping) else None
    if isinstance(nets, str) or not nets or any(net not in STYLED for net in nets):
        raise ValueError(f"settings.sweep_nets must be a non-empty list of nets among {STYLED}, got {nets!r}")
    return tuple(nets)


def single_p(settings: Mapping) -> int:
    """settings["P"]: the training-set size of the single-P panels."""
    P = integer_setting(settings, "P")
    if P < 1:
        raise ValueError(f"settings.P must be a positive training-set size, got {P}")
    return P


def single_p_selections(settings: Mapping) -> list[Selection]:
    """The runs of the single-P panels (Figs. 1C-D, 17A-B): those of settings["experiments"] at P = settings["P"],
    of the nets drawn there (those with a style, srhm.architectures.STYLED) under sparsity A."""
    return [Selection(tuple(experiment_list(settings)), {"P": single_p(settings)},
                      {"arch": STYLED, "sparsity": ("A",)})]


def layers_selections(settings: Mapping, arch: str) -> list[Selection]:
    """The runs a layers figure (Figs. 12, 15) draws: those of settings["experiment"] at settings["v"] and
    settings["L"], of `arch` under sparsity A (srhm.figures.layouts.layers_figure)."""
    return [Selection(tuple(single_experiment(settings)),
                      {"v": integer_setting(settings, "v"), "L": integer_setting(settings, "L")},
                      {"arch": (arch,), "sparsity": ("A",)})]


def window_decades(settings: Mapping) -> float:
    """settings["decades"]: the width of a window of x in decades (positive), WINDOW_DECADES when absent; the
    windows of the local exponents (srhm.scaling.local_slopes) that figure local_slopes and the report give."""
    value = settings.get("decades", WINDOW_DECADES) if isinstance(settings, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"settings.decades must be a positive number of decades, got {value!r}")
    return float(value)


def read(results: Path, paths: Iterable[str]) -> pd.DataFrame:
    """The tables at `paths` (relative to `results`) stacked into one, in order."""
    import pandas as pd

    frames = [pd.read_csv(Path(results) / path) for path in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def select(table: pd.DataFrame, **equal) -> pd.DataFrame:
    """Rows of `table` whose columns equal the given values (all rows of an empty table: none)."""
    import pandas as pd

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
