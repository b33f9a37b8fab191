"""``artifacts verify``, ``gc``, ``pin``, ``unpin``, ``pins``, ``push`` and ``pull``."""

# No `from __future__ import annotations`: typer reads the commands' annotations at every
# start, and string annotations cost a compile each (about 15 ms of every command).

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from artifacts.errors import UsageError
from artifacts.store import drop_artifacts, list_pins, verify_store
from artifacts.store import pin as run_pin
from artifacts.store import unpin as run_unpin

if TYPE_CHECKING:
    from artifacts.operations import TransferReport

out = Console(highlight=False, soft_wrap=True)


def _engine(ctx: typer.Context):  # type: ignore[no-untyped-def]
    return ctx.obj.engine()


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def verify(
    ctx: typer.Context,
    layer: Annotated[list[str] | None, typer.Argument(help="Layers (default: every layer in the store).")] = None,
    game: Annotated[list[str] | None, typer.Option("--game", "-g")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Files hashed at a time.")] = 4,
    drop: Annotated[bool, typer.Option("--drop", help="Remove the artifacts found corrupt, so that the next build redoes them.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Re-hash stored outputs against their manifests. Exit 1 if anything is missing or corrupt."""
    engine = _engine(ctx)
    engine.store.check_format()
    report = verify_store(engine.store, layer or None, game or None, jobs)
    dropped = drop_artifacts(engine.store, report.bad_artifacts()) if drop else 0
    if as_json:
        print(json.dumps({"layers": report.layers, "artifacts": report.artifacts, "files": report.files, "bytes": report.bytes,
                          "problems": [p.record() for p in report.problems], "dropped": dropped}, indent=1))
    else:
        for p in report.problems:
            out.print(f"[red]{p.kind.upper()}[/] {p.text()}")
        verdict = "ok" if report.ok() else f"{len(report.bad_artifacts())} artifact(s) with problems"
        out.print(f"verified {report.artifacts:,} artifacts, {report.files:,} files, {_size(report.bytes)} in {', '.join(report.layers) or 'no layer'}: {verdict}")
        if dropped:
            out.print(f"dropped {dropped} artifact(s): build again to redo them")
        elif not report.ok():
            out.print("remove them with 'artifacts verify --drop' (then build again)")
    if not report.ok():
        raise typer.Exit(1)


def gc(
    ctx: typer.Context,
    delete: Annotated[bool, typer.Option("--delete", help="Delete; without it gc only reports (a dry run).")] = False,
    min_age: Annotated[float | None, typer.Option("--min-age", min=0, help="Seconds an unreferenced data or staging directory must be old to go (default: one hour).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Delete what no collection, pin or trained_on reaches (a dry run unless --delete)."""
    engine = _engine(ctx)
    if not engine.store.check_format():
        out.print(f"no store at {engine.store.url}: nothing to collect")
        return
    from artifacts.operations import collect
    from artifacts.operations import delete as gc_delete

    report = collect(engine) if min_age is None else collect(engine, min_age)
    if delete:
        gc_delete(engine, report)
    if as_json:
        print(json.dumps({
            "deleted": delete, "bytes": report.bytes_to_delete(),
            "layers": {l: vars(s) | {"bytes": s.bytes} for l, s in report.layers().items()},
            "kept": [{"layer": l, "game": g, "key": k, "bytes": report.kept_bytes[(l, g, k)], "roots": sorted(r)} for (l, g, k), r in sorted(report.kept.items())],
            "items": [it.record() for it in report.items],
        }, indent=1))
        return
    t = Table(title=f"gc of {engine.store.url}" + ("" if delete else " (dry run: nothing deleted; pass --delete)"))
    for col in ("layer", "kept", "kept bytes", "artifacts to delete" if not delete else "artifacts deleted", "orphaned data dirs", "chunk dirs", "bytes", "failure records", "dead leases"):
        t.add_column(col, justify="left" if col == "layer" else "right")
    for layer, s in report.layers().items():
        t.add_row(layer, f"{s.kept:,}", _size(s.kept_bytes), f"{s.artifacts:,}", f"{s.orphans:,}", f"{s.chunks:,}", _size(s.bytes), f"{s.failures:,}", f"{s.leases:,}")
    out.print(t)
    staging = [it for it in report.items if it.kind == "staging"]
    if staging:
        out.print(f"staging directories of dead builders: {len(staging)} ({_size(sum(it.bytes for it in staging))})")
    for layer, per_root in report.kept_by_root().items():
        out.print(f"{layer} kept by: " + "; ".join(f"{root} ({n})" for root, n in per_root.items()))
    verb = "deleted" if delete else "would delete"
    out.print(f"{verb} {len(report.items):,} item(s), {_size(report.bytes_to_delete())}")


def pin(
    ctx: typer.Context,
    layer: str,
    game: str,
    key: Annotated[str | None, typer.Option("--key", help="The key to pin (default: the expected key under the collection).")] = None,
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
    note: Annotated[str, typer.Option("--note", help="Why it is pinned.")] = "",
) -> None:
    """Keep an artifact (and its upstream) through gc, whatever the collections say."""
    engine = _engine(ctx)
    name = engine.registry.get(layer).name if key is None else layer
    if key is None:
        key = engine.plan_keys([name], collection, [game]).key(name, game)
        if key is None:
            raise UsageError(f"artifact {name}/{game}", None, "has no expected key under this collection", "pass --key KEY")
    p = run_pin(engine.store, name, game, key, note)
    out.print(f"pinned {p.layer} {p.game} {p.key}" + (f" ({p.note})" if p.note else ""))


def unpin(
    ctx: typer.Context,
    layer: str,
    game: str,
    key: Annotated[str | None, typer.Option("--key", help="Only this key (default: every pinned key of LAYER GAME).")] = None,
) -> None:
    """Remove pins: gc may then delete what nothing else keeps."""
    for k in run_unpin(_engine(ctx).store, layer, game, key):
        out.print(f"unpinned {layer} {game} {k}")


def pins(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List pinned artifacts."""
    found = list_pins(_engine(ctx).store)
    if as_json:
        print(json.dumps([p.model_dump() for p in found], indent=1))
        return
    for p in found:
        out.print(f"{p.layer} {p.game} {p.key}  by {p.by} at {p.at}" + (f"  {p.note}" if p.note else ""))
    if not found:
        out.print("no pins")


def _print_transfer(verb: str, r: "TransferReport", as_json: bool) -> None:
    if as_json:
        print(json.dumps({"source": r.source, "destination": r.destination, "copied": [list(a) for a in r.copied], "present": [list(a) for a in r.present],
                          "absent": [list(a) for a in r.absent], "failed": [{"artifact": list(a), "message": m} for a, m in r.failed], "bytes": r.bytes}, indent=1))
    else:
        out.print(f"{verb} {len(r.copied):,} artifact(s) ({_size(r.bytes)}) from {r.source} to {r.destination}; "
                  f"{len(r.present):,} already there, {len(r.absent):,} not in the source")
        for (l, g, k), message in r.failed:
            out.print(f"[red]FAILED[/] {l} {g} {k[:12]}: {message}")
    if not r.ok():
        raise typer.Exit(1)


RemoteOpt = Annotated[str | None, typer.Option("--remote", help="Remote store URL (default: remote in artifacts.toml).")]
LayersArg = Annotated[list[str] | None, typer.Argument(help="Layers (default: every layer the collection can run).")]
GamesOpt = Annotated[list[str] | None, typer.Option("--game", "-g")]
CollectionOpt = Annotated[str | None, typer.Option("--collection", "-c")]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", min=1, help="Artifacts copied at a time.")]
JsonOpt = Annotated[bool, typer.Option("--json")]


def push(ctx: typer.Context, layer: LayersArg = None, remote: RemoteOpt = None, game: GamesOpt = None, collection: CollectionOpt = None, jobs: JobsOpt = 4, as_json: JsonOpt = False) -> None:
    """Copy the collection's artifacts from the local store to the remote one (digests checked)."""
    from artifacts.operations import push as run_push

    _print_transfer("pushed", run_push(_engine(ctx), remote, layer or None, collection, game or None, jobs), as_json)


def pull(ctx: typer.Context, layer: LayersArg = None, remote: RemoteOpt = None, game: GamesOpt = None, collection: CollectionOpt = None, jobs: JobsOpt = 4, as_json: JsonOpt = False) -> None:
    """Copy the collection's artifacts from the remote store into the local one (digests checked)."""
    from artifacts.operations import pull as run_pull

    _print_transfer("pulled", run_pull(_engine(ctx), remote, layer or None, collection, game or None, jobs), as_json)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``artifacts`` app."""
    for fn in (verify, gc, pin, unpin, pins, push, pull):
        app.command()(fn)
