# Input functions shared by the rules.

import re

from srhm import paths
from srhm.data import parse_dataset_name
from srhm.figures import figure_experiments, figure_module, figure_sources
from srhm.sources import module_sources
from srhm.theory import input_dim

# Only the experiments of the plan have tables (other tables, e.g. CIFAR's, come from other rules).
EXPERIMENT_PATTERN = "|".join(map(re.escape, PLAN.experiments))


def experiment_runs(wildcards):
    """Run directories of one experiment."""
    return [f"{RESULTS}/{run.dir}" for run in PLAN.experiments[wildcards.experiment].runs]


def figure_inputs(wildcards):
    """The tables one figure reads (srhm.figures: each figure module lists them)."""
    return [f"{RESULTS}/{path}" for path in figure_module(wildcards.fig).inputs(config["figures"][wildcards.fig])]


def workflow_file(path):
    """A file of the workflow (code, published data) as an input path relative to the working directory.

    Snakemake records the paths of a job's inputs and reruns the job when they change: relative ones keep a
    checkout that is moved or copied together with its results/ from rerunning anything.
    """
    return os.path.relpath(PACKAGE_DIR / path)


def figure_code(wildcards):
    """The source files one figure is drawn by: editing them redraws it (and nothing upstream)."""
    return [workflow_file(path) for path in figure_sources(wildcards.fig)]


def report_code():
    """The source files the report and its page are written by."""
    return [workflow_file(path) for path in sorted({*module_sources("srhm.report"), *module_sources("srhm.pages")})]


def training_device():
    """The device training jobs ask srhm for: cuda where they claim a GPU (gpus_per_training > 0) and the config
    leaves the device to auto, so that a job that finds no GPU fails at once instead of training on the CPU."""
    return "cuda" if config["gpus_per_training"] > 0 and config["device"] == "auto" else config["device"]


def experiment_outputs(experiments):
    """Run files and tables of `experiments`, to be listed as inputs of the targets that need them.

    Snakemake (since 7.7) does not rebuild a deleted intermediate file while the files downstream of
    it exist. The figure targets and `all` take these files as inputs directly, so that asking for a
    figure rebuilds a deleted run (its training job) and, from it, everything downstream of it.
    """
    files = []
    for name in experiments:
        files += [f"{RESULTS}/{run.dir}/{file}" for run in PLAN.experiments[name].runs
                  for file in (*paths.TRAINED_FILES, paths.SENSITIVITY_FILE)]
        files += [f"{RESULTS}/{path}" for path in paths.experiment_files(name)]
    return files


def pool_dimension(dataset):
    """d = (s (s0 + 1))^L of a dataset named like v4_nc4_m4_s2_L2_s01_A_seed0 (a pool's memory estimate)."""
    params = parse_dataset_name(dataset)
    return int(input_dim(params["s"], params["L"], params["s0"]))
