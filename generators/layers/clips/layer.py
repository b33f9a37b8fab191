"""The ``clips`` layer: per game, an mp4 clip of every annotated play and angle, and the
training and validation JSONL of a video-model fine-tuning set (seed 003).

Reads the game's videos (``kind:video``) and its ``plays`` annotation
(:mod:`generators.layers.clips.plays`). The play's ``angle`` picks the video: ``broadcast`` is the
source named by ``broadcast_camera`` (default ``wide``), ``tactical`` the one named by
``tactical_camera`` (default ``tactical``), ``both`` gives one clip of each.

Outputs:

- ``clips/<play_id>_<angle>.mp4``: the frames of the play's window ``[start_time, end_time)``,
  re-encoded (:mod:`generators.layers.clips.cut` says why).
- ``training.jsonl``, ``validation.jsonl``: one :class:`~generators.layers.clips.examples.Example`
  per clip, its ``fileUri`` the clip's committed location (``uri_base`` replaces the store's
  location, e.g. with the ``gs://`` bucket a local store is synced to); split by
  :func:`~generators.layers.clips.examples.split_of`.
- ``clips.parquet``: one row per clip (play, angle, camera, times, source frames, split, URI).
- ``rejects.parquet``: one row per play or angle left out (``row, play_id, angle, message``).
  A row the annotation cannot hold, a missing angle, a window outside the video or an angle
  whose video the game lacks rejects that play (or that angle of a ``both`` play) with a
  one-line message, also reported by ``ctx.warn`` (``artifacts build`` prints it), and counted
  by reason as skipped plays (``ctx.skipped("plays", ...)``, out of the annotation's rows); the
  other plays are cut. Only an unusable annotation file or an unreadable video fails the game.

Chunked: a chunk cuts a batch of ``chunk_size`` valid plays (annotation order) into its own
``clips/*.mp4``, ``cut.parquet`` and ``rejects.parquet``; the merge copies the clips into the
artifact and writes the JSONL (URIs of the artifact's committed location) and the tables. A
clip's bytes depend on its window and its video only, so the artifact is the same whatever the
chunk size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from artifacts import BuildContext, Generator, Params
from artifacts.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa

    from artifacts.layers import ChunkContext, ChunkPlan, ChunkReader
    from generators.layers.clips.cut import VideoSpan
    from generators.layers.clips.plays import Angle, Play, Reject

# pyarrow, numpy and av are imported in build() (through the helper modules): layer discovery stays cheap.

PLAYS_SOURCE = "plays"
_EPS = 1e-6


class ClipsParams(Params):
    broadcast_camera: str = "wide"  # the video source that the broadcast angle is cut from
    tactical_camera: str = "tactical"  # ... and the tactical angle
    prompt: str = "Analyze this basketball play."
    validation_fraction: float = Field(default=0.2, ge=0.0, le=1.0)
    uri_base: str = ""  # "": URIs point at the store itself; else this URL replaces the store's location


class Clips(Generator):
    name = "clips"
    version = "1"
    Params = ClipsParams
    sources = ("kind:video", PLAYS_SOURCE)
    outputs = ("training.jsonl", "validation.jsonl", "clips.parquet", "rejects.parquet")
    description = "per annotated play and angle: an mp4 clip; training and validation JSONL for video-model tuning"
    # Plays per chunk. Re-encoding is the cost (docs/layers.md: 10-16 clip-seconds a second at
    # 640x360, an order of magnitude less at 1080p): 32 plays of a few seconds and two angles
    # are minutes of one core, so a full game's few hundred plays resume and spread by chunks.
    chunk_size = 32

    def plan_chunks(self, ctx: BuildContext, size: int) -> ChunkPlan:
        """Batches of ``size`` valid plays, in annotation order."""
        from artifacts.layers import Chunk, ChunkPlan
        from generators.layers.clips.plays import parse_plays

        plays, _ = parse_plays(_read_text(ctx), ctx.game)
        per = max(size, 1)
        chunks = [Chunk(index=k // per, label=f"plays rows {plays[k].row}-{plays[min(k + per, len(plays)) - 1].row}", units=len(plays[k : k + per]),
                        spec={"start": k, "stop": k + per}) for k in range(0, len(plays), per)]
        return ChunkPlan(unit="plays", chunks=chunks or [Chunk(index=0, label="no valid play", units=0, spec={"start": 0, "stop": 0})])

    def build_chunk(self, ctx: ChunkContext) -> None:
        """Cut the chunk's plays: ``clips/*.mp4``, ``cut.parquet`` (what was cut) and ``rejects.parquet``
        (the angles that could not be: window outside the video, no video, no frame)."""
        import pyarrow as pa

        from generators.layers.clips.cut import ClipSpec, cut_clips
        from generators.layers.clips.plays import NO_FRAME, Reject, parse_plays, play_label, reject_line

        p = ctx.params
        assert isinstance(p, ClipsParams)
        plays, _ = parse_plays(_read_text(ctx), ctx.game)
        mine = plays[int(str(ctx.chunk.spec["start"])) : int(str(ctx.chunk.spec["stop"]))]
        cameras: dict[Angle, str] = {"broadcast": p.broadcast_camera, "tactical": p.tactical_camera}
        videos = {n for n in ctx.source_names() if ctx.source(n).kind == "video"}
        spans: dict[str, VideoSpan] = {}
        wanted: dict[str, list[tuple[Play, Angle]]] = {}
        rejects: list[Reject] = []
        for play in mine:
            for angle in play.angles():
                problem = _window_problem(ctx, play, angle, cameras[angle], videos, spans)
                if problem:
                    rejects.append(Reject(row=play.row, play_id=play.play_id, angle=angle, message=problem[0], reason=problem[1]))
                else:
                    wanted.setdefault(cameras[angle], []).append((play, angle))
        cut: list[dict[str, Any]] = []
        for camera, clips in wanted.items():
            specs = [ClipSpec(pl.start_time, pl.end_time, ctx.output_path(_clip_path(pl, a))) for pl, a in clips]
            for (pl, a), done in zip(clips, cut_clips(camera, ctx.source(camera).url, specs), strict=True):
                if done.frames == 0:
                    rejects.append(Reject(row=pl.row, play_id=pl.play_id, angle=a, reason=NO_FRAME, message=reject_line(
                        f"{play_label(ctx.game, pl.row, pl.play_id)} times", f"{pl.start_time}-{pl.end_time}",
                        f"hold no frame of video {camera} ({spans[camera].fps} fps)", "widen the play's window")))
                else:
                    cut.append({"play_id": pl.play_id, "angle": a, "camera": camera, "first_frame": done.first_frame, "frames": done.frames})
        ctx.write_table("cut.parquet", pa.table({
            "play_id": pa.array([c["play_id"] for c in cut], pa.string()), "angle": pa.array([c["angle"] for c in cut], pa.string()),
            "camera": pa.array([c["camera"] for c in cut], pa.string()), "first_frame": pa.array([c["first_frame"] for c in cut], pa.int64()),
            "frames": pa.array([c["frames"] for c in cut], pa.int32()),
        }))
        ctx.write_table("rejects.parquet", _rejects_table(rejects))

    def merge_chunks(self, ctx: BuildContext, chunks: list[ChunkReader]) -> None:
        """The clips of every chunk copied into ``clips/``; the JSONL, ``clips.parquet`` and
        ``rejects.parquet`` of the whole game, as one build would write them."""
        import shutil

        from generators.layers.clips.plays import REASON_FIX, Reject, parse_plays

        p = ctx.params
        assert isinstance(p, ClipsParams)
        plays, rejects = parse_plays(_read_text(ctx), ctx.game)
        rows = len(plays) + len(rejects)  # every data row of the annotation is a play asked for
        by_id = {pl.play_id: pl for pl in plays}
        cut: dict[tuple[str, str], dict[str, Any]] = {}
        for c in chunks:
            for r in c.table("cut.parquet").to_pylist():
                path = _clip_path(by_id[r["play_id"]], r["angle"])
                with c.open(path) as src, open(ctx.output_path(path), "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                cut[(r["play_id"], r["angle"])] = {"camera": r["camera"], "first_frame": r["first_frame"], "frames": r["frames"]}
            rejects += [Reject.model_validate(r) for r in c.table("rejects.parquet").to_pylist()]
        examples = _examples(ctx, p, plays, cut)
        rejects.sort(key=lambda r: (r.row, r.angle))
        for r in rejects:
            ctx.warn(r.message)
        for reason, fix in REASON_FIX.items():
            skipped = sorted({(r.row, r.play_id) for r in rejects if r.reason == reason})
            ctx.skipped("plays", len(skipped), rows, reason, fix, [f"{pid or 'no play_id'} (row {row})" for row, pid in skipped])
        _write(ctx, examples, rejects)


def _read_text(ctx: BuildContext) -> str:
    with ctx.open_source(PLAYS_SOURCE) as f:
        raw = f.read()
    try:
        return str(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise SourceError(f"plays annotation of game {ctx.game}", ctx.source(PLAYS_SOURCE).url, f"is not UTF-8 text ({exc.reason} at byte {exc.start})",
                          "export it as UTF-8 CSV") from exc


def _clip_path(play: Play, angle: str) -> str:
    return f"clips/{play.play_id}_{angle}.mp4"


def _window_problem(ctx: BuildContext, play: Play, angle: Angle, camera: str, videos: set[str], spans: dict[str, VideoSpan]) -> tuple[str, str] | None:
    """Why the ``angle`` clip of ``play`` cannot be cut: a one-line message and its reason; None if it can."""
    from generators.layers.clips.cut import video_span
    from generators.layers.clips.plays import NO_VIDEO, OUTSIDE, play_label, reject_line

    label = play_label(ctx.game, play.row, play.play_id)
    if camera not in videos:
        fix = f"register it (artifacts games add {ctx.game} --source {camera}=... --replace) or set {angle}_camera in [params.clips]"
        return reject_line(f"{label} angle", angle, f"is cut from video {camera}, which game {ctx.game} does not have", fix), NO_VIDEO
    if camera not in spans:
        spans[camera] = video_span(camera, ctx.source(camera).url)
    duration = spans[camera].duration_s
    if play.start_time < 0:
        return reject_line(f"{label} start_time", play.start_time, f"is before the start of video {camera}", "fix the play's times"), OUTSIDE
    if play.end_time > duration + _EPS:
        return (reject_line(f"{label} end_time", play.end_time, f"is after the end of video {camera} ({duration:.3f} s)",
                            "fix the play's times or register the whole video"), OUTSIDE)
    return None


def _examples(ctx: BuildContext, p: ClipsParams, plays: list[Play], cut: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per clip in annotation order, with its split, URI and validated JSONL line."""
    from generators.layers.clips.examples import example, jsonl_line, split_of

    rows = []
    for play in plays:
        split = split_of(ctx.game, play.play_id, p.validation_fraction)
        for angle in play.angles():
            done = cut.get((play.play_id, angle))
            if done is None:
                continue
            path = _clip_path(play, angle)
            uri = ctx.committed_location(path, p.uri_base)
            rows.append({
                "row": play.row, "play_id": play.play_id, "angle": angle, **done, "start_time": play.start_time, "end_time": play.end_time,
                "path": path, "uri": uri, "split": split, "description": play.description,
                "line": jsonl_line(example(uri, p.prompt, play.description)),
            })
    return rows


