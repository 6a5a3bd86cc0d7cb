"""The workflow config: the default config, presets, the user's overlays, schema validation with defaults.

Layers, from bottom to top:
1. the workflow's own config.yaml (found beside the Snakefile, whatever the working directory);
2. with `preset: paper` (or smoke, check), workflow/presets/<preset>.yaml, whose top-level keys replace
   those of config.yaml wholesale, so a preset's experiments never mix with the default ones;
3. the user's overlays in the order Snakemake reads them: each `--configfile`, then `--config`.
   They merge recursively (dictionaries merge key by key, other values replace), except the P grid of
   an experiment, which is replaced whole: `values` and `relative_to` exclude each other.

Snakemake parses the scalars nested in a `--config key={...}` value as strings; they are typed here as
Snakemake types top-level ones (integer, float, boolean, null, else string), so
`--config 'train={max_epochs: 30}'` means 30. Errors name the key, the constraint, and which overlay
set the offending value.
"""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml

from srhm.architectures import ARCHITECTURES, STYLED
from srhm.figures import FIGURES
from srhm.protocol import PRECISIONS

WORKFLOW_DIR = Path(__file__).resolve().parent.parent
PRESETS_DIR = WORKFLOW_DIR / "presets"
SCHEMA_PATH = WORKFLOW_DIR / "schemas" / "config.schema.yaml"
REPLACED_WHOLE = (("experiments", "*", "P"),)
"""Key paths ("*": any key) whose overlay value replaces the lower layer's instead of merging into it."""

Overlay = tuple[str, dict]
"""(source, values): where an overlay comes from (e.g. "--config") and what it sets."""


def resolve(base: dict, overlays: list[Overlay] = (), presets_dir: Path = PRESETS_DIR,
            schema_path: Path = SCHEMA_PATH) -> dict:
    """The effective, validated config with every default filled in (a new dict); see the module docstring.

    base: the workflow's config.yaml; overlays: the user's (source, values) in order.
    Raises ValueError naming the offending key, the constraint and the overlay that set it.
    """
    presets = [(source, values["preset"]) for source, values in overlays if "preset" in values]
    name = presets[-1][1] if presets else base.get("preset", "default")
    for source, value in presets:
        if value != name and len(presets) > 1:
            raise ValueError(f"preset: {source} sets preset {value!r} but {presets[-1][0]} sets {name!r}; "
                             f"an overlay written for one preset would be merged into another's experiments")
    config = copy.deepcopy(base)
    if name != "default":
        path = Path(presets_dir) / f"{name}.yaml"
        if not isinstance(name, str) or not path.is_file():
            available = ["default", *sorted(preset.stem for preset in Path(presets_dir).glob("*.yaml"))]
            raise ValueError(f"preset: no preset file {path} for preset={name!r}; the presets are {available}")
        config = {**config, **yaml.safe_load(path.read_text()), "preset": name}
    for _, values in overlays:
        config = merge(config, values)
    try:
        validate(config, schema_path)
    except ValueError as error:
        raise ValueError(_with_source(str(error), getattr(error, "path", ()), overlays)) from None
    return config


def validate(config: dict, schema_path: Path = SCHEMA_PATH) -> None:
    """Check `config` against the JSON schema, filling in defaults in place.

    Raises ValueError "key.path: message"; the error's `path` attribute holds the key path as a tuple.
    """
    schema = load_schema(schema_path)
    error = jsonschema.exceptions.best_match(_DefaultFilling(schema).iter_errors(config))
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path) or "config"
        alternatives = sorted({alternative.message for alternative in error.context})  # why each oneOf branch failed
        problem = ValueError(f"{where}: {error.message}" + (f" ({'; '.join(alternatives)})" if alternatives else ""))
        problem.path = tuple(error.absolute_path)
        raise problem


