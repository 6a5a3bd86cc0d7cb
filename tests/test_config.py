"""The config layers: config.yaml, presets, the user's --configfile and --config overlays, and their errors."""

import copy
from pathlib import Path

import pytest
import yaml

from srhm import defaults, protocol, theory
from srhm.architectures import ARCHITECTURES, STYLED
from srhm.cifar.settings import ProbeSettings, TrainSettings
from srhm.config import SCHEMA_PATH, command_line_overlays, load_schema, merge, resolve
from srhm.figures import FIGURES
from srhm.plan import Plan, RUNTIME_TRAIN_KEYS, check_experiment_names, train_spec

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = yaml.safe_load((ROOT / "config.yaml").read_text())
TINY = {"arch": "cnn", "s": 2, "L": 2, "v": 4, "s0": 1, "P": {"values": [100, 300]}}


@pytest.fixture
def presets(tmp_path) -> Path:
    (tmp_path / "smoke.yaml").write_text(yaml.safe_dump({"test_size": 77, "experiments": {"tiny": TINY},
                                                         "figures": {}}))
    return tmp_path


def test_presets_replace_experiments_and_overlays_go_on_top(presets):
    resolved = resolve(DEFAULT, [("--config", {"preset": "smoke", "device": "cpu", "test_size": 55})],
                       presets_dir=presets)
    assert list(resolved["experiments"]) == ["tiny"], "the preset's experiments replace the default ones"
    assert resolved["test_size"] == 55 and resolved["device"] == "cpu", "overlays win over the preset"
    assert resolved["sampling"] == DEFAULT["sampling"], "keys the preset leaves out come from config.yaml"
    with pytest.raises(ValueError, match="preset: no preset file"):
        resolve(DEFAULT, [("--config", {"preset": "paper"})], presets_dir=presets)


def test_an_unknown_preset_is_refused_listing_the_presets():
    with pytest.raises(ValueError, match=r"preset: no preset file .*nope.yaml for preset='nope'; the presets are "
                                         r"\['default', 'check', 'paper', 'smoke'\]"):
        resolve(DEFAULT, [("--config", {"preset": "nope"})])


def test_nested_command_line_values_are_typed_as_top_level_ones():
    """Snakemake hands `--config 'train={max_epochs: 30}'` over as {'max_epochs': '30'}."""
    raw = {"train": {"max_epochs": "30", "loss_threshold": "1e-3", "base_lr": "null"}, "threads": 2,
           "experiments": {"x": {"seeds": ["0", "1"], "sparsity": "B", "width": "~"}}, "cifar": {"augment": "false"}}
    ((source, typed),) = command_line_overlays([], raw, ROOT / "config.yaml")
    assert source == "--config"
    assert typed["train"] == {"max_epochs": 30, "loss_threshold": 0.001, "base_lr": None}
    assert typed["experiments"]["x"] == {"seeds": [0, 1], "sparsity": "B", "width": None}
    assert typed["cifar"]["augment"] is False and typed["threads"] == 2
    assert resolve(DEFAULT, [(source, {"train": typed["train"]})])["train"]["max_epochs"] == 30


def test_the_workflow_config_given_again_as_configfile_adds_nothing(tmp_path):
    """`--configfile config.yaml --config preset=...` (e.g. with --directory) runs the preset, not a mixture."""
    other = tmp_path / "mine.yaml"
    other.write_text("threads: 3\n")
    overlays = command_line_overlays([ROOT / "config.yaml", other], {"preset": "smoke"}, ROOT / "config.yaml")
    assert [source for source, _ in overlays] == [f"--configfile {other}", "--config"]
    resolved = resolve(DEFAULT, overlays)
    smoke = yaml.safe_load((ROOT / "workflow/presets/smoke.yaml").read_text())
    assert set(resolved["experiments"]) == set(smoke["experiments"]) and resolved["threads"] == 3


