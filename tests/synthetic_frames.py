"""A synthetic ``frame-level`` for track-level tests and benchmarks: games of any length
without rendering or running a detector.

:func:`write_detections` writes a ``detections.parquet`` with frame-level's schema and row
layout (sorted by camera then frame, row groups of 65,536 rows unless told otherwise): per
camera, people moving smoothly (random acceleration, bouncing off the frame's borders) with
1 px of foot-point noise, some detections missed, a few low-confidence false positives, an
appearance embedding per person plus noise and noisy team probabilities. It is written a
block of frames at a time, so an hour-long table takes little memory to make.

:class:`SyntheticFrames` is a layer named ``frame-level`` that publishes such a file, given as
the game's ``detections`` source, as its ``detections.parquet``: the real track-level layer
reads it through the engine as it reads the real one. :func:`synthetic_workspace` makes a
workspace of the two with a tracker in models.yaml.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from artifacts import BuildContext, Generator
from artifacts.workspace import SourceSpec, init_workspace

LAYERS = ["synthetic_frames:SyntheticFrames", "generators.layers.track_level.layer:TrackLevel"]
WIDTH, HEIGHT = 1280.0, 720.0


class SyntheticFrames(Generator):
    name = "frame-level"
    version = "synthetic-1"
    sources = ("detections",)
    outputs = ("detections.parquet",)
    description = "stand-in frame-level: publishes the game's synthetic detections table"

    def build(self, ctx: BuildContext) -> None:
        with ctx.open_source("detections") as src, open(ctx.output_path("detections.parquet"), "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


def _schema(dim: int) -> Any:
    import pyarrow as pa

    return pa.schema([
        ("frame", pa.int32()), ("camera", pa.string()), ("px", pa.float32()), ("py", pa.float32()), ("confidence", pa.float32()),
        ("embedding", pa.list_(pa.float32(), dim)), ("jersey", pa.list_(pa.float32(), 133)), ("team_probs", pa.list_(pa.float32(), 3)),
        ("team", pa.int8()),
    ])


def write_detections(path: Path, frames: int, cameras: Sequence[str] = ("left", "right"), people: int = 12, seed: int = 0,
                     dim: int = 16, row_group: int = 65_536, block: int = 2_000) -> int:
    """Write a synthetic detections table of ``frames`` frames per camera at ``path``; the
    number of rows written."""
    import pyarrow as pa

    from generators.layers.track_level.merge import GroupWriter

    schema = _schema(dim)
    writer = GroupWriter(path, schema, row_group)
    rows = 0
    try:
        for c, camera in enumerate(cameras):
            rng = np.random.default_rng([seed, c])
            looks = rng.normal(size=(people, dim))
            team = np.arange(people) % 3  # team 0, team 1, referee
            pos = rng.uniform((0, 0), (WIDTH, HEIGHT), (people, 2))
            vel = rng.normal(0, 3, (people, 2))
            for first in range(0, frames, block):
                n_frames = min(block, frames - first)
                out: dict[str, list[Any]] = {k: [] for k in ("frame", "xy", "conf", "who")}
                for f in range(first, first + n_frames):
                    vel = 0.95 * vel + rng.normal(0, 0.6, (people, 2))
                    pos = pos + vel
                    for axis, hi in ((0, WIDTH), (1, HEIGHT)):
                        outside = (pos[:, axis] < 0) | (pos[:, axis] > hi)
                        vel[outside, axis] *= -1
                        pos[:, axis] = np.clip(pos[:, axis], 0, hi)
                    seen = np.flatnonzero(rng.random(people) > 0.05)
                    false = int(rng.poisson(0.3))
                    xy = np.concatenate([pos[seen] + rng.normal(0, 1.0, (len(seen), 2)), rng.uniform((0, 0), (WIDTH, HEIGHT), (false, 2))])
                    out["frame"].append(np.full(len(xy), f, np.int32))
                    out["xy"].append(xy)
                    out["conf"].append(np.concatenate([rng.uniform(0.6, 1.0, len(seen)), rng.uniform(0.2, 0.55, false)]))
                    out["who"].append(np.concatenate([seen, np.full(false, -1)]))
                frame = np.concatenate(out["frame"])
                xy = np.concatenate(out["xy"]).astype(np.float32)
                who = np.concatenate(out["who"])
                n = len(frame)
                emb = np.where(who[:, None] >= 0, looks[np.maximum(who, 0)], 0.0) + rng.normal(0, 0.3, (n, dim))
                emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
                probs = rng.dirichlet((1.0, 1.0, 1.0), n) * 0.5
                probs[np.arange(n), np.where(who >= 0, team[np.maximum(who, 0)], 2)] += 0.5
                probs = probs.astype(np.float32)
                writer.write(pa.table({
                    "frame": pa.array(frame),
                    "camera": pa.array([camera] * n, pa.string()),
                    "px": pa.array(xy[:, 0]),
                    "py": pa.array(xy[:, 1]),
                    "confidence": pa.array(np.concatenate(out["conf"]).astype(np.float32)),
                    "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), dim),
                    "jersey": pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(n * 133, np.float32)), 133),
                    "team_probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.ravel()), 3),
                    "team": pa.array(probs.argmax(axis=1).astype(np.int8)),
                }, schema=schema))
                rows += n
    finally:
        writer.close()
    return rows


def synthetic_workspace(root: Path, games: dict[str, Path], tracker: Path) -> None:
    """A workspace at ``root`` of :class:`SyntheticFrames` and the real track-level, with the
    tracker weights ``tracker`` as trk-v1 in collection production, and ``games`` (game id ->
    detections table) registered."""
    from artifacts.plan import Engine
    from generators.reference.workspace import models_yaml

    init_workspace(root, layers=LAYERS, entry_points=False)
    (root / "models.yaml").write_text(models_yaml({"tracker": {"trk-v1": tracker}}, {"production": {"tracker": "trk-v1"}}, root))
    e = Engine.open(root)
    e.catalog.add_games([(game, [SourceSpec("detections", str(path), "other")]) for game, path in games.items()])
    e.close()
