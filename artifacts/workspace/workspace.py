"""The workspace: a directory with ``artifacts.toml`` naming the store and models.yaml.

``artifacts.toml``::

    store = "store"              # any fsspec URL, or a path relative to the workspace
    remote = ""                  # a teammates' store for push and pull (fsspec URL), optional
    lease_ttl_s = 60             # a builder's claim on a key expires this long after its last renewal
    models = "models.yaml"       # path relative to the workspace
    collection = "production"    # default collection for status and build
    layers = []                  # extra generators as "package.module:Class"
    combiners = []               # extra cross-game combiners as "package.module:Class"
    entry_points = true          # also find layers in installed packages' entry points

    [store_options]              # passed to the fsspec filesystem of the store (docs/scaling.md)
    endpoint_url = "http://127.0.0.1:9000"

    [remote_options]             # the same, for the remote store

    [params.track-level]         # parameters per layer (defaults stay out of recipes)
    max_gap = 30

    [combiner_params.clips-combined]  # parameters per combiner (artifacts.operations.combine), likewise
    [chunk_size]                 # units per chunk of chunked layers (never part of a key)
    frame-level = 3000
    [executor]                   # where build tasks run (see docs/scaling.md)
    kind = "local"               # "local" (worker processes) or "ray"
    ray_address = "auto"         # with kind = "ray": the cluster; absent: start a local one

The game catalog lives in ``.artifacts/catalog.sqlite`` inside the workspace.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from artifacts.errors import ConfigError, UsageError, dotted
from artifacts.workspace.executor_settings import ExecutorSettings

CONFIG_NAME = "artifacts.toml"
STATE_DIR = ".artifacts"


class WorkspaceConfig(BaseModel):
    """The validated content of artifacts.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    store: str = "store"
    store_options: dict[str, Any] = {}
    remote: str = ""
    remote_options: dict[str, Any] = {}
    lease_ttl_s: float = Field(60.0, gt=0)
    models: str = "models.yaml"
    collection: str = "production"
    layers: list[str] = []
    combiners: list[str] = []
    entry_points: bool = True
    params: dict[str, dict[str, Any]] = {}
    combiner_params: dict[str, dict[str, Any]] = {}
    chunk_size: dict[str, Annotated[int, Field(gt=0)]] = {}
    executor: ExecutorSettings = ExecutorSettings()


def render_config(store: str, models: str, collection: str, layers: list[str], entry_points: bool = True) -> str:
    """Text of a new artifacts.toml."""
    lines = [
        "# Workspace of the artifacts framework; see docs/cli.md.",
        f"store = {_toml_str(store)}",
        f"models = {_toml_str(models)}",
        f"collection = {_toml_str(collection)}",
        "layers = [" + ", ".join(_toml_str(x) for x in layers) + "]",
        f"entry_points = {'true' if entry_points else 'false'}",
        "",
    ]
    return "\n".join(lines)


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Workspace:
    """An opened workspace: its root, config, and resolved locations."""

    def __init__(self, root: Path, config: WorkspaceConfig) -> None:
        self.root = root
        self.config = config

    @classmethod
    def open(cls, root: Path) -> Workspace:
        """Open the workspace at ``root``; errors name the file and the fix."""
        root = root.resolve()
        path = root / CONFIG_NAME
        if not path.is_file():
            raise UsageError(
                "workspace", str(root), f"has no {CONFIG_NAME}",
                "run 'artifacts init' there, or pass --workspace DIR",
            )
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(path), None, f"TOML syntax error: {exc}", "fix the syntax") from exc
        try:
            config = WorkspaceConfig.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ConfigError(
                f"{path} {dotted(tuple(err['loc']))}", None, err["msg"], "fix that setting (see docs/cli.md)"
            ) from exc
        return cls(root, config)

    @property
    def store_url(self) -> str:
        """The store location as an fsspec URL or absolute local path."""
        url = self.config.store
        if "://" in url or Path(url).is_absolute():
            return url
        return str(self.root / url)

    @property
    def remote_url(self) -> str:
        """The remote store (``remote`` in artifacts.toml) as a URL or absolute path; "" if unset."""
        url = self.config.remote
        if not url or "://" in url or Path(url).is_absolute():
            return url
        return str(self.root / url)

    @property
    def models_path(self) -> Path:
        return (self.root / self.config.models).resolve()

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def catalog_path(self) -> Path:
        return self.state_dir / "catalog.sqlite"


def init_workspace(
    root: Path,
    store: str = "store",
    models: str = "models.yaml",
    collection: str = "production",
    layers: list[str] | None = None,
    entry_points: bool = True,
) -> Workspace:
    """Create a workspace at ``root`` (idempotent: an existing one is reused unchanged)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / CONFIG_NAME
    if not path.exists():
        path.write_text(render_config(store, models, collection, layers or [], entry_points), encoding="utf-8")
    models_path = root / models
    if not models_path.exists():
        models_path.write_text(
            "# Model roles, versions and collections; see docs/registry.md.\n"
            "schema: 1\nroles: {}\ncollections:\n  production: {}\n",
            encoding="utf-8",
        )
    (root / STATE_DIR).mkdir(exist_ok=True)
    return Workspace.open(root)
