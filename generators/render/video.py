"""H.264 mp4 files through PyAV: a deterministic writer and a reader.

The writer fixes every setting that could vary between runs (one encoder thread, a fixed
preset, rate control and keyframe interval, no timestamps from the clock), so the same frames
give the same bytes with the same PyAV build. Frames go in as RGB and are stored yuv420p, as
players and browsers expect; colours therefore come back close to, not equal to, the input.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Self

import av
import numpy as np
from numpy.typing import NDArray

from artifacts.errors import SourceError

CODEC = "libx264"
PIX_FMT = "yuv420p"
# Fixed encoder options: a visually lossless quality so team colours survive compression, one
# thread, and no macroblock-tree rate control: with it, x264 (core 165) reads uninitialised
# memory and the same frames encode to different bytes from run to run (seen with
# MALLOC_PERTURB_; tests/test_render.py checks across perturbed processes).
X264_OPTIONS = {"crf": "17", "preset": "veryfast", "threads": "1", "x264-params": "mbtree=0"}


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, read from its stream header and by counting frames."""

    codec: str
    width: int
    height: int
    fps: Fraction
    frames: int


class VideoWriter:
    """Encode RGB frames ``[height, width, 3]`` uint8 one at a time into an H.264 mp4.

    Use as a context manager; the file is complete only after a clean exit (or :meth:`close`).
    """

    def __init__(self, path: Path, size: tuple[int, int], fps: int) -> None:
        width, height = size
        if width % 2 or height % 2:
            raise ValueError(f"video size {width}x{height}: yuv420p needs an even width and height")
        self.size = size
        self._container = av.open(str(path), mode="w", format="mp4")
        stream = self._container.add_stream(CODEC, rate=fps, options=dict(X264_OPTIONS, g=str(max(1, fps))))
        if not isinstance(stream, av.VideoStream):
            raise TypeError(f"{CODEC} gave a {type(stream).__name__}, not a video stream")
        stream.width, stream.height, stream.pix_fmt = width, height, PIX_FMT
        stream.codec_context.thread_count = 1
        self._stream = stream
        self.frames = 0

    def write(self, rgb: NDArray[np.uint8]) -> None:
        """Append one frame; it is copied into the encoder, so the buffer may be reused."""
        if rgb.shape != (self.size[1], self.size[0], 3) or rgb.dtype != np.uint8:
            raise ValueError(f"frame of shape {rgb.shape} {rgb.dtype}: expected ({self.size[1]}, {self.size[0]}, 3) uint8")
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = self.frames
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            # The file is abandoned; close the container without flushing a half-written stream.
            self._container.close()


def read_frames(path: Path) -> Iterator[NDArray[np.uint8]]:
    """Decode every frame of the first video stream as RGB ``[height, width, 3]`` uint8.

    A file that cannot be opened or decoded raises :class:`SourceError` naming it.
    """
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                yield np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
    except (av.FFmpegError, OSError) as e:
        raise SourceError("video", str(path), f"cannot be decoded ({e})", "render it again or replace the file") from e


def probe(path: Path) -> VideoInfo:
    """Codec, size, rate and decoded frame count of the video at ``path``."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            codec, width, height = stream.codec_context.name, stream.codec_context.width, stream.codec_context.height
            rate = stream.average_rate or stream.base_rate or Fraction(0)
            frames = sum(1 for _ in container.decode(video=0))
    except (av.FFmpegError, OSError, IndexError) as e:
        raise SourceError("video", str(path), f"cannot be read ({e})", "render it again or replace the file") from e
    return VideoInfo(codec=codec, width=width, height=height, fps=Fraction(rate), frames=frames)
