"""What the repository carries beside the code: its lint, license and citation."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import yaml
from cluster import REPO

import srhm
from srhm import authors

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_ruff_finds_nothing():
    """`ruff check` with the repository's configuration (pyproject.toml [tool.ruff]) is clean."""
    assert PYPROJECT["tool"]["ruff"]["line-length"] == 120 and "F" in PYPROJECT["tool"]["ruff"]["lint"]["select"]
    assert any(requirement.startswith("ruff") for requirement in PYPROJECT["project"]["optional-dependencies"]["test"])
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_license_is_the_one_the_package_declares():
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n") and "Permission is hereby granted, free of charge" in text


def test_the_citation_cites_the_paper_and_this_software_at_its_version():
    citation = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    assert citation["version"] == PYPROJECT["project"]["version"] == srhm.__version__
    assert citation["license"] == "MIT"
    paper = citation["preferred-citation"]
    assert f"*{paper['title']}*" in " ".join((REPO / "README.md").read_text().split()), "the paper the README names"
    assert [author["family-names"] for author in paper["authors"]] == ["Tomasini", "Wyart"] and paper["year"] == 2024
    assert "ICML 2024" in paper["collection-title"]
    assert {"type": "doi", "value": "10.48550/arXiv.2404.10727", "description": "arXiv:2404.10727"} in paper["identifiers"]
    (code,) = citation["references"]
    assert code["repository-code"] == f"https://github.com/{authors.REPOSITORY}" and code["commit"] == authors.COMMIT
