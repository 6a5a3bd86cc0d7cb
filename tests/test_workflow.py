"""The Snakemake workflow: lint, dry runs of every preset, config rejection, and the smoke preset end to end
(the session's smoke run, see conftest.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pandas as pd
import pytest
import torch
import yaml

from cluster import SMOKE_CONFIG

from srhm.authors import COLUMNS as AUTHORS_COLUMNS
from srhm.cifar.tables import COLUMNS as CIFAR_COLUMNS
from srhm.paths import AUTHORS_TABLE

ROOT = Path(__file__).resolve().parent.parent
FIGURES = tuple(f"fig{number:02d}" for number in range(1, 18))  # all 17 of the paper
SMOKE_EXPERIMENTS = tuple(yaml.safe_load((ROOT / "workflow/presets/smoke.yaml").read_text())["experiments"])
REQUIRED = ("experiment", "run", "arch", "v", "s", "L", "s0", "seed", "P", "test_error", "test_error_best",
            "test_error_final", "epochs", "wall_time_s", "p_star_lcn", "p_star_cnn", "S_1_1", "S_2_1", "S_out_1")


def snakemake(*args: str, cwd: Path = ROOT, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["snakemake", *args], cwd=cwd, capture_output=True, text=True, timeout=1200)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def job_counts(output: str) -> dict[str, int]:
    """The job table of a (dry) run: rule name -> number of jobs."""
    table = output.split("Job stats:", 1)[1] if "Job stats:" in output else ""
    return {rule: int(count) for rule, count in re.findall(r"^(\S+)\s+(\d+)$", table, re.MULTILINE)
            if rule != "total"}


def test_reading_the_workflow_loads_no_torch_pandas_or_matplotlib():
    """Every Snakemake process (and so every cluster job) reads the Snakefile: its imports, the plan and the
    figures' declarations (inputs, experiments, captions) load none of the libraries that jobs compute with."""
    imports = [line for path in (ROOT / "Snakefile", *sorted((ROOT / "workflow/rules").glob("*.smk")))
               for line in path.read_text().splitlines() if re.match(r"from srhm[.\w]* import ", line)]
    script = "\n".join([
        "import sys, yaml",
        f"sys.path.insert(0, {str(ROOT / 'workflow')!r})",
        *imports,
        "from srhm.config import resolve",
        f"config = resolve(yaml.safe_load(open({str(ROOT / 'config.yaml')!r})))",
        "Plan.from_config(config)",
        "for name, settings in config['figures'].items():",
        "    module = figure_module(name)",
        "    module.inputs(settings), figure_experiments(name, settings), module.CAPTION, figure_sources(name)",
        "print(sorted(m for m in ('torch', 'pandas', 'matplotlib') if m in sys.modules))",
    ])
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert len(imports) >= 5 and result.stdout.strip() == "[]", result.stdout + result.stderr


def test_lint_is_clean():
    result = snakemake("--lint")
    assert "Congratulations" in result.stdout + result.stderr


@pytest.mark.parametrize("preset", ["default", "smoke", "paper", "check"])
def test_dry_run_of_every_preset(preset):
    result = snakemake("-n", "--config", f"preset={preset}")
    jobs = job_counts(result.stdout + result.stderr)
    assert any(rule.startswith("train_") for rule in jobs) or "Nothing to be done" in result.stdout
    if jobs:
        assert jobs.get("report") == 1


@pytest.mark.parametrize(
    "override, message",
    [
        ("device: tpu", r"invalid config: device: 'tpu' is not one of"),
        ("colour: red", r"invalid config: config: Additional properties are not allowed \('colour' was unexpected\)"),
        ("experiments: {lcn_s2: {m: 99}}", r"invalid config: experiments.lcn_s2: n_classes\*m = \d+\*99 must be <="),
        ("experiments: {lcn_s2: {v: [three]}}", r"invalid config: experiments.lcn_s2.v"),
        ("test_size: 0", r"invalid config: test_size: 0 is less than the minimum of 1"),
        ("figures: {fig06: {experiments: [nowhere]}}", r"invalid config: figures.fig06: names experiments \['nowhere'\]"),
        ("train: {max_epochs: 0}", r"invalid config: train.max_epochs: 0 is less than the minimum of 1 \(--configfile "
                                   r"\S+override.yaml wrote train.max_epochs = 0\)"),
    ],
)
def test_bad_config_is_rejected_before_any_job(override, message, tmp_path):
    (tmp_path / "override.yaml").write_text(override + "\n")
    result = snakemake("-n", "--configfile", str(tmp_path / "override.yaml"), check=False)
    assert result.returncode != 0
    assert re.search(message, result.stdout + result.stderr), result.stdout[-2000:]
    assert "Building DAG" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "names, message",
    [
        ("{x: EXP, x_pstar: EXP}", r"invalid config: experiments.x_pstar: names ending in '_pstar'"),
        ("{my exp: EXP}", r"invalid config: experiments.my exp: an experiment name must start with a letter"),
    ],
)
def test_experiment_names_that_could_collide_are_refused_before_any_job(names, message, tmp_path):
    experiment = "{arch: lcn, s: 2, L: 2, v: 3, s0: 1, width: 8, P: {values: [60]}}"
    (tmp_path / "names.yaml").write_text(f"experiments: {names.replace('EXP', experiment)}\n")
    result = snakemake("-n", "--configfile", str(tmp_path / "names.yaml"), check=False)
    assert result.returncode != 0 and re.search(message, result.stdout + result.stderr)
    assert "Building DAG" not in result.stdout + result.stderr


