"""Decoding a game's video into RGB frames with PyAV.

Contracts:

- :func:`decode_batches` yields ``(frame_indices, frames)`` with ``frames`` a
  ``[B, H, W, 3]`` uint8 array reused between batches (copy what you keep), every
  ``stride``-th frame of the video in order;
- :func:`decode_selected` yields ``(index, frame)`` for the wanted frame indices only, in
  order, each ``frame`` a fresh ``[H, W, 3]`` uint8 array; the other frames are decoded (H.264
  needs them) but never converted to RGB;
- :func:`decode_range` yields the same batches as :func:`decode_batches` for frames
  ``start .. stop - 1`` only (a chunk's range, :mod:`generators.layers.frame_level.index`), after
  seeking to the keyframe before them: frames are numbered exactly as a decode from frame 0
  numbers them, and the decoded frames must be the range's packets, one each;
- :func:`probe` reads the size and frame count without decoding.

A file that cannot be opened, has no video stream, or holds fewer frames than its header
declares (a truncated upload) raises :class:`artifacts.errors.BuildError` naming the source and
the fix: the game fails, the other games and every committed artifact are untouched.
:func:`decode_batches` and :func:`decode_selected` read the whole file, so a truncation is found
even past the last wanted frame; :func:`decode_range` reads its range, and the chunk plan
(:func:`generators.layers.frame_level.index.index_video`) counts the packets of the whole file.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from artifacts.errors import BuildError


class VideoProbe(BaseModel):
    """What a video's header says: frame size and frame count."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    width: int
    height: int
    frames: int


def unreadable(name: str, url: str, why: str) -> BuildError:
    """The one-line error of a video that cannot be used: ``video NAME 'URL': unreadable: WHY; fix``."""
    return BuildError(f"video {name}", url, f"unreadable: {why}", "replace the file with a complete export and register it again (artifacts games add ... --replace)")


