"""The ``artifacts`` command line. Thin: parse, call :mod:`artifacts.api`, print."""

# No `from __future__ import annotations`: typer reads the commands' annotations at every
# start, and string annotations cost a compile each (about 15 ms of every command).

import gc
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from artifacts import api
from artifacts.errors import BuildError, UsageError
from artifacts.plan import Engine
from artifacts.workspace import SourceSpec, init_workspace, read_listing
from cli.errors import run_cli
from cli.models_cmd import check, impact, models_app, promote
from cli.render import explain_tree, print_plan, print_status, print_warnings, summary_table
from cli.store_cmd import register as register_store_commands
from cli.train_cmd import train_app

if TYPE_CHECKING:
    from artifacts.build import Task, TaskEvent
    from artifacts.workspace import ExecutorSettings

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, help="Content-addressed artifacts for the tracking-to-training DAG.")
games_app = typer.Typer(no_args_is_help=True, help="Register and list games.")
app.add_typer(games_app, name="games")
app.add_typer(models_app, name="models")
app.add_typer(train_app, name="train")
app.command()(promote)
app.command()(impact)
app.command()(check)
register_store_commands(app)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


class State:
    def __init__(self, workspace: Path, debug: bool) -> None:
        self.workspace = workspace
        self.debug = debug

    def engine(self) -> Engine:
        return Engine.open(self.workspace)


