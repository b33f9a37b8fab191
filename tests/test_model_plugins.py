"""Model implementations named in models.yaml, loaded from verified weights once per worker."""

from __future__ import annotations

import re

from conftest import Ws

from artifacts import api


def set_implementation(ws: Ws, spec: str) -> None:
    models = ws.root / "models.yaml"
    text = re.sub(r"\n    implementation: .*", "", models.read_text())
    models.write_text(text.replace("  tracker:\n    versions:", f"  tracker:\n    implementation: {spec}\n    versions:"))


def outputs(ws: Ws) -> dict[str, str]:
    e = ws.engine()
    plan = e.plan_keys(["t-modeled"])
    out = {}
    for g in plan.games:
        m = e.store.manifest("t-modeled", g, plan.key("t-modeled", g) or "")
        assert m is not None
        out[g] = (ws.root / "store" / m.data / "score.txt").read_text()
    return out


def test_implementation_is_loaded_once_per_worker_from_verified_weights(ws: Ws) -> None:
    set_implementation(ws, "layers_for_tests:ByteModel")
    assert api.build(ws.engine(), ["t-modeled"], jobs=1).ok()
    scores = outputs(ws)
    instances = {v.split()[1] for v in scores.values()}
    assert len(scores) == 3 and len(instances) == 1  # one load served every game of the worker
    weights = (ws.root / "weights" / "trk-v1.bin").read_bytes()
    src = (ws.root / "sources" / "g0" / "cam0.bin").read_bytes()
    assert scores["g0"].split()[0] == str((sum(src) + sum(weights)) % 1000)


def test_versions_run_their_own_weights(ws: Ws) -> None:
    set_implementation(ws, "layers_for_tests:ByteModel")
    api.build(ws.engine(), ["t-modeled"])
    before = outputs(ws)
    assert api.build(ws.engine(), ["t-modeled"], collection="staging").ok()
    e = ws.engine()
    plan = e.plan_keys(["t-modeled"], "staging")
    m = e.store.manifest("t-modeled", "g0", plan.key("t-modeled", "g0") or "")
    assert m is not None
    after = (ws.root / "store" / m.data / "score.txt").read_text()
    assert after.split()[0] != before["g0"].split()[0]


def test_missing_or_broken_implementation_fails_the_task_with_its_reason(ws: Ws) -> None:
    report = api.build(ws.engine(), ["t-modeled"], games=["g0"])
    assert report.result is not None
    assert "model tracker trk-v1: has no implementation in models.yaml; add 'implementation: package.module:Class'" in (report.result.events[("t-modeled", "g0")].message or "")
    set_implementation(ws, "layers_for_tests:NoSuchModel")
    report = api.build(ws.engine(), ["t-modeled"], games=["g0"])
    assert report.result is not None
    msg = report.result.events[("t-modeled", "g0")].message or ""
    assert "roles.tracker.implementation 'layers_for_tests:NoSuchModel': cannot be imported" in msg
    set_implementation(ws, "not-an-entry-point")
    report = api.build(ws.engine(), ["t-modeled"], games=["g0"])
    assert report.result is not None
    assert "is neither 'module:Class' nor an installed artifacts.models entry point" in (report.result.events[("t-modeled", "g0")].message or "")
