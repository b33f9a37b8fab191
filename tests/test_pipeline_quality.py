"""The tracking pipeline's quality on held-out rendered games: loose floors, asserted.

The reference models of the session (budget ``quick``) run through the real frame-level and
track-level layers, built by the engine; ``generators.reference.evaluate_pipeline`` scores what they
wrote against the renderer's truth. The floors are loose (the quick budget trains less than
the full one measured in docs/quality.md) but far above what a broken pipeline reaches: a
detector that finds nothing, a tracker that gives every detection its own track, or a
category head that labels everyone alike.
"""

from __future__ import annotations

from pathlib import Path

from generators.reference.evaluate_pipeline import evaluate_pipeline

LOOSE = {
    "detection.precision": 0.9,
    "detection.recall": 0.85,
    "tracking.idf1": 0.7,
    "tracking.mota": 0.7,
    "category.track_accuracy": 0.85,
    "category.detection_accuracy": 0.9,
}


def test_pipeline_quality_on_held_out_rendered_games(tmp_path: Path, reference_models: Path) -> None:
    report = evaluate_pipeline(reference_models, tmp_path, seed=5, games=2, seconds=4.0)
    assert report.failures(LOOSE) == [], report.model_dump_json(indent=1)
    # Every game-camera is scored, and the layers' rows are the ones scored.
    assert report.tracking.sequences == 4 and report.detection.frames == 2 * 2 * 40
    assert report.tracking.tracks > 0 and report.category.tracks > 0


def test_floors_catch_a_broken_tracker(tmp_path: Path, reference_models: Path) -> None:
    """The same scoring on a tracker that cannot link anything (gate of a hundredth of a pixel,
    a track ends after one unseen frame) falls below the IDF1 floor: the floor can fail."""
    import shutil

    from generators.models.tracking.tracker import Tracker
    from generators.reference.build import TRACKER_FILE

    broken = tmp_path / "broken"
    shutil.copytree(reference_models, broken, ignore=shutil.ignore_patterns("games"))
    t = Tracker.from_weights(broken / TRACKER_FILE)
    Tracker(t.params.model_copy(update={"gate": 0.01, "max_age": 1, "min_hits": 1, "appearance_weight": 0.0})).save(broken / TRACKER_FILE)
    report = evaluate_pipeline(broken, tmp_path / "eval", seed=5, games=1, seconds=4.0)
    assert any(f.startswith("tracking.idf1") for f in report.failures(LOOSE)), report.model_dump_json(indent=1)