def test_runs_from_any_working_directory_with_any_preset(tmp_path):
    """config.yaml is found beside the Snakefile; giving it again as --configfile adds nothing to a preset."""
    for extra in ([], ["--configfile", str(ROOT / "config.yaml")]):
        result = snakemake("-n", "--directory", str(tmp_path), *extra, "--config", "preset=smoke",
                           "train={max_epochs: 3}")
        jobs = job_counts(result.stdout)
        assert jobs.get("train_lcn_H32__v3_nc3_m3_s2_L2_s01_A") == 1 and jobs.get("report") == 1, jobs
        assert "tables/common_nets" not in result.stdout, "no experiment of the default config leaks into the preset"


def test_a_note_with_braces_reaches_the_report_as_written():
    """A config string holding braces (a note written like n_c m^{L}) is not read as a wildcard: the dry run plans
    the report, and its command line carries the note unchanged."""
    result = snakemake("-n", "-p", "--config", "preset=smoke", 'experiments={lcn_s3: {note: "n_c m^{L}"}}', "--",
                       "results/report.md")
    assert job_counts(result.stdout).get("report") == 1
    assert '"note": "n_c m^{L}"' in result.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_a_training_that_claims_a_gpu_fails_at_once_where_there_is_none(tmp_path):
    """With gpus_per_training > 0 and device auto, training asks for CUDA: on a machine without a GPU the job
    fails before training, its log saying why, rather than training on the CPU."""
    ensemble = "lcn_H32__v3_nc3_m3_s2_L2_s01_A"
    result = snakemake("--directory", str(tmp_path), "--cores", "1", "--config", "preset=smoke",
                       "gpus_per_training=1", "--", f"train_{ensemble}", check=False)
    assert result.returncode != 0
    log = (tmp_path / "results" / "logs" / "train" / f"{ensemble}.log").read_text()
    assert log == "srhm train: error: device='cuda' was asked for but CUDA is not available\n"
    assert not list((tmp_path / "results").rglob("*.pt")), "no model or checkpoint was written"


def test_gpu_profile_gives_each_training_one_gpu():
    """profiles/gpu lays gpus_per_training: 1 over the config: each training job claims one GPU of the N given by
    --resources gpu=N and asks for CUDA; no other job claims one."""
    result = snakemake("-n", "--profile", str(ROOT / "profiles/gpu"), "--resources", "gpu=2", "--config", "preset=smoke")
    jobs = re.findall(r"^ *rule (\S+):\n(?: +.*\n)*? +resources: (.*)$", result.stdout, re.MULTILINE)
    training = [resources for rule, resources in jobs if rule.startswith("train_")]
    others = [resources for rule, resources in jobs if not rule.startswith("train_")]
    counts = job_counts(result.stdout)
    assert len(training) == sum(count for rule, count in counts.items() if rule.startswith("train_")) > 0
    assert all(", gpu=1," in resources and "device=cuda" in resources for resources in training), training
    assert others and not [resources for resources in others if re.search(r"gpu=[1-9]", resources)]


def test_paths_with_spaces_reach_the_shell_quoted(tmp_path):
    """The workflow copied under a folder whose name has a space runs its jobs (dataset, digitised table)."""
    work = tmp_path / "with space"
    work.mkdir()
    for name in ("Snakefile", "config.yaml", "workflow", "envs", "profiles"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, work / name)
    dataset = "results/data/balanced/v3_nc3_m3_s2_L2_s01_A_seed0_n400.npz"
    snakemake("--cores", "1", "--config", "preset=smoke", "--", dataset,
              "results/tables/cifar_stability_digitised.csv", cwd=work)
    assert (work / dataset).stat().st_size > 0


