"""Layer discovery: entry points of a user's own package, import paths, DAG validation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from layers_for_tests import TFrames, TSummary, TTracks

from artifacts import Generator
from artifacts.errors import LayerDefinitionError, UnknownLayerError
from artifacts.layers import LayerDag, LayerRegistry


def test_a_users_package_is_found_through_its_entry_point(tmp_path: Path) -> None:
    # A real installed distribution (dist-info with entry_points.txt) on sys.path, outside
    # the engine: the engine finds it without being touched.
    site = tmp_path / "site"
    pkg = site / "my_layers"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "from artifacts import Generator\n"
        "class Pose(Generator):\n    name = 'pose-level'\n    version = '1'\n    outputs = ()\n"
    )
    dist = site / "my_layers-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-layers\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[artifacts.layers]\npose-level = my_layers:Pose\n")
    code = "from artifacts.layers import LayerRegistry; print(LayerRegistry.discover([]).get('pose-level').__module__)"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(REPO)]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "my_layers"


def test_import_paths_register_layers() -> None:
    reg = LayerRegistry.discover(["layers_for_tests:TFrames", "layers_for_tests:TTracks"], use_entry_points=False)
    assert reg.names() == ["t-frames", "t-tracks"]


def test_bad_import_path_is_a_clear_error() -> None:
    with pytest.raises(LayerDefinitionError, match="cannot be imported"):
        LayerRegistry.discover(["layers_for_tests:Nope"], use_entry_points=False)
    with pytest.raises(LayerDefinitionError, match="is not of the form"):
        LayerRegistry.discover(["just_a_module"], use_entry_points=False)


def test_unknown_layer_suggestion() -> None:
    reg = LayerRegistry.from_classes([TFrames, TTracks])
    with pytest.raises(UnknownLayerError, match="did you mean 't-frames'"):
        reg.get("t-frame")


def test_dag_order_closure_and_downstream() -> None:
    dag = LayerDag(LayerRegistry.from_classes([TSummary, TTracks, TFrames]))
    assert dag.order == ["t-frames", "t-tracks", "t-summary"]
    assert dag.closure(["t-tracks"]) == ["t-frames", "t-tracks"]
    assert dag.downstream("t-frames") == ["t-tracks", "t-summary"]


def test_cycles_and_unknown_upstream_are_refused() -> None:
    class A(Generator):
        name = "a"
        version = "1"
        upstream = ("b",)

    class B(Generator):
        name = "b"
        version = "1"
        upstream = ("a",)

    with pytest.raises(LayerDefinitionError, match="form a cycle"):
        LayerDag(LayerRegistry.from_classes([A, B]))
    with pytest.raises(LayerDefinitionError, match="reads an upstream layer that is not registered"):
        LayerDag(LayerRegistry.from_classes([A]))


def test_invalid_declarations_are_refused() -> None:
    class NoVersion(Generator):
        name = "x"

    class BadName(Generator):
        name = "Bad Name"
        version = "1"

    with pytest.raises(LayerDefinitionError, match="version"):
        LayerRegistry.from_classes([NoVersion])
    with pytest.raises(Exception, match="is not a valid layer name"):
        LayerRegistry.from_classes([BadName])
