"""Which detections a shot's window sees, and which of its patches each one covers.

A detection's footprint is a box standing on its foot-point ``(px, py)``: ``h`` pixels high
(:func:`generators.layers.heatmaps.inputs.footprint_height`, the crop encoder's default figure height)
and ``0.4 h`` wide, centred on ``px``: ``x in [px - 0.2 h, px + 0.2 h]``, ``y in [py - h, py]``.
It covers every patch of the window it intersects with positive area (touching a patch's edge
does not count): columns ``floor(a / 16)`` to ``ceil(b / 16) - 1`` for the box's ``x`` extent
``[a, b]`` in window pixels, clipped to the grid, and rows likewise. A detection is *in* a shot's
window when it is on the shot's camera, in one of its 16 frames and covers at least one patch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from generators.layers.heatmaps.inputs import FOOTPRINT_ASPECT, Detections, Windows
from generators.layers.shots.window import FRAMES, GRID, PATCH


@dataclass(frozen=True)
class Pairs:
    """``P`` (shot, detection) pairs, grouped by shot in increasing order: the detection row,
    its frame within the window (0-15), its foot x in window pixels and the patch rectangle
    ``r0..r1 x c0..c1`` (inclusive, within 0-13) its footprint covers."""

    shot: NDArray[np.intp]
    det: NDArray[np.intp]
    t: NDArray[np.intp]
    wx: NDArray[np.float64]
    r0: NDArray[np.intp]
    r1: NDArray[np.intp]
    c0: NDArray[np.intp]
    c1: NDArray[np.intp]

    def __len__(self) -> int:
        return int(self.shot.shape[0])


def _ranges(lo: NDArray[np.intp], hi: NDArray[np.intp]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """For ranges ``[lo_k, hi_k)``: the range number and the value of every member, concatenated."""
    counts = hi - lo
    owner = np.repeat(np.arange(len(lo), dtype=np.intp), counts)
    starts = np.cumsum(counts) - counts
    values = np.arange(int(counts.sum()), dtype=np.intp) - np.repeat(starts - lo, counts)
    return owner, values


def select(det: Detections, win: Windows) -> Pairs:
    """Every (shot, detection) pair whose footprint covers a patch of the shot's window."""
    if len(win) == 0 or len(det) == 0:
        e = np.zeros(0, np.intp)
        return Pairs(e, e, e, np.zeros(0), e, e, e, e)
    span = int(max(int(det.frame.max()), int(win.first_frame.max()) + FRAMES)) + 1
    key = det.camera.astype(np.int64) * span + det.frame
    if bool((np.diff(key) >= 0).all()):
        order = None
        sorted_key = key
    else:
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
    start = win.camera.astype(np.int64) * span + win.first_frame
    lo = np.searchsorted(sorted_key, start, "left").astype(np.intp)
    hi = np.searchsorted(sorted_key, start + FRAMES, "left").astype(np.intp)
    shot, pos = _ranges(lo, hi)
    d = pos if order is None else order[pos].astype(np.intp)
    h = np.asarray(win.footprint_px, np.float64)[win.camera[shot]]
    half = h * (FOOTPRINT_ASPECT / 2)
    # In float64, where a float32 pixel minus an integer corner is exact.
    wx = det.px[d].astype(np.float64) - win.x0[shot]
    wy = det.py[d].astype(np.float64) - win.y0[shot]
    # The box meets the window with positive area when these hold (see the module doc).
    size = GRID * PATCH
    k = np.flatnonzero((wx > -half) & (wx < size + half) & (wy > 0) & (wy < size + h))
    shot, d, h, half, wx64, wy64 = shot[k], d[k], h[k], half[k], wx[k], wy[k]
    r0 = np.maximum(np.floor((wy64 - h) / PATCH).astype(np.intp), 0)
    r1 = np.minimum(np.ceil(wy64 / PATCH).astype(np.intp) - 1, GRID - 1)
    c0 = np.maximum(np.floor((wx64 - half) / PATCH).astype(np.intp), 0)
    c1 = np.minimum(np.ceil((wx64 + half) / PATCH).astype(np.intp) - 1, GRID - 1)
    ok = (r1 >= r0) & (c1 >= c0)  # rounding at the very edge can leave an empty rectangle
    if not ok.all():
        k = np.flatnonzero(ok)
        shot, d, wx64, r0, r1, c0, c1 = shot[k], d[k], wx64[k], r0[k], r1[k], c0[k], c1[k]
    return Pairs(shot=shot, det=d, t=(det.frame[d] - win.first_frame[shot]).astype(np.intp), wx=wx64, r0=r0, r1=r1, c0=c0, c1=c1)
