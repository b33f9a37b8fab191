"""The tracker's online state: what :class:`~generators.models.tracking.tracker.Tracker` knows
between two frames, advanced frame by frame and saved to / restored from a small file.

A two-hour camera has some 215,000 frames; the track-level layer tracks it in chunks, each
continuing from the state the previous one saved. The state is complete, so that a chunked
run gives the same track ids, bit for bit, as one pass over the camera:

* the live tracks (uid, position, velocity, last and first frame, hits, confirmed, appearance
  embedding and, with ``categories``, the sum of their detections' category probabilities);
* the counters: the next uid, the last frame seen;
* the order in which tracks were confirmed (final track ids are positions in it);
* with ``categories``, the totals of confirmed tracks that ended (uid, detections, first and
  last frame, probability sums): what the category head needs once everything is seen.

Detections get *internal uids*: a tentative track's detections get its uid before anyone
knows whether it will be confirmed. :meth:`TrackerState.track_ids` maps uids to final ids,
which is only right once the whole sequence was fed. The state grows with the number of
tracks (confirmed ones, and the few tentative ones alive), never with the number of frames.

The file is safetensors (arrays, no pickle) with one metadata entry, ``state``, holding the
scalars and the parameters as JSON (one entry, so that the bytes do not depend on hash order).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from artifacts.errors import BuildError
from generators.models.tracking.categories import CATEGORIES
from generators.models.tracking.params import TrackerParams

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

FORMAT = "tracker-state/1"

# Cost of a pair the gate forbids: larger than any sum of allowed costs, so the assignment
# first maximises the number of allowed pairs; forbidden pairs it still returns are dropped.
_FORBIDDEN = 1e9

_TRACK_FIELDS = ("uid", "pos", "vel", "last", "first", "hits", "confirmed", "emb", "sums")
_ENDED_FIELDS = ("uid", "hits", "first", "last", "sums")


class _Tracks:
    """The live tracks, one row each; arrays rather than objects so a frame is vectorised.

    Row order matters (it breaks ties in the assignment and orders confirmations in a frame),
    so it is kept as is through :meth:`keep`, :meth:`append` and a save and load.
    """

    def __init__(self, dim: int, width: int) -> None:
        self.uid = np.zeros(0, np.int64)
        self.pos = np.zeros((0, 2))
        self.vel = np.zeros((0, 2))
        self.last = np.zeros(0, np.int64)
        self.first = np.zeros(0, np.int64)
        self.hits = np.zeros(0, np.int64)
        self.confirmed = np.zeros(0, bool)
        self.emb = np.zeros((0, dim))
        self.sums = np.zeros((0, width))

    def keep(self, mask: BoolArray) -> None:
        for name in _TRACK_FIELDS:
            setattr(self, name, getattr(self, name)[mask])

    def append(self, uid: IntArray, pos: FloatArray, frame: int, emb: FloatArray, sums: FloatArray, confirmed: bool) -> None:
        n = len(uid)
        self.uid = np.concatenate([self.uid, uid])
        self.pos = np.concatenate([self.pos, pos])
        self.vel = np.concatenate([self.vel, np.zeros((n, 2))])
        self.last = np.concatenate([self.last, np.full(n, frame, np.int64)])
        self.first = np.concatenate([self.first, np.full(n, frame, np.int64)])
        self.hits = np.concatenate([self.hits, np.ones(n, np.int64)])
        self.confirmed = np.concatenate([self.confirmed, np.full(n, confirmed)])
        self.emb = np.concatenate([self.emb, emb])
        self.sums = np.concatenate([self.sums, sums])


def unit_rows(x: FloatArray) -> FloatArray:
    """Each row of ``x`` divided by its L2 norm (rows of norm 0 stay 0)."""
    norm: FloatArray = np.linalg.norm(x, axis=1, keepdims=True)
    unit: FloatArray = x / np.maximum(norm, 1e-12)
    return unit


@dataclass(frozen=True)
class TrackTotals:
    """The confirmed tracks of a finished sequence, row ``i`` being final track id ``i``:
    their uid, number of detections, first and last frame, and (with categories) the sum of
    their detections' category probabilities, [K, 4] over :data:`CATEGORIES`."""

    uid: IntArray
    detections: IntArray
    first_frame: IntArray
    last_frame: IntArray
    sums: FloatArray


