"""Shared fixtures: small workspaces with test layers, seeded models and generated games."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from layers_for_tests import ALL
from s3_server import S3Server

from artifacts.keys import hash_file
from artifacts.plan import Engine
from artifacts.workspace import SourceSpec, init_workspace
from generators.reference.workspace import PIPELINE_LAYERS, models_yaml


@dataclass
class Ws:
    """A test workspace: its root, and helpers to change it the way users do."""

    root: Path

    def engine(self) -> Engine:
        return Engine.open(self.root)

    def add_game(self, game: str, video: bytes = b"", shots: bytes = b"frame\n1\n2\n", cams: int = 1) -> None:
        src = self.root / "sources" / game
        src.mkdir(parents=True, exist_ok=True)
        specs = []
        for c in range(cams):
            p = src / f"cam{c}.bin"
            p.write_bytes(video or (game.encode() * 50 + bytes([c]) * 100))
            specs.append(SourceSpec(f"cam{c}", str(p)))
        (src / "shots.csv").write_bytes(shots)
        specs.append(SourceSpec("shots", str(src / "shots.csv"), "annotation"))
        e = self.engine()
        e.catalog.add_games([(game, specs)])
        e.close()

    def weights(self, version: str, content: bytes | None = None) -> Path:
        p = self.root / "weights" / f"{version}.bin"
        p.parent.mkdir(exist_ok=True)
        if content is not None or not p.exists():
            p.write_bytes(content if content is not None else version.encode() * 64)
        return p

    def write_models(self, collections: dict[str, dict[str, str]], extra_versions: dict[str, list[str]] | None = None) -> None:
        """models.yaml with every version named in ``collections`` (+ extra), digests computed."""
        versions: dict[str, set[str]] = {}
        for members in collections.values():
            for role, v in members.items():
                versions.setdefault(role, set()).add(v)
        for role, vs in (extra_versions or {}).items():
            versions.setdefault(role, set()).update(vs)
        lines = ["schema: 1", "roles:"]
        for role in sorted(versions):
            lines += [f"  {role}:", "    versions:"]
            for v in sorted(versions[role]):
                w = self.weights(v)
                lines += [f"      {v}:", f"        weights: weights/{v}.bin", f"        digest: {hash_file(w)}"]
        lines.append("collections:")
        for name, members in collections.items():
            lines.append(f"  {name}:")
            lines += [f"    {r}: {v}" for r, v in members.items()]
        (self.root / "models.yaml").write_text("\n".join(lines) + "\n")

    def set_config(self, extra: str) -> None:
        cfg = self.root / "artifacts.toml"
        cfg.write_text(cfg.read_text() + extra)

    def set_top(self, **settings: object) -> None:
        """Set top-level artifacts.toml settings (before any table), replacing existing ones."""
        cfg = self.root / "artifacts.toml"
        lines = [l for l in cfg.read_text().splitlines() if l.split("=")[0].strip() not in settings]
        at = next((i for i, l in enumerate(lines) if l.startswith("[")), len(lines))
        new = [f"{k} = {v!r}".replace("'", '"') if isinstance(v, str) else f"{k} = {v}" for k, v in settings.items()]
        cfg.write_text("\n".join(lines[:at] + new + lines[at:]) + "\n")

    def use_s3(self, server: S3Server, bucket: str, prefix: str = "store") -> str:
        """Point the workspace's store at ``s3://bucket/prefix`` on the test S3 server."""
        url = f"s3://{bucket}/{prefix}"
        self.set_top(store=url)
        self.set_config("\n[store_options]\n" + server.toml_options())
        return url

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the real ``artifacts`` command in a subprocess against this workspace."""
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(REPO)]), COLUMNS="200")
        return subprocess.run(
            [sys.executable, "-m", "cli.main", "-w", str(self.root), *args],
            check=False, capture_output=True, text=True, timeout=timeout, env=env, cwd=self.root if self.root.exists() else self.root.parent,
        )


PRODUCTION = {"detector": "det-v1", "crop_encoder": "ce-v1", "tracker": "trk-v1"}


@pytest.fixture
def make_ws(tmp_path: Path) -> Callable[..., Ws]:
    def make(name: str = "ws", games: int = 3, collections: dict[str, dict[str, str]] | None = None) -> Ws:
        root = tmp_path / name
        init_workspace(root, layers=ALL, entry_points=False)
        ws = Ws(root)
        ws.write_models(collections or {"production": dict(PRODUCTION), "staging": {"detector": "det-v1", "crop_encoder": "ce-v1", "tracker": "trk-v2"}})
        for i in range(games):
            ws.add_game(f"g{i}")
        return ws

    return make


@pytest.fixture
def ws(make_ws: Callable[..., Ws]) -> Ws:
    return make_ws()


@pytest.fixture(scope="session")
def reference_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference detector, crop encoder and tracker, trained once per session (budget quick,
    about 75 s on one CPU thread): the directory holding their weights files."""
    from generators.reference.build import build_reference_models

    out = tmp_path_factory.mktemp("reference-models")
    build_reference_models(out, seed=0, budget="quick", cache_dir=out / "games")
    return out


