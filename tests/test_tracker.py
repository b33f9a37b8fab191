"""The tracker (model 3): association, its weights file, the category head, MOT I/O and scores.

Every scene here is synthetic and made by the test; nothing reads ../shared.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from artifacts.errors import ModelWeightsError, SourceError
from artifacts.registry import resolve_implementation
from generators.models.tracking.categories import CATEGORIES, categorize
from generators.models.tracking.params import TrackerParams
from generators.models.tracking.tracker import Tracker
from generators.reference.fit_tracker import FitSequence, coordinate_search, fit_tracker
from generators.reference.mot import DetectionNoise, GroundTruth, SequenceInfo, detections_from_gt, evaluate, idf1, parse_gt, read_sequence
from generators.reference.tracker_baseline import GreedyParams, greedy_nearest

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


def ids_per_player(true_id: Ints, track_ids: Ints) -> dict[int, set[int]]:
    return {int(t): set(track_ids[true_id == t].tolist()) for t in np.unique(true_id)}


def crossing(offset_y: float = 2.0, speed: float = 6.0, frames: int = 40) -> tuple[Ints, Floats, Ints]:
    """Two players on parallel lines ``offset_y`` apart, running at each other and passing.

    Just after they pass, each one's last position is nearer the *other* player's new one.
    """
    t = np.arange(frames)
    a = np.stack([-speed * (frames - 1) / 2 + speed * t, np.zeros(frames)], axis=1)
    b = np.stack([speed * (frames - 1) / 2 - speed * t, np.full(frames, offset_y)], axis=1)
    frame = np.repeat(t, 2)
    xy = np.stack([a, b], axis=1).reshape(-1, 2)
    return frame.astype(np.int64), xy, np.tile([0, 1], frames).astype(np.int64)


def bounce(frames: int = 30) -> tuple[Ints, Floats, Ints]:
    """Two players run at each other, meet and both turn back: motion alone predicts that they
    pass through each other, so only appearance can tell who is who after the turn."""
    t = np.arange(frames)
    x = 4.0 * np.abs(t - frames // 2) + 1.0  # 2 px apart at the turn
    a = np.stack([-x, np.zeros(frames)], axis=1)
    b = np.stack([x, np.full(frames, 1.0)], axis=1)
    frame = np.repeat(t, 2)
    xy = np.stack([a, b], axis=1).reshape(-1, 2)
    return frame.astype(np.int64), xy, np.tile([0, 1], frames).astype(np.int64)


def scene(players: int = 10, frames: int = 300, seed: int = 0) -> GroundTruth:
    """Players moving smoothly (random acceleration, bouncing off the borders) in a 600x300 px
    area, about as crowded as a half court on broadcast video."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform((0, 0), (600, 300), (players, 2))
    vel = rng.normal(0, 4, (players, 2))
    out = []
    for _ in range(frames):
        vel = 0.95 * vel + rng.normal(0, 0.8, (players, 2))
        pos = pos + vel
        for axis, hi in ((0, 600.0), (1, 300.0)):
            out_of = (pos[:, axis] < 0) | (pos[:, axis] > hi)
            vel[out_of, axis] *= -1
            pos[:, axis] = np.clip(pos[:, axis], 0, hi)
        out.append(pos.copy())
    xy = np.concatenate(out)
    return GroundTruth(
        frame=np.repeat(np.arange(1, frames + 1), players).astype(np.int64),
        track_id=np.tile(np.arange(players), frames).astype(np.int64),
        xy=xy,
        height=np.full(len(xy), 150.0),
    )


INFO = SequenceInfo(name="synthetic", frame_rate=25.0, length=300, width=1280, height=720)
NOISE = DetectionNoise(position_sigma=0.02, dropout=0.05, false_positives_per_frame=0.3)


def test_prediction_and_hungarian_keep_identities_where_greedy_swaps_them() -> None:
    frame, xy, true_id = crossing()
    conf = np.ones(len(frame))
    tracked = Tracker(TrackerParams(gate=30.0, min_hits=1)).track(frame, xy, conf)
    assert ids_per_player(true_id, tracked) == {0: {0}, 1: {1}}
    greedy = greedy_nearest(frame, xy, conf, GreedyParams(gate=30.0))
    assert ids_per_player(true_id, greedy) == {0: {0, 1}, 1: {0, 1}}, "the baseline should swap at the crossing"


