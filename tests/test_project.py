"""What the repository carries beside the code: its lint, license and citation."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from cluster import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_ruff_finds_nothing():
    """`ruff check` with the repository's configuration (pyproject.toml [tool.ruff]) is clean."""
    assert PYPROJECT["tool"]["ruff"]["line-length"] == 120 and "F" in PYPROJECT["tool"]["ruff"]["lint"]["select"]
    assert any(requirement.startswith("ruff") for requirement in PYPROJECT["project"]["optional-dependencies"]["test"])
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
