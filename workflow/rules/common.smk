# Input functions shared by the rules.

import re

from srhm.figures import figure_module

# Only the experiments of the plan have tables (other tables, e.g. CIFAR's, come from other rules).
EXPERIMENT_PATTERN = "|".join(map(re.escape, PLAN.experiments))


def experiment_runs(wildcards):
    """Run directories of one experiment."""
    return [f"{RESULTS}/{run.dir}" for run in PLAN.experiments[wildcards.experiment].runs]


def figure_inputs(wildcards):
    """The tables one figure reads (srhm.figures: each figure module lists them)."""
    return [f"{RESULTS}/{path}" for path in figure_module(wildcards.fig).inputs(config["figures"][wildcards.fig])]
