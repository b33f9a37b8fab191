"""Which channel each detection of a shot's window lights, the O1-O5 / D1-D5 slots and the label.

Per shot, the offense is the annotation's ``shooter_team`` (0 = team_a, 1 = team_b):

- **Slots O1-O5**: among the offensive tracks (category equal to the offense) with at least one
  detection in the window (``footprint``), the 5 with the most such detections, ties to the
  lower track id; these 5 are then ordered left to right by their mean foot x in the window,
  ties to the lower track id. Their detections light channels 0-4; the other offensive tracks
  light channel 10 (offense_unknown).
- **Slots D1-D5** and channel 11 (defense_unknown): the same for the other team.
- Tracks of category ``referee`` or ``other`` light channel 12 (non_player).
- Detections in no track light channel 10, 11 or 12 by their own team argmax (the offense's
  team, the other team, referee).

**Jersey of a track**: the majority over its detections of the number read from the jersey
features (``generators.models.jersey.decode_digits``), ties to the lower number; -1 when none
of its detections shows a number.

**Label**: the offensive slot whose track's jersey equals the annotation's ``shooter_jersey``;
when several do (a player's track broken in two, or a misread number), the one with the most
detections in the window, ties to the lower slot; -1 when none does (the shot is kept and
counted). ``matches`` tells how many slots matched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from generators.layers.heatmaps.footprint import Pairs
from generators.layers.heatmaps.inputs import NO_TRACK, OTHER, REFEREE, Detections, Tracks, Windows
from generators.layers.heatmaps.layout import NON_PLAYER, OFFENSE_UNKNOWN, SLOTS

NO_LABEL = -1


@dataclass(frozen=True)
class Slots:
    """Per shot ``[S, 10]``: the track row (in :class:`Tracks`, -1 empty) of O1-O5 then D1-D5
    and its number of detections in the window; per pair, the channel (0-12) it lights."""

    track: NDArray[np.int64]
    detections: NDArray[np.int64]
    channel: NDArray[np.int8]


def assign(pairs: Pairs, det: Detections, tracks: Tracks, win: Windows) -> Slots:
    """The slots of every shot and the channel of every pair (see the module doc)."""
    n_shots, n_tracks = len(win), max(len(tracks), 1)
    offense = win.offense[pairs.shot].astype(np.int64)
    trk = det.track[pairs.det]
    tracked = trk != NO_TRACK
    # side: 0 offense, 1 defense, 2 non-player; from the track's category, else the detection's team.
    cat = np.where(tracked, tracks.category[np.where(tracked, trk, 0)] if len(tracks) else 0, det.team[pairs.det]).astype(np.int64)
    player = (cat != REFEREE) & (cat != OTHER)
    side = np.where(player, (cat != offense).astype(np.int64), 2)
    channel = (OFFENSE_UNKNOWN + side).astype(np.int8)  # 10, 11 or 12 (NON_PLAYER)
    slot_track = np.full((n_shots, 2 * SLOTS), -1, np.int64)
    slot_count = np.zeros((n_shots, 2 * SLOTS), np.int64)
    cand = np.flatnonzero(tracked & player)
    if len(cand):
        group = pairs.shot[cand].astype(np.int64) * 2 + side[cand]  # (shot, side)
        key = group * n_tracks + trk[cand]
        uniq, inverse, count = _unique(key)
        mean_x = np.bincount(inverse, weights=pairs.wx[cand]) / count
        g = uniq // n_tracks
        row = uniq % n_tracks
        tid = tracks.track_id[row]
        # The 5 tracks of each (shot, side) with most detections, ties to the lower track id.
        by_count = np.lexsort((tid, -count, g))
        rank = np.empty(len(uniq), np.int64)
        rank[by_count] = _rank_in_groups(g[by_count])
        top = np.flatnonzero(rank < SLOTS)
        # ... then left to right by mean foot x, ties to the lower track id.
        by_x = top[np.lexsort((tid[top], mean_x[top], g[top]))]
        slot = np.full(len(uniq), -1, np.int64)
        slot[by_x] = _rank_in_groups(g[by_x])
        in_slot = slot >= 0
        column = (g % 2) * SLOTS + slot
        slot_track[g[in_slot] // 2, column[in_slot]] = row[in_slot]
        slot_count[g[in_slot] // 2, column[in_slot]] = count[in_slot]
        pair_slot = slot[inverse]
        channel[cand] = np.where(pair_slot >= 0, column[inverse], channel[cand]).astype(np.int8)
    assert int(channel.max(initial=0)) <= NON_PLAYER
    return Slots(track=slot_track, detections=slot_count, channel=channel)


def _unique(key: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.intp], NDArray[np.int64]]:
    """``np.unique(key, return_inverse=True, return_counts=True)``, by a stable sort: the keys come
    grouped by shot, runs that timsort merges in a fraction of np.unique's quicksort time."""
    order = np.argsort(key, kind="stable")
    ks = key[order]
    first = np.ones(len(ks), bool)
    first[1:] = ks[1:] != ks[:-1]
    inverse = np.empty(len(ks), np.intp)
    inverse[order] = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    return ks[starts], inverse, np.diff(starts, append=len(ks))


