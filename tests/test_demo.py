"""The README's main job: the embedded demo builds, and a second run reuses everything."""

from __future__ import annotations

import io
from pathlib import Path

from conftest import DemoRun
from rich.console import Console

from artifacts import api
from cli.demo import run_demo


def test_demo_builds_then_reuses(demo_run: DemoRun, reference_models: Path) -> None:
    assert demo_run.code == 0, demo_run.output
    text = demo_run.output
    assert "STALE track-level 8 games: tracker trk-v1 -> trk-v2" in text
    assert "STALE shot-heatmaps 8 games: tracker trk-v1 -> trk-v2 (via track-level)" in text
    assert "registered shooter ds-" in text and "held-out accuracy" in text
    assert "promoted shooter ds-" in text and "refused: promoting shooter ds-" in text
    assert "was trained with tracker trk-v1, but staging runs tracker trk-v2" in text
    assert "models to retrain: shooter" in text
    pictures = sorted((demo_run.root / "pictures").glob("*.png"))
    assert len(pictures) == 2 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pictures)
    buf2 = io.StringIO()
    assert run_demo(demo_run.root, 1, Console(file=buf2, width=200), reference_models) == 0
    assert "every artifact already FRESH under production: the demo workspace is reused" in buf2.getvalue()
    assert "already trained: shooter ds-" in buf2.getvalue()
    from generators.demo.workspace import make_demo_workspace

    e = make_demo_workspace(demo_run.root, reference_models)
    assert api.status(e, collection="production").all_fresh()
    assert api.status(e, collection="staging").all_fresh()


def test_repository_models_yaml_has_the_demo_registry_shape(tmp_path: Path, reference_models: Path) -> None:
    """The top-level models.yaml documents the demo registry: same roles, implementations,
    versions and collections; digests differ only where the weights were trained elsewhere."""
    from conftest import REPO

    from artifacts.registry import Models
    from generators.demo.workspace import make_demo_workspace

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
    from artifacts.keys import hash_file
    from generators.demo.workspace import make_demo_workspace

    e = make_demo_workspace(tmp_path / "d", reference_models)
    for role, spec in e.models.spec.roles.items():
        for version, mv in spec.versions.items():
            assert hash_file(e.models.weights_url(role, version)) == mv.digest
