"""Heatmaps on disk: a zarr v3 array of records, one chunk per shot, and a fast batch reader.

``heatmaps.zarr`` is a zarr v3 array of ``uint8`` ``[n, RECORD_BYTES]``, chunks ``[1, RECORD_BYTES]``
(one per shot, in ``shots.parquet``'s ``heatmap_row`` order), codecs ``bytes`` + ``zstd``, every
chunk written (``write_empty_chunks``). Each row is one :data:`~generators.layers.heatmaps.layout.RECORD`;
any zarr v3 reader can open it, and :func:`~generators.layers.heatmaps.codec.decode` turns rows into the
float32 heatmaps. Its attributes name the layout version, the record fields and the channels.

:class:`HeatmapArray` reads batches of shots without zarr's per-call machinery (about 1 ms a
call here): it checks the array's ``zarr.json`` against the layout it knows once, then reads
the chunk objects named by the zarr v3 default key encoding (``c/<row>/0``) and decompresses
them into a reused record buffer. An array written otherwise is refused with the difference,
never read by guesswork; a missing chunk is a corrupt artifact, not a zero heatmap.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray

from artifacts.errors import StoreError
from generators.layers.heatmaps.codec import decode
from generators.layers.heatmaps.layout import CHANNEL_NAMES, LAYOUT_VERSION, RECORD, RECORD_BYTES, SHAPE, field_layout

if TYPE_CHECKING:
    import zarr
    from fsspec import AbstractFileSystem

    from artifacts.layers import ArtifactReader

ZSTD_LEVEL: Final = 6  # measured: 0.53% of raw float32 a shot, against 0.65% at level 3; compresses 10,000 shots/s
FORMAT: Final = "shot-heatmap-records"


def attributes(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The attributes every heatmap array carries (plus ``extra``)."""
    return {
        "format": FORMAT, "layout": LAYOUT_VERSION, "shape": list(SHAPE), "channels": list(CHANNEL_NAMES),
        "record": field_layout(),
        **(extra or {}),
    }


def create_array(path: Path, rows: int, extra: dict[str, Any] | None = None) -> zarr.Array[Any]:
    """An empty heatmap array of ``rows`` records at ``path``, to fill with :func:`write_rows`
    (a piece at a time: the layer's merge streams its chunks into it)."""
    import zarr
    from zarr.codecs import ZstdCodec

    return zarr.create_array(
        store=str(path), shape=(rows, RECORD_BYTES), dtype="uint8", chunks=(1, RECORD_BYTES), zarr_format=3,
        compressors=ZstdCodec(level=ZSTD_LEVEL), config={"write_empty_chunks": True}, attributes=attributes(extra),
    )


def write_rows(arr: zarr.Array[Any], start: int, records: NDArray[np.void]) -> None:
    """Write ``records`` (dtype ``RECORD``) as rows ``start ..`` of a heatmap array."""
    if len(records):
        arr[start : start + len(records)] = np.ascontiguousarray(records).view(np.uint8).reshape(len(records), RECORD_BYTES)


def write_array(path: Path, records: NDArray[np.void], extra: dict[str, Any] | None = None) -> None:
    """Write ``records`` (dtype ``RECORD``) as a heatmap array at ``path`` (see the module doc)."""
    write_rows(create_array(path, len(records), extra), 0, records)


def _expected(meta: dict[str, Any]) -> list[str]:
    """What differs between ``meta`` (a zarr.json) and the layout this reader decodes."""
    want = {
        "zarr_format": 3, "node_type": "array", "data_type": "uint8",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [1, RECORD_BYTES]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
    }
    diff = [f"{k} {meta.get(k)!r} (expected {v!r})" for k, v in want.items() if meta.get(k) != v]
    codecs = [c.get("name") for c in meta.get("codecs", [])]
    if codecs != ["bytes", "zstd"]:
        diff.append(f"codecs {codecs} (expected ['bytes', 'zstd'])")
    shape = meta.get("shape", [])
    if len(shape) != 2 or shape[1] != RECORD_BYTES:
        diff.append(f"shape {shape} (expected [n, {RECORD_BYTES}])")
    attrs = meta.get("attributes", {})
    for k in ("format", "layout"):
        if attrs.get(k) != attributes()[k]:
            diff.append(f"attribute {k} {attrs.get(k)!r} (expected {attributes()[k]!r})")
    return diff


