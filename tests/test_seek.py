"""Decoding chosen frames by seeking (generators.layers.seek): the same pixels as decoding from
the start, a bounded number of frames decoded, and broken or short videos named."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from test_decode import write_video

from artifacts.errors import BuildError
from generators.layers.frame_level.decode import decode_selected
from generators.layers.seek import DecodeCount, check_tail, decode_frames
from generators.render import RenderedGame, render_game


@pytest.fixture(scope="module")
def long_game(tmp_path_factory: pytest.TempPathFactory) -> RenderedGame:
    return render_game(tmp_path_factory.mktemp("seek") / "long", "long", seed=3, seconds=30.0, size=(256, 224))  # 300 frames, a keyframe every 10


@pytest.mark.parametrize("wanted", [
    list(range(280, 296)),  # a window near the end
    [*range(16), *range(140, 156), *range(284, 300)],  # first, middle and last windows
    [5, 17, 130, 131, 255, 299],  # scattered frames
    [*range(100, 130), *range(115, 160)],  # overlapping windows
])
def test_the_frames_equal_those_decoded_from_the_start(long_game: RenderedGame, wanted: list[int]) -> None:
    url = str(long_game.video("left"))
    count = DecodeCount()
    got = list(decode_frames("left", url, wanted, seek_gap_s=2.0, count=count))
    reference = list(decode_selected("left", url, wanted))  # decodes all 300 frames
    assert [n for n, _ in got] == [n for n, _ in reference] == sorted(set(wanted))
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(got, reference, strict=True))
    # Gaps of up to 20 frames (2 s) are decoded through; before each run of wanted frames after a
    # longer gap, at most a GOP (10 frames) is decoded: never the whole video.
    want = sorted(set(wanted))
    gaps = [b - a - 1 for a, b in itertools.pairwise(want)]
    sought = [g for g in gaps if g > 19]
    assert count.seeks == len(sought) + (want[0] > 20)
    assert count.frames <= len(want) + sum(g for g in gaps if g <= 19) + 10 * count.seeks + (want[0] if want[0] <= 20 else 0)


def test_a_window_at_the_end_decodes_a_gop_not_the_video(long_game: RenderedGame) -> None:
    url = str(long_game.video("right"))
    seeking, through = DecodeCount(), DecodeCount()
    a = list(decode_frames("right", url, range(284, 300), count=seeking))
    b = list(decode_frames("right", url, range(284, 300), seek_gap_s=float("inf"), count=through))
    assert all(np.array_equal(x, y) for (_, x), (_, y) in zip(a, b, strict=True)) and len(a) == 16
    assert (through.seeks, through.frames) == (0, 300)
    assert seeking.seeks == 1 and seeking.frames == 16 + 4  # from the keyframe at frame 280


def test_past_the_end_and_truncated_videos_are_named(tmp_path: Path, long_game: RenderedGame) -> None:
    url = str(long_game.video("left"))
    with pytest.raises(BuildError, match=r"^video left '.*left.mp4': unreadable: frame 300 is wanted but the video ends at frame 299; replace the file"):
        list(decode_frames("left", url, [3, 300]))
    count = DecodeCount()
    check_tail("left", url, 300, count)  # complete: only its last GOP is decoded
    assert count.frames == 10 and count.seeks == 1
    with pytest.raises(BuildError, match=r"truncated: its last frame is frame 299 of the 310 its header declares"):
        check_tail("left", url, 310)
    # An export with its index first stays openable when cut off: the tail check finds the cut.
    p = tmp_path / "fast.mp4"
    write_video(p, 40, faststart=True)
    p.write_bytes(p.read_bytes()[: p.stat().st_size * 2 // 3])
    with pytest.raises(BuildError, match=r"^video fast '.*fast.mp4': unreadable: .*; replace the file with a complete export"):
        check_tail("fast", str(p), 40)
    q = tmp_path / "text.mp4"
    q.write_bytes(b"this is a text file" * 20)
    with pytest.raises(BuildError, match=r"^video text '.*text.mp4': unreadable: "):
        list(decode_frames("text", str(q), [0]))
