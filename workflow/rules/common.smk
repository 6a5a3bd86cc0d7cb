# Input functions shared by the rules.

import re

from srhm import paths
from srhm.architectures import HIERARCHICAL
from srhm.data import parse_dataset_name
from srhm.figures import figure_experiments, figure_module, figure_sources
from srhm.sources import module_sources
from srhm.search import run_dirs as search_run_dirs
from srhm.theory import input_dim

# Job order (Snakemake starts the ready jobs of highest priority first; the rest keep priority 0). On a few cores
# the run ends when its last job does: the BatchNorm nets' trainings, the longest single jobs (minutes each),
# start first, so that none is left running alone at the end; then a P* search's rounds, a chain in which
# each round waits for the one before, go before the remaining fixed-grid trainings, which fill the cores
# while the searches wait and are short enough to end together.
LONGEST_JOB_PRIORITY = 2
SEARCH_PRIORITY = 1

# Only the experiments of the plan have tables (other tables, e.g. CIFAR's, come from other rules).
EXPERIMENT_PATTERN = "|".join(map(re.escape, PLAN.experiments))
# P* searches (search.smk); a pattern that matches nothing when there are none.
SEARCH_PATTERN = "|".join(map(re.escape, PLAN.searches)) or "(?!)"


def search_plan(search, round_):
    """The plan of round `round_` of `search` (srhm.search.run_round), once its checkpoint has run."""
    with open(checkpoints.search_round.get(search=search, round=round_).output[0]) as plan:
        return json.load(plan)


def finished_search(search):
    """The plans of every round of `search`, up to the one that ends it (Snakemake re-evaluates the jobs that
    ask for them as each round's checkpoint ends)."""
    plans = [search_plan(search, 0)]
    while not plans[-1]["done"]:
        plans.append(search_plan(search, len(plans)))
    return plans


def search_runs_inputs(wildcards):
    """What a finished search's list of runs is written from: every round's plan and marker, and the
    files of every run (its borrowed runs and its own)."""
    search = wildcards.search
    plans = finished_search(search)
    rounds = [f"{RESULTS}/{paths.search_round(search, plan['round'])}" for plan in plans]
    markers = [f"{RESULTS}/{paths.search_marker(search, plan['round'])}" for plan in plans if plan["train"]]
    runs = [f"{path}/{name}" for path in search_run_dirs(search_spec(wildcards), plans[-1]["searched"])
            for name in (paths.METRICS_FILE, paths.SENSITIVITY_FILE)]
    return [*rounds, *markers, *runs]


def search_spec(wildcards):
    """What `srhm search` reads of one search (srhm.plan.Search.spec), with this config's eps* and error convention."""
    return PLAN.searches[wildcards.search].spec(RESULTS, config["eps_star"], config["error_convention"])


def last_round(wildcards):
    """The plan of the round that ended a search."""
    return f"{RESULTS}/{paths.search_round(wildcards.search, finished_search(wildcards.search)[-1]['round'])}"


def round_ensemble(wildcards, input):
    """The training job (srhm.plan.Ensemble) of one round of a search, from its plan, an input of the job: read as a
    file, not through the checkpoint, which a job run elsewhere (a SLURM job) does not see as finished."""
    with open(input.plan) as plan:
        return PLAN.searches[wildcards.search].round_ensemble(json.load(plan)["train"])


def search_pools(wildcards):
    """The pools every round of a search reads (srhm.plan.Search.datasets)."""
    return [f"{RESULTS}/{dataset.path}" for dataset in PLAN.searches[wildcards.search].datasets]


def previous_round_option(wildcards):
    """`srhm search`'s --previous option for a round after the first: the plan of the round before it."""
    if wildcards.round == "0":
        return ""
    plan = f"{RESULTS}/{paths.search_round(wildcards.search, int(wildcards.round) - 1)}"
    return f"--previous {shlex.quote(plan)}"


def search_round_inputs(wildcards):
    """What round r's plan needs: the runs fixed grids train on the search's family, the search's pools (drawn
    before its first round), and round r - 1's runs."""
    search, round_ = PLAN.searches[wildcards.search], int(wildcards.round)
    files = [f"{RESULTS}/{run.dir}/{name}" for run in search.borrowed
             for name in (paths.METRICS_FILE, paths.SENSITIVITY_FILE)]
    files += search_pools(wildcards)
    if round_ > 0:
        files.append(f"{RESULTS}/{paths.search_round(wildcards.search, round_ - 1)}")
        files.append(f"{RESULTS}/{paths.search_marker(wildcards.search, round_ - 1)}")
    return files



def experiment_runs(wildcards):
    """Run directories of one experiment's grids (those of its P* searches are listed by search.smk)."""
    return [f"{RESULTS}/{run.dir}" for run in PLAN.experiments[wildcards.experiment].runs]


def experiment_searches(wildcards):
    """The run lists of one experiment's P* searches (search.smk): static paths, so that Snakemake runs the
    searches side by side, each checkpoint re-evaluating its own search only."""
    return [f"{RESULTS}/{paths.search_runs(search)}" for search in PLAN.experiments[wildcards.experiment].searches]


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
