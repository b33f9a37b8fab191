"""The ``frame-level`` layer: detections and crop-encoder features from a game's videos.

Per game, one parquet table ``detections.parquet``, one row per detection:

| column | type | meaning |
|---|---|---|
| ``frame`` | int32 | frame index in its video (0-based) |
| ``camera`` | string | the video's source name |
| ``px``, ``py`` | float32 | foot-point in that video's pixels |
| ``confidence`` | float32 | detector confidence, 0-1 |
| ``embedding`` | fixed_size_list<float32 or float16>[D] | appearance embedding, L2-normalised |
| ``jersey`` | fixed_size_list<float32 or float16>[133] | 3 objectness + 30 digit + 100 whole-number logits |
| ``team_probs`` | fixed_size_list<float32>[3] | preliminary team: team 0, team 1, referee |
| ``team`` | int8 | argmax of ``team_probs`` |

Rows are sorted by (camera, frame); row groups of 65,536 rows keep frame-range reads cheap.
``vector_dtype = "float16"`` stores ``embedding`` and ``jersey`` as half floats (readers cast
them with :func:`generators.layers.frame_level.table.vectors`). The detector reads pixels only:
ground truth never reaches this layer.

The layer is chunked (``artifacts.layers.chunks``): the plan cuts each camera into frame
ranges from its container's packets (:mod:`generators.layers.frame_level.index`, nothing
decoded); a chunk seeks to the keyframe before its range, decodes it and writes its detections
batch by batch (``part.parquet``); the merge streams the parts, in plan order (camera, then
frame), into ``detections.parquet``. Ranges start on multiples of ``stride * batch`` frames, so
the detector and the crop encoder see the batches of an unchunked run, and the table is the
same, byte for byte, whatever the chunk size.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar, Literal

from pydantic import Field

from artifacts import BuildContext, Generator, Params, Resources
from artifacts.layers import Chunk, ChunkContext, ChunkPlan, ChunkReader

# numpy, pyarrow, torch and av are imported in the chunk methods: layer discovery must stay cheap.

# Torch's CPU kernels split their reductions by thread, so the last bits of the detector's
# outputs depend on the thread count (measured: px and confidence 1 ulp apart between 1 and 2
# threads). A fixed count keeps the bytes a function of the recipe, wherever the task runs
# (Ray gives a 1-CPU task one thread, local workers get as many as the machine has cores).
INFERENCE_THREADS = 1


@contextmanager
def cpu_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads; restore the previous count after."""
    import torch

    was = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(was)


class FrameLevelParams(Params):
    """Parameters of ``frame-level`` (docs/layers.md); a value equal to its default stays out of the recipe."""

    stride: int = Field(default=1, ge=1)  # run on every stride-th frame
    batch: int = Field(default=16, ge=1)  # frames decoded and detected together
    figure_height_px: float = 0.0  # crop box height when the detector gives none; 0: the encoder's default
    # None: the maximum stored with the detector's weights (100 for the reference detector).
    max_detections: int | None = Field(default=None, ge=1)
    vector_dtype: Literal["float32", "float16"] = "float32"  # of the embedding and jersey columns


PART = "part.parquet"
CAP_FIX = "raise params.frame-level.max_detections"


def batch_frames(p: FrameLevelParams) -> int:
    """Frames that one detector batch spans: chunks start on multiples of it."""
    return p.stride * p.batch


