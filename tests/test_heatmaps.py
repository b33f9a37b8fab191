"""shot-heatmaps: golden hand-computed cases, the exact zarr round trip, and the layer end to end.

The golden cases use a 40-pixel footprint (a 360-pixel-high frame): 16 px wide, 40 px high,
standing on the foot-point; window patches are 16 px. Every expected value below is computed by
hand in the comments, not by the code under test.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Ws, make_pipeline_ws
from numpy.typing import NDArray

from artifacts import api
from artifacts.api import BuildReport
from artifacts.errors import BuildError, SourceError, StoreError
from artifacts.layers import ArtifactReader
from artifacts.plan import State
from generators.layers.heatmaps import layout, store
from generators.layers.heatmaps.codec import decode
from generators.layers.heatmaps.footprint import select
from generators.layers.heatmaps.inputs import NO_TRACK, OTHER, REFEREE, TEAM_A, TEAM_B, Detections, Tracks, Windows, footprint_height
from generators.layers.heatmaps.rasterise import BLOCK, rasterise
from generators.layers.heatmaps.slots import assign, labels, track_jerseys
from generators.layers.heatmaps.upstream import ReadCount, TrackTable, track_jerseys_streamed, window_detections
from generators.layers.shots.annotation import parse_shots
from generators.layers.shots.window import FRAMES, shot_window
from generators.models.jersey import decode_digits
from generators.models.tracking.categories import CATEGORIES

X0, Y0, FIRST = 100, 50, 10  # the golden window: camera 0, top-left (100, 50), frames 10-25
ORIGIN = (40.5, 100.25)  # in window pixels


def _game(dets: list[tuple[int, float, float, float, int, int]], tracks: list[tuple[int, int, int]], offense: int = TEAM_B,
          jersey: int = 23) -> tuple[Detections, Tracks, Windows]:
    """Detections ``(frame, wx, wy, confidence, track id or -1, team)`` in window pixels, tracks
    ``(id, category, jersey)``, one window."""
    ids = [t[0] for t in tracks]
    a = np.array([d[:4] for d in dets], np.float64).reshape(-1, 4)
    det = Detections(
        camera=np.zeros(len(dets), np.int32), frame=a[:, 0].astype(np.int32), px=(a[:, 1] + X0).astype(np.float32), py=(a[:, 2] + Y0).astype(np.float32),
        confidence=a[:, 3].astype(np.float32), track=np.array([ids.index(d[4]) if d[4] >= 0 else NO_TRACK for d in dets], np.int64),
        team=np.array([d[5] for d in dets], np.int8),
    )
    trk = Tracks(track_id=np.array(ids, np.int64), category=np.array([t[1] for t in tracks], np.int8), jersey=np.array([t[2] for t in tracks], np.int16))
    win = Windows(camera=np.zeros(1, np.int32), x0=np.array([X0], np.int32), y0=np.array([Y0], np.int32), first_frame=np.array([FIRST], np.int32),
                  origin=np.array([ORIGIN], np.float32), offense=np.array([offense], np.int8), shooter_jersey=np.array([jersey], np.int16),
                  footprint_px=np.array([footprint_height(360)]))
    return det, trk, win


def _heatmap(det: Detections, trk: Tracks, win: Windows) -> NDArray[np.float32]:
    pairs = select(det, win)
    slots = assign(pairs, det, trk, win)
    return decode(rasterise(len(win), pairs, slots.channel, det.confidence[pairs.det], win.origin))[0]


def _lit(hm: NDArray[np.float32], t: int, ch: int) -> set[tuple[int, int]]:
    return {(int(i), int(j)) for i, j in zip(*np.nonzero(hm[t, :, :, ch]), strict=True)}


def test_footprint_golden_patches_edges_and_clipping() -> None:
    assert footprint_height(360) == pytest.approx(40.0)
    det, trk, win = _game(
        [
            (10, 40.0, 100.0, 0.9, 5, TEAM_B),  # x 32..48 -> column 2; y 60..100 -> rows 3..6 (100/16 = 6.25)
            (11, 56.0, 96.0, 0.8, 5, TEAM_B),  # x 48..64 touches columns 2 and 4 only at edges -> 3; y 56..96 -> rows 3..5
            (12, 4.0, 20.0, 0.7, 5, TEAM_B),  # x -4..12 -> column 0 (clipped); y -20..20 -> rows 0..1 (clipped)
            (13, 230.0, 250.0, 0.6, 5, TEAM_B),  # x 222..238 -> column 13; y 210..250 -> rows 13 (clipped)
            (14, -8.0, 100.0, 0.5, 5, TEAM_B),  # x -16..0 meets the window at its edge only: not in it
            (15, 100.0, 264.0, 0.5, 5, TEAM_B),  # y 224..264 starts at the window's bottom edge: not in it
            (26, 40.0, 100.0, 0.5, 5, TEAM_B),  # frame 26 is past the window's 16 frames
        ],
        [(5, TEAM_B, 23)],
    )
    pairs = select(det, win)
    assert pairs.t.tolist() == [0, 1, 2, 3]
    assert list(zip(pairs.r0.tolist(), pairs.r1.tolist(), pairs.c0.tolist(), pairs.c1.tolist(), strict=True)) == [(3, 6, 2, 2), (3, 5, 3, 3), (0, 1, 0, 0), (13, 13, 13, 13)]
    hm = _heatmap(det, trk, win)
    assert _lit(hm, 0, 0) == {(3, 2), (4, 2), (5, 2), (6, 2)}
    assert _lit(hm, 1, 0) == {(3, 3), (4, 3), (5, 3)}
    assert _lit(hm, 2, 0) == {(0, 0), (1, 0)}
    assert _lit(hm, 3, 0) == {(13, 13)}
    assert all(not hm[t, ..., :13].any() for t in range(4, FRAMES))
    assert hm[0, 4, 2, layout.CONFIDENCE] == np.float32(0.9) and hm[3, 13, 13, layout.CONFIDENCE] == np.float32(0.6)


def test_origin_channels_golden() -> None:
    det, trk, win = _game([], [])
    hm = _heatmap(det, trk, win)
    for t in (0, 7, 15):  # the same in every frame
        # origin (40.5, 100.25) lies in column 40.5 // 16 = 2, row 100.25 // 16 = 6
        assert _lit(hm, t, layout.SHOT) == {(6, 2)} and hm[t, 6, 2, layout.SHOT] == 1.0
        assert _lit(hm, t, layout.SHOT_X) == {(6, 2)} and hm[t, 6, 2, layout.SHOT_X] == 0.53125  # (40.5 - 32) / 16
        assert _lit(hm, t, layout.SHOT_Y) == {(6, 2)} and hm[t, 6, 2, layout.SHOT_Y] == 0.265625  # (100.25 - 96) / 16
        dist = hm[t, ..., layout.DISTANCE]
        assert dist[0, 0] == pytest.approx(math.hypot(8 - 40.5, 8 - 100.25) / 128, rel=1e-6)  # centre (8, 8): 97.81 px
        assert dist[6, 2] == pytest.approx(math.hypot(40 - 40.5, 104 - 100.25) / 128, rel=1e-6)  # centre (40, 104): 3.78 px
        assert dist[6, 10] == pytest.approx(math.hypot(168 - 40.5, 104 - 100.25) / 128, rel=1e-6)  # 127.56 px: just under 1
        assert dist[6, 11] == 1.0 and dist[13, 13] == 1.0  # 143.6 px and more: clipped to 1
    assert not hm[..., :13].any() and not hm[..., layout.CONFIDENCE].any()


def test_slot_order_unknowns_and_non_players_golden() -> None:
    y = 100.0
    dets: list[tuple[int, float, float, float, int, int]] = []

    def track(tid: int, team: int, x: float, count: int) -> None:
        dets.extend((FIRST + f, x, y, 0.5, tid, team) for f in range(count))

    # Offense (team_b): detections in the window per track, and mean x.
    track(11, TEAM_B, 150.0, 3)
    track(12, TEAM_B, 50.0, 3)
    track(13, TEAM_B, 100.0, 2)
    track(14, TEAM_B, 20.0, 2)
    track(15, TEAM_B, 60.0, 2)  # ties 13 and 14 on count, higher id: 6th, unknown offense
    track(16, TEAM_B, 70.0, 1)  # 7th: unknown offense
    track(17, TEAM_B, 100.0, 3)  # ties 13 on mean x, higher id: after it
    # The 5 most seen: 11, 12, 17 (3 each), then 13, 14 (2, lower ids than 15); left to right:
    # 14 (x 20), 12 (50), 13 (100), 17 (100, tie -> id), 11 (150).
    track(22, TEAM_A, 30.0, 1)
    track(21, TEAM_A, 180.0, 1)  # defense, left to right: 22 then 21
    track(30, REFEREE, 200.0, 1)
    track(31, OTHER, 210.0, 1)
    dets += [(FIRST + 9, 120.0, y, 0.5, -1, TEAM_B), (FIRST + 10, 130.0, y, 0.5, -1, TEAM_A), (FIRST + 11, 140.0, y, 0.5, -1, 2)]
    tracks = [(t, TEAM_B, 99) for t in range(11, 18)] + [(21, TEAM_A, 1), (22, TEAM_A, 2), (30, REFEREE, -1), (31, OTHER, -1)]
    det, trk, win = _game(dets, tracks)
    pairs = select(det, win)
    slots = assign(pairs, det, trk, win)
    slot_ids = [int(trk.track_id[r]) if r >= 0 else -1 for r in slots.track[0]]
    assert slot_ids == [14, 12, 13, 17, 11, 22, 21, -1, -1, -1]
    assert slots.detections[0].tolist() == [2, 3, 2, 3, 3, 1, 1, 0, 0, 0]
    channel_of = {int(trk.track_id[det.track[d]]) if det.track[d] >= 0 else -int(det.team[d]) - 1: int(c) for d, c in zip(pairs.det, slots.channel, strict=True)}
    assert channel_of == {14: 0, 12: 1, 13: 2, 17: 3, 11: 4, 15: 10, 16: 10, 22: 5, 21: 6, 30: 12, 31: 12, -2: 10, -1: 11, -3: 12}
    # With the offense switched, team_a's tracks take O1-O2 and team_b's the defense slots.
    win_a = Windows(**{**win.__dict__, "offense": np.array([TEAM_A], np.int8)})
    slots_a = assign(pairs, det, trk, win_a)
    assert [int(trk.track_id[r]) if r >= 0 else -1 for r in slots_a.track[0]] == [22, 21, -1, -1, -1, 14, 12, 13, 17, 11]


def test_label_from_track_jerseys() -> None:
    def shot(jerseys: dict[int, int], counts: dict[int, int]) -> tuple[int, int, list[int]]:
        dets = [(FIRST + f, 20.0 + 30 * k, 100.0, 0.5, tid, TEAM_B) for k, tid in enumerate(sorted(counts)) for f in range(counts[tid])]
        det, trk, win = _game(dets, [(t, TEAM_B, jerseys[t]) for t in sorted(counts)], jersey=23)
        pairs = select(det, win)
        slots = assign(pairs, det, trk, win)
        label, matches, slot_jersey = labels(slots, trk, win.shooter_jersey)
        return int(label[0]), int(matches[0]), slot_jersey[0].tolist()

    # tracks 1, 2, 3 left to right; the shooter wears 23
    assert shot({1: 7, 2: 23, 3: 8}, {1: 1, 2: 1, 3: 1}) == (1, 1, [7, 23, 8, -1, -1, -1, -1, -1, -1, -1])
    assert shot({1: 7, 2: 9, 3: 8}, {1: 1, 2: 1, 3: 1})[:2] == (-1, 0)  # nobody wears 23: kept, unlabelled
    assert shot({1: 23, 2: 9, 3: 23}, {1: 1, 2: 1, 3: 3})[:2] == (2, 2)  # two slots: the one seen more
    assert shot({1: 23, 2: 9, 3: 23}, {1: 2, 2: 1, 3: 2})[:2] == (0, 2)  # a tie: the lower slot
    assert shot({1: -1, 2: 9, 3: 8}, {1: 1, 2: 1, 3: 1})[:2] == (-1, 0)  # an unread number matches nothing
    # Jersey of a track: the majority of its detections' numbers, ties to the lower, -1 when none.
    track = np.array([0, 0, 0, 1, 1, 2, 2, -1])
    numbers = np.array([23, 23, 7, 5, 4, -1, -1, 23])
    assert track_jerseys(track, numbers, 4).tolist() == [23, 4, -1, -1]


def test_confidence_is_the_maximum_and_crowded_channels_stay_bits() -> None:
    det, trk, win = _game(
        [
            (10, 40.0, 100.0, 0.9, 5, TEAM_B),  # rows 3..6, column 2
            (10, 40.0, 84.0, 0.95, 6, TEAM_B),  # rows 2..5, column 2: higher where they overlap
            (12, 40.0, 100.0, 0.4, -1, TEAM_A),  # two untracked defenders overlapping in one frame:
            (12, 40.0, 84.0, 0.3, -1, TEAM_A),  # channel 11 must stay a bit (an add would carry into 12)
        ],
        [(5, TEAM_B, 23), (6, TEAM_B, 8)],
    )
    hm = _heatmap(det, trk, win)
    assert hm[0, 2:7, 2, layout.CONFIDENCE].tolist() == pytest.approx([0.95, 0.95, 0.95, 0.95, 0.9])
    # same mean x: track 5 (rows 3..6) is O1 by its lower id, track 6 (rows 2..5) O2
    assert hm[0, 2:7, 2, 0].tolist() == [0, 1, 1, 1, 1] and hm[0, 2:7, 2, 1].tolist() == [1, 1, 1, 1, 0]
    assert _lit(hm, 2, layout.DEFENSE_UNKNOWN) == {(2, 2), (3, 2), (4, 2), (5, 2), (6, 2)}
    assert not hm[2, ..., layout.NON_PLAYER].any() and not hm[2, ..., :10].any()
    assert hm[2, 2:7, 2, layout.CONFIDENCE].tolist() == pytest.approx([0.3, 0.4, 0.4, 0.4, 0.4])


def _random_game(seed: int, n_shots: int) -> tuple[Detections, Tracks, Windows]:
    """A busy synthetic game: 2 cameras, 200 frames, 40 tracks and untracked detections."""
    rng = np.random.default_rng(seed)
    n = 6000
    cam = rng.integers(0, 2, n).astype(np.int32)
    frame = rng.integers(0, 200, n).astype(np.int32)
    det = Detections(camera=cam, frame=frame, px=rng.uniform(-30, 670, n).astype(np.float32), py=rng.uniform(-10, 400, n).astype(np.float32),
                     confidence=rng.uniform(0, 1, n).astype(np.float32), track=np.where(rng.random(n) < 0.1, -1, rng.integers(0, 40, n)),
                     team=rng.integers(0, 3, n).astype(np.int8))
    trk = Tracks(track_id=np.arange(40, dtype=np.int64) * 3 + 7, category=rng.integers(0, 4, 40).astype(np.int8), jersey=rng.integers(-1, 100, 40).astype(np.int16))
    win = Windows(camera=rng.integers(0, 2, n_shots).astype(np.int32), x0=rng.integers(0, 640 - 224, n_shots).astype(np.int32),
                  y0=rng.integers(0, 360 - 224, n_shots).astype(np.int32), first_frame=rng.integers(0, 200 - FRAMES, n_shots).astype(np.int32),
                  origin=rng.uniform(0, 224, (n_shots, 2)).astype(np.float32), offense=rng.integers(0, 2, n_shots).astype(np.int8),
                  shooter_jersey=rng.integers(0, 100, n_shots).astype(np.int16), footprint_px=np.array([40.0, 52.0]))
    return det, trk, win


def _reference(det: Detections, trk: Tracks, win: Windows) -> NDArray[np.float32]:
    """The heatmaps by a plain loop over (shot, detection) pairs, float32 all along."""
    pairs = select(det, win)
    channel = assign(pairs, det, trk, win).channel
    out = np.zeros((len(win), *layout.SHAPE), np.float32)
    for s in range(len(win)):
        out[s, ..., layout.SHOT : layout.DISTANCE + 1] = layout.origin_planes(win.origin[s : s + 1])[0]
    for k in range(len(pairs)):
        box = out[pairs.shot[k], pairs.t[k], pairs.r0[k] : pairs.r1[k] + 1, pairs.c0[k] : pairs.c1[k] + 1]
        box[..., channel[k]] = 1.0
        np.maximum(box[..., layout.CONFIDENCE], det.confidence[pairs.det[k]], out=box[..., layout.CONFIDENCE])
    return out


def test_rasterise_equals_a_plain_loop_and_round_trips_through_zarr_exactly(tmp_path: Path) -> None:
    det, trk, win = _random_game(0, BLOCK + 22)  # more than one block
    pairs = select(det, win)
    slots = assign(pairs, det, trk, win)
    assert len(pairs) > 20 * len(win)
    records = rasterise(len(win), pairs, slots.channel, det.confidence[pairs.det], win.origin)
    expected = _reference(det, trk, win)
    assert np.array_equal(decode(records).view(np.uint32), expected.view(np.uint32))
    reused = np.empty(len(win) + 3, layout.RECORD)
    reused.view(np.uint8).fill(0xAB)  # stale bytes must not survive
    assert rasterise(len(win), pairs, slots.channel, det.confidence[pairs.det], win.origin, out=reused).tobytes() == records.tobytes()
    half = len(win) // 2
    store.write_array(tmp_path / "a" / "heatmaps.zarr", records[:half])
    store.write_array(tmp_path / "b" / "heatmaps.zarr", records[half:])
    a = store.HeatmapArray(tmp_path / "a" / "heatmaps.zarr")
    assert len(a) == half and a.attributes["layout"] == layout.LAYOUT_VERSION and a.attributes["channels"][17] == "confidence"
    got = a.read([3, 0, 3])
    assert got.dtype == np.float32 and got.shape == (3, 16, 14, 14, 18)
    assert np.array_equal(got.view(np.uint32), expected[[3, 0, 3]].view(np.uint32))
    both = store.HeatmapSet([a, store.HeatmapArray(tmp_path / "b" / "heatmaps.zarr")])
    order = np.random.default_rng(1).permutation(len(win))
    for batch in (order[:32], order[32:64], order[-5:]):
        assert np.array_equal(both.read(batch).view(np.uint32), expected[batch].view(np.uint32))
    import fsspec
    import zarr

    via_fs = store.HeatmapArray(str(tmp_path / "b" / "heatmaps.zarr"), fs=fsspec.filesystem("file"))
    assert np.array_equal(via_fs.read([1, 2]).view(np.uint32), expected[[half + 1, half + 2]].view(np.uint32))
    plain = zarr.open_array(str(tmp_path / "a" / "heatmaps.zarr"), mode="r")  # any zarr v3 reader sees the records
    assert plain.shape == (half, layout.RECORD_BYTES) and plain[5].tobytes() == records[5].tobytes()


def test_damaged_arrays_are_refused_with_the_reason(tmp_path: Path) -> None:
    det, trk, win = _random_game(2, 4)
    pairs = select(det, win)
    records = rasterise(len(win), pairs, assign(pairs, det, trk, win).channel, det.confidence[pairs.det], win.origin)
    path = tmp_path / "heatmaps.zarr"
    store.write_array(path, records)
    (path / "c" / "1" / "0").write_bytes((path / "c" / "1" / "0").read_bytes()[:20])
    with pytest.raises(StoreError, match="heatmap chunk .*c/1/0.*does not decompress"):
        store.HeatmapArray(path).read([1])
    (path / "c" / "2" / "0").unlink()
    with pytest.raises(StoreError, match="lacks a chunk"):
        store.HeatmapArray(path).read([0, 2])
    bad = records.copy()
    bad["conf"][3, bad["bits"][3] == 0] = 0.5  # a confidence where no footprint is
    with pytest.raises(StoreError, match="heatmap records 3: is corrupt: a confidence without a footprint"):
        decode(bad)
    meta = (path / "zarr.json").read_text()
    (path / "zarr.json").write_text(meta.replace('"layout": "1"', '"layout": "0"'))
    with pytest.raises(StoreError, match="not in the layout this reader decodes: attribute layout '0' .expected '1'.*rebuild"):
        store.HeatmapArray(path)


# --- the layer, end to end on rendered games with the real upstream layers -----------------

LAYERS = ["generators.layers.frame_level.layer:FrameLevel", "generators.layers.track_level.layer:TrackLevel", "generators.layers.heatmaps.layer:ShotHeatmaps"]
SIZE = (640, 360)  # the size the tiny test models were trained at: they find people there


def _add_hidden_shot(shots_csv: Path) -> int:
    """Append three copies of the first shot at other frames and origins (more windows, for the
    chunk tests), then a copy that no camera sees; return the row count."""
    with shots_csv.open() as f:
        rows = list(csv.DictReader(f))
    first = rows[0]
    cam = next(c[: -len("_visible")] for c in first if c.endswith("_visible") and first[c] == "1")
    for frame, dx, dy in ((4, 0.0, 0.0), (12, 60.0, 0.0), (7, -30.0, 25.0)):
        rows.append({**first, "frame": str(frame), f"{cam}_px": f"{float(first[f'{cam}_px']) + dx:.3f}", f"{cam}_py": f"{float(first[f'{cam}_py']) + dy:.3f}"})
    hidden = {k: ("0" if k.endswith("_visible") else v) for k, v in rows[0].items()}
    rows.append(hidden)
    with shots_csv.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return len(rows)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, trained: dict[str, Path]) -> tuple[Ws, BuildReport]:
    """Two rendered games built up to shot-heatmaps: r0 with an extra shot no camera sees, r1
    with an annotation that names a camera the game has no video for."""
    ws = make_pipeline_ws(tmp_path_factory.mktemp("heatmaps") / "ws", trained, games=2, layers=LAYERS, size=SIZE)
    _add_hidden_shot(ws.root / "games" / "r0" / "shots.csv")  # sources are re-checked by the build
    bad = ws.root / "games" / "r1" / "shots.csv"
    lines = bad.read_text().splitlines()
    bad.write_text("\n".join([lines[0] + ",top_px,top_py,top_visible"] + [line + ",1.0,2.0,1" for line in lines[1:]]) + "\n")
    return ws, api.build(ws.engine(), ["shot-heatmaps"], jobs=1)


def _expected_from_detections(det: dict[str, NDArray[np.generic]], shot: dict[str, Any], height: int) -> tuple[NDArray[np.bool_], NDArray[np.float32]]:
    """Presence (any of channels 0-12) and confidence per frame and patch, by a plain loop over
    the detections and patches: the footprint rule of the docs, written independently."""
    h = height / 9
    lit = np.zeros((FRAMES, 14, 14), bool)
    conf = np.zeros((FRAMES, 14, 14), np.float32)
    mine = np.flatnonzero((det["camera"] == shot["camera"]) & (det["frame"] >= shot["first_frame"]) & (det["frame"] < shot["first_frame"] + FRAMES))
    for k in mine:
        x, y = float(det["px"][k]) - shot["x0"], float(det["py"][k]) - shot["y0"]
        left, right, top, bottom = x - 0.2 * h, x + 0.2 * h, y - h, y
        for i in range(14):
            for j in range(14):
                if right > 16 * j and left < 16 * (j + 1) and bottom > 16 * i and top < 16 * (i + 1):
                    t = int(det["frame"][k]) - shot["first_frame"]
                    lit[t, i, j] = True
                    conf[t, i, j] = max(conf[t, i, j], det["confidence"][k])
    return lit, conf


def test_layer_on_rendered_games(built: tuple[Ws, BuildReport]) -> None:
    ws, report = built
    assert report.result is not None
    assert report.result.events[("shot-heatmaps", "r0")].kind == "built"
    e = ws.engine()
    plan = e.plan_keys(["shot-heatmaps"])
    m = e.store.manifest("shot-heatmaps", "r0", plan.key("shot-heatmaps", "r0") or "")
    assert m is not None
    assert m.contracts == {"heatmap_layout": "1", "heatmap_grid": [16, 14, 14], "heatmap_channels": 18,
                           "shot_window": {"size": 224, "patch": 16, "frames": 16, "layout": "1"}}
    # the shot no camera sees is counted in the manifest (and so by build and status)
    assert [(x.kind, x.what, x.count, x.total, x.reason, x.examples) for x in m.signals] == [("skipped", "shots", 1, 5, "origin visible in no camera", ["shot 4"])]
    assert "annotate <camera>_px, <camera>_py and <camera>_visible = 1" in m.signals[0].fix
    frames = e.store.manifest("frame-level", "r0", plan.key("frame-level", "r0") or "")
    assert frames is not None
    table = pq.read_table(ws.root / "store" / frames.data / "detections.parquet")
    det = {c: table.column(c).to_numpy(zero_copy_only=False) for c in ("frame", "camera", "px", "py", "confidence")}
    assert len(det["frame"]) > 20  # the tiny detector finds people: the comparison below means something
    data = ws.root / "store" / m.data
    shots = pq.read_table(data / "shots.parquet").to_pylist()
    with (ws.root / "games" / "r0" / "shots.csv").open() as f:
        truth = list(csv.DictReader(f))
    assert len(shots) == len(truth) >= 2 and [s["shot"] for s in shots] == list(range(len(truth)))
    hidden = shots[-1]
    assert (hidden["heatmap_row"], hidden["skipped"], hidden["camera"], hidden["label"]) == (-1, "origin visible in no camera", None, -1)
    made = [s for s in shots if s["heatmap_row"] >= 0]
    assert len(made) == len(shots) - 1 and all(s["skipped"] is None and s["layout"] == "1" for s in made)
    arr = store.open_artifact(ArtifactReader(e.store, m))
    assert len(arr) == len(made) and (arr.attributes["shots"], arr.attributes["skipped"]) == (len(shots), 1)
    for s, h in zip(made, arr.read([s["heatmap_row"] for s in made]), strict=True):
        row = truth[s["shot"]]
        cam = s["camera"]
        assert row[f"{cam}_visible"] == "1"
        assert (s["origin_x"], s["origin_y"]) == pytest.approx((float(row[f"{cam}_px"]) - s["x0"], float(row[f"{cam}_py"]) - s["y0"]), abs=1e-4)
        assert s["first_frame"] == max(0, int(row["frame"]) - 8) and s["frame"] == int(row["frame"])
        assert all(_lit(h, t, layout.SHOT) == {(int(s["origin_y"] // 16), int(s["origin_x"] // 16))} for t in range(FRAMES))
        lit, conf = _expected_from_detections(det, s, SIZE[1])
        assert lit.any()
        assert np.array_equal(h[..., :13].any(axis=-1), lit)
        assert np.array_equal(h[..., layout.CONFIDENCE], conf)
        assert ((h[..., :13] == 0) | (h[..., :13] == 1)).all()
        # channels 0-9 are exactly the filled slots; the label points at the shooter's jersey
        assert [k for k in range(10) if h[..., k].any()] == [k for k in range(10) if s["slot_track"][k] >= 0]
        assert -1 <= s["label"] <= 4
        if s["label"] >= 0:
            assert s["slot_jersey"][s["label"]] == int(row["shooter_jersey"])


def test_a_bad_annotation_fails_only_its_game(built: tuple[Ws, BuildReport]) -> None:
    _, report = built
    assert report.result is not None
    ev = report.result.events[("shot-heatmaps", "r1")]
    assert ev.kind == "failed"
    assert ev.message == ("shots annotation r1/shots 'top': names cameras that are not registered videos (left, right); "
                          "register those videos or drop their columns from the annotation")
    assert report.result.events[("track-level", "r1")].kind == "built"


def test_a_tracker_change_makes_shot_heatmaps_stale(built: tuple[Ws, BuildReport]) -> None:
    ws, _ = built
    status = api.status(ws.engine(), ["frame-level", "track-level", "shot-heatmaps"], collection="staging", games=["r0"])
    assert {x.layer: x.state for x in status.entries} == {"frame-level": State.FRESH, "track-level": State.STALE, "shot-heatmaps": State.STALE}
    assert {c.text() for x in status.entries if x.layer == "shot-heatmaps" for c in x.causes} == {"tracker trk-v1 -> trk-v2 (via track-level)"}


def test_sportvu_shots_become_labelled_heatmaps(tmp_path: Path) -> None:
    from test_render import _write_sportvu

    from generators.layers.heatmaps.sportvu import sportvu_shots, write

    data = _write_sportvu(tmp_path / "sportvu", True)
    shots = sportvu_shots(data)  # LeBron James (team_a) releases at (70, 20): only the right camera sees it
    assert shots.camera == ["right"] and shots.skipped == [] and shots.shot.tolist() == [0] and shots.shooter_id.tolist() == [14]
    label = int(shots.label[0])
    assert 0 <= label <= 4
    hm = decode(shots.records)[0]
    origin = shots.records["origin"][0]
    i, j = int(origin[1] // 16), int(origin[0] // 16)
    assert hm[8, i, j, label] == 1.0 and hm[8, i, j, layout.SHOT] == 1.0  # the shooter's slot covers the origin at the release
    assert hm[..., layout.CONFIDENCE].max() == 1.0  # truth positions: confidence 1
    write(tmp_path / "out", shots)
    table = pq.read_table(tmp_path / "out" / "shots.parquet").to_pylist()
    assert [(r["shot"], r["heatmap_row"], r["label"], r["shooter_id"], r["camera"]) for r in table] == [(0, 0, label, 14, "right")]
    assert np.array_equal(store.HeatmapArray(tmp_path / "out" / "heatmaps.zarr").read([0])[0].view(np.uint32), hm.view(np.uint32))


def test_annotation_checks_and_empty_arrays(tmp_path: Path) -> None:
    from generators.layers.heatmaps.layer import check_annotation
    from generators.layers.shots.annotation import parse_shots

    text = "frame,shooter_id,shooter_team,shooter_jersey,x_ft,y_ft,left_px,left_py,left_visible\n10,3,1,23,5.0,6.0,100.0,120.0,1\n12,4,2,9,5.0,6.0,100.0,120.0,1\n"
    shots = parse_shots(text, "g/shots")
    check_annotation("g", shots[:1], ["left", "right"])
    with pytest.raises(SourceError, match=r"^shots annotation g/shots row 3 shooter_team 2: is not 0 \(team_a\) or 1 \(team_b\); fix the row"):
        check_annotation("g", shots, ["left", "right"])
    with pytest.raises(SourceError, match=r"^shots annotation g/shots 'left': names cameras that are not registered videos \(right\)"):
        check_annotation("g", shots[:1], ["right"])
    # A game whose shots all lack a window still writes a readable, empty array.
    store.write_array(tmp_path / "empty.zarr", np.zeros(0, layout.RECORD))
    empty = store.HeatmapArray(tmp_path / "empty.zarr")
    assert len(empty) == 0 and empty.read([]).shape == (0, 16, 14, 14, 18)
    with pytest.raises(IndexError, match="heatmap row 0 out of range"):
        empty.read([0])


# --- bounded reads of the upstream tables, and chunks ---------------------------------------


def _upstream_tables(tmp_path: Path, seed: int = 0) -> tuple[Path, Path, Path, dict[str, NDArray[Any]]]:
    """Detections of 2 cameras x 3,000 frames x 3 people, sorted by camera then frame, in row
    groups of 1,000 rows (frame-level's layout, smaller); their assignments in groups of 700
    (another size on purpose); 40 tracks. Jersey features are float16, as frame-level may write them."""
    rng = np.random.default_rng(seed)
    cam = np.repeat(np.array(["left", "right"]), 9000)
    frame = np.tile(np.repeat(np.arange(3000, dtype=np.int32), 3), 2)
    n = len(frame)
    track_ids = rng.permutation(1000)[:40].astype(np.int64) * 7 + 3
    det_track = np.where(rng.random(n) < 0.8, track_ids[rng.integers(0, 40, n)], -1)
    jersey = rng.normal(size=(n, 133)).astype(np.float16)
    det = pa.table({
        "frame": pa.array(frame), "camera": pa.array(cam), "px": pa.array(rng.uniform(0, 640, n).astype(np.float32)),
        "py": pa.array(rng.uniform(0, 360, n).astype(np.float32)), "confidence": pa.array(rng.random(n).astype(np.float32)),
        "jersey": pa.FixedSizeListArray.from_arrays(pa.array(jersey.ravel()), 133), "team": pa.array(rng.integers(0, 3, n).astype(np.int8)),
    })
    assign_table = pa.table({"detection": pa.array(np.arange(n, dtype=np.int64)), "frame": pa.array(frame), "camera": pa.array(cam), "track_id": pa.array(det_track)})
    tracks = pa.table({"track_id": pa.array(track_ids), "category": pa.array([CATEGORIES[i % 4] for i in range(40)])})
    paths = (tmp_path / "detections.parquet", tmp_path / "assignments.parquet", tmp_path / "tracks.parquet")
    pq.write_table(det, paths[0], row_group_size=1000)
    pq.write_table(assign_table, paths[1], row_group_size=700)
    pq.write_table(tracks, paths[2])
    arrays = {"frame": frame, "camera": (cam == "right").astype(np.int32), "track": det_track, "jersey": jersey, "track_ids": track_ids}
    return *paths, arrays


def _tracks(path: Path) -> TrackTable:
    from generators.layers.heatmaps.upstream import read_tracks

    return read_tracks(pq.ParquetFile(path))


def test_window_detections_read_only_their_row_groups_and_equal_a_whole_table_filter(tmp_path: Path) -> None:
    det_path, assign_path, tracks_path, a = _upstream_tables(tmp_path)
    tracks = _tracks(tracks_path)
    det_file, assign_file = pq.ParquetFile(det_path), pq.ParquetFile(assign_path)
    assert det_file.num_row_groups == 18
    spans = np.array([[0, 100, 116], [1, 2990, 3006], [0, 108, 124], [1, 1500, 1516]], np.int64)  # overlapping, one past the end
    count = ReadCount()
    got = window_detections(det_file, assign_file, tracks, ["left", "right"], spans, "g", count)
    # The rows of the spans, by a plain mask over the whole table, in table order.
    inside = np.zeros(len(a["frame"]), bool)
    for c, lo, hi in spans.tolist():
        inside |= (a["camera"] == c) & (a["frame"] >= lo) & (a["frame"] < hi)
    rows = np.flatnonzero(inside)
    whole = pq.read_table(det_path)
    assert len(got) == len(rows) == 3 * (24 + 10 + 16)
    assert np.array_equal(got.frame, a["frame"][rows]) and np.array_equal(got.camera, a["camera"][rows])
    for name in ("px", "py", "confidence", "team"):
        assert np.array_equal(getattr(got, name), whole.column(name).to_numpy()[rows])
    expected_track = np.array([{int(t): k for k, t in enumerate(a["track_ids"])}.get(int(t), -1) for t in a["track"][rows]])
    assert np.array_equal(got.track, expected_track)
    # Rows 300-371 (left 100-123) lie in group 0, 13500-13547 (right 1500-1515) in 13, 17970-17999 in 17: 3 of 18 groups read.
    assert (count.row_groups, count.rows) == (3, 3000)
    nothing = ReadCount()
    assert len(window_detections(det_file, assign_file, tracks, ["left", "right"], np.zeros((0, 3), np.int64), "g", nothing)) == 0
    assert nothing.row_groups == 0


def test_streamed_track_jerseys_equal_the_whole_table_vote(tmp_path: Path) -> None:
    det_path, assign_path, tracks_path, a = _upstream_tables(tmp_path)
    tracks = _tracks(tracks_path)
    got = track_jerseys_streamed(pq.ParquetFile(det_path), pq.ParquetFile(assign_path), tracks, ["left", "right"], "g")
    row = np.array([{int(t): k for k, t in enumerate(a["track_ids"])}.get(int(t), -1) for t in a["track"]])
    expected = track_jerseys(row, decode_digits(a["jersey"].astype(np.float32)), 40)
    assert np.array_equal(got, expected) and (got >= 0).sum() >= 30  # numbers were read: the comparison means something
    # What the whole-table reader refused, the streamed reader refuses too.
    with pytest.raises(BuildError, match=r"^frame-level detections of game g 'right': name a camera that is not a video of the game; rebuild frame-level"):
        track_jerseys_streamed(pq.ParquetFile(det_path), pq.ParquetFile(assign_path), tracks, ["left"], "g")
    shuffled = pq.read_table(assign_path)
    order = np.arange(shuffled.num_rows)
    order[[5000, 5001]] = [5001, 5000]
    pq.write_table(shuffled.take(pa.array(order)), tmp_path / "shuffled.parquet", row_group_size=700)
    with pytest.raises(BuildError, match=r"^track-level assignments of game g 18000: do not list the 18000 frame-level detections in order"):
        track_jerseys_streamed(pq.ParquetFile(det_path), pq.ParquetFile(tmp_path / "shuffled.parquet"), tracks, ["left", "right"], "g")
    few = pq.read_table(tracks_path).slice(1)
    pq.write_table(few, tmp_path / "few.parquet")
    with pytest.raises(BuildError, match=r"assigns detections to tracks missing from tracks.parquet; rebuild track-level"):
        track_jerseys_streamed(pq.ParquetFile(det_path), pq.ParquetFile(assign_path), _tracks(tmp_path / "few.parquet"), ["left", "right"], "g")


def _whole_game_reference(ws: Ws, game: str) -> tuple[NDArray[np.uint8], dict[str, list[Any]]]:
    """The heatmap records and label columns of ``game`` as the layer computed them before it was
    chunked: the whole frame-level and track-level tables in memory, all shots at once."""
    e = ws.engine()
    plan = e.plan_keys(["shot-heatmaps"])

    def data(layer: str) -> Path:
        m = e.store.manifest(layer, game, plan.key(layer, game) or "")
        assert m is not None
        return ws.root / "store" / m.data

    det = pq.read_table(data("frame-level") / "detections.parquet")
    assignments = pq.read_table(data("track-level") / "assignments.parquet")
    trk = pq.read_table(data("track-level") / "tracks.parquet")
    assert np.array_equal(assignments.column("detection").to_numpy(), np.arange(det.num_rows))
    cameras = ["left", "right"]
    ids = trk.column("track_id").to_numpy().astype(np.int64)
    row_of = {int(t): k for k, t in enumerate(ids)}
    row = np.array([row_of.get(int(t), -1) for t in assignments.column("track_id").to_numpy()], np.int64)
    n = det.num_rows
    jersey = det.column("jersey").combine_chunks().flatten().to_numpy().reshape(n, 133).astype(np.float32)
    tracks = Tracks(track_id=ids, category=np.array([CATEGORIES.index(c) for c in trk.column("category").to_pylist()], np.int8),
                    jersey=track_jerseys(row, decode_digits(jersey), len(ids)))
    detections = Detections(camera=np.array([cameras.index(c) for c in det.column("camera").to_pylist()], np.int32),
                            frame=det.column("frame").to_numpy().astype(np.int32), px=det.column("px").to_numpy(), py=det.column("py").to_numpy(),
                            confidence=det.column("confidence").to_numpy(), track=row, team=det.column("team").to_numpy().astype(np.int8))
    with av.open(str(ws.root / "games" / game / "left.mp4")) as c:
        s = c.streams.video[0]
        width, height, frames = s.codec_context.width, s.codec_context.height, s.frames
    shots = parse_shots((ws.root / "games" / game / "shots.csv").read_text(), game)
    wins = [w for w in (shot_window(sh, width, height, frames, game) for sh in shots) if w is not None]
    kept = [w.shot for w in wins]
    win = Windows(camera=np.array([cameras.index(w.camera) for w in wins], np.int32), x0=np.array([w.x0 for w in wins], np.int32),
                  y0=np.array([w.y0 for w in wins], np.int32), first_frame=np.array([w.first_frame for w in wins], np.int32),
                  origin=np.array([[w.origin_x, w.origin_y] for w in wins], np.float32), offense=np.array([shots[k].shooter_team for k in kept], np.int8),
                  shooter_jersey=np.array([shots[k].shooter_jersey for k in kept], np.int16), footprint_px=np.full(2, footprint_height(height)))
    pairs = select(detections, win)
    slots = assign(pairs, detections, tracks, win)
    records = rasterise(len(win), pairs, slots.channel, detections.confidence[pairs.det], win.origin)
    label, matches, slot_jersey = labels(slots, tracks, win.shooter_jersey)
    slot_track = np.where(slots.track >= 0, ids[np.maximum(slots.track, 0)], -1)
    return records.view(np.uint8).reshape(len(win), -1), {
        "shot": kept, "label": label.tolist(), "label_matches": matches.tolist(), "slot_jersey": slot_jersey.tolist(),
        "slot_track": slot_track.tolist(), "slot_detections": slots.detections.tolist(),
    }


def test_chunked_build_equals_one_chunk_and_the_whole_table_computation(built: tuple[Ws, BuildReport]) -> None:
    ws, _ = built
    key = ws.engine().plan_keys(["shot-heatmaps"]).key("shot-heatmaps", "r0") or ""
    outputs: dict[int, tuple[int, dict[str, bytes]]] = {}
    cfg = ws.root / "artifacts.toml"
    original = cfg.read_text()
    try:
        for size in (1, 3, 256):  # 4 shots with a window: 4, 2 and 1 shot chunks, after the jersey chunk
            cfg.write_text(original + f"\n[chunk_size]\nshot-heatmaps = {size}\n")
            e = ws.engine()
            old = e.store.manifest("shot-heatmaps", "r0", key)
            assert old is not None
            e.store.remove_artifact(old)
            assert api.build(ws.engine(), ["shot-heatmaps"], games=["r0"], jobs=1).ok()
            m = ws.engine().store.manifest("shot-heatmaps", "r0", key)
            assert m is not None
            d = ws.root / "store" / m.data
            outputs[size] = (m.chunks, {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()})
    finally:
        cfg.write_text(original)
    assert [n for n, _ in outputs.values()] == [5, 3, 2]
    assert outputs[1][1] == outputs[256][1] and outputs[3][1] == outputs[256][1]  # every file, bit for bit
    records, columns = _whole_game_reference(ws, "r0")
    e = ws.engine()
    m = e.store.manifest("shot-heatmaps", "r0", key)
    assert m is not None
    arr = store.open_artifact(ArtifactReader(e.store, m))
    assert np.array_equal(arr.records(range(len(arr))).view(np.uint8).reshape(len(arr), -1), records)
    table = pq.read_table(ws.root / "store" / m.data / "shots.parquet").to_pylist()
    made = [r for r in table if r["heatmap_row"] >= 0]
    assert {k: [r[k] for r in made] for k in columns} == columns
    assert len(made) == 4 and sum(sum(r["slot_detections"]) for r in made) > 0
