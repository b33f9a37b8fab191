"""Errors as users see them: one line naming the thing, the value and the fix; exit codes."""

from __future__ import annotations

from pathlib import Path

from conftest import Ws


def one_line(stderr: str) -> str:
    lines = [l for l in stderr.splitlines() if l.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_unknown_layer_suggests_the_closest_name(ws: Ws) -> None:
    r = ws.cli("build", "t-trakcs")
    assert r.returncode == 2
    assert one_line(r.stderr) == "error: layer 't-trakcs': is not a registered layer; did you mean 't-tracks'?"


def test_unknown_game(ws: Ws) -> None:
    r = ws.cli("status", "--game", "nope")
    assert r.returncode == 2
    assert one_line(r.stderr) == (
        "error: game 'nope': is not registered in this workspace; "
        "see 'artifacts games list' or register it with 'artifacts games add'"
    )


def test_malformed_models_yaml_names_file_and_line(ws: Ws) -> None:
    models = ws.root / "models.yaml"
    text = models.read_text().replace("        digest: ", "        digst: ", 1)
    models.write_text(text)
    line_no = next(i for i, l in enumerate(text.splitlines(), 1) if "digst" in l)
    r = ws.cli("status")
    assert r.returncode == 2
    msg = one_line(r.stderr)
    assert msg.startswith(f"error: {models}:{line_no} roles.")
    assert "Extra inputs are not permitted" in msg or "digst" in msg


def test_yaml_syntax_error_names_file_and_line(ws: Ws) -> None:
    models = ws.root / "models.yaml"
    models.write_text("schema: 1\nroles:\n  tracker: [unclosed\ncollections: {}\n")
    r = ws.cli("status")
    assert r.returncode == 2
    assert one_line(r.stderr).startswith(f"error: {models}:")
    assert "YAML syntax error" in r.stderr


def test_collection_naming_an_unregistered_version(ws: Ws) -> None:
    models = ws.root / "models.yaml"
    models.write_text(models.read_text().replace("tracker: trk-v2", "tracker: trk-v9"))
    r = ws.cli("status")
    assert r.returncode == 2
    line = one_line(r.stderr)
    assert "collections.staging.tracker 'trk-v9': is not a registered version of tracker" in line


def test_missing_source_file_on_registration(ws: Ws, tmp_path: Path) -> None:
    r = ws.cli("games", "add", "g9", "--source", f"cam0={tmp_path / 'nowhere.mp4'}")
    assert r.returncode == 2
    assert one_line(r.stderr) == (
        f"error: source cam0 of game g9 '{tmp_path / 'nowhere.mp4'}': not found; restore the file or "
        "re-register it with 'artifacts games add g9 --source cam0=URL --replace'"
    )


def test_source_deleted_after_registration_fails_only_that_game(ws: Ws) -> None:
    (ws.root / "sources" / "g1" / "cam0.bin").unlink()
    r = ws.cli("build", "t-frames", "--jobs", "1")
    assert r.returncode == 1
    assert "FAILED t-frames g1: source cam0 of game g1" in r.stdout and "not found" in r.stdout
    s = ws.cli("status", "t-frames")
    assert "FRESH" in s.stdout and s.returncode == 0


def test_path_like_game_ids_are_refused(ws: Ws) -> None:
    video = ws.root / "sources" / "g0" / "cam0.bin"
    for bad in ("../x", "a/b", ".hidden", "a..b", "with space"):
        r = ws.cli("games", "add", bad, "--source", f"cam0={video}")
        assert r.returncode == 2, bad
        assert one_line(r.stderr) == (
            f"error: game id {bad!r}: is not a valid game id; "
            "use 1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit, without '..'"
        )
    assert not (ws.root / "store" / "x").exists()


def test_debug_shows_the_traceback(ws: Ws) -> None:
    r = ws.cli("--debug", "build", "t-trakcs")
    assert r.returncode == 2
    assert "Traceback" in r.stderr and "UnknownLayerError" in r.stderr


def test_no_workspace_says_how_to_make_one(tmp_path: Path) -> None:
    ws = Ws(tmp_path / "empty")
    ws.root.mkdir()
    r = ws.cli("status")
    assert r.returncode == 2
    assert one_line(r.stderr) == f"error: workspace '{ws.root}': has no artifacts.toml; run 'artifacts init' there, or pass --workspace DIR"


def test_bad_param_value_names_layer_and_field(ws: Ws) -> None:
    ws.set_config("\n[params.t-frames]\nscale = \"big\"\n")
    r = ws.cli("status")
    assert r.returncode == 2
    assert one_line(r.stderr).startswith("error: artifacts.toml params.t-frames.scale 'big': Input should be a valid number")


def test_typer_usage_errors_exit_2(ws: Ws) -> None:
    r = ws.cli("build")
    assert r.returncode == 2


def test_params_for_an_unknown_layer_are_an_error(ws: Ws) -> None:
    ws.set_config("\n[params.t-frame]\nscale = 2.0\n")
    r = ws.cli("status")
    assert r.returncode == 2
    assert one_line(r.stderr) == "error: layer 't-frame': is not a registered layer; did you mean 't-frames'?"


def test_unsupported_models_schema_version(ws: Ws) -> None:
    models = ws.root / "models.yaml"
    models.write_text(models.read_text().replace("schema: 1", "schema: 7"))
    r = ws.cli("status")
    assert r.returncode == 2
    assert one_line(r.stderr).startswith(f"error: {models}:1 schema: Input should be 1")


def test_fresh_workspace_status_leaves_out_layers_its_collection_cannot_run(tmp_path: Path) -> None:
    # A new workspace sees the packaged demo layers through entry points but has no models:
    # status must still work and say what it left out, not fail.
    ws = Ws(tmp_path / "new")
    assert ws.cli("init", str(ws.root)).returncode == 0
    r = ws.cli("status")
    assert r.returncode == 0, r.stderr
    assert "not shown: demo-frames (collection production has no crop_encoder, detector)" in r.stdout
    named = ws.cli("status", "demo-frames")
    assert named.returncode == 2 and "has no version for role needed by layer demo-frames" in named.stderr


def test_a_bad_annotation_is_refused_at_the_door_with_one_line_and_nothing_registered(ws: Ws) -> None:
    src = ws.root / "sources" / "new"
    src.mkdir(parents=True)
    (src / "cam0.bin").write_bytes(b"video")
    (src / "shots.csv").write_text("frame\n12\ntwelve\n")
    r = ws.cli("games", "add", "new", "--source", f"cam0={src / 'cam0.bin'}", "--annotation", f"shots={src / 'shots.csv'}")
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: {src / 'shots.csv'} row 3 column frame 'twelve': is not a non-negative integer; write the shot's frame number"
    assert "new" not in ws.cli("games", "list").stdout
    # a listing of several games: one bad file refuses them all
    (src / "good.csv").write_text("frame\n1\n")
    listing = ws.root / "games.csv"
    listing.write_text(f"game,name,url,kind\nok1,cam0,{src / 'cam0.bin'},video\nok1,shots,{src / 'good.csv'},annotation\n"
                       f"bad1,cam0,{src / 'cam0.bin'},video\nbad1,shots,{src / 'shots.csv'},annotation\n")
    r = ws.cli("games", "add", "--from", str(listing))
    assert r.returncode == 2 and "row 3 column frame 'twelve'" in r.stderr
    listed = ws.cli("games", "list").stdout
    assert "ok1" not in listed and "bad1" not in listed


def test_an_annotation_changed_after_registration_fails_its_build_the_same_way(ws: Ws) -> None:
    (ws.root / "sources" / "g0" / "shots.csv").write_text("frame\n-4\n")
    from artifacts import api

    report = api.build(ws.engine(), ["t-summary"], games=["g0"])
    assert report.result is not None and not report.ok()
    ev = report.result.events[("t-summary", "g0")]
    assert ev.kind == "failed" and ev.message is not None
    assert ev.message.endswith("shots.csv row 2 column frame '-4': is not a non-negative integer; write the shot's frame number")
