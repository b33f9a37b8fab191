"""The chunks of a track-level task: frame-level's detection rows of each camera, cut into
ranges of whole frames of about ``size`` detections each, at row-group boundaries where that
is near enough.

frame-level writes ``detections.parquet`` sorted by (camera, frame) in row groups of 65,536
rows, so a camera is one contiguous range of rows and a chunk is a range of rows: it reads
only the row groups it overlaps. The plan is made from a scan of the ``camera`` and ``frame``
columns only, one row group at a time (memory does not grow with the game), which also
checks the sort order the chunks rely on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from artifacts.errors import ConfigError, ContractError

IntArray = npt.NDArray[np.int64]

SORTED_FIX = "rebuild frame-level: its detections.parquet is sorted by camera, then frame (docs/layers.md)"


class ChunkSpec(BaseModel):
    """A chunk's ``spec``: rows ``start``..``stop`` (excluded) of one camera (``""`` and 0..0
    for the one chunk of a game without detections)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera: str
    start: int = Field(ge=0)
    stop: int = Field(ge=0)


@dataclass(frozen=True)
class Piece:
    """Rows ``start`` to ``stop`` (excluded) of the detections: whole frames of one camera."""

    camera: str
    start: int
    stop: int
    first_frame: int
    last_frame: int


def row_group_starts(pf: pq.ParquetFile) -> IntArray:
    """The first row of each row group, then the number of rows: [groups + 1]."""
    meta = pf.metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)


def chunk_end_goal(starts: IntArray, start: int, size: int) -> int:
    """Where a chunk beginning at row ``start`` should end, before moving on to the next
    frame boundary: the row-group boundary nearest ``start + size`` when it is within
    ``size / 2`` of it (so that chunks read whole row groups), else ``start + size``."""
    target = start + size
    i = int(np.searchsorted(starts, target))
    near = [int(g) for g in starts[max(i - 1, 0) : i + 1] if g > start]
    if near:
        best = min(near, key=lambda g: abs(g - target))
        if abs(best - target) <= size // 2:
            return best
    return target


@dataclass
class _Cutter:
    """The pieces made so far, and the one being made."""

    starts: IntArray
    size: int
    what: str
    pieces: list[Piece] = field(default_factory=list)
    camera: str | None = None
    start: int = 0
    first_frame: int = 0
    goal: int = 0
    seen: set[str] = field(default_factory=set)

    def close(self, row: int, last_frame: int) -> None:
        if self.camera is not None and row > self.start:
            self.pieces.append(Piece(self.camera, self.start, row, self.first_frame, last_frame))

    def begin(self, row: int, frame: int) -> None:
        self.start, self.first_frame = row, frame
        self.goal = chunk_end_goal(self.starts, row, self.size)

    def new_camera(self, camera: str, row: int, frame: int, last_frame: int) -> None:
        if camera in self.seen:
            raise ContractError(self.what, row, f"row of camera {camera} comes after other cameras' rows: the rows are not sorted by camera", SORTED_FIX)
        self.close(row, last_frame)
        self.seen.add(camera)
        self.camera = camera
        self.begin(row, frame)


def cut(pf: pq.ParquetFile, size: int, what: str) -> list[Piece]:
    """The pieces of ``pf``'s rows, in row order, each of one camera and of whole frames, of
    about ``size`` rows. ``what`` names the file in errors. Raises :class:`ContractError` when
    the rows are not sorted by (camera, frame) or a camera or frame is null."""
    if size < 1:
        raise ConfigError("chunk size of track-level", size, "is not a positive number of detections", "set [chunk_size] track-level to 1 or more in artifacts.toml")
    starts = row_group_starts(pf)
    cutter = _Cutter(starts, size, what)
    prev_camera: str | None = None
    prev_frame = 0
    for g in range(len(starts) - 1):
        t = pf.read_row_group(g, columns=["camera", "frame"])
        n, base = t.num_rows, int(starts[g])
        if n == 0:
            continue
        cams_col, frames_col = t.column("camera"), t.column("frame")
        if cams_col.null_count or frames_col.null_count:
            raise ContractError(what, f"row group {g}", "has null cameras or frames", SORTED_FIX)
        cams = cams_col.combine_chunks()
        if pa.types.is_dictionary(cams.type):
            cams = cams.cast(pa.string())
        frames = frames_col.to_numpy().astype(np.int64)
        first_camera = cams[0].as_py()
        same = np.empty(n, bool)
        same[0] = first_camera == prev_camera
        same[1:] = pc.equal(cams[1:], cams[:-1]).to_numpy(zero_copy_only=False)
        before = np.r_[prev_frame, frames[:-1]]  # the frame of the row before each row
        back = np.flatnonzero(same & (frames < before))
        if len(back):
            i = int(back[0])
            raise ContractError(what, base + i, f"row has frame {frames[i]} after frame {before[i]} of camera {cams[i].as_py()}: the rows are not sorted by frame", SORTED_FIX)
        frame_starts = np.flatnonzero(~same | (frames != before))
        camera_starts = np.flatnonzero(~same).tolist()
        bounds = sorted({0, *camera_starts}) + [n]
        for lo, hi in pairwise(bounds):
            if not same[lo]:
                cutter.new_camera(str(cams[lo].as_py()), base + lo, int(frames[lo]), int(before[lo]))
            while cutter.goal < base + hi:
                k = int(np.searchsorted(frame_starts, max(cutter.goal - base, lo)))
                if k == len(frame_starts) or frame_starts[k] >= hi:
                    break  # the frame at the goal goes on past this camera's rows in this group
                j = int(frame_starts[k])
                cutter.close(base + j, int(before[j]))
                cutter.begin(base + j, int(frames[j]))
        prev_camera, prev_frame = cams[n - 1].as_py(), int(frames[-1])
    cutter.close(int(starts[-1]), prev_frame)
    return cutter.pieces
