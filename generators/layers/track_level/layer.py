"""The ``track-level`` layer: the tracker role links frame-level detections into tracks.

Per game, two parquet tables:

``assignments.parquet``, one row per frame-level detection, in the same order:

| column | type | meaning |
|---|---|---|
| ``detection`` | int64 | row index in the frame-level ``detections.parquet`` |
| ``frame`` | int32 | frame index |
| ``camera`` | string | the video's source name |
| ``track_id`` | int64 | the detection's track, unique within the game; -1: in no track |

``tracks.parquet``, one row per track:

| column | type | meaning |
|---|---|---|
| ``track_id`` | int64 | as above |
| ``camera`` | string | each camera is tracked on its own |
| ``category`` | string | ``team_a``, ``team_b``, ``referee`` or ``other`` (generators/models/tracking/categories.py) |
| ``detections``, ``first_frame``, ``last_frame`` | int | the track's extent |

Track ids are made unique within a game by numbering cameras' tracks consecutively in camera
name order.
"""

from __future__ import annotations

from artifacts import BuildContext, Generator, Params


class TrackLevelParams(Params):
    min_confidence: float = 0.0  # detections below are left out of tracking (track_id -1)


class TrackLevel(Generator):
    name = "track-level"
    version = "1"
    Params = TrackLevelParams
    upstream = ("frame-level",)
    models = ("tracker",)
    outputs = ("assignments.parquet", "tracks.parquet")
    description = "track id per detection (motion + appearance, Hungarian) and a category per track"

    def build(self, ctx: BuildContext) -> None:
        import numpy as np
        import pyarrow as pa

        from generators.layers.frame_level.table import vectors

        p = ctx.params
        assert isinstance(p, TrackLevelParams)
        det = ctx.upstream("frame-level").table("detections.parquet", columns=["frame", "camera", "px", "py", "confidence", "embedding", "team_probs"])
        tracker = ctx.model("tracker").load()
        n = det.num_rows
        frame = det.column("frame").to_numpy()
        camera = np.asarray(det.column("camera").to_pylist(), dtype=object)
        xy = np.stack([det.column("px").to_numpy(), det.column("py").to_numpy()], axis=1).astype(np.float64)
        conf = det.column("confidence").to_numpy()
        emb = vectors(det.column("embedding"))  # float32, also where frame-level stored float16
        probs3 = vectors(det.column("team_probs"))
        # The crop encoder scores team 0, team 1, referee; the category head adds "other".
        probs = np.concatenate([probs3, np.zeros((n, 1), probs3.dtype)], axis=1)

        track_id = np.full(n, -1, np.int64)
        rows: dict[str, list[object]] = {k: [] for k in ("track_id", "camera", "category", "detections", "first_frame", "last_frame")}
        next_id = 0
        for cam in sorted(set(camera.tolist())):
            sel = np.flatnonzero((camera == cam) & (conf >= p.min_confidence))
            if len(sel) == 0:
                continue
            local = tracker.track(frame[sel], xy[sel], conf[sel], emb[sel])
            assigned = local >= 0
            track_id[sel[assigned]] = local[assigned] + next_id
            for tid, category in tracker.categorize(local, probs[sel]).items():
                member = frame[sel][local == tid]
                rows["track_id"].append(tid + next_id)
                rows["camera"].append(cam)
                rows["category"].append(category)
                rows["detections"].append(len(member))
                rows["first_frame"].append(int(member.min()))
                rows["last_frame"].append(int(member.max()))
            next_id += int(local.max()) + 1 if assigned.any() else 0
        ctx.write_table(
            "assignments.parquet",
            pa.table({"detection": pa.array(np.arange(n, dtype=np.int64)), "frame": det.column("frame"), "camera": det.column("camera"), "track_id": pa.array(track_id)}),
        )
        ctx.write_table(
            "tracks.parquet",
            pa.table({
                "track_id": pa.array(rows["track_id"], pa.int64()),
                "camera": pa.array(rows["camera"], pa.string()),
                "category": pa.array(rows["category"], pa.string()),
                "detections": pa.array(rows["detections"], pa.int64()),
                "first_frame": pa.array(rows["first_frame"], pa.int64()),
                "last_frame": pa.array(rows["last_frame"], pa.int64()),
            }),
        )
