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
  camera`` otherwise). A shot is never dropped silently.

Contracts recorded in the manifest (``artifacts check`` compares them with the model's
``provides``): ``feature_family``, ``token_grid`` ``[t, h, w]``, ``hidden_dim``, ``token_dtype``.
The generator version carries the shot window's layout version, so a change of the window
(shared with ``shot-heatmaps``) gives new keys.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from artifacts import BuildContext, Generator, Params, Resources
from generators.layers.shots.window import LAYOUT_VERSION

# numpy, pyarrow, torch, transformers and av are imported in build(): layer discovery must stay cheap.

SHOTS_SOURCE = "shots"


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

    def build(self, ctx: BuildContext) -> None:
        import numpy as np

        from generators.layers.frame_level.decode import probe
        from generators.layers.shots.annotation import parse_shots
        from generators.layers.videomae.cache import DTYPE, TokenCacheWriter
        from generators.layers.videomae.clips import cut_clips, plan_windows, windows_table

        p = ctx.params
        assert isinstance(p, VideoMAEFeaturesParams)
        handle = ctx.model("videomae")
        model = handle.load()  # a VideoMAEFeatures, or any class with its grid, tokens, hidden_dim, family, clip_shape and encode
        with ctx.open_source(SHOTS_SOURCE) as f:
            shots = parse_shots(f.read().decode(), f"{ctx.game}/{SHOTS_SOURCE}")
        videos = {n: ctx.source(n).url for n in ctx.source_names() if ctx.source(n).kind == "video"}
        probes = {n: probe(n, url) for n, url in videos.items()}
        windows = plan_windows(shots, probes, f"game {ctx.game}")

        writer = TokenCacheWriter(ctx.output_path("tokens.f16").parent, len(shots), model.grid, model.hidden_dim, model.family,
                                  model={"role": handle.ref.role, "version": handle.ref.version, "digest": handle.ref.digest})
        batch = np.empty((p.batch, *model.clip_shape), np.uint8)  # reused: fresh allocations are slow and erratic here
        tokens = np.empty((p.batch, model.tokens, model.hidden_dim), np.float16)
        rows: list[int] = []

        def flush() -> None:
            model.encode(batch[: len(rows)], batch_size=p.batch, out=tokens[: len(rows)])
            for i, row in enumerate(rows):
                writer.write(row, tokens[i])
            rows.clear()

        for w, clip in cut_clips(videos, [w for w in windows if w is not None]):
            batch[len(rows)] = clip
            rows.append(w.shot)
            if len(rows) == p.batch:
                flush()
        if rows:
            flush()
        missing = [s.index for s, w in zip(shots, windows, strict=True) if w is None]
        header = writer.close(missing)
        ctx.write_table("windows.parquet", windows_table(shots, windows))
        ctx.record_contract("feature_family", header.family)
        ctx.record_contract("token_grid", list(header.grid))
        ctx.record_contract("hidden_dim", header.hidden_dim)
        ctx.record_contract("token_dtype", DTYPE)

