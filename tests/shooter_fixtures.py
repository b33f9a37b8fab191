"""Stand-ins for the shooter trainer's inputs: two small layers and a synthetic shot data set factory.

``t-heatmaps`` reads ``t-tracks`` (so the tracker, crop encoder and detector are behind it) and
``t-features`` runs the ``videomae`` role on the videos, like the real ``shot-heatmaps`` and
``videomae-features``. Each writes a small ``seed.txt`` that depends on its recipe's inputs;
:func:`synthetic_factory` reads those files from the store (exactly the artifacts it is given)
and draws each game's synthetic shots from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import xxhash

from artifacts import ArtifactReader, BuildContext, Generator
from artifacts.plan import Engine
from generators.trainers.shooter.run import ShotArtifacts

if TYPE_CHECKING:
    from torch.utils.data import Dataset

GEOMETRY = {"frames": 4, "grid": 7, "token_frames": 2, "token_dim": 16}
SHOTS_PER_GAME = 48


class THeatmaps(Generator):
    name = "t-heatmaps"
    version = "1"
    upstream = ("t-tracks",)
    sources = ("shots",)
    outputs = ("seed.txt",)

    def build(self, ctx: BuildContext) -> None:
        tracks = ctx.upstream("t-tracks")
        ctx.output_path("seed.txt").write_text(f"{tracks.key} {ctx.source('shots').digest}")


class TFeatures(Generator):
    name = "t-features"
    version = "1"
    models = ("videomae",)
    sources = ("kind:video",)
    outputs = ("seed.txt",)

    def build(self, ctx: BuildContext) -> None:
        digests = " ".join(ctx.source(n).digest for n in ctx.source_names())
        ctx.output_path("seed.txt").write_text(f"{ctx.model('videomae').read_bytes()[:8].hex()} {digests}")


LAYERS = ["shooter_fixtures:THeatmaps", "shooter_fixtures:TFeatures"]


def _seed(engine: Engine, layer: str, game: str, key: str) -> int:
    manifest = engine.store.manifest(layer, game, key)
    assert manifest is not None, f"{layer} {game} {key} is not stored"
    with ArtifactReader(engine.store, manifest).open("seed.txt") as f:
        return xxhash.xxh64_intdigest(f.read())


def synthetic_factory(engine: Engine, games: Sequence[ShotArtifacts]) -> Dataset[dict[str, Any]]:
    """Per game, ``SHOTS_PER_GAME`` synthetic shots drawn from its two artifacts' contents."""
    from torch.utils.data import ConcatDataset  # torch only when training: layer discovery imports this module

    from generators.trainers.shooter.synthetic import SyntheticShots, SyntheticSpec

    parts: list[Dataset[dict[str, Any]]] = []
    for a in games:
        seed = _seed(engine, a.heatmaps.layer, a.game, a.heatmaps.key) ^ _seed(engine, a.features.layer, a.game, a.features.key)
        parts.append(SyntheticShots(SyntheticSpec(shots=SHOTS_PER_GAME, seed=seed, **GEOMETRY)))  # type: ignore[arg-type]
    return ConcatDataset(parts)
