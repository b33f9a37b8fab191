"""Nothing lost in silence: items a layer skips and caps it hits are counted, recorded in the
manifest, indexed in the store, shown by build and status; all items skipped is a failure."""

from __future__ import annotations

import json

import pytest
from chunked_layers import CHUNKED
from conftest import Ws
from layers_for_tests import ALL

from artifacts import api
from artifacts.operations import collect, delete
from artifacts.plan import State


@pytest.fixture
def ws(make_ws) -> Ws:  # type: ignore[no-untyped-def]
    """A workspace with the test layers and no games (the shared fixture's games hold zeros)."""
    made: Ws = make_ws("signals", games=0)
    return made


def test_skipped_and_capped_items_reach_the_manifest_build_and_status(ws: Ws) -> None:
    ws.add_game("holes", video=b"\x00\x00ab\x00" + bytes([255, 251]) + b"c" * 93)  # 100 bytes: 3 zeros, 2 over 250
    ws.add_game("clean", video=b"d" * 50)
    r = ws.cli("build", "t-picky", "--jobs", "1")
    assert r.returncode == 0, r.stderr
    assert "SKIPPED t-picky holes: skipped 3 of 100 bytes: a zero byte carries nothing (cam0@0, cam0@1, cam0@4); fill the holes in the export" in r.stdout
    assert "CAPPED t-picky holes: capped 2 of 100 bytes: the counter saturates at 250" in r.stdout
    e = ws.engine()
    key = e.plan_keys(["t-picky"], games=["holes"]).key("t-picky", "holes")
    m = e.store.manifest("t-picky", "holes", key or "")
    assert m is not None and [(s.kind, s.count, s.total) for s in m.signals] == [("skipped", 3, 100), ("capped", 2, 100)]
    # status finds them through the index, without reading every manifest
    st = api.status(e, ["t-picky"])
    entry = next(x for x in st.entries if x.game == "holes")
    assert entry.state is State.FRESH and [s.kind for s in entry.signals] == ["skipped", "capped"]
    assert all(not x.signals for x in st.entries if x.game != "holes")
    r = ws.cli("status", "t-picky")
    assert "SKIPPED t-picky 1 game: skipped 3 of 100 bytes: a zero byte carries nothing; fill the holes in the export  (holes)" in r.stdout
    assert ws.cli("status", "t-picky", "--check").returncode == 0  # FRESH is FRESH ...
    assert ws.cli("status", "t-picky", "--check", "--strict").returncode == 1  # ... unless nothing may be lost
    assert ws.cli("status", "t-picky", "--check", "--strict", "--game", "clean").returncode == 0
    doc = json.loads(ws.cli("status", "t-picky", "--json").stdout)
    rec = next(a for a in doc["artifacts"] if a["game"] == "holes")
    assert rec["signals"][0]["count"] == 3 and rec["signals"][0]["text"].startswith("skipped 3 of 100 bytes")


def test_an_artifact_whose_every_item_was_skipped_is_a_failure(ws: Ws) -> None:
    ws.add_game("empty", video=bytes(64))
    report = api.build(ws.engine(), ["t-picky"], games=["empty"])
    assert report.result is not None and not report.ok()
    ev = report.result.events[("t-picky", "empty")]
    assert ev.kind == "failed"
    assert ev.message == "layer t-picky on game empty 'bytes': every one of its 64 bytes was skipped: a zero byte carries nothing; fill the holes in the export"
    st = api.status(ws.engine(), ["t-picky"], games=["empty"])
    assert st.entries[0].state is State.FAILED


def test_signals_of_chunks_add_up_whatever_the_chunk_size(ws: Ws) -> None:
    cfg = ws.root / "artifacts.toml"
    cfg.write_text(cfg.read_text().replace(json.dumps(ALL), json.dumps(ALL + CHUNKED)))
    ws.add_game("ff", video=bytes(range(256)) * 3)  # three bytes 255, in chunks 3, 7 and 11 at 64 bytes a chunk
    assert api.build(ws.engine(), ["t-chunked"], games=["ff"]).ok()
    e = ws.engine()
    key = e.plan_keys(["t-chunked"], games=["ff"]).key("t-chunked", "ff") or ""
    m = e.store.manifest("t-chunked", "ff", key)
    assert m is not None and m.chunks == 12
    (sig,) = m.signals
    assert (sig.kind, sig.count, sig.total) == ("skipped", 3, 768) and sig.examples == ["cam0@192", "cam0@448", "cam0@704"]
    e.store.remove_artifact(m)
    ws.set_config("\n[chunk_size]\nt-chunked = 1000\n")
    assert api.build(ws.engine(), ["t-chunked"], games=["ff"]).ok()
    again = ws.engine().store.manifest("t-chunked", "ff", key)
    assert again is not None and again.chunks == 1
    assert [(s.count, s.total) for s in again.signals] == [(3, 768)]


def test_gc_removes_the_signals_of_artifacts_it_removes(ws: Ws) -> None:
    ws.add_game("holes", video=b"\x00" + b"x" * 20)
    assert api.build(ws.engine(), ["t-picky"]).ok()
    signals_dir = ws.root / "store" / "t-picky" / "signals"
    assert [p.name.split(".")[0] for p in signals_dir.iterdir()] == ["holes"]
    # a new source: the old artifact is no longer wanted, gc deletes it and its signals record
    src = ws.root / "sources" / "holes" / "cam0.bin"
    src.write_bytes(b"\x00\x00" + b"y" * 30)
    e = ws.engine()
    report = collect(e, min_age_s=0)
    kinds = sorted(it.kind for it in report.items if it.layer == "t-picky")
    assert kinds == ["artifact", "signals"]
    delete(e, report)
    assert list(signals_dir.iterdir()) == []