def test_an_overlay_written_for_another_preset_is_refused(tmp_path):
    copy_of_default = [("--configfile my.yaml", copy.deepcopy(DEFAULT)), ("--config", {"preset": "smoke"})]
    with pytest.raises(ValueError, match=r"preset: --configfile my.yaml sets preset 'default' but --config sets "
                                         r"'smoke'"):
        resolve(DEFAULT, copy_of_default)


def test_a_p_grid_overlay_replaces_the_grid_whole():
    """values and relative_to exclude each other: merging them would make a grid nobody wrote."""
    overlay = {"experiments": {"cnn_s2": {"P": {"values": [60, 300]}}}}
    resolved = resolve(DEFAULT, [("--config", overlay)])
    assert resolved["experiments"]["cnn_s2"]["P"] == {"values": [60, 300]}
    assert resolved["experiments"]["cnn_s2"]["width"] == DEFAULT["experiments"]["cnn_s2"]["width"], "the rest merges"
    assert merge({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}}) == {"a": {"b": 3, "c": 2}}


@pytest.mark.parametrize(
    "overlay, message",
    [
        ({"train": {"max_epochs": 0}},
         r"train.max_epochs: 0 is less than the minimum of 1 \(--config wrote train.max_epochs = 0\)"),
        ({"experiments": {"cnn_s2": {"P": {"values": [60], "points": 3}}}},
         r"experiments.cnn_s2.P: .*\(--config wrote experiments.cnn_s2.P = \{points: 3, values: \[60\]\}\)"),
        ({"test_size": "many"}, r"test_size: 'many' is not of type 'integer' \(--config wrote test_size = many\)"),
    ],
)
def test_errors_name_what_the_user_wrote(overlay, message):
    with pytest.raises(ValueError, match=message):
        resolve(DEFAULT, [("--config", overlay)])


def test_the_schemas_architectures_are_the_registrys():
    """The schema file lists no architecture; srhm.config fills them in from srhm.architectures."""
    assert "enum" not in yaml.safe_load(SCHEMA_PATH.read_text())["$defs"]["arch_name"]
    defs = load_schema()["$defs"]
    assert defs["arch_name"]["enum"] == list(ARCHITECTURES)
    assert defs["sweep_nets"]["items"]["enum"] == list(STYLED)
    assert defs["p_grid"]["properties"]["relative_to"]["enum"] == [*theory.P_STAR_FORMULAS, "none"]


@pytest.mark.parametrize("path", [ROOT / "config.yaml", *sorted((ROOT / "workflow" / "presets").glob("*.yaml"))],
                         ids=lambda path: path.name)
def test_the_configs_do_not_restate_the_analysis_defaults(path):
    """eps*, the bootstrap count and the probe size have one home, the library: a config sets them only to differ."""
    config = yaml.safe_load(path.read_text())
    library = {"eps_star": theory.EPS_STAR, "bootstrap": defaults.N_BOOT, "probe_size": defaults.PROBE_SIZE}
    restated = [key for key, value in library.items() if config.get(key) == value]
    assert not restated, f"{path.name} restates the defaults of {restated}"


def test_the_schemas_figures_are_the_figure_modules():
    """A figure module the schema file gives no settings of takes a list of experiments; the schema names no
    figure without a module."""
    written = set(yaml.safe_load(SCHEMA_PATH.read_text())["$defs"]["figures"]["properties"])
    figures = load_schema()["$defs"]["figures"]["properties"]
    assert written <= set(FIGURES) and set(figures) == set(FIGURES)
    for name in set(FIGURES) - written:
        assert figures[name] == {"$ref": "#/$defs/experiments_figure"}
    with pytest.raises(ValueError, match=r"figures: Additional properties are not allowed \('fig99' was unexpected\)"):
        resolve(DEFAULT, [("--config", {"figures": {"fig99": {"experiments": ["lcn_s2"]}}})])


