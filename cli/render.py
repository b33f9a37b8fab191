"""Rich rendering of status reports, build plans and summaries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

if TYPE_CHECKING:
    from artifacts.build import BuildResult, Task, TaskEvent
    from artifacts.plan import ExplainNode, StatusReport
    from artifacts.provenance import Impact

_STYLE = {"FRESH": "green", "STALE": "yellow", "MISSING": "cyan", "FAILED": "red"}


def status_table(report: StatusReport) -> Table:
    t = Table(title=f"status under collection {report.collection!r}")
    t.add_column("layer")
    for s in ("FRESH", "STALE", "MISSING", "FAILED"):
        t.add_column(s, justify="right", style=_STYLE[s])
    for layer, counts in report.counts().items():
        t.add_row(layer, *(str(counts[s]) for s in ("FRESH", "STALE", "MISSING", "FAILED")))
    return t


def print_status(console: Console, report: StatusReport, max_games: int = 5) -> None:
    console.print(status_table(report))
    for layer, why in report.unavailable.items():
        console.print(f"[dim]not shown: {layer} ({why})[/]", highlight=False)
    for g in report.groups():
        n = len(g.games)
        shown = ", ".join(g.games[:max_games]) + (f", ... (+{n - max_games})" if n > max_games else "")
        reason = f": {g.reason}" if g.reason else ""
        console.print(f"[{_STYLE[g.state.value]}]{g.state.value}[/] {g.layer} {n} game{'s' if n != 1 else ''}{reason}  [dim]({shown})[/]", highlight=False)
    for sg in report.signal_groups():
        n = len(sg.games)
        shown = ", ".join(sg.games[:max_games]) + (f", ... (+{n - max_games})" if n > max_games else "")
        console.print(f"[magenta]{sg.kind.upper()}[/] {sg.layer} {n} game{'s' if n != 1 else ''}: {escape(sg.text())}  [dim]({shown})[/]", highlight=False)


def print_plan(console: Console, tasks: list[Task]) -> None:
    if not tasks:
        console.print("nothing to build: every requested artifact is FRESH")
        return
    console.print(f"{len(tasks)} task{'s' if len(tasks) != 1 else ''} to run:")
    for t in tasks:
        console.print(f"  {t.layer} {t.game} [dim]{(t.key or '-')[:12]}[/]  {t.reason}", highlight=False)


def summary_table(result: BuildResult) -> Table:
    t = Table(title=f"build finished in {result.wall_s:.1f} s")
    t.add_column("layer")
    kinds = ("built", "reused", "failed", "skipped", "blocked")
    for k in kinds:
        t.add_column(k, justify="right")
    per: dict[str, dict[str, int]] = {}
    for (layer, _game), ev in result.events.items():
        per.setdefault(layer, dict.fromkeys(kinds, 0))[ev.kind] += 1
    for layer, counts in per.items():
        t.add_row(layer, *(str(counts[k]) for k in kinds))
    return t


def print_warnings(console: Console, events: list[TaskEvent]) -> None:
    """What generators reported with ``ctx.warn``, one line each, per task; then the items
    they skipped and the caps they hit (the artifact's signals), one line each."""
    for ev in events:
        for line in ev.outcome.warnings if ev.outcome else ():
            console.print(f"[yellow]WARNING[/] {ev.task.layer} {ev.task.game}: {escape(line)}", highlight=False)
    for ev in events:
        for sig in ev.outcome.signals if ev.outcome else ():
            console.print(f"[magenta]{sig.kind.upper()}[/] {ev.task.layer} {ev.task.game}: {escape(sig.text())}", highlight=False)


def explain_tree(node: ExplainNode) -> Tree:
    def label(n: ExplainNode) -> str:
        head = f"[bold]{n.layer}[/] {n.game} key={n.key or '-'} [{_STYLE[n.state.value]}]{n.state.value}[/]"
        if n.blocked:
            return head + f" [red]{n.blocked}[/]"
        return head

    def add(tree: Tree, n: ExplainNode) -> None:
        if n.recipe is not None:
            r = n.recipe
            tree.add(f"generator v{r.generator_version}")
            if r.params:
                tree.add("params " + ", ".join(f"{k}={v}" for k, v in sorted(r.params.items())))
            for role, m in sorted(r.models.items()):
                tree.add(f"model {role} {m.version} {m.digest}")
            for name, d in sorted(r.sources.items()):
                tree.add(f"source {name} {d}")
        for c in n.children:
            add(tree.add(label(c)), c)

    root = Tree(label(node))
    add(root, node)
    return root


def print_impact(console: Console, result: Impact) -> None:
    """What a model change invalidates (layers x games, bytes, compute) and the retraining waves."""
    console.print(f"impact of {result.role} {result.previous or '(none)'} -> {result.version} in {result.collection}")
    t = Table()
    for col in ("layer", "games invalidated", "stored bytes", "recorded compute", "not built yet"):
        t.add_column(col, justify="right" if col != "layer" else "left")
    for li in result.layers:
        t.add_row(li.layer, str(li.games), f"{li.stored_bytes:,}", f"{li.recorded_compute_s:.1f} s", str(li.not_built))
    console.print(t)
    console.print("models to retrain: " + (", ".join(result.retrain) or "none"))
    for i, wave in enumerate(result.waves, 1):
        console.print(f"  {i}. " + "  |  ".join(s.text() for s in wave) + ("   (in parallel)" if len(wave) > 1 else ""))
