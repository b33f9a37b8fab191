"""The ``shot-heatmaps`` layer: per shot, a [16, 14, 14, 18] track heatmap and the shooter's slot.

Reads the game's ``shots`` annotation (``generators.layers.shots.annotation``), probes its videos
(``kind:video``: size and frame count from the container header, nothing decoded) to place
each shot's window (``generators.layers.shots.window``, the same window ``videomae-features`` cuts),
and the upstream ``frame-level`` detections (foot-point, confidence, jersey features, team) and
``track-level`` tracks (track per detection, category per track). No model runs here.

Decisions (docs/layers.md, "shot-heatmaps"):

- the offense of a shot is the annotation's ``shooter_team``; team 0 is the tracks' ``team_a``
  and team 1 ``team_b`` (``generators/models/tracking/categories.py``: the crop encoder's team slots);
- a detection covers the patches its footprint box intersects (``footprint``); presence and
  the confidence channel use it;
- slots O1-O5 / D1-D5, the unknown and non-player channels, the track jersey and the label
  follow ``slots``; channels 13-16 come from the origin (``layout.origin_planes``);
- every video of a game must have the same size and frame count (the window is defined on
  one frame geometry), and every camera the annotation names must be a registered video.

Outputs:

- ``heatmaps.zarr``: one record per shot that has a window (``store``), lossless: decoding gives
  float32 ``[n, 16, 14, 14, 18]`` equal bit for bit to what the rasteriser computed;
- ``shots.parquet``: one row per annotated shot (``shot`` = its row in the annotation), with its
  window, ``heatmap_row`` (-1 for a shot without heatmap), ``label`` (slot 0-4 of the shooter or
  -1), ``label_matches``, the 10 slots' track ids, jerseys and detection counts, ``skipped``
  (why a shot has no heatmap, null otherwise) and ``layout``.

Contracts recorded: ``heatmap_layout`` ("1"), ``heatmap_grid`` ([16, 14, 14]), ``heatmap_channels``
(18) and ``shot_window`` (size, patch, frames and the window's layout version), which the
readers compare with the video features' grid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from artifacts import BuildContext, Generator, Params

if TYPE_CHECKING:
    import pyarrow as pa

    from generators.layers.heatmaps.inputs import Detections, Tracks
    from generators.layers.shots.annotation import Shot
    from generators.layers.shots.window import ShotWindow

# numpy, pyarrow, zarr and av are imported in build(): layer discovery must stay cheap.

NOT_VISIBLE = "origin visible in no camera"


class ShotHeatmapsParams(Params):
    pass


class ShotHeatmaps(Generator):
    name = "shot-heatmaps"
    version = "1"
    Params = ShotHeatmapsParams
    upstream = ("track-level", "frame-level")
    sources = ("kind:video", "shots")
    outputs = ("heatmaps.zarr", "shots.parquet")
    description = "per shot: [16, 14, 14, 18] track heatmaps over the shot-centred window, the shooter's slot label"

    def build(self, ctx: BuildContext) -> None:
        import numpy as np

        from generators.layers.heatmaps import layout, store
        from generators.layers.heatmaps.footprint import select
        from generators.layers.heatmaps.inputs import Windows, footprint_height
        from generators.layers.heatmaps.rasterise import rasterise
        from generators.layers.heatmaps.slots import assign, labels
        from generators.layers.shots import window as win_mod
        from generators.layers.shots.annotation import parse_shots

        with ctx.open_source("shots") as f:
            shots = parse_shots(f.read().decode(), f"{ctx.game}/shots")
        cameras = [n for n in ctx.source_names() if ctx.source(n).kind == "video"]
        width, height, n_frames = _probe(ctx, cameras)
        check_annotation(ctx.game, shots, cameras)
        windows: list[ShotWindow | None] = [win_mod.shot_window(s, width, height, n_frames, ctx.game) for s in shots]
        kept = [k for k, w in enumerate(windows) if w is not None]
        det, tracks = _read_upstream(ctx, cameras)
        wins = [w for w in windows if w is not None]
        win = Windows(
            camera=np.array([cameras.index(w.camera) for w in wins], np.int32), x0=np.array([w.x0 for w in wins], np.int32),
            y0=np.array([w.y0 for w in wins], np.int32), first_frame=np.array([w.first_frame for w in wins], np.int32),
            origin=np.array([[w.origin_x, w.origin_y] for w in wins], np.float32).reshape(-1, 2),
            offense=np.array([shots[k].shooter_team for k in kept], np.int8),
            shooter_jersey=np.array([shots[k].shooter_jersey for k in kept], np.int16),
            footprint_px=np.full(len(cameras), footprint_height(height), np.float64),
        )
        pairs = select(det, win)
        slots = assign(pairs, det, tracks, win)
        records = rasterise(len(win), pairs, slots.channel, det.confidence[pairs.det], win.origin)
        label, matches, slot_jersey = labels(slots, tracks, win.shooter_jersey)
        stats = {"shots": len(shots), "heatmaps": len(kept), "skipped": len(shots) - len(kept), "unlabelled": int((label < 0).sum())}
        store.write_array(ctx.output_path("heatmaps.zarr"), records, {"game": ctx.game, **stats})
        ctx.write_table("shots.parquet", _shots_table(shots, windows, kept, label, matches, slot_jersey, slots.detections,
                                                      np.where(slots.track >= 0, tracks.track_id[np.maximum(slots.track, 0)], -1)))
        ctx.record_contract("heatmap_layout", layout.LAYOUT_VERSION)
        ctx.record_contract("heatmap_grid", list(layout.SHAPE[:3]))
        ctx.record_contract("heatmap_channels", layout.CHANNELS)
        ctx.record_contract("shot_window", {"size": win_mod.SIZE, "patch": win_mod.PATCH, "frames": win_mod.FRAMES, "layout": win_mod.LAYOUT_VERSION})


def _probe(ctx: BuildContext, cameras: list[str]) -> tuple[int, int, int]:
    """Width, height and frame count shared by every video of the game, from container headers."""
    import av

    from artifacts.errors import BuildError, SourceError

    seen: dict[str, tuple[int, int, int]] = {}
    for name in cameras:
        url = ctx.source(name).url
        try:
            with av.open(url) as c:
                if not c.streams.video:
                    raise BuildError(f"video {name}", url, "unreadable: no video stream", "replace the file with a complete export and register it again")
                s = c.streams.video[0]
                seen[name] = (int(s.codec_context.width), int(s.codec_context.height), int(s.frames or 0))
        except (av.error.InvalidDataError, av.error.FileNotFoundError, OSError) as exc:
            raise BuildError(f"video {name}", url, f"unreadable: {exc}", "replace the file with a complete export and register it again") from exc
        if seen[name][2] <= 0:
            raise BuildError(f"video {name}", url, "declares no frame count in its header", "remux it (ffmpeg -c copy) so that the header counts its frames")
    if len(set(seen.values())) != 1:
        described = ", ".join(f"{n} {w}x{h} {f} frames" for n, (w, h, f) in seen.items())
        raise SourceError(f"videos of game {ctx.game}", described, "differ in size or frame count; shot windows need one frame geometry",
                          "register videos of one size and length per game")
    return next(iter(seen.values()))


def check_annotation(game: str, shots: list[Shot], cameras: list[str]) -> None:
    """Refuse an annotation this layer cannot read unambiguously: a camera that is not one of the
    game's videos, or a shooter team other than 0 (team_a) or 1 (team_b)."""
    from artifacts.errors import SourceError

    named = sorted({c for s in shots for c in s.origins})
    unknown = [c for c in named if c not in cameras]
    if unknown:
        raise SourceError(f"shots annotation {game}/shots", ",".join(unknown), f"names cameras that are not registered videos ({', '.join(cameras)})",
                          "register those videos or drop their columns from the annotation")
    for s in shots:
        if s.shooter_team not in (0, 1):
            raise SourceError(f"shots annotation {game}/shots row {s.index + 2} shooter_team", s.shooter_team, "is not 0 (team_a) or 1 (team_b)",
                              "fix the row: the offense of a shot is its shooter's team")