# The real pipeline on rendered video with the session's reference models (test_pipeline.py,
# test_heatmaps.py, ...).


@pytest.fixture(scope="session")
def trained(reference_models: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The session's reference models as det-v1, ce-v1, trk-v1, and trk-v2: the same tracker with a narrower gate."""
    from generators.models.tracking.tracker import Tracker
    from generators.reference.build import TRACKER_FILE
    from generators.reference.train import CROP_ENCODER_FILE, DETECTOR_FILE

    out = tmp_path_factory.mktemp("weights")
    fitted = Tracker.from_weights(reference_models / TRACKER_FILE).params
    Tracker(fitted.model_copy(update={"gate": fitted.gate / 2})).save(out / "trk-v2.safetensors")
    return {"det-v1": reference_models / DETECTOR_FILE, "ce-v1": reference_models / CROP_ENCODER_FILE,
            "trk-v1": reference_models / TRACKER_FILE, "trk-v2": out / "trk-v2.safetensors"}


def make_pipeline_ws(root: Path, trained: dict[str, Path], games: int = 2, layers: list[str] | None = None, size: tuple[int, int] = (320, 192)) -> Ws:
    """A workspace of ``layers`` (default: frame-level and track-level) over ``games`` rendered
    games r0, r1 ... of ``size``, with the trained models: production uses trk-v1, staging trk-v2."""
    from generators.render.game import render_game

    init_workspace(root, layers=layers or PIPELINE_LAYERS, entry_points=False)
    ws = Ws(root)
    role_of = {"det-v1": "detector", "ce-v1": "crop_encoder", "trk-v1": "tracker", "trk-v2": "tracker"}
    versions: dict[str, dict[str, Path]] = {}
    for v, path in trained.items():
        versions.setdefault(role_of[v], {})[v] = path
    base = {"detector": "det-v1", "crop_encoder": "ce-v1"}
    (root / "models.yaml").write_text(models_yaml(versions, {"production": {**base, "tracker": "trk-v1"}, "staging": {**base, "tracker": "trk-v2"}}, root))
    e = ws.engine()
    e.catalog.add_games([render_game(root / "games" / f"r{i}", f"r{i}", seed=40 + i, seconds=2.0, size=size).entry() for i in range(games)])
    return ws



@dataclass(frozen=True)
class DemoRun:
    """The demo run once per session: its workspace and what its first run printed."""

    root: Path
    output: str
    code: int


@pytest.fixture(scope="session")
def demo_run(reference_models: Path, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """``artifacts demo`` once per session (on the session's reference models): test_demo checks
    what it printed, other tests read the artifacts it built."""
    import io

    from rich.console import Console

    from cli.demo import run_demo

    root = tmp_path_factory.mktemp("demo") / "demo"
    buf = io.StringIO()
    code = run_demo(root, 2, Console(file=buf, width=200), reference_models)
    return DemoRun(root, buf.getvalue(), code)


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """A real S3 API server (moto, server mode) on a free localhost port, once per session."""
    with S3Server() as server:
        yield server


@pytest.fixture
def bucket(s3: S3Server) -> str:
    """A new, empty bucket on the test S3 server."""
    return s3.make_bucket(f"t-{uuid.uuid4().hex[:16]}")
