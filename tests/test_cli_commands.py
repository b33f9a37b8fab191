"""The CLI's commands on a real workspace, through the real `artifacts` entry point."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Ws
from layers_for_tests import ALL


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


def test_games_remove_forgets_games_and_keeps_their_artifacts_until_gc(ws: Ws) -> None:
    assert ws.cli("build", "t-frames", "--jobs", "1").returncode == 0
    r = ws.cli("games", "remove", "g1", "nope")
    assert r.returncode == 2 and r.stderr.strip() == "error: game 'nope': is not registered in this workspace; see 'artifacts games list' or register it with 'artifacts games add'"
    assert "g1" in ws.cli("games", "list").stdout  # nothing removed when one id is unknown
    r = ws.cli("games", "remove", "g1")
    assert r.returncode == 0 and r.stdout.startswith("removed 1 game;")
    assert [line.split(":")[0] for line in ws.cli("games", "list").stdout.splitlines()] == ["g0", "g2"]
    doc = json.loads(ws.cli("status", "t-frames", "--json").stdout)
    assert sorted(a["game"] for a in doc["artifacts"]) == ["g0", "g2"]
    gc = json.loads(ws.cli("gc", "--json").stdout)
    assert [(it["kind"], it["game"]) for it in gc["items"] if it["layer"] == "t-frames"] == [("artifact", "g1")]


def test_init_models_from_reuses_another_workspaces_models_from_anywhere(ws: Ws, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    new = Ws(tmp_path / "elsewhere" / "new")
    r = new.cli("init", str(new.root), "--models-from", str(ws.root))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("models: 4 versions of 3 roles and 2 collections from ")  # det-v1, ce-v1, trk-v1, trk-v2
    text = (new.root / "models.yaml").read_text()
    assert f"weights: {ws.root.resolve()}/weights/det-v1.bin" in text  # relative paths made absolute
    assert new.cli("check").returncode == 0  # every weights file found, digests as registered
    cfg = new.root / "artifacts.toml"
    cfg.write_text(cfg.read_text().replace("layers = []", f"layers = {json.dumps(ALL)}").replace("entry_points = true", "entry_points = false"))
    for g in ("g0", "g1"):  # the same games: the same keys, computed from the same weights
        src = ws.root / "sources" / g
        assert new.cli("games", "add", g, "--source", f"cam0={src / 'cam0.bin'}", "--annotation", f"shots={src / 'shots.csv'}").returncode == 0
    ours = {a["game"]: a["key"] for a in json.loads(new.cli("status", "t-tracks", "--json").stdout)["artifacts"]}
    theirs = {a["game"]: a["key"] for a in json.loads(ws.cli("status", "t-tracks", "--json", "-g", "g0", "-g", "g1").stdout)["artifacts"]}
    assert ours == theirs
    again = new.cli("init", str(new.root), "--models-from", str(ws.root))
    assert again.returncode == 2 and "already registers model versions" in again.stderr
