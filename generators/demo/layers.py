"""Stand-in layers for the demo, shaped like the real DAG until issues 4-5 replace them.

They do honest, deterministic work on the game's real source bytes and the models' real
weights bytes, and write real parquet tables and zarr v3 arrays, but they do not decode
video: ``demo-frames`` treats each fixed-size block of a video file as one "frame". Their
purpose is to exercise the engine (keys, staleness, incremental rebuilds) end to end:

    demo-frames   (videos; detector, crop_encoder)  -> detections.parquet
    demo-tracks   (demo-frames; tracker)             -> tracks.parquet
    demo-heatmaps (demo-tracks, demo-frames; shots)  -> heatmaps.zarr
    demo-features (videos, shots; videomae)          -> features.zarr
"""

from __future__ import annotations

from artifacts import BuildContext, Generator, Params

# numpy and pyarrow are imported inside build(): discovering layers (every status) must not
# pay for the libraries that only building needs.


def _seed(*parts: bytes) -> int:
    import xxhash

    return xxhash.xxh3_64_intdigest(b"\x00".join(parts))


class FramesParams(Params):
    block_bytes: int = 4096
    embedding_dim: int = 16


class DemoFrames(Generator):
    name = "demo-frames"
    version = "1"
    Params = FramesParams
    models = ("detector", "crop_encoder")
    sources = ("kind:video",)
    outputs = ("detections.parquet",)
    description = "stand-in frame-level: per block of each video, detections and embeddings"

    def build(self, ctx: BuildContext) -> None:
        import numpy as np
        import pyarrow as pa

        p = ctx.params
        assert isinstance(p, FramesParams)
        det_w = np.frombuffer(ctx.model("detector").read_bytes(), dtype=np.uint8).astype(np.float32)
        enc_seed = _seed(ctx.model("crop_encoder").read_bytes())
        cols: dict[str, list[np.ndarray]] = {k: [] for k in ("frame", "camera", "x", "y", "confidence")}
        embs = []
        for cam_idx, name in enumerate(ctx.source_names()):
            with ctx.open_source(name) as f:
                data = np.frombuffer(f.read(), dtype=np.uint8)
            n = len(data) // p.block_bytes
            blocks = data[: n * p.block_bytes].reshape(n, p.block_bytes).astype(np.float32)
            # Ten "players" per frame: positions from block statistics, scaled by detector weights.
            per = blocks[:, : 10 * 4].reshape(n, 10, 4) / 255.0
            scale = 1.0 + det_w[:4].mean() / 255.0
            frames = np.repeat(np.arange(n), 10)
            cols["frame"].append(frames)
            cols["camera"].append(np.full(n * 10, cam_idx))
            cols["x"].append((per[..., 0] * 94 * scale % 94).ravel())
            cols["y"].append((per[..., 1] * 50 * scale % 50).ravel())
            cols["confidence"].append(per[..., 2].ravel())
            rng = np.random.default_rng(enc_seed + cam_idx)
            proj = rng.standard_normal((4, p.embedding_dim)).astype(np.float32)
            embs.append((per.reshape(n * 10, 4) @ proj).astype(np.float32))
        emb = np.concatenate(embs) if embs else np.zeros((0, p.embedding_dim), np.float32)
        table = pa.table(
            {
                "frame": pa.array(np.concatenate(cols["frame"]).astype(np.int32)),
                "camera": pa.array(np.concatenate(cols["camera"]).astype(np.int16)),
                "x": pa.array(np.concatenate(cols["x"]).astype(np.float32)),
                "y": pa.array(np.concatenate(cols["y"]).astype(np.float32)),
                "confidence": pa.array(np.concatenate(cols["confidence"]).astype(np.float32)),
                "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), p.embedding_dim),
            }
        )
        ctx.write_table("detections.parquet", table)


class TracksParams(Params):
    cells: int = 5


class DemoTracks(Generator):
    name = "demo-tracks"
    version = "1"
    Params = TracksParams
    upstream = ("demo-frames",)
    models = ("tracker",)
    outputs = ("tracks.parquet",)
    description = "stand-in track-level: a track id per detection from position cells"

    def build(self, ctx: BuildContext) -> None:
        import numpy as np
        import pyarrow as pa

        p = ctx.params
        assert isinstance(p, TracksParams)
        det = ctx.upstream("demo-frames").table("detections.parquet", columns=["frame", "camera", "x", "y"])
        offset = int(np.frombuffer(ctx.model("tracker").read_bytes()[:4], dtype=np.uint8).sum()) % 7
        x = det.column("x").to_numpy()
        y = det.column("y").to_numpy()
        cell = (np.floor(x / 94 * p.cells) * p.cells + np.floor(y / 50 * p.cells)).astype(np.int32)
        track = (cell + offset) % (p.cells * p.cells)
        ctx.write_table("tracks.parquet", pa.table({"frame": det.column("frame"), "camera": det.column("camera"), "track_id": pa.array(track)}))


class DemoHeatmaps(Generator):
    name = "demo-heatmaps"
    version = "1"
    upstream = ("demo-tracks", "demo-frames")
    sources = ("shots",)
    outputs = ("heatmaps.zarr",)
    description = "stand-in shot-heatmaps: per shot, a small occupancy grid of tracked players"

    def build(self, ctx: BuildContext) -> None:
        import numpy as np

        with ctx.open_source("shots") as f:
            shots = [int(line.split(",")[0]) for line in f.read().decode().splitlines()[1:] if line.strip()]
        det = ctx.upstream("demo-frames").table("detections.parquet", columns=["frame", "x", "y"])
        tracks = ctx.upstream("demo-tracks").table("tracks.parquet", columns=["track_id"])
        frame = det.column("frame").to_numpy()
        gx = np.clip((det.column("x").to_numpy() / 94 * 14).astype(int), 0, 13)
        gy = np.clip((det.column("y").to_numpy() / 50 * 14).astype(int), 0, 13)
        tid = tracks.column("track_id").to_numpy()
        arr = ctx.create_array("heatmaps.zarr", shape=(max(len(shots), 1), 14, 14), dtype="float32", chunks=(1, 14, 14))
        out = np.zeros((max(len(shots), 1), 14, 14), np.float32)
        for i, s in enumerate(shots):
            m = frame == s
            np.add.at(out[i], (gy[m], gx[m]), 1.0 + (tid[m] % 2))
        arr[:] = out


class DemoFeatures(Generator):
    name = "demo-features"
    version = "1"
    models = ("videomae",)
    sources = ("kind:video", "shots")
    outputs = ("features.zarr",)
    description = "stand-in videomae-features: per shot, fp16 token features from video bytes"

    def build(self, ctx: BuildContext) -> None:
        import numpy as np

        with ctx.open_source("shots") as f:
            shots = [int(line.split(",")[0]) for line in f.read().decode().splitlines()[1:] if line.strip()]
        w = np.frombuffer(ctx.model("videomae").read_bytes(), dtype=np.uint8).astype(np.float32)[:64].reshape(8, 8) / 255.0
        video = next(n for n in ctx.source_names() if n != "shots")
        with ctx.open_source(video) as f:
            data = np.frombuffer(f.read(), dtype=np.uint8).astype(np.float32) / 255.0
        arr = ctx.create_array("features.zarr", shape=(max(len(shots), 1), 4, 8), dtype="float16", chunks=(1, 4, 8))
        out = np.zeros((max(len(shots), 1), 4, 8), np.float16)
        for i, s in enumerate(shots):
            start = (s * 32) % max(len(data) - 32, 1)
            out[i] = (data[start : start + 32].reshape(4, 8) @ w).astype(np.float16)
        arr[:] = out