def _write(ctx: BuildContext, rows: list[dict[str, Any]], rejects: list[Reject]) -> None:
    import pyarrow as pa

    for split in ("training", "validation"):
        with open(ctx.output_path(f"{split}.jsonl"), "w", encoding="utf-8", newline="\n") as f:
            f.writelines(r["line"] for r in rows if r["split"] == split)
    clips = {
        "play_id": pa.array([r["play_id"] for r in rows], pa.string()),
        "angle": pa.array([r["angle"] for r in rows], pa.string()),
        "camera": pa.array([r["camera"] for r in rows], pa.string()),
        "start_time": pa.array([r["start_time"] for r in rows], pa.float64()),
        "end_time": pa.array([r["end_time"] for r in rows], pa.float64()),
        "first_frame": pa.array([r["first_frame"] for r in rows], pa.int64()),
        "frames": pa.array([r["frames"] for r in rows], pa.int32()),
        "path": pa.array([r["path"] for r in rows], pa.string()),
        "uri": pa.array([r["uri"] for r in rows], pa.string()),
        "split": pa.array([r["split"] for r in rows], pa.string()),
        "description": pa.array([r["description"] for r in rows], pa.string()),
    }
    ctx.write_table("clips.parquet", pa.table(clips))
    ctx.write_table("rejects.parquet", _rejects_table(rejects).drop_columns(["reason"]))


def _rejects_table(rejects: list[Reject]) -> pa.Table:
    import pyarrow as pa

    return pa.table({
        "row": pa.array([r.row for r in rejects], pa.int32()),
        "play_id": pa.array([r.play_id for r in rejects], pa.string()),
        "angle": pa.array([r.angle for r in rejects], pa.string()),
        "message": pa.array([r.message for r in rejects], pa.string()),
        "reason": pa.array([r.reason for r in rejects], pa.string()),
    })
