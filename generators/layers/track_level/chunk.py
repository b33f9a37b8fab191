"""One chunk of a track-level task: run a camera's tracker state over a range of detection rows.

The chunk reads only the row groups of frame-level's ``detections.parquet`` that overlap its
rows, one at a time, and only the columns the tracker needs. A frame can straddle two row
groups: its first rows wait for the rest (the state consumes whole frames). Each row group's
assignments (detection row, frame, camera, internal track uid) are written as they are made,
so memory holds one row group and the tracker's state, whatever the chunk's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from artifacts.errors import ContractError
from generators.layers.track_level.plan import SORTED_FIX, IntArray
from generators.models.tracking.state import TrackerState

COLUMNS = ["frame", "camera", "px", "py", "confidence", "embedding", "team_probs"]
# A chunk's assignments: ``uid`` is the tracker state's internal uid (-1: in no track); the
# merge maps it to the final track id once the camera's last chunk is done.
CHUNK_SCHEMA = pa.schema([("detection", pa.int64()), ("frame", pa.int32()), ("camera", pa.string()), ("uid", pa.int64())])
UNUSABLE = "non-finite foot-point, confidence, embedding or team_probs, or a negative team probability"
UNUSABLE_FIX = "fix the detector or crop encoder that wrote them and rebuild frame-level"


@dataclass
class Counts:
    """What a chunk saw: its detections, and those it could not use (with a few row numbers)."""

    rows: int = 0
    unusable: int = 0
    examples: list[str] = field(default_factory=list)


def embedding_dim(pf: pq.ParquetFile, what: str) -> int:
    """The width of the ``embedding`` column (a fixed-size list)."""
    kind = pf.schema_arrow.field("embedding").type
    if not isinstance(kind, pa.FixedSizeListType):
        raise ContractError(what, str(kind), "column embedding is not a fixed-size list", "rebuild frame-level")
    return int(kind.list_size)


def _vectors(col: pa.ChunkedArray, width: int) -> npt.NDArray[np.float32]:
    """A fixed-size list column as float32 [N, width] (frame-level may store float16)."""
    flat = col.combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat, np.float32).reshape(len(col), width)


def run_rows(
    pf: pq.ParquetFile,
    starts: IntArray,
    camera: str,
    start: int,
    stop: int,
    state: TrackerState,
    min_confidence: float,
    writer: pq.ParquetWriter,
    what: str,
) -> Counts:
    """Feed rows ``start``..``stop`` (whole frames of ``camera``) to ``state`` and write their
    assignments with ``writer``. Rows the tracker cannot use get uid -1 and are counted."""
    counts = Counts()
    dim = state.embedding_dim or 0
    held: pa.Table | None = None  # the rows of a frame that goes on in the next row group
    held_row = start
    first = int(np.searchsorted(starts, start, side="right")) - 1
    last = int(np.searchsorted(starts, stop, side="left"))
    for g in range(first, last):
        lo, hi = max(start, int(starts[g])), min(stop, int(starts[g + 1]))
        if hi <= lo:
            continue
        part = pf.read_row_group(g, columns=COLUMNS).slice(lo - int(starts[g]), hi - lo)
        row = lo
        if held is not None:
            part, row = pa.concat_tables([held, part]), held_row
        if hi < stop and part.num_rows:  # keep the last frame back: it may go on in the next group
            frames = part.column("frame").to_numpy()
            keep = int(np.searchsorted(frames, frames[-1], side="left"))
            held, held_row = part.slice(keep), row + keep
            part = part.slice(0, keep)
        else:
            held = None
        if part.num_rows:
            _track(part, row, camera, dim, state, min_confidence, writer, counts, what)
    return counts


def _track(part: pa.Table, row: int, camera: str, dim: int, state: TrackerState, min_confidence: float,
           writer: pq.ParquetWriter, counts: Counts, what: str) -> None:
    n = part.num_rows
    cams = part.column("camera")
    if cams.null_count or not pc.all(pc.equal(cams, camera)).as_py():
        raise ContractError(what, f"rows {row}-{row + n - 1}", f"hold detections of cameras other than {camera}, which the plan found there", SORTED_FIX)
    frame = part.column("frame").to_numpy()
    xy = np.stack([part.column("px").to_numpy(), part.column("py").to_numpy()], axis=1).astype(np.float64)
    conf = part.column("confidence").to_numpy()
    emb = _vectors(part.column("embedding"), dim)
    probs3 = _vectors(part.column("team_probs"), 3)
    # The crop encoder scores team 0, team 1, referee; the category head adds "other".
    probs = np.concatenate([probs3, np.zeros((n, 1), probs3.dtype)], axis=1)
    usable = np.isfinite(xy).all(axis=1) & np.isfinite(conf) & np.isfinite(emb).all(axis=1) & np.isfinite(probs).all(axis=1) & (probs >= 0).all(axis=1)
    bad = np.flatnonzero(~usable)
    counts.rows += n
    counts.unusable += len(bad)
    if len(counts.examples) < 5:
        counts.examples += [f"row {row + int(i)}" for i in bad[: 5 - len(counts.examples)]]
    sel = np.flatnonzero(usable & (conf >= min_confidence))
    uid = np.full(n, -1, np.int64)
    if len(sel):
        try:
            uid[sel] = state.feed(frame[sel], xy[sel], conf[sel], emb[sel], probs[sel])
        except ValueError as exc:  # frames out of order: the plan's scan should have refused them
            raise ContractError(what, f"rows {row}-{row + n - 1}", str(exc), SORTED_FIX) from None
    writer.write_table(pa.table({
        "detection": pa.array(np.arange(row, row + n, dtype=np.int64)),
        "frame": part.column("frame").cast(pa.int32()),
        "camera": cams.cast(pa.string()),
        "uid": pa.array(uid),
    }, schema=CHUNK_SCHEMA))
