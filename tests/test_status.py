"""Status scenarios: each state, each root cause, grouping across games."""

from __future__ import annotations

import os
import shutil

import pytest
from conftest import Ws

from artifacts import api
from artifacts.plan import State, StatusReport


def states(report: StatusReport, layer: str) -> dict[str, State]:
    return {e.game: e.state for e in report.entries if e.layer == layer}


def causes(report: StatusReport, layer: str) -> set[str]:
    return {c.text() for e in report.entries if e.layer == layer for c in e.causes}


def test_missing_then_fresh_after_build(ws: Ws) -> None:
    e = ws.engine()
    before = api.status(e, ["t-summary"])
    assert {x.state for x in before.entries} == {State.MISSING}
    assert api.build(e, ["t-summary"]).ok()
    after = api.status(e, ["t-summary", "t-tracks", "t-frames"])
    assert {x.state for x in after.entries} == {State.FRESH}
    assert after.all_fresh()


def test_tracker_change_is_traced_to_its_root_and_grouped(ws: Ws) -> None:
    e = ws.engine()
    api.build(e, ["t-summary"])
    report = api.status(e, ["t-frames", "t-tracks", "t-summary"], collection="staging")
    assert set(states(report, "t-frames").values()) == {State.FRESH}
    assert set(states(report, "t-tracks").values()) == {State.STALE}
    assert causes(report, "t-tracks") == {"tracker trk-v1 -> trk-v2"}
    assert causes(report, "t-summary") == {"tracker trk-v1 -> trk-v2 (via t-tracks)"}
    groups = [g for g in report.groups() if g.layer == "t-tracks"]
    assert len(groups) == 1 and groups[0].games == ["g0", "g1", "g2"]
    assert groups[0].reason == "tracker trk-v1 -> trk-v2"


def test_param_change_names_old_and_new_value(ws: Ws) -> None:
    e = ws.engine()
    api.build(e, ["t-tracks"])
    ws.set_config("\n[params.t-frames]\nscale = 2.5\n")
    report = api.status(ws.engine(), ["t-tracks"])
    assert causes(report, "t-tracks") == {"t-frames param scale default -> 2.5 (via t-frames)"}


def test_setting_a_param_to_its_default_keeps_everything_fresh(ws: Ws) -> None:
    api.build(ws.engine(), ["t-tracks"])
    ws.set_config("\n[params.t-frames]\nscale = 1.0\nstride = 1\n")
    assert api.status(ws.engine(), ["t-tracks"]).all_fresh()


def test_generator_version_change(ws: Ws, monkeypatch: pytest.MonkeyPatch) -> None:
    from layers_for_tests import TFrames

    api.build(ws.engine(), ["t-frames"])
    monkeypatch.setattr(TFrames, "version", "2")
    report = api.status(ws.engine(), ["t-frames"])
    assert causes(report, "t-frames") == {"t-frames generator v1 -> v2"}


def test_source_change_is_detected_by_fingerprint_and_traced(ws: Ws) -> None:
    api.build(ws.engine(), ["t-tracks"])
    src = ws.root / "sources" / "g1" / "cam0.bin"
    src.write_bytes(b"a different video" * 10)
    report = api.status(ws.engine(), ["t-frames", "t-tracks"])
    assert states(report, "t-frames") == {"g0": State.FRESH, "g1": State.STALE, "g2": State.FRESH}
    [cause] = causes(report, "t-tracks")
    assert cause.startswith("source cam0 ") and cause.endswith("(via t-frames)")


def test_source_digest_reused_while_size_and_mtime_unchanged(ws: Ws) -> None:
    api.build(ws.engine(), ["t-frames"])
    src = ws.root / "sources" / "g0" / "cam0.bin"
    st = os.stat(src)
    data = src.read_bytes()
    src.write_bytes(bytes(reversed(data)))  # same size, other content
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    # Documented contract: no rehash while size and mtime are unchanged.
    assert api.status(ws.engine(), ["t-frames"]).all_fresh()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    report = api.status(ws.engine(), ["t-frames"])
    assert states(report, "t-frames")["g0"] is State.STALE


def test_same_version_with_other_weights_is_a_weights_cause(ws: Ws) -> None:
    api.build(ws.engine(), ["t-tracks"])
    ws.weights("trk-v1", b"retrained in place" * 10)
    ws.write_models({"production": {"detector": "det-v1", "crop_encoder": "ce-v1", "tracker": "trk-v1"}})
    report = api.status(ws.engine(), ["t-tracks"])
    [cause] = causes(report, "t-tracks")
    assert cause.startswith("tracker trk-v1 weights ")


def test_cause_when_old_upstream_recipe_is_gone(ws: Ws) -> None:
    api.build(ws.engine(), ["t-tracks"])
    ws.set_config("\n[params.t-frames]\nscale = 3.0\n")
    shutil.rmtree(ws.root / "store" / "t-frames")
    report = api.status(ws.engine(), ["t-tracks"])
    assert causes(report, "t-tracks") == {"upstream t-frames changed (its old recipe is no longer stored)"}


def test_failed_state_carries_the_error(ws: Ws) -> None:
    ws.add_game("bad", video=b"FAIL this file")
    e = ws.engine()
    assert not api.build(e, ["t-frames"]).ok()
    report = api.status(e, ["t-frames"])
    assert states(report, "t-frames")["bad"] is State.FAILED
    [entry] = [x for x in report.entries if x.game == "bad"]
    assert entry.note is not None and "cannot decode cam0: bad header" in entry.note


def test_status_reads_no_artifact_data(ws: Ws) -> None:
    api.build(ws.engine(), ["t-frames"])
    # Remove every output file; manifests stay. Status must not notice (it reads no data).
    shutil.rmtree(ws.root / "store" / "t-frames" / "data")
    assert api.status(ws.engine(), ["t-frames"]).all_fresh()


def test_game_without_a_needed_source_is_missing_with_reason(ws: Ws) -> None:
    from artifacts.workspace import SourceSpec

    p = ws.root / "only-video.bin"
    p.write_bytes(b"x" * 100)
    ws.engine().catalog.add_games([("noshots", [SourceSpec("cam0", str(p))])])
    report = api.status(ws.engine(), ["t-summary"], games=["noshots"])
    [entry] = report.entries
    assert entry.state is State.MISSING and entry.key is None
    assert entry.note == "cannot be built: game noshots has no source matching 'shots'"


def test_json_record_shape(ws: Ws) -> None:
    api.build(ws.engine(), ["t-tracks"])
    report = api.status(ws.engine(), ["t-tracks"], collection="staging", games=["g0"])
    [rec] = [e.record() for e in report.entries]
    assert rec["state"] == "STALE" and rec["game"] == "g0" and rec["layer"] == "t-tracks"
    assert rec["causes"] == [{"kind": "model", "layer": "t-tracks", "name": "tracker", "old": "trk-v1", "new": "trk-v2", "via": None, "text": "tracker trk-v1 -> trk-v2"}]


def test_status_never_writes_the_store(ws: Ws) -> None:
    report = api.status(ws.engine())
    assert {e.state for e in report.entries} == {State.MISSING}
    assert not (ws.root / "store").exists()