@pytest.mark.slow
def test_smoke_builds_every_figure_and_the_report(smoke_run):
    results = smoke_run.workdir / "results"
    for figure in FIGURES:
        for extension in ("pdf", "png", "md"):
            assert (results / "figures" / f"{figure}.{extension}").stat().st_size > 0
    report = (results / "report.md").read_text()
    assert "| claim | paper | authors' data | authors' data, our instances | ours |" in report and "## Compute" in report
    for rule in ("train", "sensitivity"):  # one benchmark record per training and sensitivity job
        logs = {path.stem for path in (results / "logs" / rule).glob("*.log")}
        records = {path.stem: path.read_text() for path in (results / "benchmarks" / rule).glob("*.tsv")}
        assert logs and set(records) == logs and all("cpu_time" in text for text in records.values())
    for table in (results / "tables").glob("*.csv"):
        if table.name.startswith("cifar_stability"):
            assert set(pd.read_csv(table).columns) == set(CIFAR_COLUMNS)
            continue
        if table.name == PurePosixPath(AUTHORS_TABLE).name:
            assert tuple(pd.read_csv(table).columns) == AUTHORS_COLUMNS
            continue
        frame = pd.read_csv(table)
        assert len(frame) > 0
        if table.stem.endswith("_pstar"):
            assert {"test_error_p_star", "test_error_flag", "prediction"} <= set(frame.columns)
            assert frame["test_error_flag"].notna().all()
        else:
            assert set(REQUIRED) <= set(frame.columns), table.name
            assert frame[list(REQUIRED)].notna().all().all(), f"a required value is missing in {table.name}"
            assert frame["D_2_1"].isna().eq(frame["s0"] == 0).all(), "D is NaN exactly where s0 = 0"


@pytest.mark.slow
def test_second_run_does_nothing(smoke_run):
    result = snakemake("-n", *SMOKE_CONFIG, cwd=smoke_run.workdir)
    assert "Nothing to be done" in result.stdout + result.stderr


@pytest.mark.slow
def test_the_smoke_search_ended_its_table_holds_every_round_and_a_rerun_plans_no_training(smoke_run):
    """The smoke preset's cnn_s2 is a P* search: its rounds ran in order, each training P no round before it
    trained, until one plan said done; the experiment's table holds every seed at every P of every round; a
    second run plans nothing (test_second_run_does_nothing), and asking again for the table trains nothing."""
    (folder,) = (smoke_run.workdir / "results/search").iterdir()
    plans = [json.loads((folder / f"round{r}.json").read_text()) for r in range(len(list(folder.glob("round*.json"))))]
    assert plans[-1]["done"] and not any(plan["done"] for plan in plans[:-1])
    trained = [P for plan in plans for P in plan["train"]]
    assert len(trained) == len(set(trained)) and plans[-1]["searched"] == sorted(trained)
    assert plans[-1]["metrics"]["test_error"]["status"] in ("found", "above_at_limit", "max_rounds")
    table = pd.read_csv(smoke_run.workdir / "results/tables/cnn_s2.csv")
    assert sorted(table["P"].unique()) == sorted(trained) and len(table) == 2 * len(trained)
    training_rounds = [plan for plan in plans if plan["train"]]
    assert training_rounds == plans[:-1], "every round trains but the last, which ends the search"
    report = (smoke_run.workdir / "results/report.md").read_text()
    assert (f"P* searches (srhm.search): 1 of 1 instances finished, {len(training_rounds)} training rounds, "
            f"{len(table)} runs") in report
    result = snakemake("-n", *SMOKE_CONFIG, "--forcerun", "collect", "--until", "results/tables/cnn_s2.csv",
                       cwd=smoke_run.workdir)
    assert not [rule for rule in job_counts(result.stdout) if rule.startswith(("train", "search_"))], result.stdout


@pytest.mark.slow
def test_runtime_settings_rerun_nothing(smoke_run, tmp_path):
    """Threads, device and the checkpoint interval cannot change a result, so they never trigger a rerun."""
    (tmp_path / "runtime.yaml").write_text("train: {checkpoint_seconds: 7}\n")
    result = snakemake("-n", "--configfile", str(tmp_path / "runtime.yaml"), *SMOKE_CONFIG, "threads=2", "device=auto",
                       cwd=smoke_run.workdir)
    assert "Nothing to be done" in result.stdout + result.stderr, job_counts(result.stdout)


@pytest.mark.slow
def test_another_experiments_grid_retrains_nothing_of_this_one(smoke_run):
    """cnn_B and lcn_B share a dataset: a larger cnn_B grid gives cnn_B a larger pool of its own, in the same
    run, and lcn_B, whose pool, test set and training prefixes are unchanged, is not retrained or re-measured."""
    result = snakemake("-n", *SMOKE_CONFIG, "experiments={cnn_B: {P: {values: [60, 300]}}}", cwd=smoke_run.workdir)
    jobs = job_counts(result.stdout)
    assert jobs.get("dataset") == 1 and "train_cnn_H16__v3_nc3_m3_s2_L2_s01_B" in jobs, jobs
    assert "sensitivity_cnn_H16__v3_nc3_m3_s2_L2_s01_B" in jobs and jobs.get("report") == 1, jobs
    assert not [rule for rule in jobs if rule.startswith(("train_lcn", "sensitivity_lcn"))], jobs


