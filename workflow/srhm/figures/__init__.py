"""The paper's figures, one module per figure, drawn from the result tables.

Every module of this package is a figure, named after it, except the SHARED plotting modules. A figure
module exposes `CAPTION`, `experiments(settings) -> list[str]` (the experiments whose tables it reads;
settings: the figure's entry of config["figures"]), `inputs(settings) -> list[str]` (the results-relative
files it reads) and `draw(results, settings) -> CaptionedFigure`; a figure whose settings choose parameter
values of the runs it draws (a v, an L, a P) exposes `selections(settings) -> list[tables.Selection]` too, so
that the plan refuses values no experiment trains. Adding a figure means adding its module and its entry in
config.yaml or a preset; its settings are a list of experiments (`experiments: [...]`) unless the schema's
`figures` says otherwise (srhm.config.load_schema). The workflow reads CAPTION, experiments, inputs and
selections while it parses the Snakefile, in every Snakemake process: a module's top level imports no more than
srhm.figures.tables and srhm.paths, and draw imports what draws (matplotlib, pandas, the plotting modules).
"""

from __future__ import annotations

import pkgutil
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Mapping

from srhm.checks import check_choice
from srhm.figures.tables import Selection, no_selections
from srhm.sources import module_sources

SHARED = ("common_nets", "fits", "layouts", "output", "panels", "style", "tables")
"""The plotting modules the figures share; every other module of this package draws the figure it is named after."""
FIGURES = tuple(sorted(info.name for info in pkgutil.iter_modules(__path__) if info.name not in SHARED))
"""Every figure: the paper's 17 (fig01-fig17), and our test-error curves beside the authors' printed ones."""


def figure_module(name: str) -> ModuleType:
    """The module drawing figure `name` (e.g. "fig04")."""
    check_choice("figure", name, FIGURES)
    return import_module(f"{__name__}.{name}")


def figure_experiments(name: str, settings: Mapping) -> list[str]:
    """The experiments figure `name` reads with `settings`, as its module declares them (ValueError for bad settings)."""
    return list(figure_module(name).experiments(settings))


def figure_selections(name: str, settings: Mapping) -> list[Selection]:
    """The runs the settings of figure `name` choose (srhm.figures.tables.Selection), as its module declares
    them (none where it has no `selections`); ValueError for bad settings."""
    return list(getattr(figure_module(name), "selections", no_selections)(settings))


def figure_sources(name: str) -> list[str]:
    """The source files figure `name` is drawn by, relative to the folder holding the srhm package: its module
    and every srhm module it imports (srhm.sources), the shared plotting modules among them."""
    check_choice("figure", name, FIGURES)
    return module_sources(f"{__name__}.{name}")


def render(name: str, settings: Mapping, results: str | Path, out: str | Path) -> tuple[Path, Path, Path]:
    """Draw figure `name` from the tables under `results` and write out (.pdf), .png and .md beside it.

    Checks the settings and that every table the figure reads exists before drawing.
    """
    from srhm.figures.output import caption_paths, save

    module = figure_module(name)
    caption_paths(out)
    inputs = module.inputs(settings)
    absent = [path for path in inputs if not (Path(results) / path).is_file()]
    if absent:
        raise ValueError(f"results: {name} reads {absent}, missing under {results}; run the workflow's analyse step")
    return save(module.draw(Path(results), settings), name, module.CAPTION, inputs, out)
