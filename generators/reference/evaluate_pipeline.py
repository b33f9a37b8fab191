"""The tracking pipeline end to end against ground truth: frame-level + track-level, built by the engine.

``python -m generators.reference.evaluate_pipeline WEIGHTS_DIR [--seed N] [--games N] [--seconds S] [--json]``
renders held-out games (render seeds drawn for the purpose ``"eval"``, never trained on),
registers the reference models of ``WEIGHTS_DIR`` (``detector.safetensors``,
``crop_encoder.safetensors``, ``tracker.safetensors``) in a fresh workspace, builds
``track-level`` (hence ``frame-level``) through the engine exactly as ``artifacts build`` does,
and scores what the layers wrote against the renderer's truth:

- detection: per frame and camera, the frame-level foot-points paired one to one with the
  true foot-points within :data:`~generators.reference.build.MATCH_PX` (least total
  distance); people at least half visible must be found; a detection paired with a mostly
  hidden person is neither a hit nor a false alarm (as in ``generators.reference.evaluate``).
- tracking: IDF1, MOTA and identity switches from ``motmetrics`` per game and camera (the
  track-level track ids against the true player ids, same radius; detections paired with a
  mostly hidden person are left out), averaged over sequences.
- category: the track-level category of each track against the true category of the people
  its detections are paired with (team 0 -> ``team_a``, team 1 -> ``team_b``, referees ->
  ``referee``): per track, against the majority true category; and per detection.

The exit code is 1 when a figure falls below :data:`FLOORS`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from artifacts import api
from artifacts.errors import BuildError
from artifacts.plan import Engine
from artifacts.workspace import init_workspace
from generators.models.tracking.categories import CATEGORIES
from generators.reference.build import MATCH_PX, MIN_VISIBLE_FRAC, TRACKER_FILE
from generators.reference.data import REFEREE_TEAM, View, load_views, render_games
from generators.reference.evaluate import DetectionScores, add_evaluation_arguments, match
from generators.reference.mot import GroundTruth
from generators.reference.mot import evaluate as mot_evaluate
from generators.reference.train import CROP_ENCODER_FILE, DETECTOR_FILE
from generators.reference.workspace import PIPELINE_LAYERS, reference_models_yaml
from generators.render import RenderedGame

FLOORS = {
    "detection.precision": 0.95,
    "detection.recall": 0.93,
    "tracking.idf1": 0.85,
    "tracking.mota": 0.85,
    "category.track_accuracy": 0.95,
    "category.detection_accuracy": 0.95,
}
"""Least acceptable figures of the full-budget reference models (``docs/quality.md``)."""


class TrackingScores(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sequences: int
    idf1: float
    mota: float
    id_switches: int
    tracks: int
    true_people: int


class CategoryScores(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    tracks: int
    track_accuracy: float
    detections: int
    detection_accuracy: float


class PipelineReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    games: list[str]
    frames: int
    build_s: float
    detection: DetectionScores
    tracking: TrackingScores
    category: CategoryScores

    def failures(self, floors: dict[str, float] = FLOORS) -> list[str]:
        """The floors this report falls below, as ``name value < floor``."""
        flat = {f"{section}.{k}": v for section, scores in self.model_dump().items() if isinstance(scores, dict) for k, v in scores.items()}
        return [f"{name} {flat[name]:.3f} < {floor}" for name, floor in floors.items() if not flat[name] >= floor]


class _Seq:
    """One game and camera: the layers' rows and the truth they are paired with."""

    def __init__(self, view: View, frame: np.ndarray, xy: np.ndarray, track: np.ndarray) -> None:
        self.view, self.frame, self.xy, self.track = view, frame, xy, track
        n = frame.shape[0]
        self.person = np.full(n, -1, np.int64)  # index into view's people; -1: no one within the radius
        self.required = np.zeros(n, bool)
        self.truth_required = 0
        self.frames = 0
        errors: list[float] = []
        for f in range(view.frame_index.shape[0]):
            rows = np.flatnonzero(frame == view.frame_index[f])
            k = np.flatnonzero(view.visible[f])
            truth = np.stack([view.px[f, k], view.py[f, k]], axis=1).astype(np.float32)
            r, c = match(xy[rows].astype(np.float32), truth, MATCH_PX)
            self.person[rows[r]] = k[c]
            self.required[rows[r]] = view.visible_frac[f, k[c]] >= MIN_VISIBLE_FRAC
            self.truth_required += int((view.visible_frac[f, k] >= MIN_VISIBLE_FRAC).sum())
            errors += np.linalg.norm(xy[rows[r]] - truth[c], axis=1)[self.required[rows[r]]].tolist()
            self.frames += 1
        self.errors = errors
        self.gt = self._ground_truth()

    @property
    def neutral(self) -> np.ndarray:
        """Rows paired with a mostly hidden person: neither hits nor false alarms."""
        return (self.person >= 0) & ~self.required

    def _ground_truth(self) -> GroundTruth:
        v = self.view
        f, k = np.nonzero(v.visible & (v.visible_frac >= MIN_VISIBLE_FRAC))
        return GroundTruth(frame=v.frame_index[f].astype(np.int64), track_id=v.identity[k].astype(np.int64),
                           xy=np.stack([v.px[f, k], v.py[f, k]], axis=1).astype(np.float64), height=v.height_px[f, k].astype(np.float64))