def load_schema(schema_path: Path = SCHEMA_PATH) -> dict:
    """The JSON schema at `schema_path` with what the package defines filled in: $defs.arch_name enumerates
    every architecture (srhm.architectures), $defs.sweep_nets those drawn in the common-architecture figures
    (srhm.architectures.STYLED), $defs.precision the training precisions (srhm.protocol.PRECISIONS), and a figure module the schema gives no settings of (srhm.figures.FIGURES)
    takes those of $defs.experiments_figure (a list of experiments). Raises ValueError if the schema lacks
    one of these definitions."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    defs = schema.get("$defs", {}) if isinstance(schema, dict) else {}
    missing = [name for name in ("arch_name", "sweep_nets", "figures", "experiments_figure", "precision")
               if name not in defs]
    if missing:
        raise ValueError(f"{schema_path}: the schema must define {', '.join(f'$defs.{name}' for name in missing)}")
    defs["arch_name"]["enum"] = list(ARCHITECTURES)
    defs["sweep_nets"]["items"]["enum"] = list(STYLED)
    defs["precision"]["enum"] = list(PRECISIONS)
    for name in FIGURES:
        defs["figures"]["properties"].setdefault(name, {"$ref": "#/$defs/experiments_figure"})
    return schema


def merge(base: dict, update: dict, _path: tuple = ()) -> dict:
    """A copy of `base` with `update` merged in recursively (dictionaries merge, other values replace,
    and so do the dictionaries at REPLACED_WHOLE paths)."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        path = (*_path, key)
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not _replaced_whole(path):
            out[key] = merge(out[key], value, path)
        else:
            out[key] = copy.deepcopy(value)
    return out


def command_line_overlays(configfiles, config: dict, base_path: Path) -> list[Overlay]:
    """The user's overlays from Snakemake's `--configfile` paths and `--config` values.

    A `--configfile` that is the workflow's own config.yaml (`base_path`) adds nothing and is skipped.
    Nested `--config` scalars are typed (see the module docstring).
    """
    overlays = []
    for path in map(Path, configfiles):
        if path.resolve() == Path(base_path).resolve():
            continue
        values = yaml.safe_load(path.read_text()) or {}
        if not isinstance(values, dict):
            raise ValueError(f"--configfile {path}: must hold a mapping of config keys, got {type(values).__name__}")
        overlays.append((f"--configfile {path}", values))
    if config:
        overlays.append(("--config", {key: _typed(value) for key, value in dict(config).items()}))
    return overlays


def _typed(value):
    """A --config value with every string nested in a mapping or list typed as Snakemake types top-level ones."""
    if isinstance(value, dict):
        return {key: _typed_scalar(item) if isinstance(item, str) else _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed_scalar(item) if isinstance(item, str) else _typed(item) for item in value]
    return value


def _typed_scalar(text: str):
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "~", "none"):
        return None
    return text


def _replaced_whole(path: tuple) -> bool:
    return any(len(path) == len(pattern) and all(p in ("*", part) for p, part in zip(pattern, path))
               for pattern in REPLACED_WHOLE)


def _with_source(message: str, path: tuple, overlays: list[Overlay]) -> str:
    """`message`, followed by what each overlay wrote on the way to the offending key `path`."""
    written = []
    for source, values in overlays:
        node, depth = values, 0
        while depth < len(path) and isinstance(node, dict) and path[depth] in node:
            node, depth = node[path[depth]], depth + 1
        if depth:
            written.append(f"{source} wrote {'.'.join(map(str, path[:depth]))} = {_show(node)}")
    return message if not written else f"{message} ({'; '.join(written)})"


def _show(value) -> str:
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return text[:-4].strip() if text.endswith("...") else text


def _fill_defaults(validator, properties, instance, schema):
    """The `properties` keyword, which first sets every missing property that has a default."""
    if validator.is_type(instance, "object"):
        for name, subschema in properties.items():
            if "default" in subschema:
                instance.setdefault(name, copy.deepcopy(subschema["default"]))
    yield from jsonschema.Draft202012Validator.VALIDATORS["properties"](validator, properties, instance, schema)


_DefaultFilling = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"properties": _fill_defaults})
