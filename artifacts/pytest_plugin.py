"""A pytest plugin: ``artifacts_check`` asserts ``artifacts check`` passes, in one line.

Installed with the package (entry point ``pytest11``)::

    def test_models_are_compatible(artifacts_check):
        artifacts_check("path/to/workspace")            # every collection
        artifacts_check("path/to/workspace", "production")
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from artifacts.plan import Engine
from artifacts.provenance import check


def _run(workspace: str | Path = ".", collection: str | None = None) -> None:
    engine = Engine.open(Path(workspace))
    try:
        problems = check(engine, collection)
    finally:
        engine.close()
    if problems:
        pytest.fail(f"artifacts check found {len(problems)} problem(s):\n" + "\n".join(p.line() for p in problems), pytrace=False)


@pytest.fixture
def artifacts_check() -> Callable[..., None]:
    """A function ``(workspace=".", collection=None)`` that fails the test on any problem."""
    return _run
