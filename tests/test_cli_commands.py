"""The CLI's commands on a real workspace, through the real `artifacts` entry point."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Ws


def test_init_creates_a_usable_workspace(tmp_path: Path) -> None:
    ws = Ws(tmp_path / "new")
    r = ws.cli("init", str(ws.root))
    assert r.returncode == 0, r.stderr
    assert (ws.root / "artifacts.toml").is_file() and (ws.root / "models.yaml").is_file()
    again = ws.cli("init", str(ws.root))  # idempotent
    assert again.returncode == 0


def test_status_json_and_check_exit_codes(ws: Ws) -> None:
    r = ws.cli("status", "t-tracks", "--json", "--check")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["counts"]["t-tracks"]["MISSING"] == 3
    assert {(a["layer"], a["game"], a["state"]) for a in doc["artifacts"]} >= {("t-tracks", "g0", "MISSING")}
    assert ws.cli("build", "t-tracks", "--jobs", "2").returncode == 0
    assert ws.cli("status", "t-tracks", "--check").returncode == 0
    stale = ws.cli("status", "t-tracks", "--collection", "staging", "--check")
    assert stale.returncode == 1
    assert "STALE t-tracks 3 games: tracker trk-v1 -> trk-v2" in stale.stdout


def test_build_dry_run_prints_each_task_with_reason(ws: Ws) -> None:
    r = ws.cli("build", "t-tracks", "--dry-run", "--game", "g0")
    assert r.returncode == 1  # not everything requested is FRESH
    assert "2 tasks to run:" in r.stdout
    assert "t-frames g0" in r.stdout and "t-tracks g0" in r.stdout and "MISSING" in r.stdout
    assert ws.cli("status", "t-frames", "--check").returncode == 1  # nothing was built


def test_build_summary_and_explain(ws: Ws) -> None:
    r = ws.cli("build", "t-summary", "--jobs", "1")
    assert r.returncode == 0, r.stderr
    assert "build finished" in r.stdout and "t-summary" in r.stdout
    ex = ws.cli("explain", "t-summary", "g0")
    assert ex.returncode == 0
    assert "t-summary g0 key=" in ex.stdout and "t-tracks g0" in ex.stdout and "model tracker trk-v1" in ex.stdout
    doc = json.loads(ws.cli("explain", "t-summary", "g0", "--json").stdout)
    assert doc["state"] == "FRESH"
    assert doc["upstream"][0]["layer"] == "t-tracks"
    assert doc["recipe"]["upstream"]["t-tracks"] == doc["upstream"][0]["key"]


def test_games_list_and_layers(ws: Ws) -> None:
    r = ws.cli("games", "list", "--json")
    doc = json.loads(r.stdout)
    assert sorted(doc) == ["g0", "g1", "g2"] and doc["g0"]["cam0"]["digest"].startswith("xxh3-128:")
    layers = ws.cli("layers").stdout
    assert layers.index("t-frames") < layers.index("t-tracks") < layers.index("t-summary")
