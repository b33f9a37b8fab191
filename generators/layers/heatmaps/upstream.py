"""Reading a game's frame-level and track-level tables for the heatmaps, in bounded memory.

A two-hour game has millions of detections (``detections.parquet``) and as many assignments
(``assignments.parquet``, one per detection, in the same order); the heatmaps need few of
them. Two reads, neither of which holds a whole table:

- :func:`track_jerseys_streamed`: each track's jersey number, the majority over **all** its
  detections (:func:`generators.layers.heatmaps.slots.track_jerseys`, the same result), voted
  one row group at a time. It also checks what the whole-table reader checked: the
  assignments list every detection in order, every detection's camera is a video of the game
  and every assigned track is in ``tracks.parquet``.
- :func:`window_detections`: the detections of some shot windows (camera, 16 frames each),
  reading only the row groups whose statistics on ``camera`` and ``frame`` may hold one of
  them (the frame-level table is sorted by camera then frame, in 65,536-row groups), and only
  the assignment rows of the detections kept.

``ReadCount`` (the caller's own object) counts the row groups and rows read, for tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from artifacts.errors import BuildError
from generators.layers.heatmaps.inputs import NO_TRACK, Detections
from generators.layers.heatmaps.slots import jersey_votes, majority

if TYPE_CHECKING:
    from artifacts.layers import ArtifactReader

WINDOW_COLUMNS = ["frame", "camera", "px", "py", "confidence", "team"]


@dataclass
class ReadCount:
    """Row groups and rows read from the detections table by the calls it is passed to."""

    row_groups: int = 0
    rows: int = 0


@dataclass(frozen=True)
class TrackTable:
    """``tracks.parquet``: every track's id and category code (``CATEGORIES`` order), in its order,
    with the sort that maps a track id to its row."""

    track_id: NDArray[np.int64]
    category: NDArray[np.int8]
    order: NDArray[np.intp]

    def rows_of(self, ids: NDArray[np.int64], game: str) -> NDArray[np.int64]:
        """The row of each track id (``NO_TRACK`` stays ``NO_TRACK``); an id not in the table is an error."""
        out = np.full(len(ids), NO_TRACK, np.int64)
        tracked = ids != NO_TRACK
        if not tracked.any():
            return out
        sorted_ids = self.track_id[self.order]
        pos = np.minimum(np.searchsorted(sorted_ids, ids[tracked]), max(len(sorted_ids) - 1, 0))
        if len(sorted_ids) == 0 or not np.array_equal(sorted_ids[pos], ids[tracked]):
            raise BuildError(f"track-level artifact of game {game}", None, "assigns detections to tracks missing from tracks.parquet", "rebuild track-level")
        out[tracked] = self.order[pos]
        return out


def parquet(reader: ArtifactReader, name: str) -> pq.ParquetFile:
    """Output ``name`` of an upstream artifact opened for reading row groups (any store)."""
    if reader.store.local:
        return pq.ParquetFile(reader.location(name))
    return pq.ParquetFile(reader.store.fs.open(reader.location(name), "rb"))


def read_tracks(tracks: pq.ParquetFile) -> TrackTable:
    """The whole ``tracks.parquet``: one row per track, small beside the detections."""
    from generators.models.tracking.categories import CATEGORIES

    t = tracks.read(columns=["track_id", "category"])
    ids = t.column("track_id").to_numpy().astype(np.int64)
    category = np.array([CATEGORIES.index(c) for c in t.column("category").to_pylist()], np.int8)
    return TrackTable(track_id=ids, category=category, order=np.argsort(ids, kind="stable"))


def _check_counts(det: pq.ParquetFile, assign: pq.ParquetFile, game: str) -> None:
    n, m = det.metadata.num_rows, assign.metadata.num_rows
    if m != n:
        raise BuildError(f"track-level assignments of game {game}", m, f"do not list the {n} frame-level detections in order", "rebuild track-level on this frame-level artifact")


def _check_order(detection: NDArray[np.int64], rows: NDArray[np.int64], n_det: int, game: str) -> None:
    """Assignment rows must name the detections of the same rows (``rows``)."""
    if not np.array_equal(detection, rows):
        raise BuildError(f"track-level assignments of game {game}", n_det, f"do not list the {n_det} frame-level detections in order",
                         "rebuild track-level on this frame-level artifact")


def _camera_codes(column: pa.ChunkedArray, cameras: Sequence[str], game: str) -> NDArray[np.int32]:
    """Each row's camera as its index in ``cameras``; a camera that is not a video of the game is an error."""
    encoded = column.combine_chunks().dictionary_encode() if not pa.types.is_dictionary(column.type) else column.combine_chunks()
    names = encoded.dictionary.to_pylist()
    unknown = [c for c in names if c not in cameras]
    if unknown:
        raise BuildError(f"frame-level detections of game {game}", unknown[0], "name a camera that is not a video of the game", "rebuild frame-level")
    code = np.array([cameras.index(c) for c in names], np.int32)
    return code[encoded.indices.to_numpy(zero_copy_only=False)] if len(encoded) else np.zeros(0, np.int32)