class TrackerState:
    """The online state of one camera's tracking. See the module docstring.

    ``embedding_dim``: the width of the appearance embeddings fed, or None when none are (the
    appearance cost is then off). ``categories``: also accumulate the category probabilities
    per track (:meth:`feed` then needs ``team_probs``).
    """

    def __init__(self, params: TrackerParams, embedding_dim: int | None, categories: bool = False) -> None:
        if embedding_dim is not None and embedding_dim < 0:
            raise ValueError(f"embedding_dim must be None or >= 0, got {embedding_dim}")
        self.params = params
        self.embedding_dim = embedding_dim
        self.categories = categories
        self.tracks = _Tracks(embedding_dim or 0, len(CATEGORIES) if categories else 0)
        self.next_uid = 0
        self.last_frame: int | None = None
        self._confirmed: list[int] = []  # uids, in the order they were confirmed
        self._ended: list[dict[str, Any]] = []  # totals of confirmed tracks that ended, in batches

    # ----- advancing ----------------------------------------------------------------------

    def feed(
        self,
        frame: npt.ArrayLike,
        xy: npt.ArrayLike,
        conf: npt.ArrayLike,
        embedding: npt.ArrayLike | None = None,
        team_probs: npt.ArrayLike | None = None,
    ) -> IntArray:
        """Advance over a batch of whole frames; returns the internal uid of each detection
        (-1: in no track), aligned with the input rows.

        Rows must be sorted by frame (non-decreasing), and the first frame must come after
        every frame fed before: a frame is consumed whole, so a batch must not end in the
        middle of one that the next batch continues. ``xy`` [N, 2], ``conf`` [N] as for
        :meth:`Tracker.track`; ``embedding`` [N, embedding_dim] exactly when the state has an
        ``embedding_dim``; ``team_probs`` [N, 4] over :data:`CATEGORIES` (finite,
        non-negative) exactly when it has ``categories``. Raises ``ValueError`` otherwise.
        """
        frames, points, confs, embs = validated(frame, xy, conf, embedding)
        n = len(frames)
        if (embedding is None) != (self.embedding_dim is None) or (self.embedding_dim is not None and embs.shape[1] != self.embedding_dim):
            raise ValueError(f"embedding must be a [{n}, {self.embedding_dim}] array for this state, got {list(embs.shape) if embedding is not None else None}")
        probs = np.zeros((n, 0))
        if self.categories:
            if team_probs is None:
                raise ValueError("team_probs must be given to a state that accumulates categories")
            probs = np.asarray(team_probs, dtype=np.float64)
            if probs.shape != (n, len(CATEGORIES)):
                raise ValueError(f"team_probs must have shape [{n}, {len(CATEGORIES)}], got {list(probs.shape)}")
            if not np.all(np.isfinite(probs)) or np.any(probs < 0):
                raise ValueError("team_probs must be finite and non-negative")
        elif team_probs is not None:
            raise ValueError("team_probs given to a state that does not accumulate categories")
        if n and np.any(frames[1:] < frames[:-1]):
            at = int(np.flatnonzero(frames[1:] < frames[:-1])[0]) + 1
            raise ValueError(f"frames must be sorted: row {at} has frame {int(frames[at])} after frame {int(frames[at - 1])}")
        if n and self.last_frame is not None and frames[0] <= self.last_frame:
            raise ValueError(f"frames must come after the last frame fed ({self.last_frame}), got frame {int(frames[0])}")
        return self.run(frames, points, confs, embs, probs)

    def run(self, frames: IntArray, points: FloatArray, confs: FloatArray, embs: FloatArray, probs: FloatArray) -> IntArray:
        """:meth:`feed` on arrays already checked and converted by :func:`validated` (and sorted,
        after the last frame; ``probs`` [N, 4] with categories, [N, 0] without)."""
        n = len(frames)
        uids = np.full(n, -1, np.int64)
        starts = np.flatnonzero(np.r_[True, frames[1:] != frames[:-1]]) if n else np.zeros(0, np.int64)
        ends = np.r_[starts[1:], n] if n else np.zeros(0, np.int64)
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            uids[s:e] = self._frame(int(frames[s]), points[s:e], confs[s:e], embs[s:e], probs[s:e])
        return uids

    def _frame(self, t: int, z: FloatArray, conf: FloatArray, emb: FloatArray, probs: FloatArray) -> IntArray:
        """One frame's detections: associate, update, start tracks; their uids (-1: none)."""
        p = self.params
        tracks = self.tracks
        use_appearance = self.embedding_dim is not None and p.appearance_weight > 0
        alive = t - tracks.last <= p.max_age
        self._end(~alive & tracks.confirmed)
        tracks.keep(alive)

        dt = (t - tracks.last).astype(np.float64)
        pred = tracks.pos + tracks.vel * dt[:, None]
        dist = np.linalg.norm(pred[:, None, :] - z[None, :, :], axis=2)
        allowed = dist <= (p.gate * (1.0 + p.gate_growth * (dt - 1.0)))[:, None]
        cost = dist / p.gate
        if use_appearance:
            appearance = (1.0 - tracks.emb @ emb.T) / 2.0
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
        # One detection per track and frame, frames in order: each track's sum adds its
        # detections in row order, as the category head's sum over the whole sequence does.
        tracks.sums[ti] += probs[di]
        if use_appearance:
            m = p.appearance_momentum
            tracks.emb[ti] = unit_rows(m * tracks.emb[ti] + (1.0 - m) * emb[di])
        newly = ti[~tracks.confirmed[ti] & (tracks.hits[ti] >= p.min_hits)]
        tracks.confirmed[newly] = True
        self._confirmed.extend(tracks.uid[np.sort(newly)].tolist())
        uids = np.full(len(z), -1, np.int64)
        uids[di] = tracks.uid[ti]

        matched = np.zeros(len(tracks.uid), bool)
        matched[ti] = True
        tracks.keep(matched | tracks.confirmed)  # an unmatched tentative track ends unconfirmed

        free = np.ones(len(z), bool)
        free[di] = False
        new_rows = np.flatnonzero(free & (conf >= p.new_track_confidence))
        new = np.arange(self.next_uid, self.next_uid + len(new_rows), dtype=np.int64)
        self.next_uid += len(new_rows)
        confirm_now = p.min_hits <= 1
        # ``+ 0.0``: a sum starts from 0.0, as the category head's does (-0.0 becomes 0.0).
        tracks.append(new, z[new_rows], t, emb[new_rows], probs[new_rows] + 0.0, confirm_now)
        if confirm_now:
            self._confirmed.extend(new.tolist())
        uids[new_rows] = new
        self.last_frame = t
        return uids

    def _end(self, mask: BoolArray) -> None:
        """Keep the totals of the confirmed tracks of ``mask``, which end now."""
        if self.categories and mask.any():
            t = self.tracks
            self._ended.append({"uid": t.uid[mask], "hits": t.hits[mask], "first": t.first[mask], "last": t.last[mask], "sums": t.sums[mask]})

    # ----- results ------------------------------------------------------------------------

    @property
    def confirmed(self) -> IntArray:
        """The uids of the confirmed tracks, in the order they were confirmed."""
        return np.asarray(self._confirmed, np.int64)

    def track_ids(self, uids: npt.ArrayLike) -> IntArray:
        """Final track ids for internal ``uids``: a track's position in the confirmation order,
        -1 for a uid never confirmed (or -1). Right once the whole sequence was fed."""
        u = np.asarray(uids, np.int64)
        order = self.confirmed
        if len(order) == 0:
            return np.full(len(u), -1, np.int64)
        by_uid = np.argsort(order, kind="stable")
        sorted_uids = order[by_uid]
        at = np.minimum(np.searchsorted(sorted_uids, u), len(order) - 1)
        out: IntArray = np.where(sorted_uids[at] == u, by_uid[at], -1).astype(np.int64)
        return out

    def totals(self) -> TrackTotals:
        """Every confirmed track's totals, in final id order (needs ``categories``)."""
        if not self.categories:
            raise ValueError("totals need a state that accumulates categories")
        ended = self._merged_ended()
        t = self.tracks
        live = t.confirmed
        uid = np.concatenate([ended["uid"], t.uid[live]])
        hits = np.concatenate([ended["hits"], t.hits[live]])
        first = np.concatenate([ended["first"], t.first[live]])
        last = np.concatenate([ended["last"], t.last[live]])
        sums = np.concatenate([ended["sums"], t.sums[live]])
        order = self.confirmed
        # Each confirmed uid is in exactly one of the two (ended or live): find its row.
        if len(order) != len(uid):
            raise ValueError(f"state holds totals for {len(uid)} tracks but {len(order)} were confirmed")
        by_uid = np.argsort(uid, kind="stable")
        rows = by_uid[np.minimum(np.searchsorted(uid[by_uid], order), max(len(uid) - 1, 0))]
        if not np.array_equal(uid[rows], order):
            raise ValueError(f"state holds totals for {len(uid)} tracks but {len(order)} were confirmed")
        return TrackTotals(uid=order, detections=hits[rows], first_frame=first[rows], last_frame=last[rows], sums=sums[rows])

    def _merged_ended(self) -> dict[str, Any]:
        width = len(CATEGORIES) if self.categories else 0
        empty: dict[str, Any] = {"uid": np.zeros(0, np.int64), "hits": np.zeros(0, np.int64), "first": np.zeros(0, np.int64),
                                 "last": np.zeros(0, np.int64), "sums": np.zeros((0, width))}
        if not self._ended:
            return empty
        merged = {k: np.concatenate([empty[k]] + [b[k] for b in self._ended]) for k in _ENDED_FIELDS}
        self._ended = [merged]  # one batch from now on: saving often stays linear
        return merged

    # ----- saving -------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The complete state as a safetensors file's bytes (equal states, equal bytes)."""
        from safetensors.numpy import save

        tensors: dict[str, Any] = {f"tracks.{name}": np.ascontiguousarray(getattr(self.tracks, name)) for name in _TRACK_FIELDS}
        tensors.update({f"ended.{name}": np.ascontiguousarray(v) for name, v in self._merged_ended().items()})
        tensors["confirmed"] = self.confirmed
        meta = {"format": FORMAT, "params": self.params.model_dump(), "embedding_dim": self.embedding_dim,
                "categories": self.categories, "next_uid": self.next_uid, "last_frame": self.last_frame}
        return bytes(save(tensors, metadata={"state": json.dumps(meta, sort_keys=True, separators=(",", ":"))}))

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes, what: str = "tracker state") -> TrackerState:
        """The state :meth:`to_bytes` wrote. Raises :class:`BuildError` naming ``what`` when
        the bytes are not a tracker state of this format, or are inconsistent."""
        from safetensors import SafetensorError
        from safetensors.numpy import load

        def bad(problem: str) -> BuildError:
            return BuildError(what, FORMAT, problem, "remove it (for a chunk: its task's chunks) and run again")

        try:
            tensors = load(data)
            meta = _metadata(data)
        except (SafetensorError, ValueError, KeyError, TypeError) as exc:
            raise bad(f"is not a readable safetensors file with a state entry ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise bad(f"has format {meta.get('format') if isinstance(meta, dict) else None}")
        try:
            state = cls(TrackerParams.model_validate(meta["params"]), meta["embedding_dim"], bool(meta["categories"]))
            state.next_uid = int(meta["next_uid"])
            state.last_frame = None if meta["last_frame"] is None else int(meta["last_frame"])
            for name in _TRACK_FIELDS:
                want = getattr(state.tracks, name)
                got = tensors[f"tracks.{name}"]
                if got.dtype != want.dtype or got.shape[1:] != want.shape[1:]:
                    raise ValueError(f"tracks.{name} is {got.dtype} {list(got.shape)}, expected {want.dtype} [n, {list(want.shape[1:])}]")
                setattr(state.tracks, name, got.copy())
            if len({len(getattr(state.tracks, name)) for name in _TRACK_FIELDS}) != 1:
                raise ValueError("the track arrays have different lengths")
            ended = {name: tensors[f"ended.{name}"].copy() for name in _ENDED_FIELDS}
            if len({len(v) for v in ended.values()}) != 1 or ended["sums"].shape[1:] != state.tracks.sums.shape[1:]:
                raise ValueError("the ended-track arrays disagree in shape")
            if len(ended["uid"]):
                state._ended = [ended]
            state._confirmed = tensors["confirmed"].astype(np.int64).tolist()
        except (KeyError, TypeError, ValueError) as exc:
            raise bad(f"is inconsistent ({exc})") from None
        return state

    @classmethod
    def load(cls, path: str | Path) -> TrackerState:
        return cls.from_bytes(Path(path).read_bytes(), f"tracker state {path}")


def _metadata(data: bytes) -> dict[str, Any]:
    """The ``state`` metadata entry of safetensors bytes, parsed (header: 8-byte length, JSON)."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    meta: dict[str, Any] = json.loads(header["__metadata__"]["state"])
    return meta


def validated(
    frame: npt.ArrayLike, xy: npt.ArrayLike, conf: npt.ArrayLike, embedding: npt.ArrayLike | None
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """Detections checked and converted for the tracker: int64 frames, float64 points and
    confidences, unit float64 embeddings ([N, 0] when none). Raises ``ValueError``."""
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
        embs = unit_rows(embs)
    return frames.astype(np.int64), points, confs, embs
