"""PNG pictures a person would rather look at than read: a shot's heatmap over its frame, and tracks.

- :func:`heatmap_picture`: the shot's 224x224 window at the release frame, then panels with the
  heatmap channels drawn over it, each patch 16x16 pixels: O1-O5 (one colour each), D1-D5,
  unknown offense / defense and non-players, the distance field (channel 16) with the shot
  patch (13) marked, and the detection confidence (17).
- :func:`tracks_picture`: a camera's first frame with every track's foot-points joined in
  time, coloured by the track's category (team_a, team_b, referee, other).

Both return the path written. Pillow writes the files (lossless PNG).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

SLOT_COLOURS = np.array([(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48)], np.float32)
CATEGORY_COLOURS = {"team_a": (230, 60, 60), "team_b": (60, 90, 230), "referee": (20, 20, 20), "other": (150, 150, 150)}
PATCH = 16


def _upscale(plane: NDArray[np.float32]) -> NDArray[np.float32]:
    return np.kron(plane, np.ones((PATCH, PATCH), np.float32))


def _overlay(base: NDArray[np.uint8], masks: NDArray[np.float32], colours: NDArray[np.float32], alpha: float = 0.55) -> NDArray[np.uint8]:
    """``base`` [224, 224, 3] with each of ``masks`` [14, 14, k] painted in its colour."""
    out = base.astype(np.float32) * 0.6
    for k in range(masks.shape[2]):
        m = _upscale(masks[:, :, k])[..., None]
        out = out * (1 - alpha * m) + colours[k] * alpha * m
    result: NDArray[np.uint8] = np.clip(out, 0, 255).astype(np.uint8)
    return result


def heatmap_picture(path: Path, frame: NDArray[np.uint8], heatmap: NDArray[np.float32], label: int | None = None) -> Path:
    """Write the picture of one shot: ``frame`` [224, 224, 3] (the window at release), ``heatmap``
    [16, 14, 14, 18] (its release frame, index 8, is drawn); ``label`` circles the shooter's slot."""
    from PIL import Image, ImageDraw

    h = heatmap[heatmap.shape[0] // 2]
    grey = np.array([(200, 200, 200), (120, 120, 120), (255, 255, 255)], np.float32)
    dist = _upscale(h[:, :, 16])[..., None] * np.array([40, 120, 255], np.float32)
    conf = _upscale(h[:, :, 17])[..., None] * np.array([255, 200, 40], np.float32)
    panels = [
        frame,
        _overlay(frame, h[:, :, 0:5], SLOT_COLOURS),
        _overlay(frame, h[:, :, 5:10], SLOT_COLOURS),
        _overlay(frame, h[:, :, 10:13], grey),
        np.clip(frame * 0.3 + dist * 0.7, 0, 255).astype(np.uint8),
        np.clip(frame * 0.3 + conf * 0.7, 0, 255).astype(np.uint8),
    ]
    titles = ["frame at release", "O1-O5", "D1-D5", "unknown O / D, non-players", "distance to shot (16), shot patch (13)", "max confidence (17)"]
    gap, top = 6, 18
    canvas = Image.new("RGB", (3 * (224 + gap) + gap, 2 * (224 + top + gap) + gap), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    sy, sx = np.argwhere(h[:, :, 13] > 0.5)[0] if (h[:, :, 13] > 0.5).any() else (None, None)
    for i, (panel, title) in enumerate(zip(panels, titles, strict=True)):
        x = gap + (i % 3) * (224 + gap)
        y = gap + (i // 3) * (224 + top + gap)
        canvas.paste(Image.fromarray(panel), (x, y + top))
        draw.text((x, y + 3), title, fill=(0, 0, 0))
        if sy is not None:
            ox, oy = x + (sx + h[sy, sx, 14]) * PATCH, y + top + (sy + h[sy, sx, 15]) * PATCH
            draw.ellipse((ox - 4, oy - 4, ox + 4, oy + 4), outline=(255, 255, 255), width=2)
    if label is not None and label >= 0:
        ys, xs = np.nonzero(h[:, :, label] > 0.5)
        if len(ys):
            x, y = gap + (224 + gap), gap + top
            draw.rectangle((x + xs.min() * PATCH, y + ys.min() * PATCH, x + (xs.max() + 1) * PATCH, y + (ys.max() + 1) * PATCH),
                           outline=(255, 255, 255), width=2)
            draw.text((x + 3, y + 224 - 12), f"shooter: O{label + 1}", fill=(255, 255, 255))
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path


def tracks_picture(path: Path, frame: NDArray[np.uint8], frame_index: NDArray[np.int64], xy: NDArray[np.float32], track_id: NDArray[np.int64],
                   categories: dict[int, str]) -> Path:
    """Write ``frame`` [H, W, 3] with each track's foot-points ``xy`` [N, 2] (rows of ``track_id``
    >= 0, in ``frame_index`` order per track) joined and coloured by ``categories``."""
    from PIL import Image, ImageDraw

    img = Image.fromarray((frame * 0.7 + 76).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for t in np.unique(track_id[track_id >= 0]).tolist():
        rows = np.flatnonzero(track_id == t)
        rows = rows[np.argsort(frame_index[rows], kind="stable")]
        pts = [(float(x), float(y)) for x, y in xy[rows]]
        colour = CATEGORY_COLOURS.get(categories.get(int(t), "other"), (150, 150, 150))
        if len(pts) > 1:
            draw.line(pts, fill=colour, width=2)
        draw.ellipse((pts[-1][0] - 3, pts[-1][1] - 3, pts[-1][0] + 3, pts[-1][1] + 3), fill=colour)
    legend = [(name, colour) for name, colour in CATEGORY_COLOURS.items()]
    for i, (name, colour) in enumerate(legend):
        draw.rectangle((8, 8 + 14 * i, 18, 18 + 14 * i), fill=colour)
        draw.text((22, 7 + 14 * i), name, fill=(0, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
