"""The embedded demo: rendered games built end to end by the real layers on reference models.

``make_demo_workspace`` is idempotent: it trains the reference models, renders the games and
writes models.yaml only where they are absent, so a second ``artifacts demo`` reuses the
workspace and rebuilds nothing.

The games: 8 rendered games of 10 s (two cameras, 640x360 at 10 fps, about 25 shots in all).
The layers: frame-level, track-level, shot-heatmaps and videomae-features. The models are the
project's reference models (:mod:`generators.reference.build`, the
``quick`` budget: about a minute and a half on one CPU thread), trained into
``weights/reference/`` and registered with the digests of the files actually written. The
``staging`` collection differs from ``production`` by one tracker version: ``trk-v2`` is the
fitted tracker without its appearance term (motion only), so that the demo can show a tracker
change invalidating track-level and what reads it, and nothing else. ``vmae-s1`` is the small
seeded VideoMAE configuration (``generators.models.videomae_weights``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from artifacts.plan import Engine
from artifacts.workspace import init_workspace
from generators.models.tracking.tracker import Tracker
from generators.models.videomae import VideoMAEArch
from generators.models.videomae_weights import build_weights, contracts_of
from generators.reference.build import REFERENCE_FILES, build_reference_models
from generators.reference.workspace import PIPELINE_LAYERS, models_yaml
from generators.render.game import render_game

DEMO_GAMES = tuple(f"demo-g{i:02d}" for i in range(1, 9))
DEMO_SECONDS = 10.0
DEMO_LAYERS = [*PIPELINE_LAYERS, "generators.layers.heatmaps.layer:ShotHeatmaps", "generators.layers.videomae.layer:VideoMAEFeaturesLayer"]
HEADER = ("Model registry of the embedded demo (see docs/registry.md). The weights are the\n"
          "reference models, trained by 'artifacts demo' (generators.reference.build, budget quick).")


def demo_layers() -> list[str]:
    """The layers of the demo workspace, as import paths."""
    return list(DEMO_LAYERS)


def ensure_reference_models(weights: Path, reference: Path | None = None, log: Callable[[str], None] | None = None) -> dict[str, Path]:
    """The reference models in ``weights/reference``: copied from ``reference`` (a directory from
    :func:`build_reference_models`) when given, else trained there when absent."""
    target = weights / "reference"
    paths = {role: target / f for role, f in REFERENCE_FILES.items()}
    if all(p.exists() for p in paths.values()):
        return paths
    if reference is not None:
        target.mkdir(parents=True, exist_ok=True)
        for role, p in paths.items():
            shutil.copyfile(reference / REFERENCE_FILES[role], p)
        return paths
    (log or print)("training the reference models (budget quick, about a minute and a half)...")
    built = build_reference_models(target, seed=0, budget="quick", cache_dir=weights / "training-games", log=log)
    return {role: built[role] for role in REFERENCE_FILES}


def make_demo_workspace(root: Path, reference: Path | None = None, log: Callable[[str], None] | None = None) -> Engine:
    """Create or reuse the demo workspace at ``root`` and return its engine.

    ``reference``: a directory holding already trained reference models to use instead of
    training them (the test suite trains them once per session).
    """
    root = root.resolve()
    init_workspace(root, layers=demo_layers(), entry_points=False)
    paths = ensure_reference_models(root / "weights", reference, log)
    trk_v2 = root / "weights" / "trk-v2.safetensors"
    if not trk_v2.exists():
        fitted = Tracker.from_weights(paths["tracker"]).params
        Tracker(fitted.model_copy(update={"appearance_weight": 0.0})).save(trk_v2)
    vmae = root / "weights" / "vmae-s1.safetensors"
    if not vmae.exists():
        build_weights(vmae, seed=0)  # the small seeded VideoMAE configuration
    models = root / "models.yaml"
    if not models.exists() or "schema: 1\nroles: {}" in models.read_text():
        versions = {"detector": {"det-v1": paths["detector"]}, "crop_encoder": {"ce-v1": paths["crop_encoder"]},
                    "tracker": {"trk-v1": paths["tracker"], "trk-v2": trk_v2}, "videomae": {"vmae-s1": vmae}}
        base = {"detector": "det-v1", "crop_encoder": "ce-v1", "videomae": "vmae-s1"}
        collections = {"production": {**base, "tracker": "trk-v1"}, "staging": {**base, "tracker": "trk-v2"}}
        models.write_text(models_yaml(versions, collections, root, header=HEADER, provides={"videomae": contracts_of(VideoMAEArch())}))
    engine = Engine.open(root)
    known = engine.catalog.sources()
    entries = []
    for g_idx, game in enumerate(DEMO_GAMES):
        # Real rendered games (H.264 per camera + shots annotation), reused when present.
        rendered = render_game(root / "sources" / game, game, seed=g_idx, seconds=DEMO_SECONDS)
        if game not in known:
            entries.append(rendered.entry())
    if entries:
        engine.add_games(entries)
    return engine
