"""The tracker: online association of foot-point detections into tracks (model 3).

It is the model implementation of the ``tracker`` role: models.yaml names it as
``implementation: generators.models.tracking.tracker:Tracker`` and the framework builds it with
``Tracker.from_weights(path)`` on the digest-verified weights file, which holds the fitted
:class:`TrackerParams` (see ``params.py``). The category head is :meth:`Tracker.categorize`.

Association, frame by frame in increasing frame order (online: a frame's assignment uses only
the frames before it):

1. Tracks unseen for more than ``max_age`` frames end.
2. Every live track predicts its position at constant velocity: ``p + v * dt``.
3. Cost of (track, detection) = ``|detection - prediction| / gate`` (normalised motion), mixed
   with the cosine distance of the embeddings when given. Pairs farther than the track's gate
   (widening with the frames it went unseen) are not allowed.
4. Hungarian assignment (``scipy.optimize.linear_sum_assignment``) of the allowed pairs.
5. Matched tracks update with an alpha-beta filter (position gain, velocity gain), whose
   gains grow with the frames since the track's last detection; unmatched tentative tracks end; unmatched detections confident enough start
   tentative tracks.

Each step is vectorised over the frame's tracks and detections. Everything is deterministic:
the same inputs and parameters give the same track ids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from generators.models.tracking.categories import categorize
from generators.models.tracking.params import TrackerParams, load_params, save_params

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# Cost of a pair the gate forbids: larger than any sum of allowed costs, so the assignment
# first maximises the number of allowed pairs; forbidden pairs it still returns are dropped.
_FORBIDDEN = 1e9


class _Tracks:
    """The live tracks, one row each; arrays rather than objects so a frame is vectorised."""

    def __init__(self, dim: int) -> None:
        self.uid = np.zeros(0, np.int64)
        self.pos = np.zeros((0, 2))
        self.vel = np.zeros((0, 2))
        self.last = np.zeros(0, np.int64)
        self.hits = np.zeros(0, np.int64)
        self.confirmed = np.zeros(0, bool)
        self.emb = np.zeros((0, dim))

    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        for name in ("uid", "pos", "vel", "last", "hits", "confirmed", "emb"):
            setattr(self, name, getattr(self, name)[mask])

    def append(self, uid: IntArray, pos: FloatArray, frame: int, emb: FloatArray, confirmed: bool) -> None:
        n = len(uid)
        self.uid = np.concatenate([self.uid, uid])
        self.pos = np.concatenate([self.pos, pos])
        self.vel = np.concatenate([self.vel, np.zeros((n, 2))])
        self.last = np.concatenate([self.last, np.full(n, frame, np.int64)])
        self.hits = np.concatenate([self.hits, np.ones(n, np.int64)])
        self.confirmed = np.concatenate([self.confirmed, np.full(n, confirmed)])
        self.emb = np.concatenate([self.emb, emb])


def _unit_rows(x: FloatArray) -> FloatArray:
    norm: FloatArray = np.linalg.norm(x, axis=1, keepdims=True)
    unit: FloatArray = x / np.maximum(norm, 1e-12)
    return unit


class Tracker:
    """Online constant-velocity tracker with Hungarian assignment and a category head."""

    def __init__(self, params: TrackerParams | None = None) -> None:
        self.params = params if params is not None else TrackerParams()

    @classmethod
    def from_weights(cls, path: str | Path) -> Tracker:
        """The tracker whose parameters are the safetensors file at ``path`` (see ``params.py``)."""
        return cls(load_params(path))

    def save(self, path: str | Path) -> None:
        """Write this tracker's parameters as a weights file that :meth:`from_weights` reads."""
        save_params(self.params, path)

    def track(
        self,
        frame: npt.ArrayLike,
        xy: npt.ArrayLike,
        conf: npt.ArrayLike,
        embedding: npt.ArrayLike | None = None,
    ) -> IntArray:
        """Track ids for one camera's sequence of detections, one row per detection.

        ``frame``: [N] integer frame numbers (any order; gaps allowed). ``xy``: [N, 2]
        foot-points (pixels or court units: the parameters' distances are in the same units).
        ``conf``: [N] detection confidences. ``embedding``: optional [N, D] appearance
        embeddings (any scale: only their direction is used).

        Returns [N] int64 track ids aligned with the input rows: tracks are numbered 0, 1, ...
        in the order they were confirmed; a detection in no confirmed track gets -1. Once a
        track is confirmed, its tentative first detections carry its id too (the layer
        labels a whole sequence, so it need not hide them as a live display would).
        Raises ``ValueError`` when the arrays' shapes or values disagree with this contract.
        """
        p = self.params
        frames, points, confs, embs = _validated(frame, xy, conf, embedding)
        n = len(frames)
        order = np.argsort(frames, kind="stable")
        sorted_frames = frames[order]
        starts = np.flatnonzero(np.r_[True, sorted_frames[1:] != sorted_frames[:-1]]) if n else np.zeros(0, np.int64)
        ends = np.r_[starts[1:], n] if n else np.zeros(0, np.int64)

        tracks = _Tracks(embs.shape[1])
        det_uid = np.full(n, -1, np.int64)  # internal track uid of each detection
        confirmed_order: list[int] = []
        next_uid = 0
        use_appearance = embedding is not None and p.appearance_weight > 0

        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            t = int(sorted_frames[s])
            rows = order[s:e]
            z = points[rows]
            tracks.keep(t - tracks.last <= p.max_age)

            dt = (t - tracks.last).astype(np.float64)
            pred = tracks.pos + tracks.vel * dt[:, None]
            dist = np.linalg.norm(pred[:, None, :] - z[None, :, :], axis=2)
            allowed = dist <= (p.gate * (1.0 + p.gate_growth * (dt - 1.0)))[:, None]
            cost = dist / p.gate
            if use_appearance:
                appearance = (1.0 - tracks.emb @ embs[rows].T) / 2.0
                cost = (1.0 - p.appearance_weight) * cost + p.appearance_weight * appearance
            ti, di = linear_sum_assignment(np.where(allowed, cost, _FORBIDDEN))
            ok = allowed[ti, di]
            ti, di = ti[ok], di[ok]

            # Alpha-beta update with gains compounded over the frames the prediction spans,
            # ``1 - (1 - gain) ** dt``: a prediction across a gap is uncertain, so the detection
            # weighs more (after a long gap the filter restarts from the detection and the mean
            # velocity since the last one). A track's second detection sets its velocity outright.
            step = dt[ti][:, None]
            first = (tracks.hits[ti] == 1)[:, None]
            alpha = np.where(first, 1.0, 1.0 - (1.0 - p.position_gain) ** step)
            beta = np.where(first, 1.0, 1.0 - (1.0 - p.velocity_gain) ** step)
            residual = z[di] - pred[ti]
            tracks.pos[ti] = pred[ti] + alpha * residual
            tracks.vel[ti] = tracks.vel[ti] + beta * residual / step
            tracks.last[ti] = t
            tracks.hits[ti] += 1
            if use_appearance:
                m = p.appearance_momentum
                tracks.emb[ti] = _unit_rows(m * tracks.emb[ti] + (1.0 - m) * embs[rows[di]])
            newly = ti[~tracks.confirmed[ti] & (tracks.hits[ti] >= p.min_hits)]
            tracks.confirmed[newly] = True
            confirmed_order.extend(tracks.uid[np.sort(newly)].tolist())
            det_uid[rows[di]] = tracks.uid[ti]

            matched = np.zeros(len(tracks.uid), bool)
            matched[ti] = True
            tracks.keep(matched | tracks.confirmed)

            free = np.ones(len(rows), bool)
            free[di] = False
            start = free & (confs[rows] >= p.new_track_confidence)
            new_rows = rows[start]
            uids = np.arange(next_uid, next_uid + len(new_rows), dtype=np.int64)
            next_uid += len(new_rows)
            confirm_now = p.min_hits <= 1
            tracks.append(uids, points[new_rows], t, embs[new_rows], confirm_now)
            if confirm_now:
                confirmed_order.extend(uids.tolist())
            det_uid[new_rows] = uids

        out_of_uid = np.full(next_uid + 1, -1, np.int64)  # slot next_uid serves det_uid == -1
        out_of_uid[np.asarray(confirmed_order, np.int64)] = np.arange(len(confirmed_order), dtype=np.int64)
        return out_of_uid[det_uid]

    def categorize(self, track_ids: npt.ArrayLike, team_probs: npt.ArrayLike) -> dict[int, str]:
        """The category head: see :func:`generators.models.tracking.categories.categorize`."""
        return categorize(track_ids, team_probs)


