"""The declared dependencies: pyproject.toml (pip) and envs/srhm.yaml (the jobs' conda environment) agree, and
Snakemake, which only the workflow imports, is an extra."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"pytorch": "torch", "matplotlib-base": "matplotlib"}
"""conda-forge package -> the PyPI package it provides (matplotlib-base: matplotlib without a GUI backend)."""


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def requirements(lines) -> dict[str, SpecifierSet]:
    """{package: version ranges} of PEP 508 requirement strings; ValueError on a package given twice."""
    declared: dict[str, SpecifierSet] = {}
    for line in lines:
        requirement = Requirement(line)
        if requirement.name in declared:
            raise ValueError(f"{requirement.name} is declared twice")
        declared[requirement.name] = requirement.specifier
    return declared


def conda_environment() -> tuple[SpecifierSet, dict[str, SpecifierSet]]:
    """(python's range, {PyPI name: range} of the other packages) of envs/srhm.yaml."""
    declared = requirements(yaml.safe_load((REPO / "envs" / "srhm.yaml").read_text())["dependencies"])
    python = declared.pop("python")
    return python, {CONDA_NAMES.get(name, name): ranges for name, ranges in declared.items()}


def test_conda_environment_declares_the_packages_and_ranges_of_pyproject():
    python, conda = conda_environment()
    project = pyproject()["project"]
    assert conda == requirements(project["dependencies"])
    assert python == SpecifierSet(project["requires-python"])


def test_snakemake_is_the_workflow_extra_and_the_package_never_imports_it():
    project = pyproject()["project"]
    assert "snakemake" not in requirements(project["dependencies"])
    assert "snakemake" in requirements(project["optional-dependencies"]["workflow"])
    importers = []
    for path in sorted((REPO / "workflow" / "srhm").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            if any(name.split(".")[0] == "snakemake" for name in names):
                importers.append(str(path.relative_to(REPO)))
    assert not importers, f"{importers} import snakemake, which the core dependencies do not declare"


def test_the_readme_commands_install_the_workflow_extra():
    """README's first two commands (.ci/run runs the second) install what runs Snakemake."""
    readme = (REPO / "README.md").read_text()
    for marker in ("main-command", "test-command"):
        command = readme.split(f"<!-- {marker} -->\n```bash\n", 1)[1].split("\n", 1)[0]
        extras = re.search(r'-e "?\.\[([\w,]*)\]', command)
        assert extras and "workflow" in extras.group(1).split(","), f"{marker}: {command}"
