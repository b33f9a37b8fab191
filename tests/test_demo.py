"""The README's main job: the embedded demo builds, and a second run reuses everything."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from artifacts import api
from cli.demo import run_demo


def test_demo_builds_then_reuses(tmp_path: Path) -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=200)
    assert run_demo(tmp_path / "demo", 1, console) == 0
    text = buf.getvalue()
    assert "STALE demo-tracks 4 games: tracker trk-v1 -> trk-v2" in text
    assert "tracker trk-v1 -> trk-v2 (via demo-tracks)" in text
    buf2 = io.StringIO()
    assert run_demo(tmp_path / "demo", 1, Console(file=buf2, width=200)) == 0
    assert "every artifact already FRESH under production: the demo workspace is reused" in buf2.getvalue()
    from generators.demo import make_demo_workspace

    e = make_demo_workspace(tmp_path / "demo")
    assert api.status(e, collection="production").all_fresh()
    assert api.status(e, collection="staging").all_fresh()


def test_repository_models_yaml_is_the_demo_registry_and_valid() -> None:
    from conftest import REPO

    from artifacts.models import Models
    from generators.demo import demo_models_yaml

    assert (REPO / "models.yaml").read_text() == demo_models_yaml()
    models = Models.load(REPO / "models.yaml")
    assert models.collection("staging")["tracker"] == "trk-v2"


def test_demo_weights_match_their_registered_digests(tmp_path: Path) -> None:
    from artifacts.hashing import hash_file
    from generators.demo import make_demo_workspace

    e = make_demo_workspace(tmp_path / "d")
    for role, spec in e.models.spec.roles.items():
        for version, mv in spec.versions.items():
            assert hash_file(e.models.weights_url(role, version)) == mv.digest
