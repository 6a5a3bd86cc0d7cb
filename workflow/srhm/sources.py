"""The source files a module's output depends on: the module and every srhm module it imports, transitively.

The workflow lists them as inputs of the rules that only draw (figures, the report), so editing a figure's
code redraws that figure, and editing a shared plotting module redraws every figure that imports it, without
touching the trainings. Imports are read from the source (`ast`), so nothing is imported here; imports inside
functions count, since they too shape the output.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
"""The folder holding the srhm package (workflow/ in the repository)."""


def module_sources(module: str, root: Path = PACKAGE_ROOT) -> list[str]:
    """Paths, relative to `root`, of the files of `module` (dotted, e.g. "srhm.figures.fig04") and of every
    srhm module and package it imports, directly or not; sorted.

    Raises ValueError if `module` is not an srhm module with a file under `root`.
    """
    if _file(module, root) is None:
        raise ValueError(f"module must be an srhm module under {root}, got {module!r}")
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += _package_chain(name) + _imports(name, root)
    return sorted(str(_file(name, root).relative_to(root)) for name in seen)


@cache
def _imports(module: str, root: Path) -> list[str]:
    """The srhm modules `module`'s source imports anywhere in it (parsed once per process)."""
    path = _file(module, root)
    tree = ast.parse(path.read_text(), filename=str(path))
    return [found for node in ast.walk(tree) for found in _imported(node, root)]


def _imported(node: ast.AST, root: Path) -> list[str]:
    """The srhm modules an import statement loads (`from srhm.x import y` loads srhm.x.y where y is a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if _file(alias.name, root) is not None]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and _file(node.module, root) is not None:
        submodules = [f"{node.module}.{alias.name}" for alias in node.names]
        return [node.module] + [name for name in submodules if _file(name, root) is not None]
    return []


def _package_chain(module: str) -> list[str]:
    """The packages a module's import runs first: srhm.figures.fig04 -> srhm, srhm.figures."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _file(module: str, root: Path) -> Path | None:
    """The source file of an srhm module or package, None for anything else."""
    if module != "srhm" and not module.startswith("srhm."):
        return None
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None
