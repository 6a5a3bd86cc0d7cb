"""The experiment plan: every dataset, training ensemble and run that a config asks for.

A validated config (see workflow/schemas/config.schema.yaml) is expanded here, without Snakemake,
into plain records with readable output paths. Constraints that a JSON schema cannot express
(SRHM parameters, P grids against P_max, clashing runs) raise ValueError naming the config key.

Every record names its files through srhm.paths (a pool: data/{sampling}/{dataset}_n{size}.npz, a run:
runs/{dataset}/{model}/P{P}_seed{seed}/), relative to the results directory.

A pool holds the first `size` samples of one prefix-stable sequence: the test set is its head and the
training set of size P the P samples after it, both the same whatever the size. Each training ensemble reads
a pool sized for its own largest P (n_test + max P), so a larger grid in another experiment, even on the same
dataset, never changes a run's data, its test set, its input files or its results.
An experiment may list several architectures (`arch: [lcn, vgg11]`): each trains on the same datasets and
P grid, and the experiment's table holds them all.
An instance whose P entry asks for a search (`P: {..., search: {...}}`, LCN, CNN and FCN only) is a Search
instead: its P are chosen round by round (srhm.search, workflow/rules/search.smk), every round reading the
search's own pools, sized for the largest P it may train. Runs that fixed grids train on the same model and SRHM family are the search's
too (`borrowed`): it never trains them again.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

from srhm import paths, theory
from srhm.architectures import HIERARCHICAL, default_width
from srhm.data import check_parameters, dataset_name, family_name
from srhm.figures import figure_experiments, figure_selections
from srhm.figures.tables import Selection
from srhm.protocol import FP32
from srhm.search import Settings

TEST_FRACTION_CAP = 5  # the test set holds at most P_max / 5 points, as in the authors' code
EXPERIMENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
RESERVED_TABLES = tuple(PurePosixPath(path).stem for path in (*paths.CIFAR_TABLES.values(), paths.AUTHORS_TABLE))
RUNTIME_TRAIN_KEYS = ("checkpoint_seconds",)
"""Keys of the config's train protocol that change how a training runs, never what it computes."""
RUNTIME_KEYS = ("device", "threads")
"""Top-level config keys that change how jobs run, never what they compute."""


def result_config(config: dict) -> dict:
    """The config without its runtime-only settings (RUNTIME_KEYS, and RUNTIME_TRAIN_KEYS in `train`): what a
    job that reads the whole config may depend on, so that changing one of them reruns nothing."""
    kept = {key: value for key, value in config.items() if key not in RUNTIME_KEYS}
    kept["train"] = {key: value for key, value in config["train"].items() if key not in RUNTIME_TRAIN_KEYS}
    return kept


@dataclass(frozen=True)
class Dataset:
    """One SRHM pool: `pool_size` distinct samples, the first `n_test` of them the test set."""

    v: int
    n_classes: int
    m: int
    s: int
    L: int
    s0: int
    sparsity: str
    seed: int
    sampling: str
    pool_size: int
    n_test: int

    @property
    def srhm_params(self) -> dict:
        return dict(v=self.v, n_classes=self.n_classes, m=self.m, s=self.s, L=self.L, s0=self.s0,
                    sparsity=self.sparsity, seed=self.seed)

    @property
    def name(self) -> str:
        return dataset_name(**self.srhm_params)

    @property
    def d(self) -> int:
        return int(theory.input_dim(self.s, self.L, self.s0))

    @property
    def key(self) -> str:
        """The pool's file stem: the dataset name and the pool size, e.g. v4_nc4_m4_s2_L2_s01_A_seed0_n3000."""
        return paths.pool_stem(self.name, self.pool_size)

    @property
    def path(self) -> str:
        return paths.pool(self.sampling, self.name, self.pool_size)


