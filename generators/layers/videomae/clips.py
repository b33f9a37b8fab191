"""Cutting the shot-centred clips out of a game's videos: the window of :mod:`generators.layers.shots.window`.

:func:`plan_windows` gives every shot its window (or ``None`` when no camera sees it) from the
size and frame count of the camera the window rule picks; :func:`cut_clips` decodes each camera
once, in order, and yields every clip as soon as its last frame is decoded: a ``[16, 224, 224, 3]``
uint8 array holding frames ``first_frame .. first_frame + 15`` of the window's camera, pixels
``[y0:y0+224, x0:x0+224]``. Overlapping windows share the decoded frames.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from artifacts.errors import SourceError
from generators.layers.frame_level.decode import VideoProbe, decode_selected
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


def cut_clips(videos: Mapping[str, str], windows: Sequence[ShotWindow]) -> Iterator[tuple[ShotWindow, NDArray[np.uint8]]]:
    """Each window's clip, camera by camera (by name), in order of completion.

    ``videos`` maps camera name to the video's URL. Decoding errors (truncated or unreadable
    videos) are :class:`artifacts.errors.BuildError` from :mod:`generators.layers.frame_level.decode`.
    """
    for cam in sorted({w.camera for w in windows}):
        mine = sorted((w for w in windows if w.camera == cam), key=lambda w: (w.first_frame, w.shot))
        at: dict[int, list[ShotWindow]] = {}
        for w in mine:
            for f in w.frames:
                at.setdefault(f, []).append(w)
        active: dict[int, NDArray[np.uint8]] = {}
        for n, rgb in decode_selected(cam, videos[cam], at.keys()):
            for w in at[n]:
                clip = active.get(w.shot)
                if clip is None:
                    clip = active[w.shot] = np.empty((FRAMES, SIZE, SIZE, 3), np.uint8)
                clip[n - w.first_frame] = rgb[w.y0 : w.y0 + SIZE, w.x0 : w.x0 + SIZE]
                if n == w.first_frame + FRAMES - 1:
                    yield w, active.pop(w.shot)


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
