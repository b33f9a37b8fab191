"""The code base stays mypy-strict clean and ruff clean (its layering: tests/test_layout.py)."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_mypy_strict_is_clean() -> None:
    r = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_is_clean() -> None:
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "artifacts", "generators", "cli", "tests"], cwd=REPO, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr

