"""Cutting time windows of a video into H.264 mp4 clips with PyAV, by decoding and re-encoding.

Why re-encode rather than stream copy: a copied clip can only start on a keyframe of the
source. The rendered games have one keyframe a second and broadcast exports often one every
2-10 s, so a copied clip would start up to that much before the play (or, cut exactly, open
on frames that cannot be decoded). Training examples must show the play and only the play,
so each clip is decoded and encoded again: it holds exactly the frames whose timestamps fall
in ``[start, end)``, starts on its own keyframe, and, with the renderer's fixed x264 settings
(one thread, fixed preset, quality and GOP, no mbtree), the same frames always give the same
bytes, so a rebuilt clip has the digest of the first. The cost is measured in
``bench/clips_cut.py``.

One pass per video: the windows are sorted and every decoded frame goes to each clip whose
window holds it, so overlapping plays decode their frames once. Between windows further apart
than ``seek_gap_s`` the decoder seeks (to the keyframe before the next window) instead of
decoding through the gap, which matters for full-length games with sparse plays.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artifacts.errors import BuildError
from generators.layers.seek import DecodeCount
from generators.render.video import CODEC, PIX_FMT, X264_OPTIONS

if TYPE_CHECKING:
    import av

SEEK_GAP_S = 10.0
_EPS = 1e-6  # frame times are exact multiples of the time base; this only absorbs float rounding


@dataclass(frozen=True)
class VideoSpan:
    """What a video's header says: its length in seconds, its frame rate and frame count."""

    duration_s: float
    fps: Fraction
    frames: int


@dataclass(frozen=True)
class ClipSpec:
    """A window ``[start_s, end_s)`` of the video to write to ``path``."""

    start_s: float
    end_s: float
    path: Path


@dataclass(frozen=True)
class ClipCut:
    """What was written for one :class:`ClipSpec`: the source index of its first frame and its
    frame count (0: no frame fell in the window and no file was written)."""

    first_frame: int
    frames: int


def unreadable(name: str, url: str, why: str) -> BuildError:
    return BuildError(f"video {name}", url, f"unreadable: {why}", "replace the file with a complete export and register it again (artifacts games add ... --replace)")


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


def video_span(name: str, url: str) -> VideoSpan:
    """The video's length from its header (no decoding)."""
    with _open(name, url) as container:
        s = container.streams.video[0]
        fps = Fraction(s.average_rate or s.base_rate or 0)
        frames = int(s.frames or 0)
        if frames and fps:
            duration = float(frames / fps)
        elif s.duration and s.time_base:
            duration = float(s.duration * s.time_base)
        else:
            duration = (container.duration or 0) / 1_000_000
    if duration <= 0 or not fps:
        raise unreadable(name, url, "its header gives no duration or frame rate")
    return VideoSpan(duration, fps, frames)


class _ClipWriter:
    """One clip being encoded; the file is opened on the first frame (which gives the size)."""

    def __init__(self, spec: ClipSpec, rate: Fraction) -> None:
        self.spec = spec
        self.rate = rate
        self.container: Any = None
        self.stream: Any = None
        self.first = -1
        self.frames = 0

    def write(self, frame: av.VideoFrame, index: int) -> None:
        import av

        if self.container is None:
            self.first = index
            self.container = av.open(str(self.spec.path), mode="w", format="mp4")
            self.stream = self.container.add_stream(CODEC, rate=self.rate, options=dict(X264_OPTIONS, g=str(max(1, round(self.rate)))))
            self.stream.width, self.stream.height, self.stream.pix_fmt = frame.width, frame.height, PIX_FMT
            self.stream.codec_context.thread_count = 1
        frame.pts = self.frames
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def close(self, flush: bool) -> ClipCut:
        if self.container is not None:
            if flush:
                for packet in self.stream.encode(None):
                    self.container.mux(packet)
            self.container.close()
        return ClipCut(max(self.first, 0), self.frames)


def cut_clips(name: str, url: str, specs: list[ClipSpec], seek_gap_s: float = SEEK_GAP_S, count: DecodeCount | None = None) -> list[ClipCut]:
    """Write every window of ``specs`` from the video ``name`` at ``url``; results in ``specs`` order.

    The windows must lie within the video (see :func:`video_span`). A video that cannot be
    decoded, or ends before a window does (a truncated file), raises :class:`BuildError`.
    Memory holds the encoders of the windows open at one time (overlapping plays), whatever
    the video's length; ``count`` counts the frames decoded and the seeks made.
    """
    import av
    import numpy as np

    order = sorted(range(len(specs)), key=lambda i: (specs[i].start_s, specs[i].end_s))
    tally = count if count is not None else DecodeCount()
    results: dict[int, ClipCut] = {}
    with _open(name, url) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # decoding is bit-exact with any thread count
        tb = stream.time_base
        origin = stream.start_time or 0
        rate = Fraction(stream.average_rate or stream.base_rate)
        pending = list(order)
        active: dict[int, _ClipWriter] = {}
        decoded = container.decode(stream)
        t, sought = 0.0, -1
        try:
            while pending or active:
                if not active and pending and pending[0] != sought and specs[pending[0]].start_s - t > seek_gap_s:
                    # Once per window: a keyframe interval longer than the gap must not seek forever.
                    sought = pending[0]
                    tally.seeks += 1
                    container.seek(origin + int(specs[sought].start_s / tb), stream=stream, backward=True, any_frame=False)
                    decoded = container.decode(stream)
                try:
                    frame = next(decoded)
                except StopIteration:
                    # The end of the video: windows ending with its last frame are complete.
                    end = t + float(1 / rate)
                    short = [specs[i] for i in (*active, *pending) if specs[i].end_s - _EPS > end]
                    if short:
                        raise unreadable(name, url, f"truncated: it ends at {end:.3f} s, before the window {short[0].start_s}-{short[0].end_s} s ends") from None
                    for i in list(active):
                        results[i] = active.pop(i).close(flush=True)
                    results.update((i, ClipCut(0, 0)) for i in pending)
                    break
                except av.error.FFmpegError as exc:
                    raise unreadable(name, url, f"decoding stopped after {t:.3f} s: {exc}") from exc
                tally.frames += 1
                t = float((frame.pts - origin) * tb) if frame.pts is not None else t + float(1 / rate)
                index = round(t * rate)
                while pending and specs[pending[0]].start_s - _EPS <= t:
                    i = pending.pop(0)
                    active[i] = _ClipWriter(specs[i], rate)
                for i in [i for i, w in active.items() if t >= w.spec.end_s - _EPS]:
                    results[i] = active.pop(i).close(flush=True)
                if active:
                    # A fresh frame per clip: no decoder state (pts, picture type) leaks into the encoder.
                    planes = np.ascontiguousarray(frame.to_ndarray(format=PIX_FMT))
                    for w in active.values():
                        w.write(av.VideoFrame.from_ndarray(planes, format=PIX_FMT), index)
        finally:
            for w in active.values():
                w.close(flush=False)
    return [results[i] for i in range(len(specs))]
