"""``artifacts train ...``: train consumer models on the workspace's artifacts and register them."""

# No `from __future__ import annotations`: typer reads the commands' annotations at every
# start, and string annotations cost a compile each (about 15 ms of every command).

from typing import TYPE_CHECKING, Annotated, Literal, cast

import typer
from rich.console import Console

from artifacts.errors import UsageError
from artifacts.plugins import import_path

if TYPE_CHECKING:
    from generators.trainers.shooter.run import ShotDatasetFactory

train_app = typer.Typer(no_args_is_help=True, help="Train consumer models on the workspace's artifacts and register them in models.yaml.")
out = Console(highlight=False, soft_wrap=True)

# The trainer's defaults, written out so that `artifacts --help` does not import the trainer
# (tests/test_cli_commands.py checks that they equal generators.trainers.shooter.run's).
DEFAULT_DATASET = "generators.trainers.shooter.dataset:shot_dataset"
DEFAULT_ROLE = "shooter"
DEFAULT_HEATMAPS_LAYER = "shot-heatmaps"
DEFAULT_FEATURES_LAYER = "videomae-features"


def load_factory(spec: str) -> "ShotDatasetFactory":
    """The shot data set factory named ``module:function``."""
    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise UsageError("--dataset", spec, "is not MODULE:FUNCTION", f"e.g. --dataset {DEFAULT_DATASET}")
    try:
        factory = import_path(spec)
    except (ImportError, AttributeError) as exc:
        raise UsageError("dataset factory", spec, f"cannot be imported ({exc})", "pass --dataset MODULE:FUNCTION of an importable shot data set factory") from exc
    if not callable(factory):
        raise UsageError("dataset factory", spec, "is not callable", "name a function (engine, games) -> Dataset")
    return cast("ShotDatasetFactory", factory)


@train_app.command("dual-stream")
def dual_stream(
    ctx: typer.Context,
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="Collection whose artifacts it trains on.")] = None,
    games: Annotated[list[str] | None, typer.Option("--games", "-g", help="Games to use (repeatable; default: all).")] = None,
    held_out: Annotated[list[str] | None, typer.Option("--held-out", help="Games to evaluate on (repeatable; default: the last fifth).")] = None,
    epochs: Annotated[int, typer.Option(min=1)] = 15,
    version: Annotated[str | None, typer.Option(help="Version to register (default: ds-<weights digest>).")] = None,
    role: Annotated[str, typer.Option(help="Role to register the version under.")] = DEFAULT_ROLE,
    batch_size: Annotated[int, typer.Option(min=1)] = 8,
    lr: Annotated[float, typer.Option(min=0.0)] = 1e-3,
    seed: Annotated[int, typer.Option()] = 0,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads (1: reproducible weights across runs).")] = 1,
    workers: Annotated[int, typer.Option(min=0, help="DataLoader worker processes reading the shots.")] = 0,
    d_track: Annotated[int, typer.Option(min=4, help="Width of the track and fused features.")] = 256,
    depth: Annotated[int, typer.Option(min=0, help="Blocks of the track encoder.")] = 2,
    heads: Annotated[int, typer.Option(min=1)] = 4,
    attention: Annotated[str, typer.Option(help="clip: attend to every token; frame: to the query's token frame (cheaper).")] = "clip",
    dataset: Annotated[str, typer.Option(help="MODULE:FUNCTION building a shot data set from (engine, games).")] = DEFAULT_DATASET,
    heatmaps_layer: Annotated[str, typer.Option(help="Layer of the shot heatmaps.")] = DEFAULT_HEATMAPS_LAYER,
    features_layer: Annotated[str, typer.Option(help="Layer of the cached video tokens.")] = DEFAULT_FEATURES_LAYER,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Phase 1 of the dual-stream shooter model (VideoMAE frozen: cached tokens), then register it."""
    from rich.table import Table

    from generators.trainers.shooter.config import Phase1Config, StreamSizes
    from generators.trainers.shooter.run import DualStreamRequest, train_dual_stream

    if attention not in ("clip", "frame"):
        raise UsageError("--attention", attention, "is neither clip nor frame", "pass --attention clip or --attention frame")
    mode: Literal["clip", "frame"] = "clip" if attention == "clip" else "frame"
    factory = load_factory(dataset)
    request = DualStreamRequest(
        collection=collection, games=games or [], held_out=held_out or [], version=version, role=role,
        heatmaps_layer=heatmaps_layer, features_layer=features_layer,
        training=Phase1Config(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, threads=threads, workers=workers,
                              model=StreamSizes(d_track=d_track, depth=depth, heads=heads, attention=mode)),
    )
    result = train_dual_stream(ctx.obj.engine(), factory, request, log=None if as_json else out.print)
    if as_json:
        print(result.model_dump_json(indent=1))
        return
    held = result.report.held_out
    t = Table(title=f"shooter accuracy on {held.shots} held-out shots ({', '.join(result.held_out_games)})")
    t.add_column("predictor")
    t.add_column("accuracy", justify="right")
    t.add_row(f"{result.role} {result.version}", f"{held.accuracy:.1%}")
    t.add_row("nearest player to the shot origin", f"{held.nearest_player:.1%}")
    t.add_row("uniform over visible players", f"{held.visible_chance:.1%}")
    t.add_row("uniform over O1-O5", f"{held.random_baseline:.1%}")
    out.print(t)
    out.print(f"weights: {result.weights} ({result.digest})")
    out.print(f"promote it with: artifacts promote {result.role} {result.version} --to {result.collection}")