@pytest.mark.slow
@pytest.mark.parametrize("source, target, expected", [
    ("workflow/srhm/figures/fig04.py", "fig04", {"figure", "fig04"}),
    ("workflow/srhm/figures/panels.py", "fig06", {"figure", "fig06"}),
    ("workflow/srhm/report.py", "all", {"report", "all"}),
])
def test_editing_drawing_code_redraws_and_never_retrains(smoke_run, source, target, expected):
    """A figure's module, the plotting modules it imports and the report's code are inputs of their rules: an
    edit redraws (one job each) and reruns nothing upstream; undoing it leaves nothing to do. (Snakemake
    compares the checksum of a small input whose time stamp is newer, so the edit changes the text.)"""
    path = smoke_run.workdir / source
    original = path.read_text()
    path.write_text(original + "\n# an edit\n")
    try:
        jobs = job_counts(snakemake("-n", target, *SMOKE_CONFIG, cwd=smoke_run.workdir).stdout)
    finally:
        path.write_text(original)
    assert set(jobs) == expected and jobs.get("figure", 1) == 1, jobs
    assert not job_counts(snakemake("-n", target, *SMOKE_CONFIG, cwd=smoke_run.workdir).stdout)


@pytest.mark.slow
def test_a_moved_checkout_reruns_nothing(smoke_run, tmp_path):
    """Every input is named relative to the working directory (the workflow's own code and data included), so the
    finished checkout copied elsewhere with its results and Snakemake's records has nothing to do."""
    moved = tmp_path / "elsewhere" / "checkout"
    shutil.copytree(smoke_run.workdir, moved, symlinks=True)
    result = snakemake("-n", *SMOKE_CONFIG, cwd=moved)
    assert "Nothing to be done" in result.stdout + result.stderr, job_counts(result.stdout)


@pytest.mark.slow
def test_html_report_holds_the_reproduction_figures_and_tables(smoke_run, tmp_path):
    """`snakemake --report` gathers the report as a page (its claims table rendered), every figure with its
    caption and notes, and every experiment's tables as CSV; no caption names a path of this machine."""
    archive_path = tmp_path / "report.zip"
    snakemake("--report", str(archive_path), *SMOKE_CONFIG, cwd=smoke_run.workdir)
    experiments = [path.stem for path in (smoke_run.workdir / "results" / "fits").glob("*.json")]
    with zipfile.ZipFile(archive_path) as archive:
        files = {PurePosixPath(name).name: name for name in archive.namelist() if "/data/raw/" in name}
        page = archive.read(files["report.html"]).decode()
        index = archive.read("report/report.html").decode()
    assert "<th>claim</th>" in page and "<h2>Compute</h2>" in page
    assert {f"{figure}.{extension}" for figure in FIGURES for extension in ("png", "md")} <= set(files)
    assert {f"{name}{suffix}.csv" for name in experiments for suffix in ("", "_pstar")} <= set(files)
    assert len(experiments) == len(SMOKE_EXPERIMENTS)
    captions = [json.loads(f'"{text}"') for text in re.findall(r'"caption": "((?:[^"\\]|\\.)*)"', index)]
    assert len(captions) >= len(FIGURES) + 1
    links = re.compile(r"javascript:app\.showResultInfo\('[^']*'\)")  # the report's own links to its entries
    assert all(links.search(caption) for caption in captions if "Notes on this run" in caption)
    assert not [caption for caption in map(lambda text: links.sub("", text), captions)
                if "results/" in caption or str(smoke_run.workdir) in caption]
    assert "Reproduction" in index and "System Message" not in index


@pytest.mark.slow
def test_deleting_one_training_output_reruns_only_its_branch(smoke_run):
    """Asking for a figure rebuilds a deleted run and what depends on it, nothing else.

    (Runs last: it leaves the smoke run's directory with one run to rebuild.)"""
    run = next((smoke_run.workdir / "results" / "runs").glob("*_s01_A_seed0/lcn_*/P*_seed0"))
    (run / "model.pt").unlink()
    jobs = job_counts(snakemake("-n", "fig12", *SMOKE_CONFIG, cwd=smoke_run.workdir).stdout)
    ensemble = f"{run.parent.name}__{run.parent.parent.name.rsplit('_seed', 1)[0]}"
    branch = {f"train_{ensemble}", f"sensitivity_{ensemble}", "collect", "figure", "fig12"}
    assert branch <= set(jobs) <= branch | {"analyse"}, jobs
    assert all(count == 1 for count in jobs.values()), "one training job, one table, one figure"
