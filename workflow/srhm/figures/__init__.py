"""The paper's figures, one module per figure, drawn from the result tables.

Each module exposes `draw(results, settings) -> CaptionedFigure` (settings: the figure's entry of
config["figures"]), `inputs(settings) -> list[str]` (the result-relative tables it reads) and `CAPTION`.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Mapping

FIGURES = {
    "fig01": "srhm.figures.fig01",
    "fig02": "srhm.figures.fig02",
    "fig03": "srhm.figures.fig03",
    "fig04": "srhm.figures.fig04",
    "fig05": "srhm.figures.fig05",
    "fig06": "srhm.figures.fig06",
    "fig07": "srhm.figures.fig07",
    "fig08": "srhm.figures.fig08",
    "fig09": "srhm.figures.fig09",
    "fig10": "srhm.figures.fig10",
    "fig11": "srhm.figures.fig11",
    "fig12": "srhm.figures.fig12",
    "fig13": "srhm.figures.fig13",
    "fig14": "srhm.figures.fig14",
    "fig15": "srhm.figures.fig15",
    "fig16": "srhm.figures.fig16",
    "fig17": "srhm.figures.fig17",
    "authors_curves": "srhm.figures.authors_curves",
}
"""Figure -> the module that draws it: the paper's 17, and our test-error curves beside the authors' printed ones."""


def figure_module(name: str) -> ModuleType:
    """The module drawing figure `name` (e.g. "fig04")."""
    if name not in FIGURES:
        raise ValueError(f"figure must be one of {sorted(FIGURES)}, got {name!r}")
    return import_module(FIGURES[name])


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