@dataclass(frozen=True)
class Run:
    """One network trained on the first P samples of a dataset."""

    dataset: Dataset
    arch: str
    width: int | None
    P: int
    seed: int

    @property
    def model(self) -> str:
        """Readable model id: the architecture, and its width for LCN/CNN/FCN."""
        return paths.model_id(self.arch, self.width)

    @property
    def family(self) -> str:
        """The dataset's name without its seed: the SRHM parameters shared by an ensemble's runs."""
        return family_name(self.dataset.name)

    @property
    def dir(self) -> str:
        return paths.run_dir(self.dataset.name, self.model, self.P, self.seed)


@dataclass(frozen=True)
class Ensemble:
    """Runs trained together in one job: one architecture and SRHM family, all its P and seeds (for the BatchNorm
    nets, members_per_job of them)."""

    arch: str
    width: int | None
    family: str  # dataset name without its seed
    protocol: tuple[tuple[str, object], ...]
    runs: tuple[Run, ...]

    @property
    def id(self) -> str:
        """e.g. lcn_H256__v4_nc4_m4_s2_L2_s01_A; for the BatchNorm nets their first run's P and seed too,
        vgg11__..._P7400_seed0, and the number of runs where several train stacked (..._P2000_seed0_x4)."""
        if self.arch in HIERARCHICAL:
            return f"{self.runs[0].model}__{self.family}"
        several = f"_x{len(self.runs)}" if len(self.runs) > 1 else ""
        return f"{self.runs[0].model}__{self.family}_P{self.runs[0].P}_seed{self.runs[0].seed}{several}"

    @property
    def datasets(self) -> tuple[Dataset, ...]:
        return tuple(sorted({run.dataset for run in self.runs}, key=lambda d: d.seed))


@dataclass(frozen=True)
class Search:
    """A P* search (srhm.search) on one model and SRHM family: every seed trains the same P each round.

    instance: the SRHM parameters but the seed, as (name, value) pairs; start: the first round's P (the
    experiment's grid, clipped to [floor, limit]);
    floor, limit: the smallest (one batch) and largest P (P_max minus the test set, or the search's up_to) it
    may train; borrowed: runs of the same model and family that fixed grids train (Plan.from_config).
    """

    arch: str
    width: int | None
    family: str
    protocol: tuple[tuple[str, object], ...]
    instance: tuple[tuple[str, object], ...]
    seeds: tuple[int, ...]
    n_test: int
    sampling: str
    start: tuple[int, ...]
    floor: int
    limit: int
    settings: Settings
    borrowed: tuple[Run, ...] = ()

    @property
    def model(self) -> str:
        return paths.model_id(self.arch, self.width)

    @property
    def id(self) -> str:
        """e.g. cnn_H128__v4_nc4_m4_s2_L2_s01_A, as the fixed grid's training job of the same model and family."""
        return f"{self.model}__{self.family}"

    def run(self, P: int, seed: int, pool_size: int) -> Run:
        dataset = Dataset(**dict(self.instance), seed=seed, sampling=self.sampling, pool_size=pool_size,
                          n_test=self.n_test)
        return Run(dataset, self.arch, self.width, P, seed)

    @property
    def datasets(self) -> tuple[Dataset, ...]:
        """The pools of every round, one per seed: n_test + limit samples, so that the largest P the search may
        train fits. They are known before any round, so they are drawn before the first (a pool drawn only once a
        checkpoint has run would regroup the grouped dataset jobs of a cluster run under way, which Snakemake 9
        does not survive)."""
        return tuple(self.run(self.limit, seed, self.n_test + self.limit).dataset for seed in self.seeds)

    def round_ensemble(self, P: list[int]) -> Ensemble:
        """The training job of one round: every seed at every P of `P` that no fixed grid trains, on the search's
        pools (`datasets`). ValueError when that leaves nothing to train."""
        have = {(run.P, run.seed) for run in self.borrowed}
        pool_size = self.n_test + self.limit
        runs = tuple(self.run(p, seed, pool_size) for seed in self.seeds for p in sorted(P) if (p, seed) not in have)
        if not runs:
            raise ValueError(f"search {self.id}: a round lists P = {sorted(P)}, which fixed grids train already")
        return Ensemble(self.arch, self.width, self.family, self.protocol, runs)

    def spec(self, results: str, eps_star: float, error_convention: str) -> dict:
        """What `srhm search` needs to plan a round (srhm.search.run_round); run_dirs: the pattern of its runs'
        directories, with the fields {P} and {seed}."""
        return {"id": self.id, "arch": self.arch, "width": self.width, "instance": dict(self.instance),
                "seeds": list(self.seeds), "start": list(self.start), "floor": self.floor, "limit": self.limit,
                "settings": dataclasses.asdict(self.settings), "eps_star": eps_star,
                "error_convention": error_convention, "borrowed": [f"{results}/{run.dir}" for run in self.borrowed],
                "run_dirs": f"{results}/" + paths.run_dir(dataset_name(**dict(self.instance), seed="{seed}"),
                                                           self.model, "{P}", "{seed}")}


