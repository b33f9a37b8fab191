"""Person crops from foot-points: where the box lies, and resampling it to the encoder's size.

A person stands on the foot-point ``(px, py)``: the crop box is centred on ``px``, reaches
``BOX_BELOW`` figure heights below the foot-point and ``BOX_ABOVE`` above it, and has the crop's
aspect ratio. With the figure height unknown (a detector gives only foot-points) the box uses
a default height, by default ``DEFAULT_HEIGHT_FRACTION`` of the frame's height (40 px in a 360 px
frame, a typical player of the rendered games). Boxes are not clipped: a box partly outside the
frame keeps the person's scale and :func:`extract_crops` pads the outside.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

BOX_ABOVE = 1.10
BOX_BELOW = 0.05
DEFAULT_HEIGHT_FRACTION = 40.0 / 360.0
PAD_VALUE = 0


def crop_boxes(
    px: ArrayLike,
    py: ArrayLike,
    height_px: ArrayLike | None,
    crop_size: tuple[int, int],
    frame_hw: tuple[int, int],
    *,
    default_height_px: float | None = None,
) -> NDArray[np.float32]:
    """Crop boxes ``[N, 4]`` float32 ``(x0, y0, x1, y1)`` in frame pixels for foot-points ``px, py``.

    ``height_px`` is each figure's height in pixels; ``None``, or a NaN or non-positive entry,
    means unknown, and ``default_height_px`` stands in (``None``: ``DEFAULT_HEIGHT_FRACTION`` of
    the frame height ``frame_hw[0]``). ``crop_size`` ``(h, w)`` sets the box's aspect ratio.
    """
    x = np.asarray(px, dtype=np.float64).reshape(-1)
    y = np.asarray(py, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"px and py differ in length: {x.shape[0]} and {y.shape[0]}")
    default = DEFAULT_HEIGHT_FRACTION * frame_hw[0] if default_height_px is None else float(default_height_px)
    if not default > 0:
        raise ValueError(f"default_height_px must be positive, got {default_height_px}")
    if height_px is None:
        h = np.full(x.shape, default)
    else:
        h = np.broadcast_to(np.asarray(height_px, dtype=np.float64).reshape(-1), x.shape)
        h = np.where(np.isfinite(h) & (h > 0), h, default)
    box_h = h * (BOX_ABOVE + BOX_BELOW)
    half_w = box_h * crop_size[1] / crop_size[0] / 2
    return np.stack([x - half_w, y - h * BOX_ABOVE, x + half_w, y + h * BOX_BELOW], axis=1).astype(np.float32)


def extract_crops(frame: NDArray[np.uint8], boxes: NDArray[np.floating], crop_size: tuple[int, int]) -> NDArray[np.uint8]:
    """Resample each box of ``boxes`` ``[N, 4]`` from ``frame`` ``[H, W, 3]`` to ``[N, h, w, 3]`` uint8.

    Bilinear sampling at the centres of a ``crop_size`` ``(h, w)`` grid spread over the box;
    samples outside the frame read ``PAD_VALUE``. Vectorised over boxes and pixels.
    """
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame of shape {frame.shape} {frame.dtype}: expected [H, W, 3] uint8")
    ch, cw = crop_size
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    fh, fw = frame.shape[:2]
    # Continuous sample positions in index space (pixel i has its centre at i + 0.5).
    gx = b[:, 0:1] + (np.arange(cw) + 0.5) * ((b[:, 2:3] - b[:, 0:1]) / cw) - 0.5
    gy = b[:, 1:2] + (np.arange(ch) + 0.5) * ((b[:, 3:4] - b[:, 1:2]) / ch) - 0.5
    # A one-pixel border of padding; indices clamp into it, so far-outside samples read padding.
    padded = np.pad(frame, ((1, 1), (1, 1), (0, 0)), constant_values=PAD_VALUE)
    gx = np.clip(gx, -1.0, fw)
    gy = np.clip(gy, -1.0, fh)
    x0 = np.floor(gx)
    y0 = np.floor(gy)
    ax = (gx - x0).astype(np.float32)[:, None, :, None]
    ay = (gy - y0).astype(np.float32)[:, :, None, None]
    xi0 = x0.astype(np.intp) + 1
    yi0 = y0.astype(np.intp) + 1
    xi1 = np.minimum(xi0 + 1, fw + 1)
    yi1 = np.minimum(yi0 + 1, fh + 1)
    r0, r1 = yi0[:, :, None], yi1[:, :, None]
    c0, c1 = xi0[:, None, :], xi1[:, None, :]
    f32 = np.float32
    top = padded[r0, c0].astype(f32) * (1 - ax) + padded[r0, c1].astype(f32) * ax
    bottom = padded[r1, c0].astype(f32) * (1 - ax) + padded[r1, c1].astype(f32) * ax
    out = top * (1 - ay) + bottom * ay
    crops: NDArray[np.uint8] = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return crops
