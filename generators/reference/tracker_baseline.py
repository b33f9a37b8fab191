"""Greedy nearest-neighbour association: the baseline the tracker is measured against.

What a tracker without a motion model does: each frame, pairs of (track, detection) are taken
in increasing distance from the track's *last seen* position (no prediction), each track and
detection at most once, within a fixed gate; unmatched detections confident enough start new
tracks; tracks unseen for more than ``max_age`` frames end. Every track is reported. It is
fitted with the same search as the tracker (``fit.fit_greedy``), so a comparison measures the
association method, not the tuning.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field


class GreedyParams(BaseModel):
    """Parameters of :func:`greedy_nearest` (distances in the foot-points' units)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gate: float = Field(default=30.0, gt=0)
    max_age: int = Field(default=30, ge=1)
    new_track_confidence: float = Field(default=0.5, ge=0, le=1)


def greedy_nearest(frame: npt.ArrayLike, xy: npt.ArrayLike, conf: npt.ArrayLike, params: GreedyParams | None = None) -> npt.NDArray[np.int64]:
    """Track ids, [N] int64 aligned with the input rows, numbered in order of creation; -1
    for a detection that matched no track and was not confident enough to start one.
    Same input contract as :meth:`generators.models.tracking.tracker.Tracker.track` (no embeddings)."""
    p = params if params is not None else GreedyParams()
    frames = np.asarray(frame).astype(np.int64)
    points = np.asarray(xy, dtype=np.float64)
    confs = np.asarray(conf, dtype=np.float64)
    n = len(frames)
    if points.shape != (n, 2) or confs.shape != (n,):
        raise ValueError(f"xy must be [{n}, 2] and conf [{n}], got {list(points.shape)} and {list(confs.shape)}")
    order = np.argsort(frames, kind="stable")
    sorted_frames = frames[order]
    starts = np.flatnonzero(np.r_[True, sorted_frames[1:] != sorted_frames[:-1]]) if n else np.zeros(0, np.int64)
    ends = np.r_[starts[1:], n] if n else np.zeros(0, np.int64)

    ids = np.full(n, -1, np.int64)
    track_id = np.zeros(0, np.int64)
    track_pos = np.zeros((0, 2))
    track_last = np.zeros(0, np.int64)
    next_id = 0
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        t = int(sorted_frames[s])
        rows = order[s:e]
        alive = t - track_last <= p.max_age
        track_id, track_pos, track_last = track_id[alive], track_pos[alive], track_last[alive]
        dist = np.linalg.norm(track_pos[:, None, :] - points[rows][None, :, :], axis=2)
        flat = np.argsort(dist, axis=None, kind="stable")
        flat = flat[dist.ravel()[flat] <= p.gate]
        used_t = np.zeros(len(track_id), bool)
        used_d = np.zeros(len(rows), bool)
        # The greedy walk is inherently sequential: one pass over the allowed pairs.
        for ti, di in zip(*np.unravel_index(flat, dist.shape), strict=True):
            if not (used_t[ti] or used_d[di]):
                used_t[ti] = used_d[di] = True
                ids[rows[di]] = track_id[ti]
                track_pos[ti] = points[rows[di]]
                track_last[ti] = t
        start = ~used_d & (confs[rows] >= p.new_track_confidence)
        new_rows = rows[start]
        new_ids = np.arange(next_id, next_id + len(new_rows), dtype=np.int64)
        next_id += len(new_rows)
        ids[new_rows] = new_ids
        track_id = np.concatenate([track_id, new_ids])
        track_pos = np.concatenate([track_pos, points[new_rows]])
        track_last = np.concatenate([track_last, np.full(len(new_rows), t, np.int64)])
    return ids
