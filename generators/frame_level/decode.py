"""Decoding a game's video into batches of RGB frames with PyAV.

Contract: :func:`decode_batches` yields ``(frame_indices, frames)`` with ``frames`` a
``[B, H, W, 3]`` uint8 array reused between batches (copy what you keep), every
``stride``-th frame of the video in order. A file that cannot be opened, has no video
stream, or holds fewer frames than its header declares (a truncated upload) raises
:class:`artifacts.errors.BuildError` naming the source and the fix: the game fails, the
other games and every committed artifact are untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from artifacts.errors import BuildError


def _unreadable(name: str, url: str, why: str) -> BuildError:
    return BuildError(f"video {name}", url, f"unreadable: {why}", "replace the file with a complete export and register it again (artifacts games add ... --replace)")


def decode_batches(name: str, url: str, stride: int, batch: int) -> Iterator[tuple[NDArray[np.int64], NDArray[np.uint8]]]:
    """Every ``stride``-th frame of the video at ``url``, ``batch`` frames at a time."""
    import av

    try:
        container = av.open(url)
    except (av.error.InvalidDataError, av.error.FileNotFoundError, OSError) as exc:
        raise _unreadable(name, url, str(exc)) from exc
    with container:
        if not container.streams.video:
            raise _unreadable(name, url, "no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        declared = int(stream.frames or 0)
        buf: NDArray[np.uint8] | None = None
        idx: list[int] = []
        n = 0
        try:
            for frame in container.decode(stream):
                if n % stride == 0:
                    img = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
                    if buf is None:  # reused: fresh allocations are slow and erratic here
                        buf = np.empty((batch, *img.shape), dtype=np.uint8)
                    buf[len(idx)] = img
                    idx.append(n)
                    if len(idx) == batch:
                        yield np.asarray(idx, dtype=np.int64), buf
                        idx = []
                n += 1
        except av.error.FFmpegError as exc:
            raise _unreadable(name, url, f"decoding stopped at frame {n}: {exc}") from exc
        if declared and n < declared:
            raise _unreadable(name, url, f"truncated: decoded {n} of the {declared} frames its header declares")
        if n == 0:
            raise _unreadable(name, url, "no frames decoded")
        if idx and buf is not None:
            yield np.asarray(idx, dtype=np.int64), buf[: len(idx)]


def video_info(url: str) -> dict[str, Any]:
    """Size, frame rate and declared frame count of a video (no decoding)."""
    import av

    with av.open(url) as c:
        s = c.streams.video[0]
        return {"width": s.codec_context.width, "height": s.codec_context.height, "fps": float(s.average_rate or 0), "frames": int(s.frames or 0)}