def _read_upstream(ctx: BuildContext, cameras: list[str]) -> tuple[Detections, Tracks]:
    """The frame-level detections and track-level tracks of the game as rasteriser inputs."""
    import numpy as np

    from artifacts.errors import BuildError
    from generators.layers.frame_level.table import vectors
    from generators.layers.heatmaps.inputs import NO_TRACK, Detections, Tracks
    from generators.layers.heatmaps.slots import track_jerseys
    from generators.models.jersey import decode_digits
    from generators.models.tracking.categories import CATEGORIES

    table = ctx.upstream("frame-level").table("detections.parquet", columns=["frame", "camera", "px", "py", "confidence", "jersey", "team"])
    assign = ctx.upstream("track-level").table("assignments.parquet", columns=["detection", "track_id"])
    trk = ctx.upstream("track-level").table("tracks.parquet", columns=["track_id", "category"])
    n = table.num_rows
    det_row = assign.column("detection").to_numpy()
    if assign.num_rows != n or not np.array_equal(det_row, np.arange(n)):
        raise BuildError(f"track-level assignments of game {ctx.game}", assign.num_rows, f"do not list the {n} frame-level detections in order",
                         "rebuild track-level on this frame-level artifact")
    cam_names = table.column("camera").combine_chunks().dictionary_encode()
    dictionary = cam_names.dictionary.to_pylist()
    unknown = [c for c in dictionary if c not in cameras]
    if unknown:
        raise BuildError(f"frame-level detections of game {ctx.game}", unknown[0], "name a camera that is not a video of the game", "rebuild frame-level")
    code = np.array([cameras.index(c) for c in dictionary], np.int32)
    track_ids = trk.column("track_id").to_numpy().astype(np.int64)
    order = np.argsort(track_ids, kind="stable")
    det_track = assign.column("track_id").to_numpy().astype(np.int64)
    tracked = det_track != NO_TRACK
    pos = np.searchsorted(track_ids[order], det_track[tracked])
    if len(track_ids) == 0 and tracked.any() or (tracked.any() and not np.array_equal(track_ids[order][np.minimum(pos, len(order) - 1)], det_track[tracked])):
        raise BuildError(f"track-level artifact of game {ctx.game}", None, "assigns detections to tracks missing from tracks.parquet", "rebuild track-level")
    row = np.full(n, NO_TRACK, np.int64)
    row[tracked] = order[pos]
    category = np.array([CATEGORIES.index(c) for c in trk.column("category").to_pylist()], np.int8)
    jersey = vectors(table.column("jersey"))  # float32, also where frame-level stored float16
    det = Detections(
        camera=code[cam_names.indices.to_numpy(zero_copy_only=False)] if n else np.zeros(0, np.int32),
        frame=table.column("frame").to_numpy().astype(np.int32), px=table.column("px").to_numpy().astype(np.float32),
        py=table.column("py").to_numpy().astype(np.float32), confidence=table.column("confidence").to_numpy().astype(np.float32),
        track=row, team=table.column("team").to_numpy().astype(np.int8),
    )
    tracks = Tracks(track_id=track_ids, category=category, jersey=track_jerseys(row, decode_digits(jersey), len(track_ids)))
    return det, tracks


