"""A command loads what it uses: `--help` and `status` of a local workspace load no heavy library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, TESTS, Ws

# Libraries that only building, training, reading data or object stores need.
HEAVY = ("torch", "ray", "s3fs", "fsspec", "zarr", "pyarrow", "polars", "numpy", "transformers", "av", "scipy", "safetensors")

# Runs the real command in a fresh interpreter, then writes the names of every loaded module.
PROBE = """
import json, sys
from cli.errors import run_cli
from cli.main import app
code = run_cli(app, sys.argv[2:])
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


def _loaded(tmp_path: Path, *args: str) -> tuple[int, set[str]]:
    out = tmp_path / "modules.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(REPO)]))
    r = subprocess.run([sys.executable, "-c", PROBE, str(out), *args], capture_output=True, text=True, env=env, check=False, timeout=120)
    assert out.exists(), r.stderr
    doc = json.loads(out.read_text())
    return doc["code"], set(doc["modules"])


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_help_loads_no_heavy_library_and_no_generator(tmp_path: Path) -> None:
    code, modules = _loaded(tmp_path, "--help")
    assert code == 0
    assert _heavy(modules) == []
    assert sorted(m for m in modules if m.startswith("generators")) == []
    # building, provenance and store-wide operations load with their commands
    assert sorted(m for m in modules if m.startswith(("artifacts.build", "artifacts.provenance", "artifacts.operations"))) == []


def test_status_of_a_local_workspace_loads_only_layer_declarations(ws: Ws, tmp_path: Path) -> None:
    assert ws.cli("build", "t-tracks", "--jobs", "1").returncode == 0
    code, modules = _loaded(tmp_path, "-w", str(ws.root), "status")
    assert code == 0
    assert _heavy(modules) == []
    assert "layers_for_tests" in modules  # the probe sees the workspace's layers discovered
    # no built-in model, trainer or renderer is loaded, nor the build machinery
    assert sorted(m for m in modules if m.startswith("generators.") and not m.startswith(("generators.layers", "generators.demo"))) == []
    assert "artifacts.build" not in modules and "artifacts.operations" not in modules


def test_status_with_every_built_in_layer_loads_only_their_declarations(tmp_path: Path) -> None:
    from artifacts.workspace import init_workspace

    root = tmp_path / "plain"
    init_workspace(root)  # entry points on: every built-in layer is discovered
    code, modules = _loaded(tmp_path, "-w", str(root), "status")
    assert code == 0
    assert _heavy(modules) == []
    loaded = {m for m in modules if m.startswith("generators.")}
    assert {"generators.layers.frame_level.layer", "generators.layers.heatmaps.layer", "generators.layers.videomae.layer"} <= loaded
    assert sorted(m for m in loaded if not m.startswith(("generators.layers", "generators.demo"))) == []


def test_the_probe_sees_a_heavy_import(ws: Ws, tmp_path: Path) -> None:
    """Guards the checks above: a command that does load heavy libraries is seen doing so."""
    code, modules = _loaded(tmp_path, "-w", str(ws.root), "build", "t-frames", "--jobs", "1")
    assert code == 0
    assert {"numpy", "pyarrow", "artifacts.build"} <= modules
    code, modules = _loaded(tmp_path, "train", "dual-stream", "--help")
    assert code == 0 and "generators.trainers.shooter.run" not in modules  # help does not load the trainer


@pytest.mark.parametrize("name", ["DEFAULT_ROLE", "DEFAULT_HEATMAPS_LAYER", "DEFAULT_FEATURES_LAYER", "DEFAULT_DATASET"])
def test_train_defaults_are_the_trainers(name: str) -> None:
    """`artifacts train` writes the trainer's defaults out (so --help does not import it): same values."""
    from cli import train_cmd
    from generators.trainers.shooter import run

    ours = getattr(train_cmd, name)
    if name == "DEFAULT_DATASET":
        from artifacts.plugins import import_path
        from generators.trainers.shooter.dataset import shot_dataset

        assert import_path(ours) is shot_dataset
    else:
        assert ours == getattr(run, name.removeprefix("DEFAULT_"))
