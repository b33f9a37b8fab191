"""A video's frames and keyframes from its container alone, and the frame ranges of chunks.

Contracts:

- :func:`index_video` demuxes the video's packets (no decoding: a two-hour camera takes
  seconds) and returns their presentation timestamps in presentation order, which is how
  :mod:`generators.layers.frame_level.decode` numbers frames: frame ``n`` is the packet with
  the ``n``-th smallest pts. It fails, as decoding does, on a file that cannot be opened, has no
  video stream or no frames, or holds fewer packets than its header declares (a truncated
  upload), and on packets without timestamps or with two sharing one (frames could not be
  numbered).
- :func:`frame_ranges` cuts those frames into :class:`RangeSpec` ranges of ``size`` frames
  (the last one shorter), each with the pts of the keyframe to seek to: the last keyframe whose
  pts is at most the range's first frame's. A chunk decodes from there and keeps the frames whose
  pts lie in ``[start_pts, stop_pts)`` (:func:`generators.layers.frame_level.decode.decode_range`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from generators.layers.frame_level.decode import unreadable

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


class RangeSpec(BaseModel):
    """Frames ``start`` .. ``stop - 1`` of camera ``source``, as a chunk's ``spec``.

    ``start_pts`` is frame ``start``'s pts, ``stop_pts`` frame ``stop``'s (None: the range runs
    to the end of the video), ``seek_pts`` the pts of the keyframe to seek to (None: decode from
    the start of the file, for the first range)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    start: int = Field(ge=0)
    stop: int = Field(gt=0)
    start_pts: int
    stop_pts: int | None
    seek_pts: int | None


@dataclass(frozen=True)
class VideoIndex:
    """``pts`` [frames] in presentation order, strictly increasing; ``keyframe_pts`` [k] sorted."""

    pts: NDArray[np.int64]
    keyframe_pts: NDArray[np.int64]

    @property
    def frames(self) -> int:
        return int(self.pts.shape[0])


def index_video(name: str, url: str) -> VideoIndex:
    """The frames and keyframes of the first video stream at ``url``, from its packets."""
    import av
    import numpy as np

    try:
        container = av.open(url)
    except (av.error.FFmpegError, OSError) as exc:
        raise unreadable(name, url, str(exc)) from exc
    with container:
        if not container.streams.video:
            raise unreadable(name, url, "no video stream")
        stream = container.streams.video[0]
        declared = int(stream.frames or 0)
        pts: list[int] = []
        keys: list[int] = []
        try:
            for packet in container.demux(stream):
                if not packet.size:  # the demuxer's end-of-stream marker
                    continue
                if packet.pts is None:
                    raise unreadable(name, url, f"packet {len(pts)} has no timestamp, so its frames cannot be numbered for chunks (remux it: ffmpeg -i IN -c copy OUT.mp4)")
                pts.append(int(packet.pts))
                if packet.is_keyframe:
                    keys.append(int(packet.pts))
        except av.error.FFmpegError as exc:
            raise unreadable(name, url, f"reading stopped at packet {len(pts)}: {exc}") from exc
    if declared and len(pts) < declared:
        raise unreadable(name, url, f"truncated: holds {len(pts)} of the {declared} frames its header declares")
    if not pts:
        raise unreadable(name, url, "no frames")
    order = np.sort(np.asarray(pts, np.int64))
    same = np.flatnonzero(np.diff(order) == 0)
    if len(same):
        raise unreadable(name, url, f"two packets share pts {int(order[same[0]])}, so frames cannot be numbered (remux it: ffmpeg -i IN -c copy OUT.mp4)")
    return VideoIndex(pts=order, keyframe_pts=np.sort(np.asarray(keys, np.int64)))


def frame_ranges(name: str, url: str, index: VideoIndex, size: int) -> list[RangeSpec]:
    """``index``'s frames in ranges of ``size`` (the last one shorter), each with its keyframe.

    A range after the first whose first frame no keyframe precedes cannot be decoded on its own:
    that fails like a broken file (a stream whose first packet is not a keyframe still decodes
    from the start, as the first range does)."""
    import numpy as np

    out: list[RangeSpec] = []
    n = index.frames
    for start in range(0, n, size):
        stop = min(n, start + size)
        start_pts = int(index.pts[start])
        seek: int | None = None
        if start:
            k = int(np.searchsorted(index.keyframe_pts, start_pts, side="right")) - 1
            if k < 0:
                raise unreadable(name, url, f"no keyframe at or before frame {start} (pts {start_pts}), so it cannot be decoded without frame 0 (re-encode it with keyframes)")
            seek = int(index.keyframe_pts[k])
        out.append(RangeSpec(source=name, start=start, stop=stop, start_pts=start_pts,
                             stop_pts=int(index.pts[stop]) if stop < n else None, seek_pts=seek))
    return out