def _true_category(team: np.ndarray) -> np.ndarray:
    return np.where(team == REFEREE_TEAM, CATEGORIES.index("referee"), np.where(team == 1, 1, 0))


def score(seqs: list[_Seq], categories: dict[int, str]) -> tuple[DetectionScores, TrackingScores, CategoryScores]:
    """The three score groups over ``seqs``; ``categories`` maps track id -> category."""
    hits = sum(int(s.required.sum()) for s in seqs)
    det_n = sum(s.frame.shape[0] for s in seqs)
    false_alarms = sum(int((s.person < 0).sum()) for s in seqs)
    truth_n = sum(s.truth_required for s in seqs)
    errors = [e for s in seqs for e in s.errors]
    counted = hits + false_alarms
    detection = DetectionScores(frames=sum(s.frames for s in seqs), truth=truth_n, detections=det_n, hits=hits, false_alarms=false_alarms,
                                precision=hits / counted if counted else 0.0, recall=hits / truth_n if truth_n else 0.0,
                                mean_error_px=float(np.mean(errors)) if errors else float("nan"))
    mots = []
    for s in seqs:
        keep = ~s.neutral
        mots.append(mot_evaluate(s.gt, s.frame[keep], s.xy[keep], s.track[keep], MATCH_PX))
    tracking = TrackingScores(sequences=len(seqs), idf1=float(np.mean([m.idf1 for m in mots])), mota=float(np.mean([m.mota for m in mots])),
                              id_switches=sum(m.id_switches for m in mots), tracks=len(categories),
                              true_people=sum(int(np.unique(s.gt.track_id).shape[0]) for s in seqs))
    track_right = track_n = det_right = det_total = 0
    for s in seqs:
        paired = (s.track >= 0) & s.required
        truth = _true_category(s.view.team[s.person[paired]])
        predicted = np.array([CATEGORIES.index(categories[int(t)]) for t in s.track[paired]], np.int64)
        det_right += int((truth == predicted).sum())
        det_total += int(paired.sum())
        for t in np.unique(s.track[paired]):
            mine = s.track[paired] == t
            track_right += int(np.bincount(truth[mine], minlength=len(CATEGORIES)).argmax() == predicted[mine][0])
            track_n += 1
    category = CategoryScores(tracks=track_n, track_accuracy=track_right / track_n if track_n else 0.0, detections=det_total,
                              detection_accuracy=det_right / det_total if det_total else 0.0)
    return detection, tracking, category