@dataclass(frozen=True)
class Experiment:
    """A named group of runs from the config, with the grid points P_max forced out, and its searches (ids)."""

    name: str
    archs: tuple[str, ...]
    runs: tuple[Run, ...]
    dropped: tuple[tuple[str, int], ...] = field(default=())  # (dataset, P) above P_max - n_test
    searches: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Plan:
    datasets: dict[str, Dataset]
    ensembles: dict[str, Ensemble]
    experiments: dict[str, Experiment]
    searches: dict[str, Search] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: dict) -> Plan:
        """Expand a schema-validated config (defaults filled in) into datasets, runs and ensembles."""
        check_experiment_names(config["experiments"])
        expanded = {name: _expand_experiment(name, exp, config) for name, exp in config["experiments"].items()}
        all_points = [point for points, _, _, _ in expanded.values() for point in points]
        jobs = _job_keys(all_points)
        pools = _size_pools(all_points, jobs, config["sampling"], config["max_pool_gb"])
        protocols: dict[tuple[str, str], tuple[str, tuple]] = {}  # (model, family) -> (experiment, protocol)
        experiments, searches = {}, {}
        for name, (points, protocol, dropped, found) in expanded.items():
            runs = tuple(Run(pools[jobs[arch, width, dataset_name(**params), P], dataset_name(**params)], arch, width,
                             P, seed) for params, _, arch, width, P, seed, _ in points)
            for model, family in [(run.model, run.family) for run in runs] + [(s.model, s.family) for s in found]:
                other, known = protocols.setdefault((model, family), (name, protocol))
                if known != protocol:
                    raise ValueError(f"experiments.{name}: trains {model} on {family} with another train "
                                     f"protocol than experiments.{other} (runs of one model and SRHM family share "
                                     "their folders and training job); give one of them another width")
            for search in found:
                if searches.setdefault(search.id, (name, search))[1] != search:
                    raise ValueError(f"experiments.{name}: searches P* of {search.model} on {search.family} with "
                                     f"other seeds or search settings than experiments.{searches[search.id][0]} "
                                     "(one search per model and SRHM family); make them equal")
            experiments[name] = Experiment(name, tuple(_as_list(config["experiments"][name]["arch"])), runs,
                                           tuple(dropped), tuple(search.id for search in found))
        groups: dict[tuple, set[Run]] = {}
        for run in (run for exp in experiments.values() for run in exp.runs):
            groups.setdefault(jobs[run.arch, run.width, run.dataset.name, run.P], set()).add(run)
        for figure, settings in config["figures"].items():
            try:
                undefined = [name for name in figure_experiments(figure, settings) if name not in experiments]
                selections = figure_selections(figure, settings)
            except ValueError as error:
                raise ValueError(f"figures.{figure}: {error}") from None
            if undefined:
                raise ValueError(f"figures.{figure}: names experiments {undefined} that config.experiments "
                                 "does not define")
            for selection in selections:
                _check_selection(figure, selection, experiments, {key: s for key, (_, s) in searches.items()})
        ensembles = {}
        for _, runs in sorted(groups.items(), key=lambda item: str(item[0])):
            first = next(iter(runs))
            ensemble = Ensemble(first.arch, first.width, first.family, protocols[first.model, first.family][1],
                                tuple(sorted(runs, key=lambda r: (r.seed, r.P))))
            ensembles[ensemble.id] = ensemble
        searches = {key: dataclasses.replace(search, borrowed=ensembles[key].runs if key in ensembles else ())
                    for key, (_, search) in sorted(searches.items())}
        datasets = {run.dataset.key: run.dataset for run in (run for e in ensembles.values() for run in e.runs)}
        datasets |= {dataset.key: dataset for search in searches.values() for dataset in search.datasets}
        return cls(dict(sorted(datasets.items())), ensembles, experiments, searches)


