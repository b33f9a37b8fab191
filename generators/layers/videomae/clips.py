"""Cutting the shot-centred clips out of a game's videos: the window of :mod:`generators.layers.shots.window`.

:func:`plan_windows` gives every shot its window (or ``None`` when no camera sees it) from the
size and frame count of the camera the window rule picks; :func:`cut_clips` fills a buffer with
the clips of some windows (a chunk's): ``out[k]`` is a ``[16, 224, 224, 3]`` uint8 array holding
frames ``first_frame .. first_frame + 15`` of window ``k``'s camera, pixels
``[y0:y0+224, x0:x0+224]``. Each camera is decoded once, in frame order, by
:func:`generators.layers.seek.decode_frames`: it seeks across gaps between windows, so a window
near the end of a two-hour video costs a GOP of decoding, not two hours. Overlapping windows
share the decoded frames.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from artifacts.errors import SourceError
from generators.layers.frame_level.decode import VideoProbe
from generators.layers.seek import SEEK_GAP_S, DecodeCount, decode_frames
from generators.layers.shots.annotation import Shot
from generators.layers.shots.window import FRAMES, SIZE, ShotWindow, shot_window

NO_CAMERA = "visible in no camera"


def plan_windows(shots: Sequence[Shot], probes: Mapping[str, VideoProbe], where: str) -> list[ShotWindow | None]:
    """The window of each shot, in annotation order; ``None`` for a shot no camera sees.

    The camera is the window rule's (the first, by name, whose origin is visible); a shot seen
    only by a camera that is not one of the game's videos is a :class:`SourceError`.
    """
    out: list[ShotWindow | None] = []
    for shot in shots:
        cam = next((c for c in sorted(shot.origins) if shot.origins[c].visible), None)
        if cam is None:
            out.append(None)
            continue
        if cam not in probes:
            raise SourceError(f"shots annotation of {where} row {shot.index + 2}", cam, "names a camera that is not a video of the game",
                              f"register that camera's video or fix the annotation (videos: {sorted(probes)})")
        p = probes[cam]
        out.append(shot_window(shot, p.width, p.height, p.frames, where))
    return out


def cut_clips(videos: Mapping[str, str], windows: Sequence[ShotWindow], out: NDArray[np.uint8], count: DecodeCount | None = None,
              seek_gap_s: float = SEEK_GAP_S) -> None:
    """Write the clip of ``windows[k]`` into ``out[k]`` (``[len(windows), 16, 224, 224, 3]`` uint8 or larger).

    ``videos`` maps camera name to the video's URL; ``count`` counts the frames decoded and the
    seeks. Decoding errors (unreadable videos, a wanted frame past the end) are
    :class:`artifacts.errors.BuildError` from :mod:`generators.layers.seek`.
    """
    if out.shape[0] < len(windows) or tuple(out.shape[1:]) != (FRAMES, SIZE, SIZE, 3) or out.dtype != np.uint8:
        raise ValueError(f"clip buffer of shape {out.shape} {out.dtype}: expected uint8 [>= {len(windows)}, {FRAMES}, {SIZE}, {SIZE}, 3]")
    for cam in sorted({w.camera for w in windows}):
        at: dict[int, list[int]] = {}
        for k, w in enumerate(windows):
            if w.camera == cam:
                for f in w.frames:
                    at.setdefault(f, []).append(k)
        for n, rgb in decode_frames(cam, videos[cam], at.keys(), seek_gap_s, count):
            for k in at[n]:
                w = windows[k]
                out[k, n - w.first_frame] = rgb[w.y0 : w.y0 + SIZE, w.x0 : w.x0 + SIZE]


def windows_table(shots: Sequence[Shot], windows: Sequence[ShotWindow | None]) -> pa.Table:
    """``windows.parquet``: per annotated shot, in order, its window or why it has none."""

    def ints(field: str) -> pa.Array:
        return pa.array([getattr(w, field) if w is not None else -1 for w in windows], pa.int32())

    return pa.table({
        "shot": pa.array([s.index for s in shots], pa.int32()),
        "frame": pa.array([s.frame for s in shots], pa.int32()),
        "camera": pa.array([w.camera if w is not None else None for w in windows], pa.string()),
        "x0": ints("x0"),
        "y0": ints("y0"),
        "first_frame": ints("first_frame"),
        "reason": pa.array([None if w is not None else NO_CAMERA for w in windows], pa.string()),
    })