def test_idf1_floor_on_noisy_synthetic_scenes_and_margin_over_the_baseline() -> None:
    tracker = Tracker(TrackerParams(gate=30.0, min_hits=3, new_track_confidence=0.6))
    ours, theirs = [], []
    for seed in (0, 1, 2):
        gt = scene(seed=seed)
        det = detections_from_gt(gt, INFO, NOISE, seed=1)
        ids = tracker.track(det.frame, det.xy, det.conf)
        base = greedy_nearest(det.frame, det.xy, det.conf, GreedyParams(gate=30.0, new_track_confidence=0.6))
        ours.append(idf1(gt, det.frame, det.xy, ids, threshold=15.0))
        theirs.append(idf1(gt, det.frame, det.xy, base, threshold=15.0))
    assert min(ours) >= 0.9
    assert np.mean(ours) > np.mean(theirs) + 0.05


def test_fast_idf1_agrees_with_motmetrics() -> None:
    gt = scene(players=6, frames=120, seed=3)
    det = detections_from_gt(gt, INFO, NOISE, seed=2)
    for ids in (Tracker().track(det.frame, det.xy, det.conf), greedy_nearest(det.frame, det.xy, det.conf)):
        scores = evaluate(gt, det.frame, det.xy, ids, threshold=15.0)
        assert idf1(gt, det.frame, det.xy, ids, threshold=15.0) == pytest.approx(scores.idf1, abs=1e-12)
        assert 0.0 < scores.idf1 < 1.0  # a non-trivial case: both metrics see errors


def test_appearance_resolves_an_ambiguous_crossing() -> None:
    frame, xy, true_id = bounce()
    conf = np.ones(len(frame))
    params = TrackerParams(gate=20.0, min_hits=1, appearance_weight=0.5)
    tracker = Tracker(params)
    by_motion = tracker.track(frame, xy, conf)
    assert ids_per_player(true_id, by_motion) == {0: {0, 1}, 1: {0, 1}}, "motion alone should be fooled by the turn"
    rng = np.random.default_rng(0)
    looks = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    embedding = looks[true_id] + rng.normal(0, 0.1, (len(frame), 4))
    assert ids_per_player(true_id, tracker.track(frame, xy, conf, embedding)) == {0: {0}, 1: {1}}


def test_weights_round_trip_through_safetensors(tmp_path: Path) -> None:
    params = TrackerParams(gate=42.5, gate_growth=0.25, position_gain=0.7, velocity_gain=0.15, max_age=17, min_hits=2, new_track_confidence=0.4)
    path = tmp_path / "tracker.safetensors"
    Tracker(params).save(path)
    loaded = Tracker.from_weights(str(path))
    assert loaded.params == params
    assert isinstance(loaded.params.max_age, int)
    gt = scene(players=8, frames=150, seed=5)
    det = detections_from_gt(gt, INFO, NOISE, seed=5)
    np.testing.assert_array_equal(Tracker(params).track(det.frame, det.xy, det.conf), loaded.track(det.frame, det.xy, det.conf))
    for i in range(5):  # safetensors writes maps in hash order: make sure ours has none to vary
        again = tmp_path / f"again{i}.safetensors"
        loaded.save(again)
        assert again.read_bytes() == path.read_bytes(), "equal parameters must give equal weights bytes (and digest)"
    # models.yaml names the class by import path; the registry resolves it like any model's.
    cls = resolve_implementation("generators.models.tracking.tracker:Tracker", "models.yaml:1")
    assert cls.from_weights(str(path)).params == params


