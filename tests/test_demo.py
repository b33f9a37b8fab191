"""The README's main job: the embedded demo builds, and a second run reuses everything."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from artifacts import api
from cli.demo import run_demo


def test_demo_builds_then_reuses(tmp_path: Path) -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=200)
    assert run_demo(tmp_path / "demo", 1, console) == 0
    text = buf.getvalue()
    assert "STALE demo-tracks 4 games: tracker trk-v1 -> trk-v2" in text
    assert "tracker trk-v1 -> trk-v2 (via demo-tracks)" in text
    buf2 = io.StringIO()
    assert run_demo(tmp_path / "demo", 1, Console(file=buf2, width=200)) == 0
    assert "every artifact already FRESH: the demo workspace is reused" in buf2.getvalue()
    from generators.demo import make_demo_workspace

    e = make_demo_workspace(tmp_path / "demo")
    assert api.status(e, collection="production").all_fresh()
    assert api.status(e, collection="staging").all_fresh()