@app.callback()
def _main(
    ctx: typer.Context,
    workspace: Annotated[Path | None, typer.Option("--workspace", "-w", help="Workspace directory (default: current).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    ctx.obj = State(workspace or Path.cwd(), debug)


def _exit(code: int) -> None:
    if code:
        raise typer.Exit(code)


def _state(ctx: typer.Context) -> State:
    assert isinstance(ctx.obj, State)
    return ctx.obj


@app.command()
def init(
    ctx: typer.Context,
    directory: Annotated[Path | None, typer.Argument(help="Where to create it (default: the workspace).")] = None,
    store: Annotated[str, typer.Option(help="Store URL or path relative to the workspace.")] = "store",
    models_from: Annotated[Path | None, typer.Option("--models-from", help="Reuse the models of another workspace (its directory or models.yaml).")] = None,
) -> None:
    """Create a workspace (artifacts.toml, models.yaml, catalog)."""
    root = directory or _state(ctx).workspace
    ws = init_workspace(root, store=store)
    if models_from is not None:
        from artifacts.registry import import_models

        models = import_models(models_from, ws.models_path)
        n = sum(len(rs.versions) for rs in models.spec.roles.values())
        out.print(f"models: {n} version{'s' if n != 1 else ''} of {len(models.spec.roles)} roles and {len(models.spec.collections)} collections from {models_from}")
    out.print(f"workspace ready at {ws.root} (store {ws.store_url})")


def _parse_pairs(values: list[str], kind: str, flag: str) -> list[SourceSpec]:
    specs = []
    for v in values:
        name, sep, url = v.partition("=")
        if not sep or not name or not url:
            raise UsageError(flag, v, "is not NAME=URL", f"write {flag} cam0=/path/to/video.mp4")
        specs.append(SourceSpec(name, url, kind))
    return specs


@games_app.command("add")
def games_add(
    ctx: typer.Context,
    game: Annotated[str | None, typer.Argument(help="Game id.")] = None,
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help="NAME=URL of a video (repeatable).")] = None,
    annotation: Annotated[list[str] | None, typer.Option("--annotation", "-a", help="NAME=URL of an annotation file, e.g. shots.")] = None,
    listing: Annotated[Path | None, typer.Option("--from", help="CSV or parquet with columns game, name, url[, kind].")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace the named sources of an existing game.")] = False,
) -> None:
    """Register a game's sources (content digests computed once), or many from a listing."""
    engine = _state(ctx).engine()
    if listing is not None:
        if game or source or annotation:
            raise UsageError("games add", str(listing), "--from cannot be combined with GAME or --source", "use one form")
        n = engine.add_games(read_listing(listing), replace)
    else:
        if game is None:
            raise UsageError("games add", None, "needs GAME or --from", "e.g. artifacts games add g1 --source cam0=video.mp4")
        specs = _parse_pairs(source or [], "video", "--source") + _parse_pairs(annotation or [], "annotation", "--annotation")
        n = engine.add_games([(game, specs)], replace)
    out.print(f"registered {n} game{'s' if n != 1 else ''}")


@games_app.command("remove")
def games_remove(
    ctx: typer.Context,
    game: Annotated[list[str], typer.Argument(help="Game ids to forget.")],
) -> None:
    """Forget games: they leave status and build; their artifacts stay until 'artifacts gc'."""
    engine = _state(ctx).engine()
    known = set(engine.catalog.games())
    for g in game:
        engine.check_games([g], dict.fromkeys(known))
    for g in game:
        engine.catalog.remove_game(g)
    n = len(game)
    out.print(f"removed {n} game{'s' if n != 1 else ''}; their artifacts stay in the store until 'artifacts gc' removes them")


@games_app.command("list")
def games_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List registered games and their sources."""
    sources = _state(ctx).engine().catalog.sources()
    if as_json:
        print(json.dumps({g: {n: {"kind": s.kind, "url": s.url, "digest": s.digest, "size": s.size} for n, s in per.items()} for g, per in sorted(sources.items())}, indent=1))
        return
    for g, per in sorted(sources.items()):
        out.print(f"{g}: " + ", ".join(f"{n} ({s.kind}, {s.size} B)" for n, s in sorted(per.items())))


@app.command()
def layers(ctx: typer.Context) -> None:
    """List registered layers in dependency order."""
    engine = _state(ctx).engine()
    for name in engine.dag.order:
        g = engine.registry.get(name)
        reads = ", ".join(g.upstream) or "-"
        out.print(f"{name} v{g.version}  reads: {reads}  models: {', '.join(g.models) or '-'}  sources: {', '.join(g.sources) or '-'}")


@app.command()
def status(
    ctx: typer.Context,
    layer: Annotated[list[str] | None, typer.Argument(help="Layers (default: all).")] = None,
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
    game: Annotated[list[str] | None, typer.Option("--game", "-g")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One record per (layer, game).")] = False,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 unless everything is FRESH.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="With --check: also exit 1 when a FRESH artifact skipped items or hit a cap.")] = False,
) -> None:
    """FRESH / STALE / MISSING / FAILED per (layer, game), with causes of staleness."""
    report = api.status(_state(ctx).engine(), layer, collection, game)
    if as_json:
        print(json.dumps({"collection": report.collection, "counts": report.counts(), "unavailable": report.unavailable, "artifacts": [e.record() for e in report.entries]}, indent=1))
    else:
        print_status(out, report)
    clean = report.all_fresh() and not (strict and any(e.signals for e in report.entries))
    _exit(1 if check and not clean else 0)


@app.command()
def explain(
    ctx: typer.Context,
    layer: str,
    game: str,
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print the recipe tree of LAYER for GAME, with upstream keys and states."""
    node = api.explain_artifact(_state(ctx).engine(), layer, game, collection)
    if as_json:
        print(json.dumps(node.record(), indent=1))
    else:
        out.print(explain_tree(node))


@app.command()
def build(
    ctx: typer.Context,
    layer: Annotated[list[str], typer.Argument(help="Target layers.")],
    game: Annotated[list[str] | None, typer.Option("--game", "-g")] = None,
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Parallel worker processes (with --executor ray: the CPUs of a local cluster).")] = os.cpu_count() or 1,
    retries: Annotated[int, typer.Option(min=0, help="Retries of transient failures.")] = 2,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print each task with its reason; build nothing.")] = False,
    executor: Annotated[str | None, typer.Option("--executor", help="Where tasks run: local (worker processes) or ray. Default: [executor] in artifacts.toml, else local.")] = None,
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="Ray cluster to use (auto, HOST:PORT, ray://HOST:PORT). Default: start a local one.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per build event (progress included), then a summary.")] = False,
) -> None:
    """Build LAYER and whatever upstream is stale or missing. Exit 0 only if all is FRESH."""
    engine = _state(ctx).engine()
    settings = engine.workspace.config.executor.override(executor, ray_address)
    if as_json:
        report = _build_json(engine, layer, game, collection, jobs, retries, dry_run, settings)
    else:
        report = _build_and_print(engine, layer, game, collection, jobs, retries, dry_run, settings)
    _exit(0 if report.ok() else 1)


def _build_json(engine: Engine, layer: list[str], game: list[str] | None, collection: str | None, jobs: int, retries: int, dry_run: bool,
                settings: "ExecutorSettings | None") -> api.BuildReport:
    """``api.build`` printing every event as one JSON line, then one ``summary`` line."""

    def emit(record: dict[str, object]) -> None:
        print(json.dumps(record), flush=True)

    def on_plan(tasks: "list[Task]") -> None:
        emit({"event": "plan", "tasks": [{"layer": t.layer, "game": t.game, "key": t.key, "reason": t.reason} for t in tasks]})

    report = api.build(engine, layer, collection, game, jobs, retries, dry_run, lambda ev: emit(ev.record()), on_plan, settings,
                       lambda note: emit({"event": "note", "message": note}))
    summary: dict[str, object] = {"event": "summary", "ok": report.ok()}
    if report.result is not None:
        summary |= {k: report.result.count(k) for k in ("built", "reused", "failed", "skipped", "blocked")} | {"wall_s": round(report.result.wall_s, 3)}
    emit(summary)
    return report