def check_experiment_names(names) -> None:
    """Raise ValueError, naming the key, unless every experiment name is safe in file names and shell
    commands and no two names could share an output file (see EXPERIMENT_NAME and RESERVED_TABLES)."""
    seen: dict[str, str] = {}
    for name in names:
        if not EXPERIMENT_NAME.fullmatch(name):
            raise ValueError(f"experiments.{name}: an experiment name must start with a letter and hold only "
                             f"letters, digits and underscores (it names files and reaches shell commands), "
                             f"got {name!r}")
        if name.endswith(paths.PSTAR_SUFFIX) or name in RESERVED_TABLES:
            raise ValueError(f"experiments.{name}: names ending in {paths.PSTAR_SUFFIX!r} and the names "
                             f"{list(RESERVED_TABLES)} are taken by other tables (tables/{name}.csv would clash)")
        if name.lower() in seen:
            raise ValueError(f"experiments.{name}: differs from experiments.{seen[name.lower()]} only in case, so "
                             "their tables would be one file on a case-insensitive file system")
        seen[name.lower()] = name


def train_spec(ensemble: Ensemble, results: str) -> dict:
    """The srhm.protocol.TrainSpec (as a dict) that trains `ensemble`, without its runtime settings.

    Only what can change the trained weights is here (the rule passes it as a param, so a change reruns
    the training; the precision only where it is not the default fp32, so that runs trained before the
    setting existed, all in fp32, stay up to date); device, threads and checkpoints (srhm.protocol.RUNTIME_FIELDS) are given to
    `srhm train` on its command line, so changing them reruns nothing.
    """
    first = ensemble.runs[0].dataset
    protocol = dict(ensemble.protocol)
    return {
        "arch": ensemble.arch, "v": first.v, "n_classes": first.n_classes, "s": first.s, "s0": first.s0, "L": first.L,
        "n_test": first.n_test, "width": ensemble.width, "base_lr": protocol["base_lr"],
        "batch_size": protocol["batch_per_class"] * first.n_classes, "loss_threshold": protocol["loss_threshold"],
        "max_epochs": protocol["max_epochs"], "eval_every": protocol["eval_every"], "encoding": protocol["encoding"],
        **({} if protocol["precision"] == FP32 else {"precision": protocol["precision"]}),
        "members": [{"pool": f"{results}/{run.dataset.path}", "P": run.P, "seed": run.seed,
                     "out_dir": f"{results}/{run.dir}"} for run in ensemble.runs],
    }


def p_grid(grid: dict, *, arch: str, n_classes: int, m: int, s: int, L: int, s0: int) -> list[int]:
    """The training-set sizes of a `P` config entry for one SRHM instance (sorted, distinct)."""
    if "values" in grid:
        return sorted(set(grid["values"]))
    scale = grid_scale(grid, n_classes=n_classes, m=m, s=s, L=L, s0=s0)
    values = np.geomspace(grid["from"] * scale, grid["to"] * scale, grid["points"])
    return sorted({max(1, int(round(float(p)))) for p in values})