def _shots_table(shots: list[Shot], windows: list[ShotWindow | None], kept: list[int], label: Any, matches: Any, slot_jersey: Any,
                 slot_count: Any, slot_track: Any) -> pa.Table:
    """shots.parquet: every annotated shot, with its window, label and slots, or why it has none."""
    import numpy as np
    import pyarrow as pa

    from generators.layers.heatmaps.layout import LAYOUT_VERSION

    n = len(shots)
    row = np.full(n, -1, np.int32)
    row[kept] = np.arange(len(kept), dtype=np.int32)
    lab = np.full(n, -1, np.int8)
    lab[kept] = label
    mat = np.zeros(n, np.int8)
    mat[kept] = matches
    tr = np.full((n, 10), -1, np.int64)
    tr[kept] = slot_track
    je = np.full((n, 10), -1, np.int16)
    je[kept] = slot_jersey
    co = np.zeros((n, 10), np.int32)
    co[kept] = slot_count
    missing = [w is None for w in windows]

    def opt(values: list[Any], typ: pa.DataType) -> pa.Array:
        return pa.array(values, typ, mask=np.array(missing, bool))

    def vec(a: Any, typ: pa.DataType) -> pa.FixedSizeListArray:
        return pa.FixedSizeListArray.from_arrays(pa.array(a.ravel(), typ), 10)

    return pa.table({
        "shot": pa.array([s.index for s in shots], pa.int32()),
        "frame": pa.array([s.frame for s in shots], pa.int32()),
        "shooter_team": pa.array([s.shooter_team for s in shots], pa.int8()),
        "shooter_jersey": pa.array([s.shooter_jersey for s in shots], pa.int16()),
        "camera": opt([w.camera if w else "" for w in windows], pa.string()),
        "x0": opt([w.x0 if w else 0 for w in windows], pa.int32()),
        "y0": opt([w.y0 if w else 0 for w in windows], pa.int32()),
        "first_frame": opt([w.first_frame if w else 0 for w in windows], pa.int32()),
        "origin_x": opt([np.float32(w.origin_x) if w else 0.0 for w in windows], pa.float32()),
        "origin_y": opt([np.float32(w.origin_y) if w else 0.0 for w in windows], pa.float32()),
        "heatmap_row": pa.array(row),
        "label": pa.array(lab),
        "label_matches": pa.array(mat),
        "slot_track": vec(tr, pa.int64()),
        "slot_jersey": vec(je, pa.int16()),
        "slot_detections": vec(co, pa.int32()),
        "skipped": pa.array([NOT_VISIBLE if m else None for m in missing], pa.string()),
        "layout": pa.array([LAYOUT_VERSION] * n, pa.string()),
    })
