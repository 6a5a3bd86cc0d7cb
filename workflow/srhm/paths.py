"""Where every artifact lives: the one home of the workflow's file layout, relative to the results folder.

    data/{sampling}/{dataset}_n{size}.npz        a pool of one SRHM dataset (srhm.data)
    runs/{dataset}/{model}/P{P}_seed{seed}/      one training run: MODEL_FILE, METRICS_FILE, TRAIN_LOG, SENSITIVITY_FILE
    tables/{experiment}.csv                      one row per run (srhm.runs.collect_runs)
    tables/{experiment}_pstar.csv                one row per setting: P*, P*_S, P*_D (srhm.analysis)
    fits/{experiment}.json                       the experiment's scaling fits (srhm.analysis)
    tables/authors_measurements.csv              the authors' saved P* (srhm.authors)
    tables/cifar_stability{,_digitised}.csv      Fig. 1A-B (srhm.cifar)
    cifar/{net}/P{P}_seed{seed}/                 one CIFAR-10 run: MODEL_FILE, METRICS_FILE, TRAIN_LOG, STABILITY_FILE
    search/{search}/round{r}.json                the P a P* search trains in round r (srhm.search), and the marker
    search/{search}/round{r}.measured            of that round's job (trained and measured)
    search/{search}/runs.json                    the runs of a finished search (its statuses too)
    checkpoints/{job}.pt                         a training job's checkpoint while it runs
    figures/{figure}.{extension}                 figures (srhm.figures)
    report.md, report.html                       the report (srhm.report), and as a page (srhm.pages)
    logs/...                                     one log per job
    benchmarks/{rule}/{job}.tsv                  wall time, CPU time and peak memory of a training or
                                                 sensitivity job (Snakemake's `benchmark:`)

A dataset name reads like v8_nc8_m8_s2_L3_s02_A_seed0 (srhm.data.dataset_name), a model like lcn_H256.
Nothing here touches the file system; the functions only build names.
"""

from __future__ import annotations

from pathlib import Path

from srhm.checks import check_choice

MODEL_FILE = "model.pt"
"""A run's weights: {"final", "best": state dicts, "model": srhm.models.build_model kwargs}."""
METRICS_FILE = "metrics.json"
"""A run's test errors, training statistics, spec and provenance (srhm.train)."""
TRAIN_LOG = "train.log"
SENSITIVITY_FILE = "sensitivity.csv"
"""A run's S_{k,l} and D_{k,l}, once measured (srhm.sensitivity's tidy table)."""
STABILITY_FILE = "stability.json"
"""A CIFAR-10 run's relative stability D_f, G_f, R_f, once measured (srhm.cifar.runs)."""
TRAINED_FILES = (MODEL_FILE, METRICS_FILE)
"""The outputs of a training job that the workflow tracks, per run."""
PSTAR_SUFFIX = "_pstar"
AUTHORS_TABLE = "tables/authors_measurements.csv"
CIFAR_TABLES = {"digitised": "tables/cifar_stability_digitised.csv", "measured": "tables/cifar_stability.csv"}
REPORT = "report.md"
REPORT_PAGE = "report.html"
"""The report as an HTML page, for `snakemake --report`."""


def model_id(arch: str, width: int | None) -> str:
    """Readable model id: the architecture, and its width H where it has one, e.g. lcn_H256 or vgg11."""
    return arch if width is None else f"{arch}_H{width}"


def pool_stem(dataset: str, size: int) -> str:
    """File stem of a pool of `size` samples of `dataset`, e.g. v4_nc4_m4_s2_L2_s01_A_seed0_n3000."""
    return f"{dataset}_n{size}"


def pool(sampling: str, dataset: str, size: int) -> str:
    return f"data/{sampling}/{pool_stem(dataset, size)}.npz"


def pool_dataset(path: str | Path) -> str:
    """The dataset name of a pool file named by `pool_stem` (ValueError if it is not one)."""
    name, _, size = Path(path).stem.rpartition("_n")
    if not size.isdigit():
        raise ValueError(f"pool file {str(path)!r} is not named like v8_nc8_m8_s2_L3_s02_A_seed0_n3000.npz")
    return name


def run_dir(dataset: str, model: str, P: int, seed: int) -> str:
    return f"runs/{dataset}/{model}/P{P}_seed{seed}"


def run_table(experiment: str) -> str:
    return f"tables/{experiment}.csv"


def pstar_table(experiment: str) -> str:
    return f"tables/{experiment}{PSTAR_SUFFIX}.csv"


def fits(experiment: str) -> str:
    return f"fits/{experiment}.json"


def experiment_files(experiment: str) -> list[str]:
    """The tables and fits the workflow makes of one experiment."""
    return [run_table(experiment), pstar_table(experiment), fits(experiment)]


def figure(name: str, extension: str) -> str:
    return f"figures/{name}.{extension}"


def cifar_table(source: str) -> str:
    """The CIFAR-10 stability table of `source` ("digitised" or "measured"); ValueError naming `source` otherwise."""
    check_choice("source", source, tuple(CIFAR_TABLES))
    return CIFAR_TABLES[source]


def cifar_run_dir(net: str, P: int | str, seed: int | str) -> str:
    """e.g. cifar/resnet18/P512_seed0."""
    return f"cifar/{net}/P{P}_seed{seed}"


def search_round(search: str, round_: int | str) -> str:
    """The plan of one round of a P* search (srhm.search), e.g. search/cnn_H128__v4_nc4_m4_s2_L2_s01_A/round2.json."""
    return f"search/{search}/round{round_}.json"


def search_marker(search: str, round_: int | str) -> str:
    """The empty file that says a round of a search has trained and measured its runs."""
    return f"search/{search}/round{round_}.measured"


def search_runs(search: str) -> str:
    """The runs of a finished P* search, e.g. search/cnn_H128__v4_nc4_m4_s2_L2_s01_A/runs.json."""
    return f"search/{search}/runs.json"


def checkpoint(job: str) -> str:
    """The checkpoint of training job `job` (an ensemble id), deleted once the job ends."""
    return f"checkpoints/{job}.pt"


def benchmark(*parts: str) -> str:
    """benchmarks/{parts...}.tsv, e.g. benchmark("train", ensemble_id): Snakemake's record of one job's wall
    time, CPU time and memory."""
    return "benchmarks/" + "/".join(parts) + ".tsv"


def log(*parts: str) -> str:
    """logs/{parts...}.log, e.g. log("train", ensemble_id)."""
    return "logs/" + "/".join(parts) + ".log"
