"""Decoding chosen frames of a long video without decoding it from the start.

A two-hour broadcast has some 200,000 frames a camera; a layer that wants a few hundred
16-frame windows out of it must not decode them all. :func:`decode_frames` yields the wanted
frames, in order, as ``[H, W, 3]`` uint8 RGB: between wanted frames more than ``seek_gap_s``
apart it seeks to the keyframe at or before the next one and decodes from there (a GOP at
most: 1-10 s in typical exports), otherwise it decodes through the gap. Decoding from a
keyframe gives the same pixels as decoding from the start (H.264 keyframes reset the
decoder), so the result does not depend on where it seeks.

Frame numbers come from timestamps: frame ``n`` is the one presented at ``n / fps`` seconds
after the stream's start (a constant frame rate, as broadcast exports and rendered games
have). A wanted frame that no timestamp lands on (a variable-rate file, dropped frames) is an
error naming it, never a neighbour in its place.

:func:`check_tail` decodes the last GOP of a video and checks that it holds the frame count
its header declares: a truncated upload fails even when every wanted frame comes before the
cut, at the cost of one GOP instead of the whole file.

Errors are :class:`artifacts.errors.BuildError` in the one-line form of
:mod:`generators.layers.frame_level.decode` (``video NAME 'URL': unreadable: ...; replace the
file ...``). ``count``, when given, counts the frames decoded and the seeks made (tests and
benchmarks assert that a window near the end of a long video is reached by seeking).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray

from artifacts.errors import BuildError

SEEK_GAP_S = 10.0  # decode through shorter gaps: seeking costs up to a GOP (1-10 s) of decoding


@dataclass
class DecodeCount:
    """Frames decoded and seeks made by the calls it is passed to (a caller's own object)."""

    frames: int = 0
    seeks: int = 0


def unreadable(name: str, url: str, why: str) -> BuildError:
    """The error of a video that cannot be decoded (the frame-level layer's wording)."""
    return BuildError(f"video {name}", url, f"unreadable: {why}", "replace the file with a complete export and register it again (artifacts games add ... --replace)")


class _Video:
    """An open video stream, its frames numbered by timestamp."""

    def __init__(self, name: str, url: str, container: Any, count: DecodeCount) -> None:
        self.name, self.url, self.container, self.count = name, url, container, count
        self.stream = container.streams.video[0]
        self.stream.thread_type = "AUTO"  # decoding is bit-exact with any thread count
        rate = self.stream.average_rate or self.stream.base_rate
        if not rate:
            raise unreadable(name, url, "its header gives no frame rate")
        self.rate = Fraction(rate)
        self.tb = Fraction(self.stream.time_base)
        self.origin = int(self.stream.start_time or 0)

    def pts_of(self, index: int) -> int:
        """The timestamp of frame ``index`` (rounded down, in the stream's time base)."""
        return self.origin + int(Fraction(index) / self.rate / self.tb)

    def frames(self, from_start: bool, at: int = 0) -> Iterator[tuple[int, Any]]:
        """``(index, av.VideoFrame)`` from the start, or from the keyframe at or before timestamp ``at``."""
        import av

        if not from_start:
            self.count.seeks += 1
            try:
                self.container.seek(at, stream=self.stream, backward=True, any_frame=False)
            except av.error.FFmpegError as exc:
                raise unreadable(self.name, self.url, f"cannot seek to {float((at - self.origin) * self.tb):.3f} s: {exc}") from exc
        last = -1
        try:
            for frame in self.container.decode(self.stream):
                self.count.frames += 1
                if frame.pts is None:
                    raise unreadable(self.name, self.url, f"the frame after frame {last} has no timestamp")
                last = round((frame.pts - self.origin) * self.tb * self.rate)
                yield last, frame
        except av.error.FFmpegError as exc:
            raise unreadable(self.name, self.url, f"decoding stopped after frame {last}: {exc}") from exc

    def starting_at(self, target: int, gap: float) -> Iterator[tuple[int, Any]]:
        """Frames from a keyframe at or before frame ``target``: seek to it, and further back
        (doubling the step, down to the start) while the seek lands after it."""
        back = 0
        while True:
            start = max(target - back, 0)
            frames = self.frames(from_start=start == 0, at=self.pts_of(start))
            first = next(frames, None)
            if first is None:
                raise unreadable(self.name, self.url, f"no frame decodes at or after frame {start}")
            if first[0] <= target or start == 0:
                yield first
                yield from frames
                return
            back = max(2 * back, int(min(gap, target)), 1)


def _open(name: str, url: str) -> Any:
    import av

    try:
        container = av.open(url)
    except (av.error.InvalidDataError, av.error.FileNotFoundError, OSError) as exc:
        raise unreadable(name, url, str(exc)) from exc
    if not container.streams.video:
        container.close()
        raise unreadable(name, url, "no video stream")
    return container


def decode_frames(name: str, url: str, wanted: Collection[int], seek_gap_s: float = SEEK_GAP_S,
                  count: DecodeCount | None = None) -> Iterator[tuple[int, NDArray[np.uint8]]]:
    """The frames of video ``name`` at ``url`` whose index is in ``wanted``, in increasing
    order, each a fresh ``[H, W, 3]`` uint8 RGB array (see the module doc)."""
    want = sorted(set(wanted))
    if not want:
        return
    tally = count if count is not None else DecodeCount()
    with _open(name, url) as container:
        video = _Video(name, url, container, tally)
        gap = seek_gap_s * float(video.rate)  # in frames; inf: never seek
        frames: Iterator[tuple[int, Any]] | None = None
        pos = -1  # the last frame decoded
        for target in want:
            if frames is None or target - pos > gap:
                frames = video.frames(from_start=True) if frames is None and target <= gap else video.starting_at(target, gap)
            while True:
                got = next(frames, None)
                if got is None:
                    raise unreadable(name, url, f"frame {target} is wanted but the video ends at frame {pos}")
                n, frame = got
                if n == target:
                    pos = n
                    yield n, np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
                    break
                if n > target:
                    raise unreadable(name, url, f"frame {target} is missing: the timestamps go from frame {pos} to frame {n} "
                                     "(a variable frame rate?); remux it at a constant frame rate")
                pos = n


def check_tail(name: str, url: str, frames: int, count: DecodeCount | None = None) -> None:
    """Decode the last GOP of the video and check that its last frame is frame ``frames - 1``
    (``frames``: the count its header declares). Raises the module's :class:`BuildError`."""
    tally = count if count is not None else DecodeCount()
    with _open(name, url) as container:
        video = _Video(name, url, container, tally)
        last = -1
        for n, _frame in video.starting_at(frames - 1, SEEK_GAP_S * float(video.rate)):
            last = max(last, n)
    if last < frames - 1:
        raise unreadable(name, url, f"truncated: its last frame is frame {last} of the {frames} its header declares")
