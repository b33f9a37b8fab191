"""The tracker's online state: fed in pieces, saved and restored between them, it gives the same
uids, the same final ids as :meth:`Tracker.track` and the category head's exact sums.

Scenes are synthetic and made here (tests/test_tracker.py's moving players)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import numpy.typing as npt
import pytest
from test_tracker import INFO, NOISE, scene

from artifacts.errors import BuildError
from generators.models.tracking.categories import CATEGORIES, categories_of_sums, categorize
from generators.models.tracking.params import TrackerParams
from generators.models.tracking.state import TrackerState
from generators.models.tracking.tracker import Tracker
from generators.reference.mot import Detections, detections_from_gt

DIM = 6


def detections(seed: int, frames: int = 240) -> tuple[Detections, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """A noisy scene's detections (sorted by frame), embeddings and category probabilities."""
    det = detections_from_gt(scene(players=9, frames=frames, seed=seed), INFO, NOISE, seed=seed)
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(len(det.frame), DIM))
    probs = rng.dirichlet(np.ones(len(CATEGORIES)), len(det.frame))
    return det, emb, probs


def frame_cuts(frame: npt.NDArray[np.int64], n: int, seed: int) -> list[int]:
    """``n`` row positions where a new frame starts, at random, plus both ends."""
    starts = np.flatnonzero(np.r_[True, frame[1:] != frame[:-1]])[1:]
    picked = np.random.default_rng(seed).choice(starts, size=n, replace=False)
    return [0, *sorted(int(i) for i in picked), len(frame)]


@pytest.mark.parametrize("params", [TrackerParams(), TrackerParams(min_hits=1, max_age=4), TrackerParams(gate=12.0, appearance_weight=0.0, new_track_confidence=0.3)])
def test_pieces_with_a_save_and_load_between_equal_one_pass(params: TrackerParams) -> None:
    for seed in (0, 1):
        det, emb, probs = detections(seed)
        tracker = Tracker(params)
        whole = tracker.state(DIM, categories=True)
        uids_whole = whole.feed(det.frame, det.xy, det.conf, emb, probs)

        state = tracker.state(DIM, categories=True)
        pieces = []
        cuts = frame_cuts(det.frame, 9, seed)
        for a, b in pairwise(cuts):
            pieces.append(state.feed(det.frame[a:b], det.xy[a:b], det.conf[a:b], emb[a:b], probs[a:b]))
            saved = state.to_bytes()
            state = TrackerState.from_bytes(saved)
            assert state.to_bytes() == saved  # a loaded state saves to the same bytes
        uids = np.concatenate(pieces)
        np.testing.assert_array_equal(uids, uids_whole)
        assert state.to_bytes() == whole.to_bytes()

        # final ids: the same as Tracker.track on the whole sequence
        ids = state.track_ids(uids)
        np.testing.assert_array_equal(ids, tracker.track(det.frame, det.xy, det.conf, emb))
        assert (ids >= 0).any() and (ids == -1).any()  # a scene with tracks and with detections in none

        # totals: the category head's sums bit for bit, and each track's extent
        totals = state.totals()
        k = int(ids.max()) + 1
        sums = np.zeros((k, len(CATEGORIES)))
        np.add.at(sums, ids[ids >= 0], probs[ids >= 0])
        np.testing.assert_array_equal(totals.sums, sums)
        assert categories_of_sums(totals.sums) == list(categorize(ids, probs).values())
        np.testing.assert_array_equal(totals.uid, state.confirmed)
        np.testing.assert_array_equal(totals.detections, np.bincount(ids[ids >= 0], minlength=k))
        for t in range(k):
            member = det.frame[ids == t]
            assert (totals.first_frame[t], totals.last_frame[t]) == (member.min(), member.max())


def test_a_state_without_embeddings_or_categories_round_trips_too() -> None:
    det, _emb, _probs = detections(2)
    tracker = Tracker(TrackerParams(min_hits=2))
    state = tracker.state(None)
    half = int(np.flatnonzero(det.frame >= det.frame[len(det.frame) // 2])[0])
    first = state.feed(det.frame[:half], det.xy[:half], det.conf[:half])
    state = TrackerState.from_bytes(state.to_bytes())
    rest = state.feed(det.frame[half:], det.xy[half:], det.conf[half:])
    np.testing.assert_array_equal(state.track_ids(np.concatenate([first, rest])), tracker.track(det.frame, det.xy, det.conf))
    with pytest.raises(ValueError, match="categories"):
        state.totals()


def test_the_state_refuses_what_would_break_the_sequence() -> None:
    det, emb, probs = detections(3, frames=40)
    state = Tracker().state(DIM, categories=True)
    state.feed(det.frame[:50], det.xy[:50], det.conf[:50], emb[:50], probs[:50])
    last = int(det.frame[49])
    again = np.flatnonzero(det.frame == last)
    with pytest.raises(ValueError, match=f"after the last frame fed \\({last}\\)"):  # a frame cut in two
        state.feed(det.frame[again], det.xy[again], det.conf[again], emb[again], probs[again])
    rows = np.flatnonzero(det.frame > last)[:20][::-1]
    with pytest.raises(ValueError, match="must be sorted"):
        state.feed(det.frame[rows], det.xy[rows], det.conf[rows], emb[rows], probs[rows])
    rows = np.flatnonzero(det.frame > last)[:5]
    with pytest.raises(ValueError, match="team_probs"):
        state.feed(det.frame[rows], det.xy[rows], det.conf[rows], emb[rows], -probs[rows])
    with pytest.raises(ValueError, match="embedding"):
        state.feed(det.frame[rows], det.xy[rows], det.conf[rows], None, probs[rows])


def test_a_file_that_is_not_a_state_is_refused_with_its_name() -> None:
    with pytest.raises(BuildError, match="^tracker state of chunk 3 'tracker-state/1': is not a readable safetensors file"):
        TrackerState.from_bytes(b"not a state", "tracker state of chunk 3")
    from safetensors.numpy import save

    other = bytes(save({"x": np.zeros(2)}, metadata={"state": '{"format": "tracker-state/0"}'}))
    with pytest.raises(BuildError, match="has format tracker-state/0"):
        TrackerState.from_bytes(other)
    good = Tracker().state(DIM, categories=True).to_bytes()
    assert TrackerState.from_bytes(good).to_bytes() == good
