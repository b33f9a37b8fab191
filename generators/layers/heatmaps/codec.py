"""Stored records back to float32 heatmaps, exactly: the inverse of ``rasterise``.

Channels 13-16 are recomputed by the very routine the rasteriser ran
(:func:`~generators.layers.heatmaps.layout.origin_planes`) and broadcast over the frames; only then do
the cells with a non-zero mask (a fifth or so) get channels 0-12, looked up from the mask's two
bytes, and 17, copied. Every value is
therefore equal, bit for bit, to what was computed. A record with a confidence on a cell its
mask leaves empty, or non-zero reserved bytes, is corrupt and refused.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from artifacts.errors import StoreError
from generators.layers.heatmaps.layout import (
    CELLS,
    CHANNELS,
    CONFIDENCE,
    DISTANCE,
    MASK_CHANNELS,
    PATCHES,
    RECORD,
    SHAPE,
    SHOT,
    origin_planes,
)
from generators.layers.shots.window import FRAMES

# Mask channels 0-7 from a mask's low byte and 8-12 from its high byte, as float32 rows.
_LOW = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little").astype(np.float32)
_HIGH = np.ascontiguousarray(_LOW[:32, : MASK_CHANNELS - 8])
_LOW.setflags(write=False)
_HIGH.setflags(write=False)


def decode(records: NDArray[np.void], out: NDArray[np.float32] | None = None, where: str = "records") -> NDArray[np.float32]:
    """Heatmaps ``[B, 16, 14, 14, 18]`` float32 of ``records`` ``[B]`` (dtype ``RECORD``).

    ``out``, when given, is a C-contiguous float32 array of that shape, overwritten and returned
    (reuse one per batch size: writing fresh memory is slow here). ``where`` names the records
    in the error raised for a corrupt one.
    """
    if records.dtype != RECORD:
        raise TypeError(f"records of dtype {records.dtype}; expected the heatmap RECORD")
    b = records.shape[0]
    if out is None:
        out = np.empty((b, *SHAPE), np.float32)
    elif out.shape != (b, *SHAPE) or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(f"out of shape {out.shape} {out.dtype}; expected C-contiguous float32 {(b, *SHAPE)}")
    bits = np.ascontiguousarray(records["bits"]).reshape(-1)
    conf = np.ascontiguousarray(records["conf"]).reshape(-1)
    cells = out.reshape(b * CELLS, CHANNELS)
    # Every cell first gets its shot's origin channels (zeros elsewhere), frame after frame ...
    template = np.zeros((b, 1, PATCHES, CHANNELS), np.float32)
    template[..., SHOT : DISTANCE + 1] = origin_planes(records["origin"]).reshape(b, 1, PATCHES, 4)
    out.reshape(b, FRAMES, PATCHES, CHANNELS)[:] = template
    # ... then the few cells a footprint covers get their mask channels and confidence.
    lit = np.flatnonzero(bits)
    lit_bits = bits[lit]
    cells[lit, :8] = _LOW[lit_bits & 0xFF]
    cells[lit, 8:MASK_CHANNELS] = _HIGH[lit_bits >> 8]
    lit_conf = conf[lit]
    cells[lit, CONFIDENCE] = lit_conf
    if np.count_nonzero(conf) != np.count_nonzero(lit_conf) or (records["reserved"] != 0).any():
        bad = np.flatnonzero(((records["conf"] != 0) & (records["bits"] == 0)).any(axis=1) | (records["reserved"] != 0).any(axis=1))
        raise StoreError(f"heatmap {where}", int(bad[0]), "is corrupt: a confidence without a footprint, or reserved bytes set", "rebuild the shot-heatmaps artifact")
    return out