def _vectors(column: pa.ChunkedArray) -> NDArray[np.float32]:
    """A fixed-size-list column (float32 or float16) as float32 ``[n, size]``."""
    arr = column.combine_chunks()
    size = arr.type.list_size
    return np.asarray(arr.flatten().to_numpy(zero_copy_only=False), np.float32).reshape(len(arr), size)


class _Sequential:
    """Consecutive rows of a parquet file, a row group at a time."""

    def __init__(self, pf: pq.ParquetFile, columns: list[str]) -> None:
        self.pf, self.columns = pf, columns
        self.next_group = 0
        self.buf: pa.Table | None = None

    def take(self, n: int) -> pa.Table:
        parts = []
        while n > 0:
            if self.buf is None or self.buf.num_rows == 0:
                self.buf = self.pf.read_row_group(self.next_group, columns=self.columns)
                self.next_group += 1
            k = min(n, self.buf.num_rows)
            parts.append(self.buf.slice(0, k))
            self.buf = self.buf.slice(k)
            n -= k
        return pa.concat_tables(parts) if parts else self.pf.schema_arrow.empty_table().select(self.columns)


def track_jerseys_streamed(det: pq.ParquetFile, assign: pq.ParquetFile, tracks: TrackTable, cameras: Sequence[str], game: str) -> NDArray[np.int16]:
    """Each track's jersey (``tracks`` order), voted over all its detections a row group at a time."""
    from generators.models.jersey import decode_digits

    _check_counts(det, assign, game)
    n_det = det.metadata.num_rows
    votes = np.zeros(len(tracks.track_id) * 100, np.int64)
    rows = _Sequential(assign, ["detection", "track_id"])
    start = 0
    for g in range(det.num_row_groups):
        part = det.read_row_group(g, columns=["camera", "jersey"])
        a = rows.take(part.num_rows)
        _check_order(a.column("detection").to_numpy().astype(np.int64), np.arange(start, start + part.num_rows), n_det, game)
        _camera_codes(part.column("camera"), cameras, game)
        row = tracks.rows_of(a.column("track_id").to_numpy().astype(np.int64), game)
        votes += jersey_votes(row, decode_digits(_vectors(part.column("jersey"))), len(tracks.track_id))
        start += part.num_rows
    return majority(votes, len(tracks.track_id))


def _stats(md: Any, group: int, leaf: int) -> tuple[Any, Any] | None:
    s = md.row_group(group).column(leaf).statistics
    if s is None or not s.has_min_max:
        return None
    return s.min, s.max


def _may_hold(md: Any, group: int, leaves: dict[str, int], cameras: Sequence[str], spans: NDArray[np.int64]) -> bool:
    """Whether row group ``group`` may hold a detection of a span (camera, first, stop) by its
    statistics; a group without statistics may hold anything."""
    cam = _stats(md, group, leaves["camera"])
    frame = _stats(md, group, leaves["frame"])
    ok = np.ones(len(spans), bool)
    if cam is not None:
        lo, hi = (v.decode() if isinstance(v, bytes) else v for v in cam)
        ok &= np.array([lo <= cameras[c] <= hi for c in spans[:, 0]], bool)
    if frame is not None:
        ok &= (spans[:, 1] <= int(frame[1])) & (spans[:, 2] > int(frame[0]))
    return bool(ok.any())


