"""Shooter accuracy of the dual-stream model on held-out rendered games and on real SportVU shots.

``python -m generators.trainers.shooter.evaluate WEIGHTS_DIR OUT_DIR [--train-games 24] [--held-out 8]
[--seconds 10] [--epochs 15] [--sportvu DATA_DIR] [--jobs 2] [--json]``

1. A workspace in ``OUT_DIR/ws`` runs the demo's layers (frame-level, track-level,
   shot-heatmaps, videomae-features) on the reference models of ``WEIGHTS_DIR``
   (``generators.reference.build``) and the small seeded VideoMAE.
2. It renders simulated games (render seeds of the purposes "train" and "eval", never shared),
   builds every layer, and trains Phase 1 through ``artifacts train dual-stream``'s code
   (:func:`~generators.trainers.shooter.run.train_dual_stream`), holding out the "eval" games.
3. With ``--sportvu``, it renders every shot of the real SportVU game (``../shared/data/sportvu``:
   real player positions, the play-by-play's shooter) through the same virtual cameras as a
   4 s game, builds the same layers on them, and scores the trained model on those shots: a
   model trained on simulated motion, tested on real motion.

Every figure is printed beside the 20% random baseline, a uniform guess among the visible
offensive players, and the nearest-player heuristic (channel 16 at release).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from artifacts import api
from artifacts.plan import Engine
from artifacts.registry import TrainedOn
from artifacts.workspace import init_workspace
from generators.models.videomae import VideoMAEArch
from generators.models.videomae_weights import build_weights, contracts_of
from generators.reference.data import render_games
from generators.reference.workspace import reference_models_yaml
from generators.render import render_game
from generators.render.sportvu import SportVUSource
from generators.trainers.shooter.config import Evaluation, Phase1Config, Phase1Report, StreamSizes
from generators.trainers.shooter.dataset import shot_dataset
from generators.trainers.shooter.run import FEATURES_LAYER, HEATMAPS_LAYER, DualStreamRequest, ShotArtifacts, train_dual_stream

LAYERS = ["generators.layers.frame_level.layer:FrameLevel", "generators.layers.track_level.layer:TrackLevel", "generators.layers.heatmaps.layer:ShotHeatmaps",
          "generators.layers.videomae.layer:VideoMAEFeaturesLayer"]


class ShooterReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: str
    train_games: int
    held_out_games: int
    phase1: Phase1Report
    sportvu: Evaluation | None = None
    sportvu_skipped: dict[str, int] = {}
    build_s: float


def make_workspace(root: Path, weights_dir: Path) -> Engine:
    init_workspace(root, layers=LAYERS, entry_points=False)
    vmae = root / "weights" / "vmae-s1.safetensors"
    if not vmae.exists():
        build_weights(vmae, seed=0)
    models = root / "models.yaml"
    if not models.exists() or "shooter" not in models.read_text():  # keep a registry that holds trained shooters
        models.write_text(reference_models_yaml(weights_dir, root, {"videomae": ("vmae-s1", vmae)}, provides={"videomae": contracts_of(VideoMAEArch())}))
    return Engine.open(root)


def _build(engine: Engine, jobs: int) -> None:
    report = api.build(engine, [HEATMAPS_LAYER, FEATURES_LAYER], jobs=jobs)
    if not report.ok():
        events = report.result.events.values() if report.result else []
        raise SystemExit("build failed: " + "; ".join(f"{e.task.layer} {e.task.game}: {e.message}" for e in events if e.kind == "failed"))


def evaluate_shooter(weights_dir: Path, out_dir: Path, *, train_games: int = 24, held_out: int = 8, seconds: float = 10.0, epochs: int = 15,
                     sportvu: Path | None = None, jobs: int = 2, log: Callable[[str], None] = print) -> ShooterReport:
    engine = make_workspace(out_dir / "ws", weights_dir)
    games = render_games(out_dir / "games", 0, "train", train_games, seconds) + render_games(out_dir / "games", 0, "eval", held_out, seconds)
    known = engine.catalog.sources()
    engine.add_games([g.entry() for g in games if g.game_id not in known])
    t0 = time.perf_counter()
    _build(engine, jobs)
    build_s = time.perf_counter() - t0
    log(f"built {len(games)} games in {build_s:.0f}s")
    training = Phase1Config(epochs=epochs, model=StreamSizes(d_track=64, heads=4, mlp_hidden=64, attention="frame"))
    held = [g.game_id for g in games[train_games:]]
    result = train_dual_stream(engine, shot_dataset, DualStreamRequest(games=[g.game_id for g in games], held_out=held, training=training), log=log)
    report = ShooterReport(version=result.version, train_games=train_games, held_out_games=held_out, phase1=result.report, build_s=build_s)
    if sportvu is None:
        return report
    from generators.trainers.shooter.model import DualStream
    from generators.trainers.shooter.train import evaluate

    n_shots = _sportvu_shot_count(sportvu)
    real = [render_game(out_dir / "sportvu" / f"sportvu-shot{k:03d}", f"sportvu-shot{k:03d}", seconds=4.0, source=SportVUSource(data_dir=sportvu, shot=k))
            for k in range(n_shots)]
    known = engine.catalog.sources()
    engine.add_games([g.entry() for g in real if g.game_id not in known])
    _build(engine, jobs)
    plan = engine.plan_keys([HEATMAPS_LAYER, FEATURES_LAYER], games=[g.game_id for g in real])
    arts = [ShotArtifacts(game=g.game_id, heatmaps=TrainedOn(layer=HEATMAPS_LAYER, game=g.game_id, key=plan.key(HEATMAPS_LAYER, g.game_id) or ""),
                          features=TrainedOn(layer=FEATURES_LAYER, game=g.game_id, key=plan.key(FEATURES_LAYER, g.game_id) or "")) for g in real]
    data = shot_dataset(engine, arts)
    model = DualStream.from_weights(Path(result.weights))
    ev = evaluate(model, data, training)
    return report.model_copy(update={"sportvu": ev, "sportvu_skipped": dict(data.skipped)})


def _sportvu_shot_count(data_dir: Path) -> int:
    from generators.render.sportvu import find_files, match_shots, read_moments

    files = find_files(data_dir)
    return len(match_shots(read_moments(files.moments), files.pbp, files.players))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generators.trainers.shooter.evaluate", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("weights_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--train-games", type=int, default=24)
    parser.add_argument("--held-out", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--sportvu", type=Path, default=None)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    r = evaluate_shooter(args.weights_dir, args.out_dir, train_games=args.train_games, held_out=args.held_out, seconds=args.seconds,
                         epochs=args.epochs, sportvu=args.sportvu, jobs=args.jobs)
    if args.json:
        print(json.dumps(r.model_dump(), indent=1))
        return 0
    for name, e in (("held-out rendered games", r.phase1.held_out), ("SportVU shots (real positions)", r.sportvu)):
        if e is not None:
            print(f"{name}: accuracy {e.accuracy:.3f} on {e.shots} shots; random {e.random_baseline:.2f}, visible-player guess {e.visible_chance:.3f}, "
                  f"nearest player {e.nearest_player:.3f}, shooter not in any slot {e.unanswerable}")
    print(f"model {r.version}: {r.phase1.train_shots} training shots, {r.phase1.steps} steps in {r.phase1.seconds:.0f}s; layers built in {r.build_s:.0f}s")
    if r.sportvu_skipped:
        print(f"SportVU shots left out: {r.sportvu_skipped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
