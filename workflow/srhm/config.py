"""The workflow config: presets, schema validation with defaults, and readable errors."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml

WORKFLOW_DIR = Path(__file__).resolve().parent.parent
PRESETS_DIR = WORKFLOW_DIR / "presets"
SCHEMA_PATH = WORKFLOW_DIR / "schemas" / "config.schema.yaml"


def resolve(config: dict, overrides: dict | None = None, presets_dir: Path = PRESETS_DIR,
            schema_path: Path = SCHEMA_PATH) -> dict:
    """The effective, validated config with every default filled in (a new dict).

    `preset: paper` or `preset: smoke` swaps in workflow/presets/<preset>.yaml: its top-level keys
    replace those of `config` wholesale (so the preset's experiments never mix with the default
    ones), then the command-line `overrides` (`--config key=value`) are merged back in recursively,
    as Snakemake merges them. Raises ValueError naming the offending key and the constraint.
    """
    config = copy.deepcopy(config)
    name = config.get("preset", "default")
    if name != "default":
        path = Path(presets_dir) / f"{name}.yaml"
        if not path.is_file():
            raise ValueError(f"preset: no preset file {path} for preset={name!r}")
        config = merge({**config, **yaml.safe_load(path.read_text())}, overrides or {})
    validate(config, schema_path)
    return config


def validate(config: dict, schema_path: Path = SCHEMA_PATH) -> None:
    """Check `config` against the JSON schema, filling in defaults in place."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    error = jsonschema.exceptions.best_match(_DefaultFilling(schema).iter_errors(config))
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path) or "config"
        raise ValueError(f"{where}: {error.message}")


def merge(base: dict, update: dict) -> dict:
    """A copy of `base` with `update` merged in recursively (dictionaries merge, other values replace)."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _fill_defaults(validator, properties, instance, schema):
    """The `properties` keyword, which first sets every missing property that has a default."""
    if validator.is_type(instance, "object"):
        for name, subschema in properties.items():
            if "default" in subschema:
                instance.setdefault(name, copy.deepcopy(subschema["default"]))
    yield from jsonschema.Draft202012Validator.VALIDATORS["properties"](validator, properties, instance, schema)


_DefaultFilling = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"properties": _fill_defaults})