def _in_spans(camera: NDArray[np.int32], frame: NDArray[np.int32], spans: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Rows whose (camera, frame) lies in one of the spans (camera, first, stop)."""
    keep = np.zeros(len(frame), bool)
    for c in np.unique(spans[:, 0]).tolist():
        mine = spans[spans[:, 0] == c]
        mine = mine[np.argsort(mine[:, 1], kind="stable")]
        stop = np.maximum.accumulate(mine[:, 2])  # with sorted starts, a frame is in a span iff it is below the furthest stop so far
        on = camera == c
        k = np.searchsorted(mine[:, 1], frame[on], "right") - 1
        keep[on] = (k >= 0) & (frame[on] < stop[np.maximum(k, 0)])
    return keep


def window_detections(det: pq.ParquetFile, assign: pq.ParquetFile, tracks: TrackTable, cameras: Sequence[str], spans: NDArray[np.int64],
                      game: str, count: ReadCount | None = None) -> Detections:
    """The detections (in table order) of the spans ``[k] = (camera index, first frame, stop frame)``,
    with their tracks' rows in ``tracks``; the rest of the tables is not read."""
    _check_counts(det, assign, game)
    tally = count if count is not None else ReadCount()
    md = det.metadata
    leaves = {md.row_group(0).column(j).path_in_schema: j for j in range(md.num_columns)} if md.num_row_groups else {}
    parts: list[tuple[NDArray[np.int64], pa.Table, NDArray[np.int32]]] = []
    start = 0
    for g in range(md.num_row_groups):
        n = md.row_group(g).num_rows
        if len(spans) and _may_hold(md, g, leaves, cameras, spans):
            t = det.read_row_group(g, columns=WINDOW_COLUMNS)
            tally.row_groups += 1
            tally.rows += n
            code = _camera_codes(t.column("camera"), cameras, game)
            keep = np.flatnonzero(_in_spans(code, t.column("frame").to_numpy().astype(np.int32), spans))
            if len(keep):
                parts.append((start + keep, t.take(pa.array(keep)), code[keep]))
        start += n
    rows = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    track = tracks.rows_of(_assigned(assign, rows, det.metadata.num_rows, game), game)

    def col(name: str, dtype: type[np.generic]) -> NDArray[Any]:
        return np.concatenate([p[1].column(name).to_numpy().astype(dtype) for p in parts]) if parts else np.zeros(0, dtype)

    return Detections(camera=np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.int32), frame=col("frame", np.int32),
                      px=col("px", np.float32), py=col("py", np.float32), confidence=col("confidence", np.float32), track=track, team=col("team", np.int8))


def _groups(pf: pq.ParquetFile) -> NDArray[np.int64]:
    """The first row of each row group, and the row count at the end."""
    return np.concatenate([[0], np.cumsum([pf.metadata.row_group(g).num_rows for g in range(pf.num_row_groups)])]).astype(np.int64)


def _assigned(assign: pq.ParquetFile, rows: NDArray[np.int64], n_det: int, game: str) -> NDArray[np.int64]:
    """The track id of detections ``rows`` (increasing), read from the row groups holding them."""
    bounds = _groups(assign)
    group = np.searchsorted(bounds, rows, "right") - 1
    out = np.empty(len(rows), np.int64)
    for g in np.unique(group).tolist():
        at = np.flatnonzero(group == g)
        t = assign.read_row_group(g, columns=["detection", "track_id"]).take(pa.array(rows[at] - bounds[g]))
        _check_order(t.column("detection").to_numpy().astype(np.int64), rows[at], n_det, game)
        out[at] = t.column("track_id").to_numpy()
    return out