def evaluate_pipeline(weights_dir: Path, work_dir: Path, *, seed: int = 0, games: int = 3, seconds: float = 4.0,
                      cache_dir: Path | None = None) -> PipelineReport:
    """Build both layers on held-out games in a workspace under ``work_dir`` and score them."""
    rendered = render_games(cache_dir or work_dir / "games", seed, "eval", games, seconds)
    root = work_dir / "ws"
    init_workspace(root, layers=PIPELINE_LAYERS, entry_points=False)
    (root / "models.yaml").write_text(reference_models_yaml(weights_dir, root))
    engine = Engine.open(root)
    engine.add_games([g.entry() for g in rendered])
    t0 = time.perf_counter()
    report = api.build(engine, ["track-level"], jobs=1)
    build_s = time.perf_counter() - t0
    if not report.ok():
        events = report.result.events.values() if report.result else []
        raise BuildError("pipeline evaluation build", str(root), "; ".join(ev.message or "" for ev in events if ev.message), "see the build log")
    seqs: list[_Seq] = []
    categories: dict[int, str] = {}
    for game, views in _views_by_game(rendered).items():
        det = api.artifact(engine, "frame-level", game).table("detections.parquet", columns=["frame", "camera", "px", "py"])
        tl = api.artifact(engine, "track-level", game)
        assign = tl.table("assignments.parquet", columns=["track_id"]).column("track_id").to_numpy()
        tracks = tl.table("tracks.parquet", columns=["track_id", "category"])
        # Track ids are unique within a game; offset them so they are unique across games too.
        offset = max(categories, default=-1) + 1
        categories.update({int(t) + offset: c for t, c in zip(tracks.column("track_id").to_pylist(), tracks.column("category").to_pylist(), strict=True)})
        camera = np.asarray(det.column("camera").to_pylist(), dtype=object)
        xy = np.stack([det.column("px").to_numpy(), det.column("py").to_numpy()], axis=1).astype(np.float64)
        frame = det.column("frame").to_numpy().astype(np.int64)
        track = np.where(assign >= 0, assign + offset, -1)
        for view in views:
            rows = np.flatnonzero(camera == view.camera)
            seqs.append(_Seq(view, frame[rows], xy[rows], track[rows]))
    detection, tracking, category = score(seqs, categories)
    return PipelineReport(games=[g.game_id for g in rendered], frames=detection.frames, build_s=build_s, detection=detection,
                          tracking=tracking, category=category)


def _views_by_game(rendered: list[RenderedGame]) -> dict[str, list[View]]:
    out: dict[str, list[View]] = {}
    for view in load_views(rendered):
        out.setdefault(view.game_id, []).append(view)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generators.reference.evaluate_pipeline", description=__doc__.splitlines()[0] if __doc__ else None)
    add_evaluation_arguments(parser, f"a directory holding {DETECTOR_FILE}, {CROP_ENCODER_FILE} and {TRACKER_FILE}")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pipeline-eval-") as tmp:
        report = evaluate_pipeline(args.weights_dir, Path(tmp), seed=args.seed, games=args.games, seconds=args.seconds, cache_dir=args.cache)
    if args.json:
        print(json.dumps(report.model_dump(), indent=2))
    else:
        d, t, c = report.detection, report.tracking, report.category
        print(f"held-out games: {', '.join(report.games)}; frame-level + track-level built in {report.build_s:.1f}s "
              f"({report.frames / report.build_s:.1f} frames/s)")
        print(f"detection ({d.frames} frames, {d.truth} foot-points): precision {d.precision:.3f} recall {d.recall:.3f} "
              f"mean error {d.mean_error_px:.2f}px ({d.hits} hits, {d.false_alarms} false alarms)")
        print(f"tracking ({t.sequences} game-cameras, {t.true_people} people, {t.tracks} tracks): IDF1 {t.idf1:.3f} MOTA {t.mota:.3f} "
              f"identity switches {t.id_switches}")
        print(f"category: tracks {c.track_accuracy:.3f} ({c.tracks}), detections {c.detection_accuracy:.3f} ({c.detections})")
    failures = report.failures()
    for failure in failures:
        print(f"below floor: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
