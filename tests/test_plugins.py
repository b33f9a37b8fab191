"""Import paths users write keep loading after a declared move; nothing else is guessed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from artifacts.errors import LayerDefinitionError, ModelsFileError
from artifacts.layers import LayerRegistry
from artifacts.plugins import import_path, moved_module
from artifacts.registry import resolve_implementation
from generators.demo.layers import DemoFrames
from generators.models.tracking.tracker import Tracker
from generators.models.videomae import VideoMAEFeatures


def test_paths_written_before_the_regrouping_still_load() -> None:
    # models.yaml implementation paths and artifacts.toml layer paths of existing workspaces
    assert resolve_implementation("generators.tracking.tracker:Tracker", "models.yaml:9") is Tracker
    assert resolve_implementation("generators.videomae.model:VideoMAEFeatures", "models.yaml:20") is VideoMAEFeatures
    reg = LayerRegistry.discover(["generators.demo_layers:DemoFrames", "generators.heatmaps.layer:ShotHeatmaps"], use_entry_points=False)
    assert reg.get("demo-frames") is DemoFrames
    assert reg.get("shot-heatmaps").__module__ == "generators.layers.heatmaps.layer"
    assert moved_module("generators.shooter.dataset") == "generators.trainers.shooter.dataset"
    assert moved_module("generators.models.detector") is None  # never moved


def test_an_undeclared_missing_module_is_an_error_naming_the_path() -> None:
    with pytest.raises(LayerDefinitionError, match=r"layer import path 'generators.nowhere.layer:X': cannot be imported \(No module named 'generators.nowhere'\)"):
        LayerRegistry.discover(["generators.nowhere.layer:X"], use_entry_points=False)
    with pytest.raises(ModelsFileError, match=r"models.yaml:3 'generators.tracking.nothing:Tracker': cannot be imported"):
        resolve_implementation("generators.tracking.nothing:Tracker", "models.yaml:3")
    with pytest.raises(ValueError, match="is not of the form"):
        import_path("generators.models.detector")


def _fake_distribution(root: Path) -> None:
    """A package installed on sys.path that declares two moves, as pyproject entry points do."""
    dist = root / "movedemo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: movedemo\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[artifacts.moved]\noldpkg = newpkg.inner\nbrokenmod = newpkg.inner.mod\n")
    (root / "newpkg" / "inner").mkdir(parents=True)
    (root / "newpkg" / "__init__.py").write_text("")
    (root / "newpkg" / "inner" / "__init__.py").write_text("")
    (root / "newpkg" / "inner" / "mod.py").write_text("VALUE = 42\n")
    (root / "brokenmod.py").write_text("import dependency_that_is_not_installed\n")


def test_a_declared_move_follows_only_a_missing_module(tmp_path: Path) -> None:
    _fake_distribution(tmp_path)
    code = textwrap.dedent("""
        import sys
        from artifacts.plugins import import_path
        print(import_path("oldpkg.mod:VALUE"))
        try:
            import_path("brokenmod:VALUE")
        except ModuleNotFoundError as exc:
            print("not followed:", exc.name)
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    # oldpkg.mod does not exist: the declared prefix oldpkg -> newpkg.inner is followed.
    # brokenmod exists but lacks a dependency: that error is reported, not redirected.
    assert r.stdout.splitlines() == ["42", "not followed: dependency_that_is_not_installed"]
