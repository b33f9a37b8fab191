"""``artifacts demo``: the README's main job, end to end on rendered games.

1. make (or reuse) the demo workspace: reference models trained, games rendered;
2. build every layer under ``production``;
3. train Phase 1 of the dual-stream shooter model on the cached features and print its
   held-out accuracy beside the baselines (skipped when already trained);
4. write pictures: a shot's heatmap channels over its frame, and tracks on the court;
   then promote it into ``production`` (accepted: it was trained with those models) and into
   ``staging`` (refused: its heatmaps came from another tracker), with the lineage diff;
5. switch to ``staging`` (tracker trk-v1 -> trk-v2): status, impact (the layers to recompute
   and the shooter model to retrain), and a rebuild that recomputes only what the change touched.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from artifacts import api
from artifacts.plan import Engine
from artifacts.provenance import impact
from cli.render import print_impact, print_status, summary_table
from generators.demo.workspace import make_demo_workspace

SHOOTER_ROLE = "shooter"
DEMO_EPOCHS = 6


def _promote(engine: Engine, console: Console, version: str) -> None:
    """Promotion with lineage checks: into production (what it was trained with) it is
    accepted; into staging (another tracker behind its heatmaps) it is refused, with the diff."""
    from artifacts.provenance import promote

    for collection in ("production", "staging"):
        result = promote(engine, {SHOOTER_ROLE: version}, collection)
        if result.accepted:
            console.print(f"promoted {result.label()} into {collection}")
            continue
        console.print(f"[red]refused[/]: promoting {result.label()} into {collection} would leave {len(result.problems)} problem(s):")
        for problem in result.problems[:4]:
            console.print(f"  {problem.line()}", highlight=False)
        if len(result.problems) > 4:
            console.print(f"  ... and {len(result.problems) - 4} more")


def _train(engine: Engine, console: Console) -> bool:
    from generators.trainers.shooter.config import Phase1Config, StreamSizes
    from generators.trainers.shooter.dataset import shot_dataset
    from generators.trainers.shooter.run import DualStreamRequest, train_dual_stream

    existing = engine.models.spec.roles.get(SHOOTER_ROLE)
    if existing is not None and existing.versions:
        console.print(f"already trained: {SHOOTER_ROLE} {', '.join(existing.versions)} (see models.yaml)")
        return True
    training = Phase1Config(epochs=DEMO_EPOCHS, model=StreamSizes(d_track=64, heads=4, mlp_hidden=64, attention="frame"))
    result = train_dual_stream(engine, shot_dataset, DualStreamRequest(training=training), log=console.print)
    h = result.report.held_out
    console.print(f"held-out accuracy {h.accuracy:.1%} on {h.shots} shots of {', '.join(result.held_out_games)}: random {h.random_baseline:.0%}, "
                  f"a guess among the visible players {h.visible_chance:.1%}, nearest player to the shot {h.nearest_player:.1%}")
    console.print("(a few epochs on a couple of dozen shots: the demo shows the plumbing; docs/quality.md measures the model)")
    _promote(engine, console, result.version)
    return True


def _pictures(engine: Engine, console: Console) -> list[Path]:
    import numpy as np

    from generators.demo.pictures import heatmap_picture, tracks_picture
    from generators.layers.frame_level.decode import decode_selected
    from generators.layers.heatmaps.store import HeatmapArray

    out = engine.workspace.root / "pictures"
    written: list[Path] = []
    sources = engine.catalog.sources()
    for game in sorted(sources):
        heat = api.artifact(engine, "shot-heatmaps", game)
        shots = heat.table("shots.parquet", columns=["shot", "heatmap_row", "label", "camera", "x0", "y0", "first_frame"]).to_pylist()
        usable = [s for s in shots if s["heatmap_row"] >= 0 and s["label"] >= 0]
        if not usable:
            continue
        s = usable[0]
        url = sources[game][s["camera"]].url
        release = s["first_frame"] + 8
        frames: dict[int, np.ndarray] = {}
        for n, f in decode_selected(s["camera"], url, [0, release]):  # one pass, stopped at the release frame
            frames[n] = f
            if len(frames) == 2 or n == release:
                break
        first, frame = frames[0], frames[release]
        window = np.ascontiguousarray(frame[s["y0"] : s["y0"] + 224, s["x0"] : s["x0"] + 224])
        grid = HeatmapArray(heat.location("heatmaps.zarr")).read([s["heatmap_row"]])[0]
        written.append(heatmap_picture(out / f"{game}-shot{s['shot']}-heatmap.png", window, grid, s["label"]))

        det = api.artifact(engine, "frame-level", game).table("detections.parquet", columns=["frame", "camera", "px", "py"])
        tl = api.artifact(engine, "track-level", game)
        tid = tl.table("assignments.parquet", columns=["track_id"]).column("track_id").to_numpy()
        tracks = tl.table("tracks.parquet", columns=["track_id", "category"]).to_pydict()
        cam = np.asarray(det.column("camera").to_pylist(), dtype=object) == s["camera"]
        xy = np.stack([det.column("px").to_numpy(), det.column("py").to_numpy()], axis=1)[cam]
        written.append(tracks_picture(out / f"{game}-{s['camera']}-tracks.png", first, det.column("frame").to_numpy()[cam], xy, tid[cam],
                                      dict(zip(tracks["track_id"], tracks["category"], strict=True))))
        break
    return written


def run_demo(root: Path, jobs: int, console: Console, reference: Path | None = None) -> int:
    """The demo (see the module doc). ``reference``: already trained reference models to use
    instead of training them. Returns the exit code: 0 when everything asked was built."""
    engine = make_demo_workspace(root, reference, log=console.print)

    def build_all(collection: str) -> api.BuildReport:
        report = api.build(engine, [], collection, jobs=jobs)
        if report.result is not None:
            console.print(summary_table(report.result))
        else:
            console.print(f"every artifact already FRESH under {collection}: the demo workspace is reused")
        return report

    console.rule("1. build every layer under collection 'production'")
    report = build_all("production")
    if not report.ok():
        return 1
    console.rule("2. train the dual-stream shooter model (Phase 1, VideoMAE frozen: from the cached features)")
    _train(engine, console)
    console.rule("3. pictures")
    for p in _pictures(engine, console):
        console.print(f"wrote {p}")
    console.rule("4. status under 'staging' (tracker trk-v1 -> trk-v2)")
    print_status(console, api.status(engine, collection="staging"))
    print_impact(console, impact(engine, "tracker", "trk-v2", "production"))
    console.rule("5. build under 'staging': only what the tracker change touched")
    staged = build_all("staging")
    print_status(console, api.status(engine, collection="staging"))
    console.print(f"demo workspace: {engine.workspace.root}  (try: artifacts -w {engine.workspace.root} explain shot-heatmaps demo-g01)")
    return 0 if staged.ok() else 1
