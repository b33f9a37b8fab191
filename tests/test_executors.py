"""Executor settings and resource declarations: validation and error messages (no Ray needed)."""

from __future__ import annotations

import subprocess
import sys
from typing import ClassVar

import pytest
from conftest import REPO, TESTS, Ws
from pydantic import ValidationError

from artifacts import Generator, Resources, api
from artifacts.errors import ConfigError, LayerDefinitionError, UsageError
from artifacts.layers import validate_generator
from artifacts.workspace import ExecutorSettings, Workspace


def test_resources_default_to_one_cpu_and_validate() -> None:
    assert Resources() == Resources(cpus=1, gpus=0, memory_mb=0)
    assert Generator.resources == Resources()
    assert Resources(cpus=2, gpus=0.5, memory_mb=512).text() == "cpus=2 gpus=0.5 memory_mb=512"
    with pytest.raises(ValidationError, match="greater than 0"):
        Resources(cpus=0)
    with pytest.raises(ValidationError, match="more than one GPU must be a whole number"):
        Resources(gpus=1.5)
    with pytest.raises(ValidationError, match="valid integer"):
        Resources(memory_mb="1G")  # type: ignore[arg-type]


def test_generator_with_resources_of_another_type_is_refused() -> None:
    class Bad(Generator):
        name = "bad-resources"
        version = "1"
        resources: ClassVar = {"gpus": 1}  # type: ignore[assignment]

    with pytest.raises(LayerDefinitionError) as exc:
        validate_generator(Bad, "mod:Bad")
    assert exc.value.line() == "generator mod:Bad 'resources': is not an artifacts.Resources; write resources = Resources(cpus=..., gpus=...)"


def test_command_line_overrides_the_workspace_setting() -> None:
    base = ExecutorSettings(kind="ray", ray_address="auto")
    assert base.override(None, None) == base
    assert base.override("local", None).kind == "local"
    assert ExecutorSettings().override("ray", "10.0.0.1:6379") == ExecutorSettings(kind="ray", ray_address="10.0.0.1:6379")
    with pytest.raises(UsageError) as exc:
        ExecutorSettings().override("spark", None)
    assert exc.value.line() == "--executor 'spark': is not an executor; use one of local, ray"
    with pytest.raises(UsageError) as exc:
        ExecutorSettings().override(None, "10.0.0.1:6379")
    assert exc.value.line() == "--ray-address '10.0.0.1:6379': only applies to the Ray executor; add --executor ray"


def test_executor_table_in_artifacts_toml(ws: Ws) -> None:
    ws.set_config('\n[executor]\nkind = "ray"\nray_address = "auto"\n')
    assert Workspace.open(ws.root).config.executor == ExecutorSettings(kind="ray", ray_address="auto")
    cfg = ws.root / "artifacts.toml"
    cfg.write_text(cfg.read_text().replace('kind = "ray"', 'kind = "spark"'))
    with pytest.raises(ConfigError) as exc:
        Workspace.open(ws.root)
    assert exc.value.line() == f"{cfg} executor.kind: Input should be 'local' or 'ray'; fix that setting (see docs/cli.md)"


def test_local_executor_runs_without_ray_and_status_never_imports_it(ws: Ws) -> None:
    assert api.build(ws.engine(), ["t-tracks"], jobs=1).ok()
    code = (
        "import sys\nfrom cli.main import main\n"
        f"sys.argv = ['artifacts', '-w', {str(ws.root)!r}, 'status']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "print('ray imported:', 'ray' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ws.root,
                       env={"PYTHONPATH": f"{TESTS}:{REPO}", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith("ray imported: False")


def test_unreachable_ray_address_fails_in_seconds_with_one_line(ws: Ws) -> None:
    import socket

    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = ws.cli("build", "t-frames", "--executor", "ray", "--ray-address", f"127.0.0.1:{port}", timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == (
        f"error: Ray cluster '127.0.0.1:{port}': cannot be reached (Connection refused); start one with 'ray start --head' or fix --ray-address"
    )
    bad = ws.cli("build", "t-frames", "--executor", "ray", "--ray-address", "nohost", timeout=60)
    assert bad.returncode == 1
    assert "error: Ray address 'nohost': is not HOST:PORT, ray://HOST:PORT or auto; fix --ray-address (or ray_address in artifacts.toml)" in bad.stderr
    usage = ws.cli("build", "t-frames", "--ray-address", f"127.0.0.1:{port}")
    assert usage.returncode == 2
    assert "error: --ray-address" in usage.stderr and "add --executor ray" in usage.stderr
