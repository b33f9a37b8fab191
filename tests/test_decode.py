"""Decoding video for the frame-level layer: stride, batches, and broken files."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from artifacts.errors import BuildError
from generators.layers.frame_level.decode import VideoProbe, decode_batches, decode_selected, probe


def write_video(path: Path, frames: int, faststart: bool = False) -> None:
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            img = np.full((48, 64, 3), (i * 9) % 256, np.uint8)
            for pk in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pk)
        for pk in s.encode():
            c.mux(pk)


def test_stride_and_batches_cover_the_video_in_order(tmp_path: Path) -> None:
    p = tmp_path / "cam0.mp4"
    write_video(p, 25)
    batches = [(i.tolist(), b.shape, int(b[0].mean())) for i, b in decode_batches("cam0", str(p), 2, 4)]
    assert [b[0] for b in batches] == [[0, 2, 4, 6], [8, 10, 12, 14], [16, 18, 20, 22], [24]]
    assert [b[1] for b in batches] == [(4, 48, 64, 3)] * 3 + [(1, 48, 64, 3)]
    assert abs(batches[1][2] - 8 * 9) <= 3  # the pixels are the frames' own (lossy codec)


@pytest.mark.parametrize("faststart", [False, True])
def test_truncated_video_is_a_clear_error(tmp_path: Path, faststart: bool) -> None:
    p = tmp_path / "cam0.mp4"
    write_video(p, 40, faststart)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(BuildError, match=r"^video cam0 '.*cam0.mp4': unreadable: .*; replace the file with a complete export"):
        for _ in decode_batches("cam0", str(p), 1, 8):
            pass


def test_not_a_video_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "cam0.mp4"
    p.write_bytes(b"this is a text file" * 20)
    with pytest.raises(BuildError, match="unreadable"):
        list(decode_batches("cam0", str(p), 1, 8))


def test_selected_frames_come_in_order_and_a_truncation_past_them_still_fails(tmp_path: Path) -> None:
    p = tmp_path / "cam0.mp4"
    write_video(p, 25)
    got = [(n, int(f.mean())) for n, f in decode_selected("cam0", str(p), {3, 4, 20})]
    assert [n for n, _ in got] == [3, 4, 20] and all(abs(m - (n * 9) % 256) <= 3 for n, m in got)
    with pytest.raises(BuildError, match=r"frame 30 is wanted but the video ends at frame 24"):
        list(decode_selected("cam0", str(p), {2, 30}))
    assert probe("cam0", str(p)) == VideoProbe(width=64, height=48, frames=25)
    q = tmp_path / "fast.mp4"
    write_video(q, 40, faststart=True)
    q.write_bytes(q.read_bytes()[: q.stat().st_size * 2 // 3])
    assert probe("fast", str(q)).frames == 40  # the header survives a cut at the end
    with pytest.raises(BuildError, match=r"^video fast '.*fast.mp4': unreadable: .*; replace the file"):
        list(decode_selected("fast", str(q), {1}))  # only frame 1 is wanted, but the whole file is checked
