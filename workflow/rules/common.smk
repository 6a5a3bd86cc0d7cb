# Input functions shared by the rules.

from srhm.figures import figure_module


def experiment_runs(wildcards):
    """Run directories of one experiment."""
    return [f"{RESULTS}/{run.dir}" for run in PLAN.experiments[wildcards.experiment].runs]


def figure_inputs(wildcards):
    """The tables one figure reads (srhm.figures: each figure module lists them)."""
    return [f"{RESULTS}/{path}" for path in figure_module(wildcards.fig).inputs(config["figures"][wildcards.fig])]
