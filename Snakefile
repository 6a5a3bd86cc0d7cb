"""srhm-repro: data -> train -> measure -> collect -> analyse -> figures -> report.

    snakemake --cores all                      # the default reduced reproduction (config.yaml)
    snakemake --cores all --config preset=paper
    snakemake -n                               # what would run
"""

import json
import os
import shlex
import sys
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")

# The srhm package beside this Snakefile: the one its jobs run (PYTHONPATH below), whatever is installed.
PACKAGE_DIR = Path(workflow.basedir) / "workflow"
sys.path.insert(0, str(PACKAGE_DIR))

from srhm.config import command_line_overlays, resolve
from srhm.plan import Plan, result_config, train_spec

# The default experiment sits beside this Snakefile, so the workflow runs from any working directory
# (`--directory`). Presets and the user's --configfile / --config overlays go on top (srhm.config).
BASE_CONFIG = Path(workflow.basedir) / "config.yaml"
try:
    overlays = command_line_overlays(workflow.config_settings.configfiles, workflow.config_settings.config,
                                     BASE_CONFIG)
    resolved = resolve(yaml.safe_load(BASE_CONFIG.read_text()), overlays)
    PLAN = Plan.from_config(resolved)
except ValueError as error:
    raise WorkflowError(f"invalid config: {error}") from None
config.clear()
config.update(resolved)

RESULTS = "results"
# `snakemake --report report.html`: this page, then the report, the figures and the tables (report() outputs).
report: "workflow/report/workflow.rst"
# Rules call the library through its command line (`python -m srhm`); this PYTHONPATH makes the
# package importable in any job environment (conda or not) without installing it there.
shell.prefix(f"set -euo pipefail; export PYTHONPATH={shlex.quote(str(PACKAGE_DIR))}; ")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/measure.smk"
include: "workflow/rules/search.smk"
include: "workflow/rules/analyse.smk"
include: "workflow/rules/authors.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/cifar.smk"


rule all:
    default_target: True
    input:
        f"{RESULTS}/{paths.REPORT}",
        f"{RESULTS}/{paths.REPORT_PAGE}",
        [f"{RESULTS}/{paths.figure(name, extension)}" for name in FIGURES for extension in FIGURE_FORMATS],
        experiment_outputs(PLAN.experiments),