def _validated(
    frame: npt.ArrayLike, xy: npt.ArrayLike, conf: npt.ArrayLike, embedding: npt.ArrayLike | None
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    frames = np.asarray(frame)
    if frames.ndim != 1 or not (np.issubdtype(frames.dtype, np.integer) or len(frames) == 0):
        raise ValueError(f"frame must be a 1-d integer array, got shape {list(frames.shape)} of {frames.dtype}")
    n = len(frames)
    points = np.asarray(xy, dtype=np.float64)
    confs = np.asarray(conf, dtype=np.float64)
    if points.shape != (n, 2):
        raise ValueError(f"xy must have shape [{n}, 2] for {n} frames, got {list(points.shape)}")
    if confs.shape != (n,):
        raise ValueError(f"conf must have shape [{n}] for {n} frames, got {list(confs.shape)}")
    if not (np.all(np.isfinite(points)) and np.all(np.isfinite(confs))):
        raise ValueError("xy and conf must be finite")
    if embedding is None:
        embs = np.zeros((n, 0))
    else:
        embs = np.asarray(embedding, dtype=np.float64)
        if embs.ndim != 2 or len(embs) != n or not np.all(np.isfinite(embs)):
            raise ValueError(f"embedding must be a finite [{n}, D] array, got shape {list(embs.shape)}")
        embs = _unit_rows(embs)
    return frames.astype(np.int64), points, confs, embs
