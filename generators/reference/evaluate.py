"""How good the reference models are, on held-out rendered games.

``python -m generators.reference.evaluate WEIGHTS_DIR [--seed N] [--games N] [--seconds S] [--json]``
renders evaluation games (seeds drawn for the purpose ``"eval"``, never used in training),
and reports:

- detection: precision and recall of the detector's foot-points against the true visible
  foot-points, matched one to one within ``radius_px`` by Hungarian assignment
  (``scipy.optimize.linear_sum_assignment`` on distances). People at least
  ``min_visible_frac`` in view must be found; a detection matched to a mostly hidden person
  is neither a hit nor a false alarm. Also the mean distance of the matches.
- crop encoder, on crops at the true foot-points (sized by the true figure height, and again
  by the default height the frame-level layer uses when the height is unknown) and on crops
  as the frame-level layer cuts them (at the detected foot-points matched to a person, default
  height), the jersey
  number read from objectness and digits, and the whole-number argmax, on players at least
  ``jersey_min_visible_frac`` in view; objectness over all those crops (referees have no
  number); team accuracy (team 0, team 1, referee) over every crop; and rank-1 identity
  retrieval of the embedding (the nearest crop of another frame, at least ``min_gap`` frames
  away, of the same game and camera is the same person).

The exit code is 1 when a figure falls below :data:`FLOORS` (the quality a properly trained
reference model must keep), else 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict
from scipy.optimize import linear_sum_assignment

from generators.models import jersey
from generators.models.crop_encoder import CropEncoder
from generators.models.crops import crop_boxes, extract_crops
from generators.models.detector import FootpointDetector
from generators.reference.data import REFEREE_TEAM, View, load_views, render_games
from generators.reference.fit_encoder import CropSet, crop_set
from generators.reference.train import CROP_ENCODER_FILE, DETECTOR_FILE

FLOORS = {
    "detection.precision": 0.95,
    "detection.recall": 0.93,
    "detection.mean_error_px": -1.5,
    "encoder_true_height.jersey_accuracy": 0.95,
    "encoder_true_height.team_accuracy": 0.96,
    "encoder_true_height.rank1_identity": 0.90,
    "encoder_default_height.jersey_accuracy": 0.95,
    "encoder_default_height.team_accuracy": 0.95,
    "encoder_detected.jersey_accuracy": 0.93,
    "encoder_detected.team_accuracy": 0.95,
}
"""Least acceptable figures; a negative floor is a ceiling on the figure (``-1.5``: at most 1.5)."""


class DetectionScores(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    frames: int
    truth: int
    detections: int
    hits: int
    false_alarms: int
    precision: float
    recall: float
    mean_error_px: float


class EncoderScores(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    crops: int
    jersey_crops: int
    jersey_accuracy: float
    whole_number_accuracy: float
    objectness_accuracy: float
    team_accuracy: float
    rank1_identity: float


class Report(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    games: list[str]
    detection: DetectionScores
    encoder_true_height: EncoderScores
    encoder_default_height: EncoderScores
    encoder_detected: EncoderScores

    def failures(self) -> list[str]:
        """The :data:`FLOORS` this report falls below, as ``name value < floor``."""
        flat = {f"{section}.{k}": v for section, scores in self.model_dump().items() if isinstance(scores, dict) for k, v in scores.items()}
        low = [f"{name} {flat[name]:.3f} < {floor}" for name, floor in FLOORS.items() if floor >= 0 and not flat[name] >= floor]
        return low + [f"{name} {flat[name]:.3f} > {-floor}" for name, floor in FLOORS.items() if floor < 0 and not flat[name] <= -floor]


def match(detected: NDArray[np.float32], truth: NDArray[np.float32], radius_px: float) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """One-to-one pairs ``(detection rows, truth rows)`` within ``radius_px``, least total distance."""
    if detected.shape[0] == 0 or truth.shape[0] == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    d = np.linalg.norm(detected[:, None, :2] - truth[None, :, :2], axis=2)
    rows, cols = linear_sum_assignment(np.where(d <= radius_px, d, 1e6))
    ok = d[rows, cols] <= radius_px
    return rows[ok].astype(np.intp), cols[ok].astype(np.intp)


def evaluate_detector(detector: FootpointDetector, views: Sequence[View], *, radius_px: float = 6.0, min_visible_frac: float = 0.5) -> DetectionScores:
    """Precision and recall of ``detector`` on every frame of ``views`` (see the module doc)."""
    frames = truth_n = det_n = hits = false_alarms = 0
    errors: list[float] = []
    for view in views:
        for f, det in enumerate(detector.detect(view.frames)):
            k = np.flatnonzero(view.visible[f])
            truth = np.stack([view.px[f, k], view.py[f, k]], axis=1).astype(np.float32)
            required = view.visible_frac[f, k] >= min_visible_frac
            rows, cols = match(det, truth, radius_px)
            hit = required[cols]
            frames += 1
            truth_n += int(required.sum())
            det_n += det.shape[0]
            hits += int(hit.sum())
            false_alarms += det.shape[0] - rows.shape[0]
            errors += np.linalg.norm(det[rows[hit], :2] - truth[cols[hit]], axis=1).tolist()
    counted = hits + false_alarms
    return DetectionScores(
        frames=frames, truth=truth_n, detections=det_n, hits=hits, false_alarms=false_alarms,
        precision=hits / counted if counted else 0.0, recall=hits / truth_n if truth_n else 0.0,
        mean_error_px=float(np.mean(errors)) if errors else float("nan"),
    )


def rank1(embedding: NDArray[np.float32], crops: CropSet, min_gap: int) -> float:
    """Share of crops whose nearest crop (same game, another frame ``min_gap`` away) is the same person."""
    hits = total = 0
    for game in np.unique(crops.game_id):
        g = np.flatnonzero(crops.game_id == game)
        sim = embedding[g] @ embedding[g].T
        far = np.abs(crops.frame[g][:, None] - crops.frame[g][None, :]) >= min_gap
        sim = np.where(far, sim, -np.inf)
        has = far.any(axis=1)
        best = sim.argmax(axis=1)
        hits += int((crops.identity[g][best] == crops.identity[g])[has].sum())
        total += int(has.sum())
    return hits / total if total else 0.0


def score_encoder(encoder: CropEncoder, crops: CropSet, min_gap: int = 10) -> EncoderScores:
    """Jersey, team and identity figures of ``encoder`` on labelled ``crops``."""
    feats = encoder.encode(crops.crops)
    readable = crops.jersey[:, 0] != jersey.IGNORE
    players = readable & (crops.number >= 0)
    number = crops.number[players]
    obj = feats.jersey[:, jersey.OBJECTNESS].argmax(axis=1)
    return EncoderScores(
        crops=len(feats), jersey_crops=int(players.sum()),
        jersey_accuracy=float((jersey.decode_digits(feats.jersey[players]) == number).mean()) if players.any() else 0.0,
        whole_number_accuracy=float((feats.jersey[players][:, jersey.WHOLE].argmax(axis=1) == number).mean()) if players.any() else 0.0,
        objectness_accuracy=float((obj[readable] == crops.jersey[readable, 0]).mean()) if readable.any() else 0.0,
        team_accuracy=float((feats.team.argmax(axis=1) == crops.team).mean()) if len(feats) else 0.0,
        rank1_identity=rank1(feats.embedding, crops, min_gap),
    )


def evaluate_encoder(encoder: CropEncoder, views: Sequence[View], *, use_true_height: bool, min_visible_frac: float = 0.3,
                     jersey_min_visible_frac: float = 0.8) -> EncoderScores:
    """Figures of ``encoder`` on crops at the true foot-points of ``views`` (see the module doc)."""
    return score_encoder(encoder, crop_set(views, encoder.crop_size, min_visible_frac=min_visible_frac,
                                           jersey_min_visible_frac=jersey_min_visible_frac, use_true_height=use_true_height))


def detected_crops(detector: FootpointDetector, views: Sequence[View], crop_size: tuple[int, int], *, radius_px: float = 6.0,
                   min_visible_frac: float = 0.3, jersey_min_visible_frac: float = 0.8) -> CropSet:
    """Crops as the frame-level layer cuts them: at detected foot-points, default height.

    Each detection matched to a person at least ``min_visible_frac`` in view carries that
    person's labels; unmatched detections are left out (detection scores count them).
    """
    parts: dict[str, list[NDArray[np.generic]]] = {k: [] for k in ("crops", "identity", "team", "number", "frac", "game", "frame")}
    for view in views:
        fh, fw = view.frames.shape[1:3]
        for f, det in enumerate(detector.detect(view.frames)):
            k = np.flatnonzero(view.visible[f] & (view.visible_frac[f] >= min_visible_frac))
            rows, cols = match(det, np.stack([view.px[f, k], view.py[f, k]], axis=1).astype(np.float32), radius_px)
            if rows.size == 0:
                continue
            people = k[cols]
            boxes = crop_boxes(det[rows, 0], det[rows, 1], None, crop_size, (fh, fw))
            parts["crops"].append(extract_crops(view.frames[f], boxes, crop_size))
            parts["identity"].append(view.identity[people])
            parts["team"].append(view.team[people])
            parts["number"].append(view.jersey[people])
            parts["frac"].append(view.visible_frac[f, people])
            parts["game"].append(np.full(people.size, view.game_id))
            parts["frame"].append(np.full(people.size, view.frame_index[f], dtype=np.int64))
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    number, frac, team = cat["number"].astype(np.int64), cat["frac"].astype(np.float32), cat["team"].astype(np.int64)
    targets = jersey.targets(number)
    targets[(frac < jersey_min_visible_frac) & (team != REFEREE_TEAM)] = jersey.IGNORE
    return CropSet(crops=cat["crops"].astype(np.uint8), identity=cat["identity"].astype(np.int64), team=team, jersey=targets, number=number,
                   visible_frac=frac, game_id=cat["game"].astype(np.str_), frame=cat["frame"].astype(np.int64),
                   repainted=np.zeros(number.shape[0], dtype=bool))


def evaluate(weights_dir: Path, *, seed: int = 0, games: int = 3, seconds: float = 4.0, cache_dir: Path | None = None) -> Report:
    """Both models of ``weights_dir`` on ``games`` held-out games of ``seconds`` each."""
    detector = FootpointDetector.from_weights(weights_dir / DETECTOR_FILE)
    encoder = CropEncoder.from_weights(weights_dir / CROP_ENCODER_FILE)
    with tempfile.TemporaryDirectory(prefix="render-") as tmp:
        rendered = render_games(cache_dir or Path(tmp), seed, "eval", games, seconds)
        views = load_views(rendered)
    return Report(
        games=[g.game_id for g in rendered],
        detection=evaluate_detector(detector, views),
        encoder_true_height=evaluate_encoder(encoder, views, use_true_height=True),
        encoder_default_height=evaluate_encoder(encoder, views, use_true_height=False),
        encoder_detected=score_encoder(encoder, detected_crops(detector, views, encoder.crop_size)),
    )


def add_evaluation_arguments(parser: argparse.ArgumentParser, weights_help: str) -> None:
    """The arguments every evaluation on held-out rendered games takes."""
    parser.add_argument("weights_dir", type=Path, help=weights_help)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--games", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--cache", type=Path, default=None, help="keep rendered games here (default: a temporary directory)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generators.reference.evaluate", description=__doc__.splitlines()[0] if __doc__ else None)
    add_evaluation_arguments(parser, f"a directory holding {DETECTOR_FILE} and {CROP_ENCODER_FILE}")
    args = parser.parse_args(argv)
    report = evaluate(args.weights_dir, seed=args.seed, games=args.games, seconds=args.seconds, cache_dir=args.cache)
    if args.json:
        print(json.dumps(report.model_dump(), indent=2))
    else:
        d = report.detection
        print(f"held-out games: {', '.join(report.games)}")
        print(f"detection ({d.frames} frames, {d.truth} foot-points): precision {d.precision:.3f} recall {d.recall:.3f} "
              f"mean error {d.mean_error_px:.2f}px ({d.hits} hits, {d.false_alarms} false alarms)")
        for name, e in (("true foot-point, true height", report.encoder_true_height), ("true foot-point, default height", report.encoder_default_height),
                        ("detected foot-point, default height", report.encoder_detected)):
            print(f"crop encoder, {name} ({e.crops} crops, {e.jersey_crops} readable jerseys): jersey {e.jersey_accuracy:.3f} "
                  f"whole-number {e.whole_number_accuracy:.3f} objectness {e.objectness_accuracy:.3f} team {e.team_accuracy:.3f} "
                  f"rank-1 identity {e.rank1_identity:.3f}")
    failures = report.failures()
    for failure in failures:
        print(f"below floor: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
