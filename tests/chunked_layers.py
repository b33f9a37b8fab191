"""A chunked layer for the engine's tests: ``t-chunked`` splits each video source into chunks
of ``size`` bytes.

Each chunk writes the running sum of its bytes (``part.parquet``: source, offset, value) and
its last sum (``state.json``); with ``carry`` (the default) a chunk continues from the
previous chunk of its source (``after``) and starts from that sum, so a chunked build equals
an unchunked one only if the state is carried right. The merge streams the parts into
``values.parquet`` in plan order.

Behaviour is driven by the source's content and files beside it, never by global state:

* every computed chunk appends ``<game> <index> <pid>`` to ``chunks.log`` beside the games'
  source directories (one small O_APPEND write), so tests count what was computed, where;
* a source containing ``CHUNKFAIL`` fails permanently in the chunk that holds those bytes;
* ``CHUNKFLAKY <n>`` fails transiently in that chunk until ``n`` attempts were made (counted
  in a file beside the source);
* bytes 255 are skipped items (``ctx.skipped``), so that signals add up across chunks.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from artifacts import BuildContext, Generator, Params, TransientError
from artifacts.layers import Chunk, ChunkContext, ChunkPlan, ChunkReader


class ChunkedParams(Params):
    delay_s: float = 0.0  # sleep at the end of every chunk (kill and parallelism tests)
    carry: bool = True  # chunks of a source continue from the previous one


def _read(ctx: BuildContext, name: str) -> bytes:
    with ctx.open_source(name) as f:
        data: bytes = f.read()
    return data


class TChunked(Generator):
    name = "t-chunked"
    version = "1"
    Params = ChunkedParams
    sources = ("kind:video",)
    outputs = ("values.parquet", "summary.json")
    chunk_size = 64

    def plan_chunks(self, ctx: BuildContext, size: int) -> ChunkPlan:
        p = ctx.params
        assert isinstance(p, ChunkedParams)
        chunks: list[Chunk] = []
        for name in ctx.source_names():
            n = len(_read(ctx, name))
            previous = None
            for start in range(0, max(n, 1), size):
                stop = min(n, start + size)
                index = len(chunks)
                chunks.append(Chunk(index=index, label=f"{name} bytes {start}-{stop}", units=stop - start,
                                    spec={"source": name, "start": start, "stop": stop}, after=previous if p.carry else None))
                previous = index
        return ChunkPlan(unit="bytes", chunks=chunks)

    def build_chunk(self, ctx: ChunkContext) -> None:
        import numpy as np
        import pyarrow as pa

        p = ctx.params
        assert isinstance(p, ChunkedParams)
        spec = ctx.chunk.spec
        name, start, stop = str(spec["source"]), int(spec["start"]), int(spec["stop"])  # type: ignore[arg-type]
        whole = _read(ctx, name)
        data = whole[start:stop]
        src = Path(ctx.source(name).url)
        with open(src.parent.parent / "chunks.log", "a") as f:
            f.write(f"{ctx.game} {ctx.chunk.index} {os.getpid()}\n")
        if b"CHUNKFAIL" in data:
            raise ValueError(f"cannot decode {name} at byte {start}: bad packet")
        if b"CHUNKFLAKY" in data:
            need = int(whole[whole.index(b"CHUNKFLAKY") + 11:].split()[0])
            counter = src.with_name(src.name + f".chunk{ctx.chunk.index}.attempts")
            n = int(counter.read_text()) + 1 if counter.exists() else 1
            counter.write_text(str(n))
            if n < need:
                raise TransientError("decoder", name, f"busy on attempt {n}", "retry")
        ctx.skipped("bytes", data.count(b"\xff"), len(data), "byte 255 is reserved", "re-export the source without it", [f"{name}@{start}"])
        carried = 0
        if ctx.chunk.after is not None:
            with ctx.previous().open("state.json") as f:
                carried = int(json.load(f)["sum"])
        values = np.cumsum(np.frombuffer(data, dtype=np.uint8).astype(np.int64)) + carried
        ctx.write_table("part.parquet", pa.table({
            "source": pa.array([name] * len(data), pa.string()),
            "offset": pa.array(np.arange(start, stop, dtype=np.int64)),
            "value": pa.array(values),
        }))
        ctx.output_path("state.json").write_text(json.dumps({"sum": int(values[-1]) if len(values) else carried}))
        time.sleep(p.delay_s)

    def merge_chunks(self, ctx: BuildContext, chunks: list[ChunkReader]) -> None:
        import pyarrow.parquet as pq

        writer: pq.ParquetWriter | None = None
        rows = 0
        for c in chunks:
            part = c.table("part.parquet")
            if writer is None:
                writer = pq.ParquetWriter(ctx.output_path("values.parquet"), part.schema, compression="zstd")
            writer.write_table(part)
            rows += part.num_rows
        assert writer is not None
        writer.close()
        ctx.output_path("summary.json").write_text(json.dumps({"rows": rows}))


CHUNKED = ["chunked_layers:TChunked"]


class TChunkedReader(Generator):
    """Four chunks that each read the upstream ``t-frames`` table (tests of upstream checks)."""

    name = "t-chunked-reader"
    version = "1"
    upstream = ("t-frames",)
    outputs = ("rows.json",)
    chunk_size = 1

    def plan_chunks(self, ctx: BuildContext, size: int) -> ChunkPlan:
        return ChunkPlan(unit="reads", chunks=[Chunk(index=i, label=f"read {i}", units=1) for i in range(4)])

    def build_chunk(self, ctx: ChunkContext) -> None:
        rows = ctx.upstream("t-frames").table("detections.parquet").num_rows
        ctx.output_path("rows.json").write_text(json.dumps(rows))

    def merge_chunks(self, ctx: BuildContext, chunks: list[ChunkReader]) -> None:
        total = 0
        for c in chunks:
            with c.open("rows.json") as f:
                total += int(json.load(f))
        ctx.output_path("rows.json").write_text(json.dumps(total))


CHUNKED_READER = ["chunked_layers:TChunkedReader"]
