"""``artifacts demo``: build the embedded demo, then show the incremental promise."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from artifacts import api
from cli.render import print_status, summary_table
from generators.demo import make_demo_workspace


def run_demo(root: Path, jobs: int, console: Console, reference: Path | None = None) -> int:
    """Build every layer under ``production``; then switch to ``staging`` (new tracker),
    show status and rebuild: only the tracker-dependent layers are recomputed.

    ``reference``: already trained reference models to use instead of training them."""
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
    console.rule("2. status under 'staging' (tracker trk-v1 -> trk-v2)")
    print_status(console, api.status(engine, collection="staging"))
    console.rule("3. build under 'staging': only what the tracker change touched")
    staged = build_all("staging")
    print_status(console, api.status(engine, collection="staging"))
    console.print(f"demo workspace: {engine.workspace.root}  (try: artifacts -w {engine.workspace.root} explain track-level demo-g01)")
    return 0 if report.ok() and staged.ok() else 1
