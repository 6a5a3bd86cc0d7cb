# Input functions shared by the rules.

import re

from srhm.data import parse_dataset_name
from srhm.paths import pool_stem
from srhm.figures import figure_module
from srhm.plan import referenced_experiments
from srhm.theory import input_dim

# Only the experiments of the plan have tables (other tables, e.g. CIFAR's, come from other rules).
EXPERIMENT_PATTERN = "|".join(map(re.escape, PLAN.experiments))


def experiment_runs(wildcards):
    """Run directories of one experiment."""
    return [f"{RESULTS}/{run.dir}" for run in PLAN.experiments[wildcards.experiment].runs]


def figure_inputs(wildcards):
    """The tables one figure reads (srhm.figures: each figure module lists them)."""
    return [f"{RESULTS}/{path}" for path in figure_module(wildcards.fig).inputs(config["figures"][wildcards.fig])]


def experiment_outputs(experiments):
    """Run files and tables of `experiments`, to be listed as inputs of the targets that need them.

    Snakemake (since 7.7) does not rebuild a deleted intermediate file while the files downstream of
    it exist. The figure targets and `all` take these files as inputs directly, so that asking for a
    figure rebuilds a deleted run (its training job) and, from it, everything downstream of it.
    """
    paths = []
    for name in experiments:
        paths += [f"{RESULTS}/{run.dir}/{file}" for run in PLAN.experiments[name].runs
                  for file in ("model.pt", "metrics.json", "sensitivity.csv")]
        paths += [f"{RESULTS}/tables/{name}.csv", f"{RESULTS}/tables/{name}_pstar.csv", f"{RESULTS}/fits/{name}.json"]
    return paths


def pool_dimension(dataset):
    """d = (s (s0 + 1))^L of a dataset named like v4_nc4_m4_s2_L2_s01_A_seed0 (a pool's memory estimate)."""
    params = parse_dataset_name(dataset)
    return int(input_dim(params["s"], params["L"], params["s0"]))
