"""The reference models of the tracking pipeline, built reproducibly by a project script.

``python -m generators.reference.build OUT_DIR [--seed N] [--budget full|quick] [--cache DIR]``
renders training games, trains the detector and the crop encoder on them
(:func:`generators.reference.train.train_reference_models`), then fits the tracker's parameters
on the same games: the trained detector and encoder run over the training videos exactly as
the frame-level layer runs them (:func:`generators.layers.frame_level.infer.detect_and_encode`), and
a coordinate search (:func:`generators.reference.fit_tracker.fit_tracker`) maximises IDF1 against the
true identities. It writes ``detector.safetensors``, ``crop_encoder.safetensors`` and
``tracker.safetensors`` and prints their digests; the same command on the same machine type
and library versions writes the same bytes.

Budgets: ``full`` is what ``docs/quality.md`` measures (about 2 minutes on one CPU thread);
``quick`` trains less (for the demo and the test suite), with lower but still useful quality.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from artifacts.keys import hash_file
from generators.layers.frame_level.infer import detect_and_encode
from generators.models.crop_encoder import CropEncoder
from generators.models.detector import FootpointDetector
from generators.models.tracking.params import TrackerParams
from generators.models.tracking.tracker import Tracker
from generators.models.training import reproducible
from generators.reference.data import View, load_views, render_games
from generators.reference.fit_detector import DetectorTraining
from generators.reference.fit_encoder import EncoderTraining
from generators.reference.fit_tracker import FitResult, FitSequence, Grid, fit_tracker
from generators.reference.mot import Detections, GroundTruth
from generators.reference.train import CROP_ENCODER_FILE, DETECTOR_FILE, train_reference_models

TRACKER_FILE = "tracker.safetensors"
REFERENCE_FILES = {"detector": DETECTOR_FILE, "crop_encoder": CROP_ENCODER_FILE, "tracker": TRACKER_FILE}
"""The weights file of each role in a directory that :func:`build_reference_models` wrote."""
MATCH_PX = 6.0
"""Largest distance between a track's foot-point and a person's for them to match (fit and evaluation)."""
MIN_VISIBLE_FRAC = 0.5
"""People less visible than this are not ground truth to find (neither required nor counted)."""

# Rendered games: 640x360 at 10 fps. A player ~40 px tall; a sprint is ~2 ft a frame, ~12 px.
RENDERED_GRID: Grid = {
    "gate": (6.0, 9.0, 12.0, 16.0, 24.0, 32.0, 48.0),
    "gate_growth": (0.0, 0.25, 0.5, 1.0),
    "position_gain": (0.6, 0.8, 0.9, 1.0),
    "velocity_gain": (0.1, 0.2, 0.4, 0.7),
    "appearance_weight": (0.0, 0.25, 0.5, 0.75),
    "max_age": (3, 5, 10, 20, 40),
    "min_hits": (1, 2, 3),
    "new_track_confidence": (0.4, 0.5, 0.6, 0.75),
}


class Budget(BaseModel):
    """How much training a reference build gets."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    games: int
    seconds: float
    detector: DetectorTraining
    encoder: EncoderTraining


BUDGETS: dict[str, Budget] = {
    "full": Budget(games=10, seconds=3.0, detector=DetectorTraining(), encoder=EncoderTraining()),
    "quick": Budget(games=6, seconds=3.0, detector=DetectorTraining(steps=700), encoder=EncoderTraining()),
}


def fit_sequences(detector: FootpointDetector, encoder: CropEncoder, views: Sequence[View], batch: int = 16) -> list[FitSequence]:
    """One fitting sequence per view: the layer's detections and the visible people's identities."""
    out = []
    for view in views:
        parts = [detect_and_encode(detector, encoder, view.frames[s : s + batch], view.frame_index[s : s + batch].astype(np.int32))
                 for s in range(0, view.frames.shape[0], batch)]
        frame = np.concatenate([p.frame for p in parts]).astype(np.int64)
        xy = np.concatenate([p.xy for p in parts]).astype(np.float64)
        conf = np.concatenate([p.confidence for p in parts]).astype(np.float64)
        emb = np.concatenate([p.embedding for p in parts])
        f, k = np.nonzero(view.visible & (view.visible_frac >= MIN_VISIBLE_FRAC))
        gt = GroundTruth(frame=view.frame_index[f].astype(np.int64), track_id=view.identity[k].astype(np.int64),
                         xy=np.stack([view.px[f, k], view.py[f, k]], axis=1).astype(np.float64), height=view.height_px[f, k].astype(np.float64))
        out.append(FitSequence(gt=gt, detections=Detections(frame=frame, xy=xy, conf=conf), embedding=emb))
    return out


def fit_reference_tracker(detector: FootpointDetector, encoder: CropEncoder, views: Sequence[View]) -> FitResult[TrackerParams]:
    """Tracker parameters maximising the mean IDF1 over ``views`` (see the module doc)."""
    return fit_tracker(fit_sequences(detector, encoder, views), MATCH_PX, RENDERED_GRID)


def build_reference_models(out_dir: Path, *, seed: int = 0, budget: str = "full", cache_dir: Path | None = None,
                           log: Callable[[str], None] | None = None) -> dict[str, Path]:
    """Train and fit the three reference models into ``out_dir``; ``{role: weights path}``."""
    say = log or (lambda _m: None)
    b = BUDGETS[budget]
    with tempfile.TemporaryDirectory(prefix="render-") as tmp:
        cache = cache_dir or Path(tmp)
        paths = train_reference_models(out_dir, seed=seed, games=b.games, seconds=b.seconds, cache_dir=cache, detector=b.detector,
                                       encoder=b.encoder, log=say)
        views = load_views(render_games(cache, seed, "train", b.games, b.seconds))
    t0 = time.perf_counter()
    with reproducible(seed + 2, 1):
        fit = fit_reference_tracker(FootpointDetector.from_weights(paths["detector"]), CropEncoder.from_weights(paths["crop_encoder"]), views)
    tracker_path = out_dir / TRACKER_FILE
    Tracker(fit.params).save(tracker_path)
    say(f"fitted the tracker in {time.perf_counter() - t0:.1f}s ({fit.evaluations} parameter sets, training IDF1 {fit.score:.3f}): "
        f"{fit.params.model_dump()}")
    return {**paths, "tracker": tracker_path}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generators.reference.build", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="full")
    parser.add_argument("--cache", type=Path, default=None, help="keep rendered games here (default: a temporary directory)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    paths = build_reference_models(args.out_dir, seed=args.seed, budget=args.budget, cache_dir=args.cache, log=lambda m: print(m, flush=True))
    print(f"built in {time.perf_counter() - t0:.1f}s (seed {args.seed}, budget {args.budget})")
    for role, path in paths.items():
        print(f"{role}: {path} {hash_file(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