def test_the_schemas_defaults_are_the_librarys():
    """Each default has its home in the library; the schema restates it for the config's readers."""
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    top, train, cifar = schema["properties"], schema["$defs"]["protocol"]["properties"], \
        schema["$defs"]["cifar"]["properties"]
    assert top["eps_star"]["default"] == theory.EPS_STAR
    assert top["bootstrap"]["default"] == defaults.N_BOOT
    assert top["probe_size"]["default"] == defaults.PROBE_SIZE
    assert top["encoding"]["default"] == protocol.TrainSpec.encoding
    assert train["batch_per_class"]["default"] == protocol.SAMPLES_PER_CLASS_PER_STEP
    assert train["eval_every"]["default"] == protocol.TrainSpec.eval_every
    assert train["checkpoint_seconds"]["default"] == protocol.TrainSpec.checkpoint_every_s
    for name in ("cut", "delta", "n_probe"):
        assert cifar[name]["default"] == getattr(ProbeSettings, name), name
    for name in ("batch_size", "lr", "augment", "rescale_epochs"):
        assert cifar[name]["default"] == getattr(TrainSettings, name), name
    # evaluations and test_size default to a small CPU run in the schema, to Petrini et al.'s protocol in the library


@pytest.mark.parametrize("overlay, key", [
    ({"experiments": {"cnn_s2": {"arch": "vgg13"}}}, "experiments.cnn_s2.arch"),
    ({"experiments": {"cnn_s2": {"arch": ["lcn", "vgg13"]}}}, "experiments.cnn_s2.arch"),
])
def test_an_unknown_architecture_is_refused_naming_the_key(overlay, key):
    """The error names the key, the value and, where the schema offers alternatives, the known architectures."""
    with pytest.raises(ValueError, match=rf"{key}.*vgg13.*is not one of \['lcn', 'cnn'"):
        resolve(DEFAULT, [("--config", overlay)])


def test_an_experiment_key_that_instances_shadow_is_refused():
    config = resolve(DEFAULT, [("--config", {"experiments": {"lcn_s2": {"v": 5}}})])
    with pytest.raises(ValueError, match=r"experiments.lcn_s2.v has no effect: every entry of "
                                         r"experiments.lcn_s2.instances sets v itself"):
        Plan.from_config(config)


@pytest.mark.parametrize(
    "names, message",
    [
        (["x", "x_pstar"], r"experiments.x_pstar: names ending in '_pstar'"),
        (["my exp"], r"experiments.my exp: an experiment name must start with a letter"),
        (["a;rm -rf b"], r"must start with a letter and hold only letters, digits and underscores"),
        (["../up"], r"must start with a letter"),
        (["cifar_stability"], r"experiments.cifar_stability: .* taken by other tables"),
        (["Lcn", "lcn"], r"experiments.lcn: differs from experiments.Lcn only in case"),
    ],
)
def test_experiment_names_that_could_collide_or_break_commands_are_refused(names, message):
    with pytest.raises(ValueError, match=message):
        check_experiment_names(names)
    check_experiment_names(["lcn_s2", "cnn_B", "x2"])


def test_runtime_settings_change_no_training_spec():
    """Threads, device and the checkpoint interval never reach what the train rule compares (its params)."""
    runtime = {"threads": 7, "device": "cpu", "train": {"checkpoint_seconds": 1}}
    plain, changed = (Plan.from_config(resolve(DEFAULT, overlays)) for overlays in ([], [("--config", runtime)]))
    assert plain.ensembles.keys() == changed.ensembles.keys()
    for name, ensemble in plain.ensembles.items():
        spec = train_spec(ensemble, "results")
        assert spec == train_spec(changed.ensembles[name], "results")
        assert not {"device", "threads", "checkpoint", "checkpoint_every_s"} & set(spec)
        assert not set(RUNTIME_TRAIN_KEYS) & set(dict(ensemble.protocol))