def test_bad_weights_files_are_refused_with_the_file_named(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file")
    with pytest.raises(ModelWeightsError, match="garbage.safetensors"):
        Tracker.from_weights(garbage)
    untagged = tmp_path / "untagged.safetensors"
    save_file({"gate": np.array(30.0)}, str(untagged))
    with pytest.raises(ModelWeightsError, match="format"):
        Tracker.from_weights(untagged)
    extra = tmp_path / "extra.safetensors"
    tensors = {k: np.array(v) for k, v in TrackerParams().model_dump().items()} | {"surprise": np.array(1.0)}
    save_file(tensors, str(extra), metadata={"format": "tracker-params/1"})
    with pytest.raises(ModelWeightsError, match="surprise"):
        Tracker.from_weights(extra)
    out_of_range = tmp_path / "range.safetensors"
    save_file({k: np.array(v) for k, v in (TrackerParams().model_dump() | {"gate": -1.0}).items()}, str(out_of_range), metadata={"format": "tracker-params/1"})
    with pytest.raises(ModelWeightsError, match="gate"):
        Tracker.from_weights(out_of_range)


def test_tracking_is_deterministic_and_independent_of_row_order() -> None:
    gt = scene(players=10, frames=200, seed=7)
    det = detections_from_gt(gt, INFO, NOISE, seed=7)
    tracker = Tracker()
    first = tracker.track(det.frame, det.xy, det.conf)
    np.testing.assert_array_equal(first, tracker.track(det.frame, det.xy, det.conf))
    assert len(set(first.tolist()) - {-1}) >= 10
    # Rows in another order describe the same detections: the same groups come out.
    perm = np.random.default_rng(0).permutation(len(det.frame))
    shuffled = tracker.track(det.frame[perm], det.xy[perm], det.conf[perm])
    back = np.empty_like(shuffled)
    back[perm] = shuffled
    assert _partition(first) == _partition(back)


def _partition(ids: Ints) -> set[frozenset[int]]:
    return {frozenset(np.flatnonzero(ids == t).tolist()) for t in np.unique(ids) if t >= 0}


def test_tentative_tracks_and_low_confidence_detections_are_not_reported() -> None:
    # One steady player and, in single frames, stray detections: confident and not.
    frame = np.array([0, 1, 2, 3, 3, 4, 5, 5], np.int64)
    xy = np.array([[0, 0], [5, 0], [10, 0], [15, 0], [500, 500], [20, 0], [25, 0], [900, 100]], float)
    conf = np.array([0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.2])
    ids = Tracker(TrackerParams(min_hits=3, new_track_confidence=0.5)).track(frame, xy, conf)
    assert ids.tolist() == [0, 0, 0, 0, -1, 0, 0, -1]


def test_lost_track_is_recovered_after_a_gap_and_ends_after_max_age() -> None:
    t = np.array([0, 1, 2, 3, 10, 11], np.int64)  # unseen for 6 frames
    xy = np.stack([4.0 * t, np.zeros(len(t))], axis=1)
    conf = np.ones(len(t))
    assert Tracker(TrackerParams(gate=10.0, gate_growth=0.0, max_age=10, min_hits=1)).track(t, xy, conf).tolist() == [0] * 6
    assert Tracker(TrackerParams(gate=10.0, gate_growth=0.0, max_age=5, min_hits=1)).track(t, xy, conf).tolist() == [0, 0, 0, 0, 1, 1]


def test_track_refuses_arrays_that_disagree() -> None:
    tracker = Tracker()
    with pytest.raises(ValueError, match="xy"):
        tracker.track(np.arange(3), np.zeros((3, 3)), np.ones(3))
    with pytest.raises(ValueError, match="frame"):
        tracker.track(np.array([0.5, 1.5]), np.zeros((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="embedding"):
        tracker.track(np.arange(2), np.zeros((2, 2)), np.ones(2), np.ones((3, 4)))
    assert tracker.track(np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0)).tolist() == []


def test_categorize_aggregates_probabilities_over_each_track() -> None:
    assert CATEGORIES == ("team_a", "team_b", "referee", "other")
    track_ids = np.array([0, 0, 0, 1, 1, 2, -1, 3, 3])
    probs = np.array(
        [
            [0.9, 0.1, 0.0, 0.0],
            [0.8, 0.2, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],  # one confidently wrong crop does not flip track 0
            [0.1, 0.6, 0.2, 0.1],
            [0.2, 0.5, 0.2, 0.1],
            [0.0, 0.1, 0.8, 0.1],
            [0.0, 0.0, 0.0, 1.0],  # no track: ignored
            [0.3, 0.3, 0.1, 0.3],
            [0.3, 0.3, 0.1, 0.3],  # a tie goes to the earlier category
        ]
    )
    expected = {0: "team_a", 1: "team_b", 2: "referee", 3: "team_a"}
    assert categorize(track_ids, probs) == expected
    assert Tracker().categorize(track_ids, probs) == expected
    with pytest.raises(ValueError, match="shape"):
        categorize(track_ids, probs[:, :3])


def test_reads_a_hand_written_mot_sequence_and_scores_it(tmp_path: Path) -> None:
    seq = tmp_path / "v_test_c001"
    (seq / "gt").mkdir(parents=True)
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=v_test_c001\nimDir=img1\nframeRate=25\nseqLength=3\nimWidth=1280\nimHeight=720\nimExt=.jpg\n")
    (seq / "gt" / "gt.txt").write_text(
        "1, 0, 100, 200, 40, 120, 1, 1, 1\n"
        "1, 1, 300, 200, 40, 120, 1, 1, 1\n"
        "2, 0, 104, 200, 40, 120, 1, 1, 1\n"
        "2, 1, 296, 200, 40, 120, 1, 1, 1\n"
        "2, 7, 600, 100, 10, 10, 0, 1, 1\n"  # conf 0: an ignore box
        "3, 0, 108, 201, 40, 120, 1, 1, 1\n"
        "3, 1, 292, 202, 40, 120, 1, 1, 1\n"
    )
    s = read_sequence(seq)
    assert s.info == SequenceInfo(name="v_test_c001", frame_rate=25.0, length=3, width=1280, height=720)
    assert s.gt.frame.tolist() == [1, 1, 2, 2, 3, 3]
    assert s.gt.track_id.tolist() == [0, 1, 0, 1, 0, 1]
    assert s.gt.xy[0].tolist() == [120.0, 320.0] and s.gt.xy[-1].tolist() == [312.0, 322.0]  # bottom-centre
    det = detections_from_gt(s.gt, s.info, seed=4)
    assert sorted(map(tuple, det.xy.tolist())) == sorted(map(tuple, s.gt.xy.tolist()))
    assert det.frame.tolist() == [1, 1, 2, 2, 3, 3] and det.conf.tolist() == [1.0] * 6
    ids = Tracker(TrackerParams(min_hits=1)).track(det.frame, det.xy, det.conf)
    perfect = evaluate(s.gt, det.frame, det.xy, ids, threshold=10.0)
    assert (perfect.idf1, perfect.mota, perfect.id_switches, perfect.num_objects) == (1.0, 1.0, 0, 6)
    # Swap the two tracks from frame 3 on: two identity switches.
    swapped = np.where(det.frame == 3, 1 - ids, ids)
    scores = evaluate(s.gt, det.frame, det.xy, swapped, threshold=10.0)
    assert scores.id_switches == 2 and scores.idf1 == pytest.approx(4 / 6)
    (seq / "gt" / "gt.txt").write_text("1, 0, 100\n")
    with pytest.raises(SourceError, match="columns"):
        read_sequence(seq)
    (seq / "gt" / "gt.txt").unlink()
    with pytest.raises(SourceError, match="gt.txt"):
        read_sequence(seq)
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=v_test_c001\n")
    (seq / "gt" / "gt.txt").write_text("")
    with pytest.raises(SourceError, match="seqinfo.ini"):
        read_sequence(seq)
    with pytest.raises(SourceError, match="comma-separated"):
        parse_gt("1, 0, a, b, c, d, 1, 1, 1", "x/gt/gt.txt")


def test_noisy_detections_are_seeded_and_degrade_as_asked() -> None:
    gt = scene(players=10, frames=300, seed=9)
    noise = DetectionNoise(position_sigma=0.02, dropout=0.2, false_positives_per_frame=1.0)
    a = detections_from_gt(gt, INFO, noise, seed=11)
    b = detections_from_gt(gt, INFO, noise, seed=11)
    np.testing.assert_array_equal(a.xy, b.xy)
    assert not np.array_equal(a.xy, detections_from_gt(gt, INFO, noise, seed=12).xy)
    assert np.all(np.diff(a.frame) >= 0)
    # 3,000 true boxes, 20% dropped; ~300 false positives.
    assert 2300 + 200 < len(a.frame) < 2500 + 400
    true = a.conf >= 0.6  # above every false positive's confidence
    assert true.sum() > 0 and np.all(a.conf > 0.1)


def test_fit_is_deterministic_and_never_worse_than_its_start() -> None:
    sequences = []
    for seed in (21, 22):
        gt = scene(players=8, frames=120, seed=seed)
        sequences.append(FitSequence(gt, detections_from_gt(gt, INFO, NOISE, seed=seed)))
    start = TrackerParams(gate=10.0, min_hits=1, new_track_confidence=0.3)
    grid = {"gate": (10.0, 30.0), "min_hits": (1, 3), "new_track_confidence": (0.3, 0.6)}
    first = fit_tracker(sequences, threshold=15.0, grid=grid, start=start)
    second = fit_tracker(sequences, threshold=15.0, grid=grid, start=start)
    assert first == second
    start_score = float(np.mean([idf1(s.gt, s.detections.frame, s.detections.xy, Tracker(start).track(s.detections.frame, s.detections.xy, s.detections.conf), 15.0) for s in sequences]))
    assert first.score > start_score
    assert first.params != start
    with pytest.raises(ValueError, match="not fields"):
        coordinate_search(start, {"speed": (1.0,)}, lambda p: 0.0)
