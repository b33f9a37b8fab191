"""The heatmap of one shot: its 18 channels, the record it is stored as, the origin channels.

A heatmap is float32 ``[FRAMES, GRID, GRID, CHANNELS]`` = ``[16, 14, 14, 18]`` over the shot's
window (``generators.layers.shots.window``); patch ``(i, j)`` covers window pixels
``x in [16 j, 16 j + 16)``, ``y in [16 i, 16 i + 16)``. Channels (seed 000, layout ``"1"``):

==== ================= ==============================================================
0-4  O1-O5             offensive players in slot order (``slots``), 1.0 where present
5-9  D1-D5             defensive players in slot order
10   offense_unknown   other offensive tracks, and untracked detections of that team
11   defense_unknown   the same for the defense
12   non_player        referee / other tracks, untracked detections scored referee
13   shot              1.0 in the one patch holding the shot origin
14   shot_x            origin's x within that patch, 0 (left edge) to 1; 0 elsewhere
15   shot_y            origin's y within that patch, 0 (top edge) to 1; 0 elsewhere
16   distance          min(d / 128, 1), d from the patch centre to the origin in pixels
17   confidence        largest detection confidence over the patch, 0 where none
==== ================= ==============================================================

Channels 13-16 depend on the origin alone (constant over the frames) and are computed by
:func:`origin_planes`, the one float32 routine both the rasteriser and every reader run, so a
decoded heatmap equals the computed one bit for bit.

The stored form of a shot is one :data:`RECORD` (18,832 bytes before compression, a few hundred
after): the origin, a ``uint16`` bitmask per (frame, row, column) cell (bit ``k`` = channel ``k``
for ``k`` in 0-12) and channel 17 per cell, which is zero wherever the mask is (a confidence
comes only with a footprint); zstd takes the zero runs. Bump :data:`LAYOUT_VERSION` whenever a
channel's meaning or this record changes.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

from generators.layers.shots.window import FRAMES, GRID, PATCH

LAYOUT_VERSION: Final = "1"
CHANNEL_NAMES: Final = (
    "O1", "O2", "O3", "O4", "O5", "D1", "D2", "D3", "D4", "D5",
    "offense_unknown", "defense_unknown", "non_player", "shot", "shot_x", "shot_y", "distance", "confidence",
)
CHANNELS: Final = len(CHANNEL_NAMES)  # 18
OFFENSE_UNKNOWN: Final = 10
DEFENSE_UNKNOWN: Final = 11
NON_PLAYER: Final = 12
MASK_CHANNELS: Final = 13  # channels 0-12 live in the bitmask
SHOT, SHOT_X, SHOT_Y, DISTANCE, CONFIDENCE = 13, 14, 15, 16, 17
SLOTS: Final = 5
PATCHES: Final = GRID * GRID  # 196 patches per frame
CELLS: Final = FRAMES * PATCHES  # 3136 (frame, patch) cells per shot
DISTANCE_SCALE_PX: Final = 128.0
SHAPE: Final = (FRAMES, GRID, GRID, CHANNELS)

RECORD: Final = np.dtype([
    ("origin", "<f4", (2,)),  # shot origin (x, y) in window pixels, float32 as every reader sees it
    ("reserved", "<u4", (2,)),  # zero
    ("bits", "<u2", (CELLS,)),  # channels 0-12 per (frame, row, column) cell, bit k = channel k
    ("conf", "<f4", (CELLS,)),  # channel 17 per cell
])
RECORD_BYTES: Final = RECORD.itemsize  # 18,832


def field_offset(name: str) -> int:
    """Byte offset of field ``name`` in a :data:`RECORD`."""
    fields = RECORD.fields
    assert fields is not None
    return int(fields[name][1])


def field_layout() -> list[list[object]]:
    """``[name, dtype, shape]`` of every field of a :data:`RECORD`, for the array's attributes."""
    fields = RECORD.fields
    assert fields is not None and RECORD.names is not None
    return [[name, fields[name][0].base.str, list(fields[name][0].shape)] for name in RECORD.names]

_F32 = np.float32
_CENTRES = ((np.arange(GRID, dtype=_F32) + _F32(0.5)) * _F32(PATCH)).astype(_F32)


def origin_planes(origin: NDArray[np.float32]) -> NDArray[np.float32]:
    """Channels 13-16 ``[S, 14, 14, 4]`` float32 of origins ``[S, 2]`` (x, y in window pixels).

    The patch holding the origin is ``floor(o / 16)`` clipped to 0-13 on each axis; its sub-patch
    position ``(o - 16 j) / 16`` is clipped to [0, 1] (an origin on the window's far edge stays in
    the last patch). The distance is measured from each patch centre ``16 j + 8``. Every step is
    element-wise float32, so any batching of the same origins gives the same bits.
    """
    o = np.ascontiguousarray(origin, dtype=_F32).reshape(-1, 2)
    n = o.shape[0]
    ox, oy = o[:, 0], o[:, 1]
    out = np.zeros((n, GRID, GRID, 4), dtype=_F32)
    j = np.clip(np.floor(ox / _F32(PATCH)), 0, GRID - 1).astype(np.intp)
    i = np.clip(np.floor(oy / _F32(PATCH)), 0, GRID - 1).astype(np.intp)
    rows = np.arange(n)
    out[rows, i, j, 0] = 1.0
    out[rows, i, j, 1] = np.clip((ox - j.astype(_F32) * _F32(PATCH)) / _F32(PATCH), _F32(0), _F32(1))
    out[rows, i, j, 2] = np.clip((oy - i.astype(_F32) * _F32(PATCH)) / _F32(PATCH), _F32(0), _F32(1))
    dx = _CENTRES[None, None, :] - ox[:, None, None]
    dy = _CENTRES[None, :, None] - oy[:, None, None]
    d = np.sqrt(dx * dx + dy * dy)
    out[..., 3] = np.minimum(d / _F32(DISTANCE_SCALE_PX), _F32(1))
    return out
