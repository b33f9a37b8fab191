"""The ``frame-level`` layer: detections and crop-encoder features from a game's videos.

Per game, one parquet table ``detections.parquet``, one row per detection:

| column | type | meaning |
|---|---|---|
| ``frame`` | int32 | frame index in its video (0-based) |
| ``camera`` | string | the video's source name |
| ``px``, ``py`` | float32 | foot-point in that video's pixels |
| ``confidence`` | float32 | detector confidence, 0-1 |
| ``embedding`` | fixed_size_list<float32>[D] | appearance embedding, L2-normalised |
| ``jersey`` | fixed_size_list<float32>[133] | 3 objectness + 30 digit + 100 whole-number logits |
| ``team_probs`` | fixed_size_list<float32>[3] | preliminary team: team 0, team 1, referee |
| ``team`` | int8 | argmax of ``team_probs`` |

Rows are sorted by (camera, frame); row groups of 65,536 rows keep frame-range reads cheap.
The detector reads pixels only: ground truth never reaches this layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from artifacts import BuildContext, Generator, Params, Resources

# numpy, pyarrow, torch and av are imported in build(): layer discovery must stay cheap.

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
    stride: int = 1
    batch: int = 16
    figure_height_px: float = 0.0  # crop box height when the detector gives none; 0: the encoder's default


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
    description = "detector foot-points and crop-encoder features for every decoded frame"

    def build(self, ctx: BuildContext) -> None:
        import numpy as np
        import pyarrow as pa

        from generators.layers.frame_level.decode import decode_batches
        from generators.layers.frame_level.infer import FrameDetections, detect_and_encode

        p = ctx.params
        assert isinstance(p, FrameLevelParams)
        detector = ctx.model("detector").load()
        encoder = ctx.model("crop_encoder").load()
        parts: list[tuple[str, FrameDetections]] = []
        with cpu_threads(INFERENCE_THREADS):
            for name in ctx.source_names():
                url = ctx.source(name).url
                for frames_idx, frames in decode_batches(name, url, p.stride, p.batch):
                    found = detect_and_encode(detector, encoder, frames, np.asarray(frames_idx, np.int32), p.figure_height_px)
                    if len(found):
                        parts.append((name, found))
        dim = int(encoder.embedding_dim)

        def cat(field: str, width: int | None = None, dtype: Any = np.float32) -> Any:
            if parts:
                return np.concatenate([getattr(f, field) for _, f in parts]).astype(dtype)
            return np.zeros((0, width) if width else (0,), dtype)

        def vectors(a: Any, width: int) -> pa.FixedSizeListArray:
            return pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(a, np.float32).ravel()), width)

        xy = cat("xy", 2)
        team_probs = cat("team_probs", 3)
        table = pa.table(
            {
                "frame": pa.array(cat("frame", dtype=np.int32)),
                "camera": pa.array([name for name, f in parts for _ in range(len(f))], pa.string()),
                "px": pa.array(np.ascontiguousarray(xy[:, 0])),
                "py": pa.array(np.ascontiguousarray(xy[:, 1])),
                "confidence": pa.array(cat("confidence")),
                "embedding": vectors(cat("embedding", dim), dim),
                "jersey": vectors(cat("jersey", 133), 133),
                "team_probs": vectors(team_probs, 3),
                "team": pa.array(team_probs.argmax(axis=1).astype(np.int8) if len(team_probs) else np.zeros(0, np.int8)),
            }
        )
        ctx.write_table("detections.parquet", table)
        ctx.record_contract("embedding_dim", dim)
