"""The merge of a track-level task: final track ids, the two tables, streamed from the chunks.

Final ids need the whole camera: a track's id is its place in the camera's confirmation order,
and a tentative detection learns its track was confirmed only later. The last chunk of each
camera holds that camera's final tracker state; from it come the uid -> track id map (cameras
numbered consecutively in name order) and one row per track (the category head on the
accumulated ``team_probs`` sums). Then the chunks' assignments are read in plan order, which
is frame-level's row order, one row group at a time, mapped and written out in row groups of
exactly 65,536 rows, so that the file's bytes do not depend on where the chunks were cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from artifacts import BuildContext
from artifacts.errors import BuildError
from artifacts.layers import ChunkReader
from generators.layers.track_level.plan import ChunkSpec, IntArray
from generators.models.tracking.categories import categories_of_sums
from generators.models.tracking.state import TrackerState

ROW_GROUP = 65_536  # as ctx.write_table: frame-range reads touch few groups
ASSIGNMENTS_SCHEMA = pa.schema([("detection", pa.int64()), ("frame", pa.int32()), ("camera", pa.string()), ("track_id", pa.int64())])


class GroupWriter:
    """A parquet writer whose row groups hold exactly ``rows`` rows (the last one fewer),
    whatever the sizes of the tables given to :meth:`write`: equal rows, equal bytes."""

    def __init__(self, path: Path, schema: pa.Schema, rows: int = ROW_GROUP) -> None:
        self._writer = pq.ParquetWriter(path, schema, compression="zstd")
        self._schema = schema
        self._rows = rows
        self._pending: list[pa.Table] = []
        self._n = 0

    def write(self, table: pa.Table) -> None:
        self._pending.append(table)
        self._n += table.num_rows
        while self._n >= self._rows:
            whole = pa.concat_tables(self._pending)
            self._writer.write_table(whole.slice(0, self._rows).combine_chunks(), row_group_size=self._rows)
            rest = whole.slice(self._rows)
            self._pending, self._n = [rest], rest.num_rows

    def close(self) -> None:
        if self._n:
            self._writer.write_table(pa.concat_tables(self._pending).combine_chunks(), row_group_size=self._rows)
        self._writer.close()


@dataclass(frozen=True)
class _Camera:
    """A camera's map from internal uid to final track id: sorted uids and their ids."""

    uids: IntArray
    ids: IntArray

    def track_ids(self, uid: IntArray) -> IntArray:
        if len(self.uids) == 0:
            return np.full(len(uid), -1, np.int64)
        at = np.minimum(np.searchsorted(self.uids, uid), len(self.uids) - 1)
        out: IntArray = np.where(self.uids[at] == uid, self.ids[at], -1).astype(np.int64)
        return out


def merge(ctx: BuildContext, chunks: list[ChunkReader]) -> None:
    """Write ``assignments.parquet`` and ``tracks.parquet`` from the committed chunks."""
    infos: list[ChunkSpec] = []
    for c in chunks:
        with c.open("chunk.json") as f:
            infos.append(ChunkSpec.model_validate_json(f.read()))
    expect = 0
    last_of: dict[str, ChunkReader] = {}
    for c, info in zip(chunks, infos, strict=True):
        if info.start != expect:
            raise BuildError(f"chunk {c.index} of track-level/{ctx.game}", info.start, f"starts at this row, not at row {expect} where the chunk before ended",
                             "remove the key's chunks and build again")
        expect = info.stop
        if info.camera:
            last_of[info.camera] = c
    cameras: dict[str, _Camera] = {}
    rows: dict[str, list[pa.Array]] = {k: [] for k in ("track_id", "camera", "category", "detections", "first_frame", "last_frame")}
    next_id = 0
    for cam in sorted(last_of):
        reader = last_of[cam]
        with reader.open("state.safetensors") as f:
            totals = TrackerState.from_bytes(f.read(), f"tracker state of chunk {reader.index} of track-level/{ctx.game}").totals()
        k = len(totals.uid)
        ids = np.arange(next_id, next_id + k, dtype=np.int64)
        by_uid = np.argsort(totals.uid, kind="stable")
        cameras[cam] = _Camera(totals.uid[by_uid], ids[by_uid])
        rows["track_id"].append(pa.array(ids))
        rows["camera"].append(pa.array([cam] * k, pa.string()))
        rows["category"].append(pa.array(categories_of_sums(totals.sums), pa.string()))
        rows["detections"].append(pa.array(totals.detections))
        rows["first_frame"].append(pa.array(totals.first_frame))
        rows["last_frame"].append(pa.array(totals.last_frame))
        next_id += k

    writer = GroupWriter(ctx.output_path("assignments.parquet"), ASSIGNMENTS_SCHEMA)
    for c, info in zip(chunks, infos, strict=True):
        camera = cameras.get(info.camera, _Camera(np.zeros(0, np.int64), np.zeros(0, np.int64)))
        with c.open("assignments.parquet") as f:
            pf = pq.ParquetFile(f)
            for g in range(pf.num_row_groups):
                part = pf.read_row_group(g)
                writer.write(pa.table({
                    "detection": part.column("detection"),
                    "frame": part.column("frame"),
                    "camera": part.column("camera"),
                    "track_id": pa.array(camera.track_ids(part.column("uid").to_numpy())),
                }, schema=ASSIGNMENTS_SCHEMA))
    writer.close()
    types = {"track_id": pa.int64(), "camera": pa.string(), "category": pa.string(), "detections": pa.int64(), "first_frame": pa.int64(), "last_frame": pa.int64()}
    ctx.write_table("tracks.parquet", pa.table({k: pa.chunked_array(v, types[k]).combine_chunks() for k, v in rows.items()}))
