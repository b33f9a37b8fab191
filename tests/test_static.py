"""The code base stays mypy-strict clean, ruff clean, and layered cli -> generators -> artifacts."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO


def test_mypy_strict_is_clean() -> None:
    r = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_is_clean() -> None:
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "artifacts", "generators", "cli", "tests"], cwd=REPO, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_imports_point_one_way() -> None:
    back = re.compile(r"^\s*(from|import)\s+(generators|cli)(\.|\s|$)", re.MULTILINE)
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "artifacts").rglob("*.py") if back.search(p.read_text())]
    offenders += [str(p.relative_to(REPO)) for p in (REPO / "generators").rglob("*.py") if re.search(r"^\s*(from|import)\s+cli(\.|\s|$)", p.read_text(), re.MULTILINE)]
    assert offenders == []
