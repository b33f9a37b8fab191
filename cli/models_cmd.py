"""``artifacts models ...``, ``promote``, ``impact`` and ``check``."""

# No `from __future__ import annotations`: typer reads the commands' annotations at every
# start, and string annotations cost a compile each (about 15 ms of every command).

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import JsonValue
from rich.console import Console
from rich.table import Table
from ruamel.yaml import YAML

from artifacts.errors import UsageError
from artifacts.registry import TrainedOn, models_json_schema
from artifacts.registry import register as run_register
from cli.render import print_impact

models_app = typer.Typer(no_args_is_help=True, help="List, show and register model versions.")
out = Console(highlight=False, soft_wrap=True)


def _engine(ctx: typer.Context):  # type: ignore[no-untyped-def]
    return ctx.obj.engine()


def _scalar(text: str) -> JsonValue:
    value: JsonValue = YAML(typ="safe").load(text)
    return value


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    out_: dict[str, str] = {}
    for v in values or []:
        k, sep, val = v.partition("=")
        if not sep or not k or not val:
            raise UsageError(flag, v, "is not KEY=VALUE", f"write {flag} name=value")
        out_[k] = val
    return out_


@models_app.command("list")
def list_models(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every role and version, with the collections that run it."""
    models = _engine(ctx).models
    rows = []
    for role, rs in models.spec.roles.items():
        for version, mv in rs.versions.items():
            used = [c for c, m in models.spec.collections.items() if m.get(role) == version]
            rows.append({"role": role, "version": version, "digest": mv.digest, "collections": used, "trained_with": mv.trained_with})
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    t = Table(title=str(models.path))
    for col in ("role", "version", "digest", "collections", "trained with"):
        t.add_column(col)
    for r in rows:
        t.add_row(str(r["role"]), str(r["version"]), str(r["digest"])[9:21], ", ".join(r["collections"]), ", ".join(f"{k} {v}" for k, v in r["trained_with"].items()))
    out.print(t)


@models_app.command("show")
def show(ctx: typer.Context, role: str, version: str) -> None:
    """One version's weights, digest, lineage and contracts, as JSON."""
    models = _engine(ctx).models
    rs = models.spec.roles.get(role)
    if rs is None or version not in rs.versions:
        raise UsageError(f"model {role}", version, "is not registered", "see 'artifacts models list'")
    doc = rs.versions[version].model_dump()
    doc["weights_path"] = models.weights_url(role, version)
    doc["collections"] = [c for c, m in models.spec.collections.items() if m.get(role) == version]
    print(json.dumps(doc, indent=1))


@models_app.command("register")
def register(
    ctx: typer.Context,
    role: str,
    version: str,
    weights: Path,
    trained_with: Annotated[list[str] | None, typer.Option("--trained-with", help="ROLE=VERSION it was trained with (repeatable).")] = None,
    trained_on: Annotated[list[str] | None, typer.Option("--trained-on", help="LAYER:GAME:KEY of an artifact it was trained on (repeatable).")] = None,
    provides: Annotated[list[str] | None, typer.Option("--provides", help="NAME=VALUE output contract (repeatable).")] = None,
    expects: Annotated[list[str] | None, typer.Option("--expects", help="ROLE.NAME=VALUE required of another role (repeatable).")] = None,
    description: Annotated[str, typer.Option()] = "",
    implementation: Annotated[str, typer.Option("--implementation", help="MODULE:CLASS that runs the weights (docs/models.md); checked now.")] = "",
) -> None:
    """Digest WEIGHTS and register it as ROLE VERSION in models.yaml."""
    on = []
    for t in trained_on or []:
        parts = t.split(":")
        if len(parts) != 3:
            raise UsageError("--trained-on", t, "is not LAYER:GAME:KEY", "e.g. --trained-on track-level:g1:0123...")
        on.append(TrainedOn(layer=parts[0], game=parts[1], key=parts[2]))
    exp: dict[str, dict[str, JsonValue]] = {}
    for k, v in _pairs(expects, "--expects").items():
        r, dot, name = k.partition(".")
        if not dot:
            raise UsageError("--expects", k, "is not ROLE.NAME=VALUE", "e.g. --expects crop_encoder.embedding_dim=64")
        exp.setdefault(r, {})[name] = _scalar(v)
    engine = _engine(ctx)
    run_register(
        engine.models, role, version, weights, _pairs(trained_with, "--trained-with"), on,
        {k: _scalar(v) for k, v in _pairs(provides, "--provides").items()}, exp, description, implementation,
    )
    out.print(f"registered {role} {version} in {engine.models.path}")


@models_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of models.yaml (for editors)."""
    print(json.dumps(models_json_schema(), indent=1))


def promote(
    ctx: typer.Context,
    changes: Annotated[list[str], typer.Argument(help="ROLE VERSION, or one or more ROLE=VERSION promoted together.")],
    to: Annotated[str, typer.Option("--to", help="Collection to promote into.")],
) -> None:
    """Promote model versions into a collection; refused, with a diff, on lineage problems."""
    if len(changes) == 2 and not any("=" in c for c in changes):
        wanted = {changes[0]: changes[1]}
    else:
        wanted = _pairs(changes, "promote")
    from artifacts.provenance import promote as run_promote

    result = run_promote(_engine(ctx), wanted, to)
    if result.accepted:
        if result.noop():
            out.print(f"{result.label()} already in {to}: nothing to change")
        else:
            out.print(f"promoted {result.label()} into {to}")
            for line in result.diff():
                out.print(line)
        return
    out.print(f"[red]refused[/]: promoting {result.label()} into {to} would leave {len(result.problems)} problem(s):")
    for p in result.problems:
        out.print(f"  {p.line()}")
    for line in result.diff():
        out.print(line)
    raise typer.Exit(1)


def impact(
    ctx: typer.Context,
    change: Annotated[str, typer.Argument(help="ROLE=VERSION")],
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What running ROLE=VERSION would invalidate, and which models to retrain, in order."""
    role, sep, version = change.partition("=")
    if not sep:
        raise UsageError("impact", change, "is not ROLE=VERSION", "e.g. artifacts impact crop_encoder=ce-v4")
    from artifacts.provenance import impact as run_impact

    result = run_impact(_engine(ctx), role, version, collection)
    if as_json:
        print(json.dumps(result.record(), indent=1))
        return
    print_impact(out, result)


def check(
    ctx: typer.Context,
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """CI check: models.yaml, lineage, contracts, trained_on keys, manifests. Exit 1 on any problem."""
    from artifacts.provenance import check as run_check

    problems = run_check(_engine(ctx), collection)
    if as_json:
        print(json.dumps([{"kind": p.kind, "message": p.message, "roles": list(p.roles)} for p in problems], indent=1))
    else:
        for p in problems:
            out.print(p.line())
        if not problems:
            out.print("check passed")
    if problems:
        raise typer.Exit(1)
