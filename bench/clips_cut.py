"""Cutting play clips: re-encoding (what the clips layer does) against stream copy and decoding alone.

Renders one game (cached under --cache), then cuts the same windows three ways, best of
--repeat runs each, and prints clip seconds per wall second and ratios, in one process:

- ``reencode``: :func:`generators.layers.clips.cut.cut_clips`, frame-exact, deterministic bytes;
- ``copy``: stream copy with PyAV (remux the packets from the keyframe at or before the start
  up to the end): no encoding, but each clip starts on a keyframe, so it starts early; the
  mean and largest head start are printed;
- ``decode``: decoding the windows' frames and nothing else, the floor of any frame-exact cut.

    PYTHONPATH=. python bench/clips_cut.py [--seconds 30] [--fps 10] [--size 640 360] [--clips 8] [--clip-s 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av

from generators.layers.clips.cut import ClipSpec, cut_clips
from generators.render import render_game


def windows(seconds: float, clips: int, clip_s: float) -> list[tuple[float, float]]:
    """``clips`` windows of ``clip_s`` spread over the video, starting off the keyframes."""
    step = (seconds - clip_s - 0.37) / max(1, clips - 1)
    return [(round(0.37 + k * step, 3), round(0.37 + k * step + clip_s, 3)) for k in range(clips)]


def stream_copy(src: str, wins: list[tuple[float, float]], out: Path) -> list[float]:
    """Remux each window from the keyframe at or before its start; return each clip's head start (s)."""
    early = []
    for k, (start, end) in enumerate(wins):
        with av.open(src) as inp, av.open(str(out / f"copy{k}.mp4"), "w", format="mp4") as dst:
            s = inp.streams.video[0]
            o = dst.add_stream_from_template(s)
            tb = s.time_base
            assert tb is not None
            inp.seek(int(start / tb), stream=s, backward=True, any_frame=False)
            first = None
            for pkt in inp.demux(s):
                if pkt.pts is None or pkt.dts is None:
                    continue
                t = float(pkt.pts * tb)
                if first is None:
                    first = t
                if t >= end:
                    break
                pkt.stream = o
                dst.mux(pkt)
            early.append(start - (first if first is not None else start))
    return early


def decode_only(src: str, wins: list[tuple[float, float]]) -> int:
    n = 0
    with av.open(src) as inp:
        s = inp.streams.video[0]
        s.thread_type = "AUTO"
        tb = s.time_base
        assert tb is not None
        for start, end in wins:
            inp.seek(int(start / tb), stream=s, backward=True, any_frame=False)
            for frame in inp.decode(s):
                if frame.pts is None:
                    continue
                t = float(frame.pts * tb)
                if t >= end:
                    break
                if t >= start:
                    frame.to_ndarray(format="yuv420p")
                    n += 1
    return n


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--size", type=int, nargs=2, default=(640, 360))
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--clip-s", type=float, default=4.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "bench-clips-cut")
    a = ap.parse_args()
    game = render_game(a.cache / f"g-{a.seconds:g}s-{a.fps}fps-{a.size[0]}x{a.size[1]}", "bench", 7, seconds=a.seconds, fps=a.fps,
                       size=tuple(a.size), cameras=("wide",))
    src = str(game.video("wide"))
    wins = windows(a.seconds, a.clips, a.clip_s)
    clip_seconds = sum(e - s for s, e in wins)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        specs = [ClipSpec(s, e, out / f"re{k}.mp4") for k, (s, e) in enumerate(wins)]
        t_re = best(lambda: cut_clips("wide", src, specs), a.repeat)
        t_re_seek = best(lambda: cut_clips("wide", src, specs, seek_gap_s=0.0), a.repeat)
        early = stream_copy(src, wins, out)
        t_copy = best(lambda: stream_copy(src, wins, out), a.repeat)
        t_dec = best(lambda: decode_only(src, wins), a.repeat)
    print(f"video: {a.seconds:g} s, {a.fps} fps, {a.size[0]}x{a.size[1]}, keyframe every 1 s (the renderer's GOP); {len(wins)} clips of {a.clip_s:g} s "
          f"({clip_seconds:g} s of clips), best of {a.repeat}")
    for name, t in (("reencode (one pass)", t_re), ("reencode (seek per clip)", t_re_seek), ("stream copy", t_copy), ("decode only", t_dec)):
        print(f"  {name:26s} {t * 1000:8.1f} ms  {clip_seconds / t:8.1f} clip-s/s")
    print(f"  reencode / decode only: {t_re / t_dec:.2f}x   reencode / stream copy: {t_re / t_copy:.1f}x")
    print(f"  stream copy starts early by {sum(early) / len(early):.3f} s on average, at most {max(early):.3f} s (re-encoded clips: 0)")


if __name__ == "__main__":
    main()