class HeatmapArray:
    """One game's heatmap array, read by rows. ``location`` is a local directory, or a path in
    ``fs`` (any fsspec filesystem, e.g. S3) when given."""

    def __init__(self, location: str | Path, fs: AbstractFileSystem | None = None) -> None:
        from numcodecs import Zstd

        self.location = str(location).rstrip("/")
        self._fs = fs
        try:
            raw = self._read(f"{self.location}/zarr.json")
            meta = json.loads(raw)
        except (OSError, ValueError) as e:
            raise StoreError("heatmap array", self.location, f"has no readable zarr.json ({e})", "rebuild the shot-heatmaps artifact") from e
        diff = _expected(meta)
        if diff:
            raise StoreError("heatmap array", self.location, "is not in the layout this reader decodes: " + "; ".join(diff),
                             "rebuild it with this version of shot-heatmaps, or read it with the matching version")
        self.attributes: dict[str, Any] = meta["attributes"]
        self.shots = int(meta["shape"][0])
        self._zstd = Zstd()

    def __len__(self) -> int:
        return self.shots

    def _read(self, path: str) -> bytes:
        if self._fs is not None:
            data: bytes = self._fs.cat_file(path)
            return data
        with open(path, "rb") as f:
            return f.read()

    def _chunk(self, row: int) -> str:
        return f"{self.location}/c/{row}/0"

    def records(self, rows: Sequence[int] | NDArray[np.integer], out: NDArray[np.void] | None = None) -> NDArray[np.void]:
        """The records of ``rows`` (any order, repeats allowed), into ``out`` when given."""
        idx = np.asarray(rows, dtype=np.int64).reshape(-1)
        rec = np.empty(len(idx), RECORD) if out is None else out[: len(idx)]
        self.fill(idx, rec.view(np.uint8).reshape(len(idx), RECORD_BYTES), np.arange(len(idx)))
        return rec

    def fill(self, rows: NDArray[np.int64], raw: NDArray[np.uint8], at: NDArray[np.int64]) -> None:
        """Decompress the chunk of ``rows[k]`` into ``raw[at[k]]`` (``raw``: ``[B, RECORD_BYTES]`` uint8)."""
        if len(rows) and (rows.min() < 0 or rows.max() >= self.shots):
            bad = int(rows[(rows < 0) | (rows >= self.shots)][0])
            raise IndexError(f"heatmap row {bad} out of range for {self.location} ({self.shots} shots)")
        paths = [self._chunk(int(r)) for r in rows]
        try:
            blobs = self._fetch(paths)
        except (OSError, KeyError) as e:
            raise StoreError("heatmap array", self.location, f"lacks a chunk ({e})", "the artifact is corrupt: verify and rebuild it") from e
        for path, k, blob in zip(paths, at.tolist(), blobs, strict=True):
            try:
                data = self._zstd.decode(blob)
            except RuntimeError as e:
                raise StoreError("heatmap chunk", path, f"does not decompress ({e})", "the artifact is corrupt: verify and rebuild it") from e
            if len(data) != RECORD_BYTES:
                raise StoreError("heatmap chunk", path, f"decompresses to {len(data)} bytes, not one {RECORD_BYTES}-byte record",
                                 "the artifact is corrupt: verify and rebuild it")
            raw[k] = np.frombuffer(data, np.uint8)

    def _fetch(self, paths: list[str]) -> list[bytes]:
        if self._fs is None:
            out: list[bytes] = []
            for p in paths:
                with open(p, "rb") as f:
                    out.append(f.read())
            return out
        got = self._fs.cat(paths, on_error="raise")
        return [got[p] for p in paths]

    def read(self, rows: Sequence[int] | NDArray[np.integer], out: NDArray[np.float32] | None = None) -> NDArray[np.float32]:
        """Heatmaps ``[len(rows), 16, 14, 14, 18]`` float32, equal bit for bit to what was computed."""
        return decode(self.records(rows), out, where=self.location)


def open_artifact(reader: ArtifactReader, name: str = "heatmaps.zarr") -> HeatmapArray:
    """The heatmap array of a committed ``shot-heatmaps`` artifact, on any store."""
    return HeatmapArray(reader.location(name), None if reader.store.local else reader.store.fs)


class HeatmapSet:
    """Several games' heatmap arrays as one sequence of shots: shot ``k`` of array ``a`` has the
    global index ``offsets[a] + k``. Batches may mix games; buffers are reused per batch size."""

    def __init__(self, arrays: Sequence[HeatmapArray]) -> None:
        self.arrays = list(arrays)
        sizes = np.array([len(a) for a in self.arrays], np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])
        self._records: NDArray[np.void] = np.empty(0, RECORD)
        self._out: dict[int, NDArray[np.float32]] = {}

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def locate(self, index: Sequence[int] | NDArray[np.integer]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """``(array, row)`` of global shot indices."""
        idx = np.asarray(index, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"shot index out of range 0-{len(self) - 1}")
        a = np.searchsorted(self.offsets, idx, "right") - 1
        return a, idx - self.offsets[a]

    def read(self, index: Sequence[int] | NDArray[np.integer], copy: bool = False) -> NDArray[np.float32]:
        """Heatmaps of global ``index`` in that order. The result lives in a buffer reused by the
        next call of the same batch size unless ``copy``."""
        arr, row = self.locate(index)
        n = len(row)
        if len(self._records) < n:
            self._records = np.empty(n, RECORD)
        rec = self._records[:n]
        raw = rec.view(np.uint8).reshape(n, RECORD_BYTES)
        for a in np.unique(arr).tolist():
            sel = np.flatnonzero(arr == a)
            self.arrays[a].fill(row[sel], raw, sel)
        out = self._out.get(n)
        if out is None:
            out = self._out[n] = np.empty((n, *SHAPE), np.float32)
        decode(rec, out, where="heatmap set")
        return out.copy() if copy else out