def _rank_in_groups(sorted_groups: NDArray[np.int64]) -> NDArray[np.int64]:
    """0, 1, 2 ... within each run of equal values of an already sorted array."""
    n = len(sorted_groups)
    idx = np.arange(n, dtype=np.int64)
    first = np.ones(n, bool)
    first[1:] = sorted_groups[1:] != sorted_groups[:-1]
    starts = np.maximum.accumulate(np.where(first, idx, 0))
    return idx - starts


def track_jerseys(track: NDArray[np.int64], numbers: NDArray[np.int64], n_tracks: int) -> NDArray[np.int16]:
    """Each track's jersey: majority of the numbers (0-99, -1 none) read on its detections.

    ``track`` per detection (row in the tracks table or -1); ties go to the lower number; a track
    none of whose detections shows a number gets -1. The same as :func:`majority` of the
    :func:`jersey_votes` of any split of the detections, added up.
    """
    return majority(jersey_votes(track, numbers, n_tracks), n_tracks)


def jersey_votes(track: NDArray[np.int64], numbers: NDArray[np.int64], n_tracks: int) -> NDArray[np.int64]:
    """Votes ``[n_tracks * 100]``: how many detections of track ``t`` read number ``k`` (at ``t * 100 + k``)."""
    ok = (track >= 0) & (numbers >= 0) & (numbers < 100)
    return np.bincount(track[ok] * 100 + numbers[ok], minlength=n_tracks * 100)


def majority(votes: NDArray[np.int64], n_tracks: int) -> NDArray[np.int16]:
    """Each track's most voted number (ties to the lower), -1 for a track without votes."""
    v = votes.reshape(n_tracks, 100)
    best = v.argmax(axis=1)
    return np.where(v.max(axis=1, initial=0) > 0, best, -1).astype(np.int16)


def labels(slots: Slots, tracks: Tracks, shooter_jersey: NDArray[np.int16]) -> tuple[NDArray[np.int8], NDArray[np.int8], NDArray[np.int16]]:
    """``(label, matches, slot_jersey)``: the shooter's slot 0-4 or -1, how many offensive slots
    carry the shooter's number, and the jersey of every slot ``[S, 10]`` (-1 empty/unknown)."""
    filled = slots.track >= 0
    jersey = np.where(filled, tracks.jersey[np.where(filled, slots.track, 0)] if len(tracks) else -1, -1).astype(np.int16)
    offense = jersey[:, :SLOTS]
    match = (offense >= 0) & (offense == shooter_jersey[:, None])
    # most detections first, then the lower slot: score = detections * 8 + (7 - slot)
    score = np.where(match, slots.detections[:, :SLOTS] * 8 + (7 - np.arange(SLOTS)), -1)
    label = np.where(match.any(axis=1), score.argmax(axis=1), NO_LABEL).astype(np.int8)
    return label, match.sum(axis=1).astype(np.int8), jersey
