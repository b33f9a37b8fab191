"""The ``videomae-features`` layer: VideoMAE tokens of every shot's clip, cached in float16.

Reads the game's videos (``kind:video``) and shots annotation (``shots``) and runs the
``videomae`` role; no upstream layer, so a detector, crop-encoder or tracker change never
touches it. Per game:

- ``tokens.f16`` + ``tokens.json``: a token cache (:mod:`generators.layers.videomae.cache`) of one row
  per annotated shot, row ``i`` = shot ``i`` of the annotation, ``[t*h*w, D]`` float16 tokens
  of the shot's clip (the model's last hidden state); the header records the grid, the family,
  the model and the rows with no clip;
- ``windows.parquet``: one row per annotated shot, in order: ``shot`` (int32), ``frame``
  (int32, the release), ``camera`` (string, null when none), ``x0``, ``y0``, ``first_frame``
  (int32, -1 when none), ``reason`` (string, null when the shot has tokens; ``visible in no
  camera`` otherwise). A shot is never dropped silently: it is also counted as a skipped shot.

Chunked: a chunk is a batch of the shots that have a window, in annotation order (``chunk_size``
shots, rounded up to a multiple of ``batch`` so that the model sees the same batches whatever
the chunk size, and a chunked build equals a one-chunk build bit for bit). A chunk decodes only
its windows' frames (seeking, :mod:`generators.layers.seek`) and writes its rows of tokens
(``tokens.f16``, ``[n, t*h*w, D]`` float16, and ``rows.json``, their shots); the merge streams
them, row by row, into the token cache.

Contracts recorded in the manifest (``artifacts check`` compares them with the model's
``provides``): ``feature_family``, ``token_grid`` ``[t, h, w]``, ``hidden_dim``, ``token_dtype``.
The generator version carries the shot window's layout version, so a change of the window
(shared with ``shot-heatmaps``) gives new keys.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from artifacts import BuildContext, Generator, Params, Resources
from generators.layers.shots.window import LAYOUT_VERSION

if TYPE_CHECKING:
    from artifacts.layers import ChunkContext, ChunkPlan, ChunkReader
    from generators.layers.frame_level.decode import VideoProbe
    from generators.layers.shots.annotation import Shot
    from generators.layers.shots.window import ShotWindow

# numpy, pyarrow, torch, transformers and av are imported in the methods: layer discovery must stay cheap.

SHOTS_SOURCE = "shots"
NO_WINDOW_FIX = ("annotate <camera>_px, <camera>_py and <camera>_visible = 1 for a camera of the game that sees the shot origin "
                 "(shots annotation, docs/layers.md), or register the video of a camera that does")


class VideoMAEFeaturesParams(Params):
    batch: int = Field(default=4, ge=1)
    """Clips per forward pass."""


class VideoMAEFeaturesLayer(Generator):
    name = "videomae-features"
    version = f"1.w{LAYOUT_VERSION}"
    Params = VideoMAEFeaturesParams
    models = ("videomae",)
    resources = Resources(cpus=1, gpus=1)  # inference: a GPU where the cluster has one (docs/scaling.md)
    sources = ("kind:video", SHOTS_SOURCE)
    outputs = ("tokens.f16", "tokens.json", "windows.parquet")
    contracts: ClassVar[dict[str, str]] = {"feature_family": "videomae", "token_grid": "videomae", "hidden_dim": "videomae", "token_dtype": "videomae"}
    description = "per shot: VideoMAE last-hidden-state tokens of the shot-centred 16x224x224 clip, float16"
    # Shots per chunk. 64 clips are 154 MB of uint8 pixels held by a chunk (the clips of one
    # chunk are cut before they are encoded, in shot order), a few seconds of a GPU or about
    # half a minute of one CPU with the small model; a killed build loses at most that, and a
    # game of a few hundred shots spreads over several workers.
    chunk_size = 64

    def plan_chunks(self, ctx: BuildContext, size: int) -> ChunkPlan:
        """Batches of the shots that have a window, ``size`` rounded up to a multiple of ``batch``.

        Also decodes the last GOP of every video a window uses (:func:`check_tail`): a truncated
        video fails the game here, though no window reaches the cut."""
        from artifacts.layers import Chunk, ChunkPlan
        from generators.layers.seek import check_tail

        p = ctx.params
        assert isinstance(p, VideoMAEFeaturesParams)
        _, windows, probes = _windows(ctx)
        for cam in sorted({w.camera for w in windows if w is not None}):
            check_tail(cam, ctx.source(cam).url, probes[cam].frames)
        cut = [w for w in windows if w is not None]
        per = -(-max(size, 1) // p.batch) * p.batch
        chunks: list[Chunk] = []
        for start in range(0, max(len(cut), 1), per):
            part = cut[start : start + per]
            label = f"shots {part[0].shot}-{part[-1].shot}" if part else "no shot has a window"
            chunks.append(Chunk(index=len(chunks), label=label, units=len(part), spec={"windows": [w.model_dump(mode="json") for w in part]}))
        return ChunkPlan(unit="shots", chunks=chunks)

    def build_chunk(self, ctx: ChunkContext) -> None:
        import numpy as np

        from generators.layers.shots.window import ShotWindow
        from generators.layers.videomae.clips import cut_clips

        p = ctx.params
        assert isinstance(p, VideoMAEFeaturesParams)
        raw = ctx.chunk.spec["windows"]
        assert isinstance(raw, list)
        windows = [ShotWindow.model_validate(w) for w in raw]
        model = ctx.model("videomae").load()  # a VideoMAEFeatures, or any class with its grid, tokens, hidden_dim, family, clip_shape and encode
        videos = {n: ctx.source(n).url for n in ctx.source_names() if ctx.source(n).kind == "video"}
        clips = np.empty((len(windows), *model.clip_shape), np.uint8)
        cut_clips(videos, windows, clips)
        shape = (len(windows), model.tokens, model.hidden_dim)
        path = ctx.output_path("tokens.f16")
        if len(windows):
            # Batches of `batch` consecutive shots: the same batches as in any other chunking (see plan_chunks).
            tokens = np.memmap(path, dtype="<f2", mode="w+", shape=shape)
            model.encode(clips, batch_size=p.batch, out=tokens)
            tokens.flush()
            del tokens
        else:
            path.write_bytes(b"")
        ctx.output_path("rows.json").write_text(json.dumps([w.shot for w in windows]))

    def merge_chunks(self, ctx: BuildContext, chunks: list[ChunkReader]) -> None:
        import numpy as np

        from generators.layers.videomae.cache import DTYPE, TokenCacheWriter
        from generators.layers.videomae.clips import NO_CAMERA, windows_table

        shots, windows, _ = _windows(ctx)
        handle = ctx.model("videomae")
        model = handle.load()
        writer = TokenCacheWriter(ctx.output_path("tokens.f16").parent, len(shots), model.grid, model.hidden_dim, model.family,
                                  model={"role": handle.ref.role, "version": handle.ref.version, "digest": handle.ref.digest})
        row = np.empty((model.tokens, model.hidden_dim), np.float16)  # reused: one row in memory at a time
        for c in chunks:
            with c.open("rows.json") as f:
                rows = json.load(f)
            with c.open("tokens.f16") as f:
                for shot in rows:
                    if f.readinto(row.view(np.uint8).reshape(-1).data) != row.nbytes:
                        raise _short_chunk(ctx, c, shot)
                    writer.write(shot, row)
        missing = [s.index for s, w in zip(shots, windows, strict=True) if w is None]
        header = writer.close(missing)
        ctx.write_table("windows.parquet", windows_table(shots, windows))
        ctx.skipped("shots", len(missing), len(shots), NO_CAMERA, NO_WINDOW_FIX, [f"shot {i}" for i in missing])
        ctx.record_contract("feature_family", header.family)
        ctx.record_contract("token_grid", list(header.grid))
        ctx.record_contract("hidden_dim", header.hidden_dim)
        ctx.record_contract("token_dtype", DTYPE)


def _windows(ctx: BuildContext) -> tuple[list[Shot], list[ShotWindow | None], dict[str, VideoProbe]]:
    """The game's shots, the window of each (None: no camera sees it) and its videos' probes."""
    from generators.layers.frame_level.decode import probe
    from generators.layers.shots.annotation import parse_shots
    from generators.layers.videomae.clips import plan_windows

    with ctx.open_source(SHOTS_SOURCE) as f:
        shots = parse_shots(f.read().decode(), f"{ctx.game}/{SHOTS_SOURCE}")
    probes = {n: probe(n, ctx.source(n).url) for n in ctx.source_names() if ctx.source(n).kind == "video"}
    return shots, plan_windows(shots, probes, f"game {ctx.game}"), probes


def _short_chunk(ctx: BuildContext, chunk: ChunkReader, shot: int) -> Exception:
    from artifacts.errors import BuildError

    return BuildError(f"chunk {chunk.index} of videomae-features on game {ctx.game}", chunk.label,
                      f"holds fewer token rows than its rows.json lists (shot {shot} is cut off)", "report this as a bug; delete the key's chunks and build again")
