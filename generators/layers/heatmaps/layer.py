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

Chunked, so that memory does not grow with the game (a two-hour game has millions of
detections): chunk 0 votes every track's jersey over all its detections, streaming the
frame-level and track-level tables a row group at a time (``upstream``); every other chunk is a
batch of ``chunk_size`` shots with a window, in annotation order, continuing from chunk 0 (its
jerseys), and reads only the row groups and rows of its windows' frames. A chunk writes its
records (``records.bin``) and slots (``slots.parquet``); the merge writes ``shots.parquet`` and
streams the records into ``heatmaps.zarr``. Every shot's heatmap depends on its window's
detections and the whole game's tracks only, so the result is the same whatever the chunk size.
A shot without a window is counted as a skipped shot (``ctx.skipped``).

Contracts recorded: ``heatmap_layout`` ("1"), ``heatmap_grid`` ([16, 14, 14]), ``heatmap_channels``
(18) and ``shot_window`` (size, patch, frames and the window's layout version), which the
readers compare with the video features' grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from artifacts import BuildContext, Generator, Params
from artifacts.errors import BuildError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from artifacts.layers import ChunkContext, ChunkPlan, ChunkReader
    from generators.layers.heatmaps.upstream import TrackTable
    from generators.layers.shots.annotation import Shot
    from generators.layers.shots.window import ShotWindow

# numpy, pyarrow, zarr and av are imported in the methods: layer discovery must stay cheap.

NOT_VISIBLE = "origin visible in no camera"
NOT_VISIBLE_FIX = ("annotate <camera>_px, <camera>_py and <camera>_visible = 1 for a camera of the game that sees the shot origin "
                   "(shots annotation, generators/layers/shots/annotation.py), or register the video of a camera that does")


class ShotHeatmapsParams(Params):
    pass


@dataclass(frozen=True)
class GameShots:
    """A game's shots, their windows (None: no camera sees the origin), its cameras and frame height."""

    shots: list[Shot]
    windows: list[ShotWindow | None]
    cameras: list[str]
    height: int

    @property
    def kept(self) -> list[int]:
        """The shots that have a window, in annotation order: heatmap row ``k`` is shot ``kept[k]``."""
        return [k for k, w in enumerate(self.windows) if w is not None]


class ShotHeatmaps(Generator):
    name = "shot-heatmaps"
    version = "1"
    Params = ShotHeatmapsParams
    upstream = ("track-level", "frame-level")
    sources = ("kind:video", "shots")
    outputs = ("heatmaps.zarr", "shots.parquet")
    description = "per shot: [16, 14, 14, 18] track heatmaps over the shot-centred window, the shooter's slot label"
    # Shots per chunk: a chunk holds its records (18.8 KB a shot: 4.8 MB), its windows' detections
    # and one row group of the detections table at a time; a game's few hundred shots make one
    # to three chunks beside the jersey chunk.
    chunk_size = 256

    def plan_chunks(self, ctx: BuildContext, size: int) -> ChunkPlan:
        """Chunk 0: the tracks' jerseys; then batches of ``size`` shots with a window, after chunk 0."""
        from artifacts.layers import Chunk, ChunkPlan

        kept = _game_shots(ctx).kept
        chunks = [Chunk(index=0, label="track jerseys", units=0, spec={"step": "jerseys"})]
        per = max(size, 1)
        for start in range(0, len(kept), per):
            part = kept[start : start + per]
            chunks.append(Chunk(index=len(chunks), label=f"shots {part[0]}-{part[-1]}", units=len(part), after=0,
                                spec={"step": "shots", "start": start, "stop": start + len(part)}))
        return ChunkPlan(unit="shots", chunks=chunks)

    def build_chunk(self, ctx: ChunkContext) -> None:
        import pyarrow as pa

        from generators.layers.heatmaps.upstream import parquet, read_tracks, track_jerseys_streamed

        game = _game_shots(ctx)
        frames, tracks_art = ctx.upstream("frame-level"), ctx.upstream("track-level")
        det, assign = parquet(frames, "detections.parquet"), parquet(tracks_art, "assignments.parquet")
        tracks = read_tracks(parquet(tracks_art, "tracks.parquet"))
        if ctx.chunk.spec["step"] == "jerseys":
            jersey = track_jerseys_streamed(det, assign, tracks, game.cameras, ctx.game)
            ctx.write_table("jerseys.parquet", pa.table({"track_id": pa.array(tracks.track_id), "jersey": pa.array(jersey)}))
            return
        start, stop = int(str(ctx.chunk.spec["start"])), int(str(ctx.chunk.spec["stop"]))
        jersey = _jerseys(ctx.previous(), tracks, ctx.game)
        _shot_chunk(ctx, game, game.kept[start:stop], det, assign, tracks, jersey)

    def merge_chunks(self, ctx: BuildContext, chunks: list[ChunkReader]) -> None:
        import numpy as np

        from generators.layers.heatmaps import layout, store
        from generators.layers.heatmaps.layout import RECORD
        from generators.layers.shots import window as win_mod

        game = _game_shots(ctx)
        kept = game.kept
        n = len(kept)
        label, matches = np.full(n, -1, np.int8), np.zeros(n, np.int8)
        slot_track, slot_jersey, slot_count = np.full((n, 10), -1, np.int64), np.full((n, 10), -1, np.int16), np.zeros((n, 10), np.int64)
        parts = chunks[1:]  # chunk 0 holds the jerseys, already in the shot chunks' slots
        starts = []
        at = 0
        for c in parts:  # the small per-shot tables first: the array's attributes count the unlabelled shots
            t = c.table("slots.parquet")
            shots = t.column("shot").to_numpy()
            if shots.tolist() != kept[at : at + len(shots)]:
                raise _merge_error(ctx, c, "do not follow the shots with a window in order")
            rows = slice(at, at + len(shots))
            label[rows] = t.column("label").to_numpy()
            matches[rows] = t.column("label_matches").to_numpy()
            slot_track[rows] = _matrix(t, "slot_track")
            slot_jersey[rows] = _matrix(t, "slot_jersey")
            slot_count[rows] = _matrix(t, "slot_detections")
            starts.append(at)
            at += len(shots)
        if at != n:
            raise BuildError(f"chunks of shot-heatmaps on game {ctx.game}", at, f"hold that many shots, not the {n} with a window", "report this as a bug; delete the key's chunks and build again")
        stats = {"shots": len(game.shots), "heatmaps": n, "skipped": len(game.shots) - n, "unlabelled": int((label < 0).sum())}
        arr = store.create_array(ctx.output_path("heatmaps.zarr"), n, {"game": ctx.game, **stats})
        for c, first in zip(parts, starts, strict=True):
            with c.open("records.bin") as f:
                records = np.frombuffer(f.read(), RECORD)  # one chunk's records at a time
            store.write_rows(arr, first, records)
        ctx.write_table("shots.parquet", _shots_table(game.shots, game.windows, kept, label, matches, slot_jersey, slot_count, slot_track))
        missing = [s.index for s, w in zip(game.shots, game.windows, strict=True) if w is None]
        ctx.skipped("shots", len(missing), len(game.shots), NOT_VISIBLE, NOT_VISIBLE_FIX, [f"shot {i}" for i in missing])
        ctx.record_contract("heatmap_layout", layout.LAYOUT_VERSION)
        ctx.record_contract("heatmap_grid", list(layout.SHAPE[:3]))
        ctx.record_contract("heatmap_channels", layout.CHANNELS)
        ctx.record_contract("shot_window", {"size": win_mod.SIZE, "patch": win_mod.PATCH, "frames": win_mod.FRAMES, "layout": win_mod.LAYOUT_VERSION})


def _game_shots(ctx: BuildContext) -> GameShots:
    """The annotation's shots and windows (the videos probed, the annotation checked)."""
    from generators.layers.shots import window as win_mod
    from generators.layers.shots.annotation import parse_shots

    with ctx.open_source("shots") as f:
        shots = parse_shots(f.read().decode(), f"{ctx.game}/shots")
    cameras = [n for n in ctx.source_names() if ctx.source(n).kind == "video"]
    width, height, n_frames = _probe(ctx, cameras)
    check_annotation(ctx.game, shots, cameras)
    windows: list[ShotWindow | None] = [win_mod.shot_window(s, width, height, n_frames, ctx.game) for s in shots]
    return GameShots(shots, windows, cameras, height)


def _jerseys(previous: ChunkReader, tracks: TrackTable, game: str) -> Any:
    """The jerseys chunk 0 voted, checked against this chunk's tracks table."""
    import numpy as np

    t = previous.table("jerseys.parquet")
    if not np.array_equal(t.column("track_id").to_numpy(), tracks.track_id):
        raise BuildError(f"chunk 0 of shot-heatmaps on game {game}", t.num_rows, "does not list the tracks of tracks.parquet in order",
                         "delete the key's chunks and build again")
    return t.column("jersey").to_numpy().astype(np.int16)


def _shot_chunk(ctx: ChunkContext, game: GameShots, shots: list[int], det_file: pq.ParquetFile, assign_file: pq.ParquetFile, tracks: TrackTable,
                jersey: Any) -> None:
    """Rasterise ``shots`` from their windows' detections: ``records.bin`` and ``slots.parquet``."""
    import numpy as np
    import pyarrow as pa

    from generators.layers.heatmaps.footprint import select
    from generators.layers.heatmaps.inputs import Tracks, Windows, footprint_height
    from generators.layers.heatmaps.rasterise import rasterise
    from generators.layers.heatmaps.slots import assign, labels
    from generators.layers.heatmaps.upstream import window_detections
    from generators.layers.shots.window import FRAMES

    wins = [w for w in (game.windows[k] for k in shots) if w is not None]
    win = Windows(
        camera=np.array([game.cameras.index(w.camera) for w in wins], np.int32), x0=np.array([w.x0 for w in wins], np.int32),
        y0=np.array([w.y0 for w in wins], np.int32), first_frame=np.array([w.first_frame for w in wins], np.int32),
        origin=np.array([[w.origin_x, w.origin_y] for w in wins], np.float32).reshape(-1, 2),
        offense=np.array([game.shots[k].shooter_team for k in shots], np.int8),
        shooter_jersey=np.array([game.shots[k].shooter_jersey for k in shots], np.int16),
        footprint_px=np.full(len(game.cameras), footprint_height(game.height), np.float64),
    )
    spans = np.stack([win.camera, win.first_frame, win.first_frame + FRAMES], axis=1).astype(np.int64)
    det = window_detections(det_file, assign_file, tracks, game.cameras, spans, ctx.game)
    trk = Tracks(track_id=tracks.track_id, category=tracks.category, jersey=jersey)
    pairs = select(det, win)
    slots = assign(pairs, det, trk, win)
    records = rasterise(len(win), pairs, slots.channel, det.confidence[pairs.det], win.origin)
    label, matches, slot_jersey = labels(slots, trk, win.shooter_jersey)
    ctx.output_path("records.bin").write_bytes(np.ascontiguousarray(records).tobytes())
    slot_track = np.where(slots.track >= 0, trk.track_id[np.maximum(slots.track, 0)], -1) if len(trk) else np.full_like(slots.track, -1)

    def vec(a: Any, typ: pa.DataType) -> pa.FixedSizeListArray:
        return pa.FixedSizeListArray.from_arrays(pa.array(np.asarray(a).ravel(), typ), 10)

    ctx.write_table("slots.parquet", pa.table({
        "shot": pa.array(np.array(shots, np.int32)), "label": pa.array(label), "label_matches": pa.array(matches),
        "slot_track": vec(slot_track, pa.int64()), "slot_jersey": vec(slot_jersey, pa.int16()), "slot_detections": vec(slots.detections, pa.int64()),
    }))


def _matrix(t: pa.Table, name: str) -> Any:
    """A fixed-size-list column of 10 as an ``[n, 10]`` array."""
    arr = t.column(name).combine_chunks()
    return arr.flatten().to_numpy().reshape(len(arr), 10)


def _merge_error(ctx: BuildContext, chunk: ChunkReader, problem: str) -> BuildError:
    return BuildError(f"chunk {chunk.index} of shot-heatmaps on game {ctx.game}", chunk.label, f"holds shots that {problem}",
                      "report this as a bug; delete the key's chunks and build again")


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
