"""The shot-centred window: which camera, which 224x224 pixels and which 16 frames.

Both ``shot-heatmaps`` and ``videomae-features`` cut the same window, so that heatmap patch
(i, j) of frame t and video token (t, i, j) see the same pixels:

- camera: the first camera, in name order, whose shot origin is visible; a shot visible in no
  camera has no window (the layers report it and leave it out, they never guess);
- pixels: ``SIZE`` x ``SIZE`` centred on the origin (``x0 = round(px) - SIZE // 2``), clamped so
  that the window lies inside the frame (a frame smaller than the window is an error);
- frames: ``FRAMES`` consecutive frames, release at index ``FRAMES // 2`` (frames
  ``release - 8 .. release + 7``), shifted to stay inside the video.

The window is a grid of ``GRID`` x ``GRID`` patches of ``PATCH`` pixels, VideoMAE's patching.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from artifacts.errors import SourceError
from generators.layers.shots.annotation import Shot

SIZE = 224
PATCH = 16
GRID = SIZE // PATCH  # 14
FRAMES = 16
LAYOUT_VERSION = "1"  # bump when the window's definition changes


class ShotWindow(BaseModel):
    """A shot's window. ``origin_x``/``origin_y`` are the shot origin in window pixels."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    shot: int
    camera: str
    x0: int
    y0: int
    first_frame: int
    origin_x: float
    origin_y: float

    @property
    def frames(self) -> range:
        return range(self.first_frame, self.first_frame + FRAMES)


def _clamp(v: int, lo: int, hi: int) -> int:
    return max(lo, min(v, hi))


def shot_window(shot: Shot, width: int, height: int, n_frames: int, where: str) -> ShotWindow | None:
    """The window of ``shot`` in videos of ``width`` x ``height`` pixels and ``n_frames`` frames.

    None when no camera sees the origin. Raises :class:`SourceError` when the frame is smaller
    than the window or the video is shorter than ``FRAMES`` frames (``where`` names the game).
    """
    if width < SIZE or height < SIZE:
        raise SourceError(f"videos of {where}", f"{width}x{height}", f"are smaller than the {SIZE}x{SIZE} shot window", "render or record at least 224 pixels high")
    if n_frames < FRAMES:
        raise SourceError(f"videos of {where}", n_frames, f"have fewer than {FRAMES} frames, the shot window", "use longer videos")
    for cam in sorted(shot.origins):
        o = shot.origins[cam]
        if not o.visible:
            continue
        x0 = _clamp(round(o.px) - SIZE // 2, 0, width - SIZE)
        y0 = _clamp(round(o.py) - SIZE // 2, 0, height - SIZE)
        first = _clamp(shot.frame - FRAMES // 2, 0, n_frames - FRAMES)
        return ShotWindow(shot=shot.index, camera=cam, x0=x0, y0=y0, first_frame=first, origin_x=o.px - x0, origin_y=o.py - y0)
    return None
