"""The embedded demo: a small workspace of generated games, built end to end.

``make_demo_workspace`` is idempotent: it writes sources, weights and models.yaml only where
they are absent, so a second ``artifacts demo`` reuses the workspace and rebuilds nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from artifacts.engine import Engine
from artifacts.hashing import hash_bytes
from artifacts.workspace import init_workspace
from generators.render.game import render_game

DEMO_GAMES = ("demo-g01", "demo-g02", "demo-g03", "demo-g04")
DEMO_MODELS = {
    "detector": ("det-v1",),
    "crop_encoder": ("ce-v1",),
    "tracker": ("trk-v1", "trk-v2"),
    "videomae": ("vmae-s1",),
}


def _write_once(path: Path, data: bytes) -> None:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _seeded_bytes(seed: int, n: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def demo_models_yaml() -> str:
    """The demo's models.yaml text. Seeded weights make the digests constant; the repository's
    top-level models.yaml is this text (a test keeps them equal)."""
    lines = [
        "# Model registry of the embedded demo (see docs/registry.md). The weights files are",
        "# seeded and written by 'artifacts demo' into the workspace's weights/ directory.",
        "schema: 1",
        "roles:",
    ]
    for r_idx, (role, versions) in enumerate(DEMO_MODELS.items()):
        lines += [f"  {role}:", "    versions:"]
        for v_idx, version in enumerate(versions):
            digest = hash_bytes(_seeded_bytes(1000 + 10 * r_idx + v_idx, 4096))
            lines += [f"      {version}:", f"        weights: weights/{version}.bin", f"        digest: {digest}"]
    lines += ["collections:", "  production:"]
    lines += [f"    {role}: {versions[0]}" for role, versions in DEMO_MODELS.items()]
    lines += ["  staging:  # production with the new tracker"]
    lines += [f"    {role}: {versions[-1]}" for role, versions in DEMO_MODELS.items()]
    return "\n".join(lines) + "\n"


def make_demo_workspace(root: Path) -> Engine:
    """Create or reuse the demo workspace at ``root`` and return its engine."""
    root = root.resolve()
    # The demo runs its stand-in layers only: the real layers' models are not in its registry.
    init_workspace(root, layers=[f"generators.demo_layers:{c}" for c in ("DemoFrames", "DemoTracks", "DemoHeatmaps", "DemoFeatures")], entry_points=False)
    for r_idx, (_role, versions) in enumerate(DEMO_MODELS.items()):
        for v_idx, version in enumerate(versions):
            _write_once(root / "weights" / f"{version}.bin", _seeded_bytes(1000 + 10 * r_idx + v_idx, 4096))
    models = root / "models.yaml"
    if not models.exists() or "schema: 1\nroles: {}" in models.read_text():
        models.write_text(demo_models_yaml())
    engine = Engine.open(root)
    known = engine.catalog.sources()
    entries = []
    for g_idx, game in enumerate(DEMO_GAMES):
        # Real rendered games (H.264 per camera + shots annotation), reused when present.
        rendered = render_game(root / "sources" / game, game, seed=g_idx, seconds=4.0)
        if game not in known:
            entries.append(rendered.entry())
    if entries:
        engine.catalog.add_games(entries)
    return engine
