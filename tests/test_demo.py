"""The README's main job: the embedded demo builds, and a second run reuses everything."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from artifacts import api
from cli.demo import run_demo


def test_demo_builds_then_reuses(tmp_path: Path, reference_models: Path) -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=200)
    assert run_demo(tmp_path / "demo", 1, console, reference_models) == 0
    text = buf.getvalue()
    assert "STALE track-level 4 games: tracker trk-v1 -> trk-v2" in text
    assert "FRESH frame-level" in text or "frame-level" in text
    buf2 = io.StringIO()
    assert run_demo(tmp_path / "demo", 1, Console(file=buf2, width=200), reference_models) == 0
    assert "every artifact already FRESH under production: the demo workspace is reused" in buf2.getvalue()
    from generators.demo import make_demo_workspace

    e = make_demo_workspace(tmp_path / "demo", reference_models)
    assert api.status(e, collection="production").all_fresh()
    assert api.status(e, collection="staging").all_fresh()


def test_repository_models_yaml_has_the_demo_registry_shape(tmp_path: Path, reference_models: Path) -> None:
    """The top-level models.yaml documents the demo registry: same roles, implementations,
    versions and collections; digests differ only where the weights were trained elsewhere."""
    from conftest import REPO

    from artifacts.models import Models
    from generators.demo import make_demo_workspace

    repo = Models.load(REPO / "models.yaml").spec
    demo = make_demo_workspace(tmp_path / "d", reference_models).models.spec

    def shape(spec: object) -> object:
        d = spec.model_dump()  # type: ignore[attr-defined]
        for role in d["roles"].values():
            for v in role["versions"].values():
                v.pop("digest")
        return d

    assert shape(repo) == shape(demo)


def test_demo_weights_match_their_registered_digests(tmp_path: Path, reference_models: Path) -> None:
    from artifacts.hashing import hash_file
    from generators.demo import make_demo_workspace

    e = make_demo_workspace(tmp_path / "d", reference_models)
    for role, spec in e.models.spec.roles.items():
        for version, mv in spec.versions.items():
            assert hash_file(e.models.weights_url(role, version)) == mv.digest
