"""The columns of ``detections.parquet``: its schema, detections as Arrow rows, vectors out.

Contracts:

- :func:`schema` is the table's schema for embedding width ``dim`` and ``vector_dtype``
  (``float32``, or ``float16`` for the ``embedding`` and ``jersey`` columns); docs/layers.md
  describes it.
- :func:`detection_batch` turns the detections of one camera's decoded batch into a record
  batch of that schema, rows in the order :func:`generators.layers.frame_level.infer.detect_and_encode`
  gives them (frame order, most confident first within a frame).
- :func:`vectors` reads a fixed-size-list column back as float32 ``[N, width]``, whichever
  dtype frame-level stored: every reader that computes on vectors goes through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    from numpy.typing import NDArray

    from generators.layers.frame_level.infer import FrameDetections

VectorDtype = Literal["float32", "float16"]
JERSEY_WIDTH = 133  # 3 objectness + 30 digit + 100 whole-number logits


def schema(dim: int, vector_dtype: VectorDtype) -> pa.Schema:
    """The schema of ``detections.parquet`` (and of the chunks' parts)."""
    import pyarrow as pa

    vec = pa.float16() if vector_dtype == "float16" else pa.float32()
    return pa.schema([
        ("frame", pa.int32()), ("camera", pa.string()), ("px", pa.float32()), ("py", pa.float32()), ("confidence", pa.float32()),
        ("embedding", pa.list_(vec, dim)), ("jersey", pa.list_(vec, JERSEY_WIDTH)), ("team_probs", pa.list_(pa.float32(), 3)),
        ("team", pa.int8()),
    ])


def detection_batch(camera: str, found: FrameDetections, target: pa.Schema) -> pa.RecordBatch:
    """The rows of ``found`` (detections of camera ``camera``) as a batch of ``target``."""
    import numpy as np
    import pyarrow as pa

    def vectors_of(a: NDArray[np.float32], name: str) -> pa.FixedSizeListArray:
        kind = target.field(name).type
        flat = np.ascontiguousarray(a, kind.value_type.to_pandas_dtype()).ravel()
        return pa.FixedSizeListArray.from_arrays(pa.array(flat, kind.value_type), kind.list_size)

    n = len(found)
    return pa.RecordBatch.from_arrays([
        pa.array(np.asarray(found.frame, np.int32)),
        pa.array([camera] * n, pa.string()),
        pa.array(np.ascontiguousarray(found.xy[:, 0], np.float32)),
        pa.array(np.ascontiguousarray(found.xy[:, 1], np.float32)),
        pa.array(np.asarray(found.confidence, np.float32)),
        vectors_of(found.embedding, "embedding"),
        vectors_of(found.jersey, "jersey"),
        vectors_of(found.team_probs, "team_probs"),
        pa.array(found.team_probs.argmax(axis=1).astype(np.int8) if n else np.zeros(0, np.int8)),
    ], schema=target)


def vectors(column: pa.ChunkedArray | pa.Array) -> NDArray[np.float32]:
    """A fixed-size-list column (float32 or float16 values) as a float32 ``[N, width]`` array."""
    import numpy as np
    import pyarrow as pa

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    width = arr.type.list_size
    if len(arr) == 0:
        return np.zeros((0, width), np.float32)
    flat = arr.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat, np.float32).reshape(len(arr), width)