def _frames(name: str, url: str) -> Iterator[tuple[int, Any]]:
    """Every decoded ``av.VideoFrame`` of the video with its index, then the integrity checks."""
    import av

    try:
        container = av.open(url)
    except (av.error.InvalidDataError, av.error.FileNotFoundError, OSError) as exc:
        raise unreadable(name, url, str(exc)) from exc
    with container:
        if not container.streams.video:
            raise unreadable(name, url, "no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        declared = int(stream.frames or 0)
        n = 0
        try:
            for frame in container.decode(stream):
                yield n, frame
                n += 1
        except av.error.FFmpegError as exc:
            raise unreadable(name, url, f"decoding stopped at frame {n}: {exc}") from exc
        if declared and n < declared:
            raise unreadable(name, url, f"truncated: decoded {n} of the {declared} frames its header declares")
        if n == 0:
            raise unreadable(name, url, "no frames decoded")


def decode_batches(name: str, url: str, stride: int, batch: int) -> Iterator[tuple[NDArray[np.int64], NDArray[np.uint8]]]:
    """Every ``stride``-th frame of the video at ``url``, ``batch`` frames at a time."""
    buf: NDArray[np.uint8] | None = None
    idx: list[int] = []
    for n, frame in _frames(name, url):
        if n % stride:
            continue
        img = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
        if buf is None:  # reused: fresh allocations are slow and erratic here
            buf = np.empty((batch, *img.shape), dtype=np.uint8)
        buf[len(idx)] = img
        idx.append(n)
        if len(idx) == batch:
            yield np.asarray(idx, dtype=np.int64), buf
            idx = []
    if idx and buf is not None:
        yield np.asarray(idx, dtype=np.int64), buf[: len(idx)]


def decode_range(name: str, url: str, start: int, stop: int, start_pts: int, stop_pts: int | None, seek_pts: int | None,
                 stride: int, batch: int) -> Iterator[tuple[NDArray[np.int64], NDArray[np.uint8]]]:
    """Every ``stride``-th frame of frames ``start .. stop - 1``, ``batch`` frames at a time.

    The range's frames are those whose pts lie in ``[start_pts, stop_pts)`` (``stop_pts`` None:
    to the end); decoding starts at the keyframe ``seek_pts`` (None: the start of the file).
    ``start`` must be a multiple of ``stride * batch`` for the batches to be those of
    :func:`decode_batches`. Fewer decoded frames in the range than ``stop - start``, or a seek
    that lands after ``start_pts``, fail like a truncated file.
    """
    import av

    if start % (stride * batch):
        raise ValueError(f"range start {start} is not a multiple of stride * batch = {stride * batch}")
    want = stop - start
    try:
        container = av.open(url)
    except (av.error.FFmpegError, OSError) as exc:
        raise unreadable(name, url, str(exc)) from exc
    buf: NDArray[np.uint8] | None = None
    idx: list[int] = []
    n = start  # the next frame's number
    last = -1 << 62
    with container:
        if not container.streams.video:
            raise unreadable(name, url, "no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            if seek_pts is not None:
                container.seek(seek_pts, stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                pts = frame.pts
                if pts is None or pts <= last:
                    raise unreadable(name, url, f"frame {n}: decoded pts {pts} after pts {last}, so frames cannot be numbered")
                if n == start and pts > start_pts:
                    where = "the start of the file" if seek_pts is None else f"the keyframe at pts {seek_pts}"
                    raise unreadable(name, url, f"frame {start} (pts {start_pts}) did not decode: decoding from {where} reached pts {pts} first "
                                                "(a stream that starts without a keyframe? re-encode it: ffmpeg -i IN -c:v libx264 OUT.mp4)")
                last = pts
                if pts < start_pts:
                    continue  # decoded from the keyframe on to reach the range; not ours
                if stop_pts is not None and pts >= stop_pts:
                    break
                if n >= stop:
                    raise unreadable(name, url, f"frame {n} (pts {pts}) decoded in a range of frames {start}-{stop - 1} that its packets say ends before it")
                if not (n - start) % stride:
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
            raise unreadable(name, url, f"decoding stopped at frame {n}: {exc}") from exc
    if n - start < want:
        raise unreadable(name, url, f"truncated: decoded {n - start} of the {want} frames {start}-{stop - 1} its packets hold")
    if idx and buf is not None:
        yield np.asarray(idx, dtype=np.int64), buf[: len(idx)]


def decode_selected(name: str, url: str, wanted: Collection[int]) -> Iterator[tuple[int, NDArray[np.uint8]]]:
    """The frames whose index is in ``wanted``, in order, as ``[H, W, 3]`` uint8 RGB.

    The whole file is decoded, so a truncated video fails even when every wanted frame came
    before the cut; a wanted index past the last frame fails too (the header lied).
    """
    want = set(wanted)
    last = -1
    for n, frame in _frames(name, url):
        last = n
        if n in want:
            yield n, np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
    beyond = sorted(i for i in want if i > last)
    if beyond:
        raise unreadable(name, url, f"frame {beyond[0]} is wanted but the video ends at frame {last}")


def probe(name: str, url: str) -> VideoProbe:
    """Size and frame count of the video at ``url``; frames are counted from packets when the
    header does not declare them. Errors as for decoding."""
    import av

    try:
        with av.open(url) as c:
            if not c.streams.video:
                raise unreadable(name, url, "no video stream")
            s = c.streams.video[0]
            frames = int(s.frames or 0)
            if not frames:
                frames = sum(1 for p in c.demux(s) if p.size)
            return VideoProbe(width=int(s.codec_context.width), height=int(s.codec_context.height), frames=frames)
    except (av.error.FFmpegError, OSError) as exc:
        raise unreadable(name, url, str(exc)) from exc


def video_info(url: str) -> dict[str, Any]:
    """Size, frame rate and declared frame count of a video (no decoding)."""
    import av

    with av.open(url) as c:
        s = c.streams.video[0]
        return {"width": s.codec_context.width, "height": s.codec_context.height, "fps": float(s.average_rate or 0), "frames": int(s.frames or 0)}