def grid_scale(grid: dict, *, n_classes: int, m: int, s: int, L: int, s0: int) -> float:
    """The P that a `P` config entry's from, to (and search up_to) multiply: the paper's P* formula named by
    relative_to for this instance; 1 for relative_to none and for explicit values."""
    if "values" in grid or grid["relative_to"] == "none":
        return 1.0
    return float(theory.p_star(grid["relative_to"], n_classes, m, s, L, s0))


# One planned run before pools are sized: (SRHM params, n_test, arch, width, P, seed, members_per_job).
_Point = tuple[dict, int, str, "int | None", int, int, int]


def _expand_experiment(name: str, exp: dict, config: dict
                       ) -> tuple[list[_Point], tuple, list[tuple[str, int]], list[Search]]:
    """Planned runs of one experiment, its train protocol, the (dataset, P) that P_max forbids and its searches."""
    protocol = {**config["train"], **exp.get("train", {}), "encoding": config["encoding"]}
    protocol = tuple(sorted((key, value) for key, value in protocol.items() if key not in RUNTIME_TRAIN_KEYS))
    archs = _as_list(exp["arch"])
    if exp.get("width") is not None and not set(archs) & set(HIERARCHICAL):
        raise ValueError(f"experiments.{name}.width must be null for {', '.join(archs)}: "
                         "the common architectures have fixed channel counts")
    points, dropped, searched = {}, [], {}
    for (v, s, L, s0, seed, m), grid in _instances(name, exp):
        m = v ** (s - 1) if m is None else m
        n_classes = v if exp.get("n_classes") is None else exp["n_classes"]
        params = dict(v=v, n_classes=n_classes, m=m, s=s, L=L, s0=s0, sparsity=exp["sparsity"], seed=seed)
        try:
            check_parameters(**params)
        except ValueError as error:
            raise ValueError(f"experiments.{name}: {error}") from None
        p_max = theory.p_max(n_classes, m, s, L, s0, exp["sparsity"])
        n_test = min(config["test_size"], p_max // TEST_FRACTION_CAP)
        if n_test < 1:
            raise ValueError(f"experiments.{name}: {dataset_name(**params)} has P_max = {p_max}, "
                             "too few samples for a test set")
        for arch in archs:
            if "search" in grid:
                key = (arch, family_name(dataset_name(**params)))
                searched.setdefault(key, (params, n_test, p_max, grid, []))[4].append(seed)
                continue
            for P in p_grid(grid, arch=arch, n_classes=n_classes, m=m, s=s, L=L, s0=s0):
                if P > p_max - n_test:
                    dropped.append((dataset_name(**params), P))
                else:
                    points[dataset_name(**params), arch, P] = (params, n_test, arch, _width(exp, arch, L), P, seed,
                                                               dict(protocol)["members_per_job"])
    searches = [_search(name, exp, arch, *entry, protocol, config) for (arch, _), entry in searched.items()]
    if not points and not searches:
        raise ValueError(f"experiments.{name}.P: every P of the grid exceeds P_max - test size")
    return list(points.values()), protocol, list(dict.fromkeys(dropped)), searches


def _search(name: str, exp: dict, arch: str, params: dict, n_test: int, p_max: int, grid: dict, seeds: list[int],
            protocol: tuple, config: dict) -> Search:
    """The Search of one searched instance of experiment `name` (ValueError naming the key for an architecture
    without P* prediction, settings out of range, an up_to below the starting grid or a largest pool beyond
    max_pool_gb)."""
    if arch not in HIERARCHICAL:
        raise ValueError(f"experiments.{name}.P.search: searches are for {', '.join(HIERARCHICAL)}; {arch} trains "
                         "one network per job, so give it a grid (values, or relative_to/from/to/points)")
    options = dict(grid["search"])
    up_to = options.pop("up_to", None)
    # D measures nothing without sparsity (s0 = 0: no positions to move), so s0 = 0 searches no P*_D
    metrics = [metric for metric in options.pop("metrics", ("test_error",)) if metric != "D" or params["s0"] > 0]
    try:
        settings = Settings(metrics=tuple(metrics), **options)
        if set(settings.metrics) - {"test_error"}:
            theory.invariance(arch, params["s"], params["L"])
    except (TypeError, ValueError) as error:
        raise ValueError(f"experiments.{name}.P.search: {error}") from None
    srhm = {key: params[key] for key in ("n_classes", "m", "s", "L", "s0")}
    start = p_grid(grid, arch=arch, **srhm)
    scale = grid_scale(grid, **srhm)
    floor = dict(protocol)["batch_per_class"] * params["n_classes"]
    cap = None if up_to is None else int(up_to * scale)
    if cap is not None and max(start) > cap:
        raise ValueError(f"experiments.{name}.P.search.up_to = {up_to} caps {family_name(dataset_name(**params))} at "
                         f"P = {cap} ({up_to} x {scale:g}, the P that up_to multiplies), below the largest P it "
                         f"starts from ({max(start)}): raise up_to above the grid's end")
    limit = p_max - n_test if cap is None else min(p_max - n_test, cap)
    if limit < floor:
        raise ValueError(f"experiments.{name}.P.search: {dataset_name(**params)} may train P up to {limit} "
                         f"(P_max - test size, or up_to), less than one batch ({floor}); raise up_to")
    instance = tuple((key, params[key]) for key in ("v", "n_classes", "m", "s", "L", "s0", "sparsity"))
    start = tuple(sorted({min(limit, max(floor, P)) for P in start}))
    search = Search(arch, _width(exp, arch, params["L"]), family_name(dataset_name(**params)), protocol, instance,
                    tuple(sorted(seeds)), n_test, config["sampling"], start, floor, limit, settings)
    largest = search.datasets[0]
    if largest.pool_size * largest.d > config["max_pool_gb"] * 1e9:
        raise ValueError(f"max_pool_gb: the search on {search.family} may train P up to {limit}, a pool of "
                         f"{largest.pool_size} samples x d = {largest.d} = {largest.pool_size * largest.d / 1e9:.1f} "
                         f"GB > {config['max_pool_gb']} GB; give experiments.{name}.P.search an up_to")
    return search


INSTANCE_KEYS = ("v", "s", "L", "s0", "P")
"""Keys an entry of an experiment's `instances` may set, overriding the experiment's own; `m` too, where
null (m = v^(s-1)) is a value and not a missing key."""


def _instances(name: str, exp: dict) -> list[tuple[tuple[int, int, int, int, int, int | None], dict]]:
    """((v, s, L, s0, seed, m), P grid) of every run family: the product of the experiment's lists, or the
    union of the products of its `instances` (whose keys, m and the P grid included, override the
    experiment's); a family listed twice trains the union of its grids."""
    blocks = exp.get("instances", [{}])
    shadowed = [key for key in INSTANCE_KEYS if key in exp and all(key in block for block in blocks)]
    if shadowed and "instances" in exp:
        raise ValueError(f"experiments.{name}.{shadowed[0]} has no effect: every entry of "
                         f"experiments.{name}.instances sets {shadowed[0]} itself")
    out = []
    for block in blocks:
        values = {key: block.get(key, exp.get(key)) for key in INSTANCE_KEYS}
        missing = [key for key, value in values.items() if value is None]
        if missing:
            raise ValueError(f"experiments.{name}: {', '.join(missing)} must be given, at the experiment level "
                             "or in every entry of instances")
        lists = [_as_list(values[key]) for key in ("v", "s", "L", "s0")] + [_as_list(exp["seeds"])]
        m = block.get("m", exp.get("m"))
        out += [((*combination, m), values["P"]) for combination in itertools.product(*lists)]
    return out


def _check_selection(figure: str, selection: Selection, experiments: dict[str, Experiment],
                     searches: dict[str, Search]) -> None:
    """ValueError naming the figure, its setting and the values its experiments train, unless some run of the
    selection's experiments that the figure draws has the parameters its settings choose (a figure drawn
    from no run would be empty). A search counts with the runs of its first round, which it always trains."""
    runs = [run for name in selection.experiments for run in experiments[name].runs]
    runs += [search.run(P, seed, 0) for name in selection.experiments
             for search in map(searches.get, experiments[name].searches) for P in search.start for seed in search.seeds]
    drawn = [{"arch": run.arch, "P": run.P, "seed": run.seed, **run.dataset.srhm_params} for run in runs]
    drawn = [run for run in drawn if all(run[key] in values for key, values in selection.among.items())]
    keys = tuple(selection.chosen)
    trained = sorted({tuple(run[key] for key in keys) for run in drawn})
    if tuple(selection.chosen.values()) in trained:
        return
    where = ".".join(filter(None, (f"figures.{figure}", selection.setting)))
    chosen = ", ".join(f"{key} = {value}" for key, value in selection.chosen.items())
    among = "; ".join(f"{key} {' or '.join(map(str, values))}" for key, values in selection.among.items())
    available = (f"{keys[0]} in {[values[0] for values in trained]}" if len(keys) == 1 else
                 f"({', '.join(keys)}) in {trained}") if trained else "none that it draws"
    raise ValueError(f"{where}: {chosen} selects no run of experiments {list(selection.experiments)}"
                     + (f" that {figure} draws ({among})" if among else "")
                     + f", so the figure would be empty; they train {available}")


def _width(exp: dict, arch: str, L: int) -> int | None:
    """H of an LCN/CNN/FCN run (the experiment's width, else the paper's); None for the common nets."""
    if arch not in HIERARCHICAL:
        return None
    return default_width(arch, L) if exp.get("width") is None else exp["width"]


def _job_keys(points: list[_Point]) -> dict[tuple, tuple]:
    """The training job (ensemble) of each run, keyed by (arch, width, dataset name, P): its architecture, width
    and SRHM family for the LCN/CNN/FCN, which train a whole family in one job; for the BatchNorm nets, runs of
    one family taken in order of (seed, P) members_per_job at a time (one run per job by default). One train
    protocol, members_per_job included, per (model, family) is enforced by Plan.from_config. Each job reads
    pools of its own (_size_pools)."""
    keys, batch_norm = {}, {}
    for params, _, arch, width, P, seed, per_job in points:
        family = family_name(dataset_name(**params))
        run = (arch, width, dataset_name(**params), P)
        if arch in HIERARCHICAL:
            keys[run] = (arch, width, family)
        else:
            batch_norm.setdefault((arch, width, family, per_job), set()).add((seed, P, run))
    for (arch, width, family, per_job), runs in batch_norm.items():
        for rank, (seed, P, run) in enumerate(sorted(runs)):
            keys[run] = (arch, width, family, rank // per_job)
    return keys


def _size_pools(points: list, jobs: dict[tuple, tuple], sampling: str, max_pool_gb: float) -> dict[tuple, Dataset]:
    """(training job, dataset name) -> the pool that job's runs read: n_test + the job's largest P on that
    dataset (jobs: _job_keys). Raises ValueError (max_pool_gb) for a pool beyond the memory guard."""
    need: dict[tuple, tuple[dict, int, int]] = {}
    for params, n_test, arch, width, P, seed, _ in points:
        key = (jobs[arch, width, dataset_name(**params), P], dataset_name(**params))
        need[key] = (params, n_test, max(P, need.get(key, (None, None, 0))[2]))
    pools = {key: Dataset(**params, sampling=sampling, pool_size=P + n_test, n_test=n_test)
             for key, (params, n_test, P) in need.items()}
    for dataset in pools.values():
        if dataset.pool_size * dataset.d > max_pool_gb * 1e9:
            raise ValueError(f"max_pool_gb: the pool of {dataset.name} needs {dataset.pool_size} samples x d = "
                             f"{dataset.d} = {dataset.pool_size * dataset.d / 1e9:.1f} GB > {max_pool_gb} GB; "
                             "narrow its P grid or raise max_pool_gb")
    return pools


def _as_list(value) -> list:
    return list(value) if isinstance(value, list) else [value]