class FrameLevel(Generator):
    name = "frame-level"
    version = "2"  # 2: crops of a whole decoded batch go through the encoder together
    Params = FrameLevelParams
    models = ("detector", "crop_encoder")
    sources = ("kind:video",)
    outputs = ("detections.parquet",)
    contracts: ClassVar[dict[str, str]] = {"embedding_dim": "crop_encoder"}
    # Inference: a GPU where the executor has one (on a Ray cluster without GPUs it runs on a CPU).
    resources = Resources(cpus=1, gpus=1)
    # Frames per chunk (rounded to a multiple of stride * batch): 2,048 frames take one to two
    # minutes on one CPU thread at 640x360 (15-32 frames/s end to end measured, docs/layers.md),
    # seconds on a GPU. A chunk is what a killed build computes again; 430,000 frames make ~210.
    chunk_size = 2048
    description = "detector foot-points and crop-encoder features for every decoded frame"

    def plan_chunks(self, ctx: BuildContext, size: int) -> ChunkPlan:
        """Each camera (in name order) in ranges of about ``size`` frames, from its packets."""
        from generators.layers.frame_level.index import frame_ranges, index_video

        p = ctx.params
        assert isinstance(p, FrameLevelParams)
        step = batch_frames(p)
        size = max(step, round(size / step) * step)
        chunks: list[Chunk] = []
        for name in ctx.source_names():
            url = ctx.source(name).url
            for r in frame_ranges(name, url, index_video(name, url), size):
                chunks.append(Chunk(index=len(chunks), label=f"{name} frames {r.start}-{r.stop - 1}", units=r.stop - r.start,
                                    spec=r.model_dump(mode="json")))
        return ChunkPlan(unit="frames", chunks=chunks)

    def build_chunk(self, ctx: ChunkContext) -> None:
        """Detect and encode the chunk's frames; write them to ``part.parquet`` batch by batch."""
        import numpy as np
        import pyarrow.parquet as pq

        from generators.layers.frame_level.decode import decode_range
        from generators.layers.frame_level.index import RangeSpec
        from generators.layers.frame_level.infer import detect_and_encode
        from generators.layers.frame_level.table import detection_batch, schema

        p = ctx.params
        assert isinstance(p, FrameLevelParams)
        r = RangeSpec.model_validate(ctx.chunk.spec)
        detector = ctx.model("detector").load()
        encoder = ctx.model("crop_encoder").load()
        cap = p.max_detections if p.max_detections is not None else int(detector.max_detections)
        target = schema(int(encoder.embedding_dim), p.vector_dtype)
        url = ctx.source(r.source).url
        frames_done = 0
        capped: list[int] = []
        with pq.ParquetWriter(ctx.output_path(PART), target, compression="zstd") as writer, cpu_threads(INFERENCE_THREADS):
            for idx, frames in decode_range(r.source, url, r.start, r.stop, r.start_pts, r.stop_pts, r.seek_pts, p.stride, p.batch):
                found = detect_and_encode(detector, encoder, frames, np.asarray(idx, np.int32), p.figure_height_px, cap)
                frames_done += len(idx)
                capped += idx[found.per_frame >= cap].tolist()
                if len(found):
                    writer.write_batch(detection_batch(r.source, found, target))
        # Every chunk counts, capped or not, so that the merged signal's total is the game's frames.
        ctx.capped("frames", len(capped), frames_done, f"the detector returned its maximum of {cap} detections", CAP_FIX,
                   [f"{r.source} frame {n}" for n in capped[:5]])

    def merge_chunks(self, ctx: BuildContext, chunks: list[ChunkReader]) -> None:
        """The chunks' parts, in plan order (camera, then frame), as ``detections.parquet``."""
        import pyarrow.parquet as pq

        from generators.layers.frame_level.merge import RowGroupWriter, copy_part
        from generators.layers.frame_level.table import schema

        p = ctx.params
        assert isinstance(p, FrameLevelParams)
        writer: RowGroupWriter | None = None
        for c in chunks:
            with c.open(PART) as f:
                part = pq.ParquetFile(f)
                if writer is None:  # the embedding width is the crop encoder's, as every chunk wrote it
                    dim = int(part.schema_arrow.field("embedding").type.list_size)
                    writer = RowGroupWriter(ctx.output_path("detections.parquet"), schema(dim, p.vector_dtype))
                copy_part(part, writer, f"chunk {c.index} ({c.label}) of frame-level/{ctx.game} {PART}")
        assert writer is not None  # a plan has at least one chunk
        writer.close()
        ctx.record_contract("embedding_dim", int(writer.schema.field("embedding").type.list_size))