def _build_and_print(engine: Engine, layer: list[str], game: list[str] | None, collection: str | None, jobs: int, retries: int, dry_run: bool,
                     settings: "ExecutorSettings | None" = None) -> api.BuildReport:
    """``api.build`` with a progress bar, then the summary, warnings and failures printed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, disable=not err.is_terminal or dry_run)
    bar = progress.add_task("building", total=0)
    failures: list[TaskEvent] = []
    warned: list[TaskEvent] = []
    waited: set[tuple[str, str]] = set()

    def on_plan(tasks: "list[Task]") -> None:
        if dry_run:
            print_plan(out, tasks)
        else:
            progress.update(bar, total=len(tasks))
            if tasks:
                out.print(f"{len(tasks)} task{'s' if len(tasks) != 1 else ''} to run")

    def on_event(ev: "TaskEvent") -> None:
        if ev.kind in ("built", "reused", "failed", "skipped", "blocked"):
            progress.advance(bar)
            progress.update(bar, description=f"{ev.task.layer} {ev.task.game}")
        if ev.kind == "progress" and ev.progress is not None:  # inside a chunked task
            progress.update(bar, description=f"{ev.task.layer} {ev.task.game}: {ev.progress.text()}")
        if ev.kind in ("failed", "blocked"):
            failures.append(ev)
        if ev.outcome is not None and (ev.outcome.warnings or ev.outcome.signals) and ev.kind in ("built", "reused"):
            warned.append(ev)
        if ev.kind == "retry":
            err.print(f"retrying {ev.task.layer} {ev.task.game} (attempt {ev.attempt} failed: {ev.message})", highlight=False)
        if ev.kind == "waiting" and ev.task.id not in waited:  # once per task: it is polled every few seconds
            waited.add(ev.task.id)
            err.print(f"waiting for {ev.task.layer} {ev.task.game}: {ev.message}", highlight=False)

    def on_note(note: str) -> None:
        err.print(f"note: {note}", highlight=False)

    with progress:
        report = api.build(engine, layer, collection, game, jobs, retries, dry_run, on_event, on_plan, settings, on_note)
    if report.result is not None:
        out.print(summary_table(report.result))
        print_warnings(out, warned)
        for ev in failures:
            label = "FAILED" if ev.kind == "failed" else "BLOCKED"
            out.print(f"[red]{label}[/] {ev.task.layer} {ev.task.game}: {ev.message}")
    elif not dry_run:
        out.print("nothing to build: every requested artifact is FRESH")
    return report


@app.command()
def combine(
    ctx: typer.Context,
    combiner: Annotated[str, typer.Argument(help="Combiner name, e.g. clips-combined.")],
    set_name: Annotated[str, typer.Argument(metavar="SET", help="Name of the set of games (game-id rules).")],
    game: Annotated[list[str] | None, typer.Option("--game", "-g", help="Games of the set (default: all).")] = None,
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Parallel worker processes.")] = os.cpu_count() or 1,
    retries: Annotated[int, typer.Option(min=0, help="Retries of transient failures.")] = 2,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the per-game tasks and the combined key; build nothing.")] = False,
) -> None:
    """Build the layer COMBINER reads for the games, then merge them into one artifact named SET,
    addressed by the keys it merged (reused when they are unchanged)."""
    from artifacts.operations import get_combiner

    engine = _state(ctx).engine()
    reads = get_combiner(engine, combiner).reads
    built = _build_and_print(engine, [reads], game, collection, jobs, retries, dry_run)
    if not dry_run and not built.ok():
        raise BuildError(f"combine {combiner}", set_name, f"not every game's {reads} artifact is FRESH (see above)", "fix those games, or leave them out with --game")
    report = api.combine(engine, combiner, set_name, game, collection, dry_run)
    plan, done = report.plan, report.outcome
    head = f"combined {combiner} {set_name} ({len(plan.games)} game{'s' if len(plan.games) != 1 else ''}) key {plan.key}"
    if done is None:
        out.print(f"{head}: to build")
        _exit(1)  # a dry run with work to do exits 1, as build --dry-run does
        return
    out.print(f"{head}: {'built' if done.built else 'FRESH, reused'}")
    for f in done.manifest.outputs:
        out.print(f"  {engine.store.data_path(done.manifest.data)}/{f.path}  ({f.size} B)", highlight=False)
    _exit(0 if built.ok() else 1)


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(help="Demo workspace (created or reused).")] = Path("demo-workspace"),
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1)] = os.cpu_count() or 1,
) -> None:
    """Create (or reuse) the embedded demo workspace and build it."""
    from cli.demo import run_demo

    _exit(run_demo(directory, jobs, out))


def main() -> None:
    """Console-script entry point."""
    code = run_cli(app, sys.argv[1:])
    # The command is done: spare what it built (10^5 objects for status at 10,000 games) the
    # collector's last full pass at interpreter exit, measured at 60 ms. Exit handlers still run.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    main()
