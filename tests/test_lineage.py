"""Issue 3 scenarios: promotion refusals and acceptance, impact, check, register, schema."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, TESTS, Ws

from artifacts import api
from artifacts.keys import hash_file
from artifacts.provenance import check, impact, promote
from artifacts.registry import TrainedOn, models_json_schema, register

VERSIONS = {
    "detector": {"det-v1": {}},
    "crop_encoder": {
        "ce-v1": {"trained_with": "{detector: det-v1}", "provides": "{embedding_dim: 8}"},
        "ce-v2": {"trained_with": "{detector: det-v1}", "provides": "{embedding_dim: 8}"},
        "ce-wide": {"trained_with": "{detector: det-v1}", "provides": "{embedding_dim: 16}"},
    },
    "tracker": {
        "trk-v0": {"trained_with": "{crop_encoder: ce-v1}", "expects": "{crop_encoder: {embedding_dim: 8}}"},
        "trk-v1": {"trained_with": "{crop_encoder: ce-v1}", "expects": "{crop_encoder: {embedding_dim: 8}}"},
        "trk-v2": {"trained_with": "{crop_encoder: ce-v2}", "expects": "{crop_encoder: {embedding_dim: 8}}"},
        "trk-any": {"expects": "{crop_encoder: {embedding_dim: 8}}"},
    },
    "jn_classifier": {"jn-v1": {"trained_with": "{crop_encoder: ce-v1, tracker: trk-v1}"}},
    "identity_resolver": {"ir-v1": {"trained_with": "{crop_encoder: ce-v1, tracker: trk-v1, jn_classifier: jn-v1}"}},
}
TRAINS_ON = {"tracker": "[t-frames]", "jn_classifier": "[t-tracks]"}
PROD = "{detector: det-v1, crop_encoder: ce-v1, tracker: trk-v1, jn_classifier: jn-v1, identity_resolver: ir-v1}"


def lineage_yaml(ws: Ws) -> str:
    lines = ["# The team's registry: keep this comment.", "schema: 1", "roles:"]
    for role, versions in VERSIONS.items():
        lines.append(f"  {role}:")
        if role in TRAINS_ON:
            lines.append(f"    trains_on: {TRAINS_ON[role]}")
        lines.append("    versions:")
        for v, fields in versions.items():
            lines += [f"      {v}:", f"        weights: weights/{v}.bin", f"        digest: {hash_file(ws.weights(v))}"]
            lines += [f"        {k}: {val}" for k, val in fields.items()]
    lines += [
        "evaluations:",
        "  ptfe: {after: [tracker]}",
        "collections:",
        f"  production: {PROD}  # what runs",
        f"  old: {PROD.replace('trk-v1', 'trk-v0')}",
        "  loose: {detector: det-v1, crop_encoder: ce-v1, tracker: trk-any}",
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def lws(make_ws: Callable[..., Ws]) -> Ws:
    ws = make_ws("lineage")
    (ws.root / "models.yaml").write_text(lineage_yaml(ws))
    return ws


def lines(result: object) -> list[str]:
    return [p.line() for p in result.problems]  # type: ignore[attr-defined]


def test_tracker_trained_on_crop_encoder_a_refused_where_b_runs(lws: Ws) -> None:
    before = (lws.root / "models.yaml").read_text()
    r = promote(lws.engine(), {"tracker": "trk-v2"}, "production")
    assert not r.accepted
    assert lines(r) == [
        "trained_with: tracker trk-v2 was trained with crop_encoder ce-v2, but production runs crop_encoder ce-v1",
        # and its consumers were trained with the tracker it would replace
        "trained_with: jn_classifier jn-v1 was trained with tracker trk-v1, but production runs tracker trk-v2",
        "trained_with: identity_resolver ir-v1 was trained with tracker trk-v1, but production runs tracker trk-v2",
    ]
    assert (lws.root / "models.yaml").read_text() == before


def test_new_crop_encoder_refused_while_its_consumers_were_trained_on_the_old(lws: Ws) -> None:
    r = promote(lws.engine(), {"crop_encoder": "ce-v2"}, "production")
    assert not r.accepted
    assert lines(r) == [
        "trained_with: tracker trk-v1 was trained with crop_encoder ce-v1, but production runs crop_encoder ce-v2",
        "trained_with: jn_classifier jn-v1 was trained with crop_encoder ce-v1, but production runs crop_encoder ce-v2",
        "trained_with: identity_resolver ir-v1 was trained with crop_encoder ce-v1, but production runs crop_encoder ce-v2",
    ]


def test_embedding_width_contract_break_is_refused(lws: Ws) -> None:
    r = promote(lws.engine(), {"crop_encoder": "ce-wide"}, "loose")
    assert lines(r) == ["contract: tracker trk-any expects crop_encoder.embedding_dim = 8, but crop_encoder ce-wide provides 16"]


def test_model_trained_on_heatmaps_of_an_old_tracker_is_refused(lws: Ws) -> None:
    e = lws.engine()
    assert api.build(e, ["t-summary"], collection="old").ok()
    old_key = e.plan_keys(["t-summary"], "old").key("t-summary", "g0")
    assert old_key is not None
    register(e.models, "jn_classifier", "jn-v2", lws.weights("jn-v2"),
             trained_with={"crop_encoder": "ce-v1", "tracker": "trk-v1"},
             trained_on=[TrainedOn(layer="t-summary", game="g0", key=old_key)])
    e.reload_models()
    r = promote(e, {"jn_classifier": "jn-v2"}, "production")
    assert not r.accepted
    [line] = [l for l in lines(r) if l.startswith("trained_on:")]
    assert line.startswith(f"trained_on: jn_classifier jn-v2 was trained on t-summary g0 {old_key[:12]}, but production would produce ")
    assert line.endswith("(tracker trk-v0 -> trk-v1 (via t-tracks))")


def test_accepted_promotion_rewrites_one_line_and_keeps_comments(lws: Ws) -> None:
    e = lws.engine()
    assert api.build(e, ["t-summary"]).ok()
    key = e.plan_keys(["t-summary"]).key("t-summary", "g1")
    assert key is not None
    register(e.models, "identity_resolver", "ir-v2", lws.weights("ir-v2"),
             trained_with={"crop_encoder": "ce-v1", "tracker": "trk-v1", "jn_classifier": "jn-v1"},
             trained_on=[TrainedOn(layer="t-summary", game="g1", key=key)])
    before = (lws.root / "models.yaml").read_text()
    r = lws.cli("promote", "identity_resolver", "ir-v2", "--to", "production")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "promoted identity_resolver ir-v2 into production" in r.stdout
    assert "-   identity_resolver: ir-v1" in r.stdout and "+   identity_resolver: ir-v2" in r.stdout
    after = (lws.root / "models.yaml").read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert changed == [(f"  production: {PROD}  # what runs", f"  production: {PROD.replace('ir-v1', 'ir-v2')}  # what runs")]
    assert after.startswith("# The team's registry: keep this comment.") and "# what runs" in after


def test_refusal_on_the_command_line_prints_the_diff_and_exits_1(lws: Ws) -> None:
    r = lws.cli("promote", "tracker", "trk-v2", "--to", "production")
    assert r.returncode == 1
    assert "refused: promoting tracker trk-v2 into production would leave 3 problem(s):" in r.stdout
    assert "-   tracker: trk-v1" in r.stdout and "+   tracker: trk-v2" in r.stdout


def test_yaml_lineage_errors_name_file_line_and_field(lws: Ws) -> None:
    models = lws.root / "models.yaml"
    text = models.read_text().replace("trained_with: {crop_encoder: ce-v2}", "trained_with: {crop_encoder: ce-v9}")
    models.write_text(text)
    line_no = next(i for i, l in enumerate(text.splitlines(), 1) if "ce-v9" in l)
    r = lws.cli("status")
    assert r.returncode == 2
    assert r.stderr.strip() == (
        f"error: {models}:{line_no} roles.tracker.versions.trk-v2.trained_with.crop_encoder 'ce-v9': "
        "is not a registered version of crop_encoder; use one of ['ce-v1', 'ce-v2', 'ce-wide']"
    )


def test_impact_of_a_crop_encoder_change(lws: Ws) -> None:
    e = lws.engine()
    assert api.build(e, ["t-summary"]).ok()
    result = impact(e, "crop_encoder", "ce-v2", "production")
    assert [(l.layer, l.games, l.not_built) for l in result.layers] == [("t-frames", 3, 0), ("t-tracks", 3, 0), ("t-summary", 3, 0)]
    assert all(l.stored_bytes > 0 and l.recorded_compute_s > 0 for l in result.layers)
    assert result.retrain == ["identity_resolver", "jn_classifier", "tracker"]
    assert [[s.text() for s in w] for w in result.waves] == [
        ["precompute t-frames"],
        ["retrain tracker"],
        ["precompute t-modeled", "precompute t-tracks"],  # both run the retrained tracker
        ["evaluate ptfe", "precompute t-summary", "retrain jn_classifier"],
        ["retrain identity_resolver"],
    ]
    # impact changes nothing
    assert api.status(e, ["t-summary"]).all_fresh()


def test_impact_of_a_tracker_change_leaves_frame_level_alone(lws: Ws) -> None:
    e = lws.engine()
    api.build(e, ["t-summary"])
    result = impact(e, "tracker", "trk-v2", "production")
    assert [(l.layer, l.not_built) for l in result.layers] == [("t-modeled", 3), ("t-tracks", 0), ("t-summary", 0)]
    assert result.retrain == ["identity_resolver", "jn_classifier"]
    r = lws.cli("impact", "tracker=trk-v2", "--json")
    # the evaluation waits for the new track-level outputs, the classifier too
    assert json.loads(r.stdout)["waves"] == [
        ["precompute t-modeled", "precompute t-tracks"],
        ["evaluate ptfe", "precompute t-summary", "retrain jn_classifier"],
        ["retrain identity_resolver"],
    ]


def test_check_passes_on_a_consistent_registry(lws: Ws) -> None:
    (lws.root / "models.yaml").write_text(lineage_yaml(lws).replace("  old: ", "  # old: "))
    api.build(lws.engine(), ["t-frames"])
    assert check(lws.engine(), "production") == []
    r = lws.cli("check", "--collection", "production")
    assert r.returncode == 0 and "check passed" in r.stdout


def test_check_reports_one_line_per_problem(lws: Ws) -> None:
    models = lws.root / "models.yaml"
    text = models.read_text().replace("  production: {detector: det-v1, crop_encoder: ce-v1, tracker: trk-v1,", "  production: {detector: det-v1, crop_encoder: ce-v1, tracker: trk-v2,")
    text = text.replace("provides: {embedding_dim: 8}", "provides: {embedding_dim: 12}", 1)  # ce-v1 now claims 12
    models.write_text(text)
    api.build(lws.engine(), ["t-frames"], collection="loose")
    r = lws.cli("check", "--json")
    assert r.returncode == 1
    listed = [(p["kind"], p["message"]) for p in json.loads(r.stdout)]
    found = set(listed)
    assert ("trained_with", "tracker trk-v2 was trained with crop_encoder ce-v2, but production runs crop_encoder ce-v1") in found
    assert ("contract", "tracker trk-any expects crop_encoder.embedding_dim = 8, but crop_encoder ce-v1 provides 12") in found
    assert any(k == "manifest" and m.endswith("records embedding_dim = 8, but crop_encoder ce-v1 provides 12") for k, m in found)
    plain = lws.cli("check")
    assert plain.returncode == 1 and len(plain.stdout.strip().splitlines()) == len(listed)


def test_check_finds_lineage_cycles_and_unreproducible_trained_on(lws: Ws) -> None:
    models = lws.root / "models.yaml"
    e = lws.engine()
    register(e.models, "detector", "det-v2", lws.weights("det-v2"), trained_with={"tracker": "trk-v1"})
    register(e.engine if False else e.reload_models(), "jn_classifier", "jn-v3", lws.weights("jn-v3"),
             trained_on=[TrainedOn(layer="t-tracks", game="g0", key="f" * 32)])
    text = models.read_text().replace("jn_classifier: jn-v1, identity_resolver: ir-v1}  # what runs", "jn_classifier: jn-v3, identity_resolver: ir-v1}  # what runs")
    models.write_text(text)
    problems = [p.line() for p in check(lws.engine(), "production")]
    assert any(p.startswith("cycle: trained_with forms a cycle: ") for p in problems)
    assert any(p.startswith("trained_on: jn_classifier jn-v3 was trained on t-tracks g0 ffffffffffff, but production would produce ") and p.endswith("(its recipe is no longer stored)") for p in problems)


def test_register_computes_the_digest_and_refuses_a_reused_version(lws: Ws) -> None:
    w = lws.root / "new-weights.bin"
    w.write_bytes(b"trained" * 100)
    r = lws.cli("models", "register", "tracker", "trk-v3", str(w), "--trained-with", "crop_encoder=ce-v1", "--expects", "crop_encoder.embedding_dim=8")
    assert r.returncode == 0, r.stderr
    doc = json.loads(lws.cli("models", "show", "tracker", "trk-v3").stdout)
    assert doc["digest"] == hash_file(w) and doc["weights"] == "new-weights.bin"
    assert doc["expects"] == {"crop_encoder": {"embedding_dim": 8}} and doc["trained_with"] == {"crop_encoder": "ce-v1"}
    again = lws.cli("models", "register", "tracker", "trk-v3", str(w))
    assert again.returncode == 2 and "is already registered" in again.stderr
    assert (lws.root / "models.yaml").read_text().startswith("# The team's registry: keep this comment.")


def test_json_schema_is_exported_and_committed() -> None:
    r = subprocess.run([sys.executable, "-m", "cli.main", "models", "schema"], cwd=REPO, capture_output=True, text=True, check=True)
    schema = json.loads(r.stdout)
    assert schema == models_json_schema()
    assert {"schema", "roles", "collections", "evaluations"} <= set(schema["properties"])
    assert json.loads((REPO / "docs" / "models.schema.json").read_text()) == schema


def test_pytest_plugin_asserts_check_in_one_line(lws: Ws, tmp_path: Path) -> None:
    (lws.root / "models.yaml").write_text(lineage_yaml(lws).replace("  old: ", "  # old: "))
    suite = tmp_path / "user_ci"
    suite.mkdir()
    (suite / "test_registry.py").write_text(
        f"def test_production(artifacts_check):\n    artifacts_check({str(lws.root)!r}, 'production')\n\n"
        f"def test_everything(artifacts_check):\n    artifacts_check({str(lws.root)!r})\n"
    )
    env = {"PYTHONPATH": f"{TESTS}:{REPO}", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", str(suite)], capture_output=True, text=True, env=env, cwd=suite, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    (lws.root / "models.yaml").write_text(lineage_yaml(lws).replace("tracker: trk-any}", "tracker: trk-v2}"))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", str(suite)], capture_output=True, text=True, env=env, cwd=suite, check=False)
    assert r.returncode == 1
    assert "artifacts check found" in r.stdout and "tracker trk-v2 was trained with crop_encoder ce-v2, but loose runs crop_encoder ce-v1" in r.stdout


def test_a_retraining_cascade_is_promoted_together(lws: Ws) -> None:
    e = lws.engine()
    for role, version, with_ in [
        ("tracker", "trk-v3", {"crop_encoder": "ce-v2"}),
        ("jn_classifier", "jn-v3", {"crop_encoder": "ce-v2", "tracker": "trk-v3"}),
        ("identity_resolver", "ir-v3", {"crop_encoder": "ce-v2", "tracker": "trk-v3", "jn_classifier": "jn-v3"}),
    ]:
        register(e.reload_models(), role, version, lws.weights(version), trained_with=with_,
                 expects={"crop_encoder": {"embedding_dim": 8}} if role == "tracker" else None)
    alone = lws.cli("promote", "crop_encoder", "ce-v2", "--to", "production")
    assert alone.returncode == 1
    together = lws.cli("promote", "crop_encoder=ce-v2", "tracker=trk-v3", "jn_classifier=jn-v3", "identity_resolver=ir-v3", "--to", "production")
    assert together.returncode == 0, together.stdout
    assert lws.engine().models.collection("production") == {
        "detector": "det-v1", "crop_encoder": "ce-v2", "tracker": "trk-v3", "jn_classifier": "jn-v3", "identity_resolver": "ir-v3",
    }
    again = lws.cli("promote", "tracker", "trk-v3", "--to", "production")
    assert again.returncode == 0 and "already in production: nothing to change" in again.stdout


def test_rewrites_keep_the_file_mode_and_errors_name_models_yaml(lws: Ws) -> None:
    models = lws.root / "models.yaml"
    models.chmod(0o600)
    e = lws.engine()
    register(e.models, "tracker", "trk-v9", lws.weights("trk-v9"))
    assert models.stat().st_mode & 0o777 == 0o600
    r = lws.cli("models", "register", "tracker", "trk-v10", str(lws.weights("trk-v10")), "--trained-with", "crop_encoder=ce-v7")
    assert r.returncode == 2
    assert r.stderr.startswith(f"error: {models}:") and ".tmp" not in r.stderr
    assert not list(lws.root.glob(".models.yaml*"))


def test_impact_of_the_running_version_is_empty(lws: Ws) -> None:
    result = impact(lws.engine(), "jn_classifier", "jn-v1", "production")
    assert result.layers == [] and result.retrain == [] and result.waves == []


def test_check_reports_weights_changed_in_place_and_unknown_trains_on(lws: Ws) -> None:
    models = lws.root / "models.yaml"
    models.write_text(models.read_text().replace("trains_on: [t-tracks]", "trains_on: [t-trakcs]").replace("  old: ", "  # old: "))
    lws.weights("trk-v1", b"overwritten in place" * 4)
    problems = [p.line() for p in check(lws.engine(), "production")]
    assert "trains_on: jn_classifier trains on layer t-trakcs, which is not registered here" in problems
    assert any(p.startswith("weights: tracker trk-v1: ") and "models.yaml records xxh3-128:" in p for p in problems)


def test_register_implementation_is_checked_now_and_written_on_the_role_or_version(ws: Ws) -> None:
    w = ws.weights("det-x", b"x" * 64)
    bad = ws.cli("models", "register", "newrole", "v1", str(w), "--implementation", "layers_for_tests:NoSuchModel")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: --implementation of newrole v1 'layers_for_tests:NoSuchModel': cannot be imported")
    assert "newrole" not in (ws.root / "models.yaml").read_text()  # nothing written
    ok = ws.cli("models", "register", "newrole", "v1", str(w), "--implementation", "layers_for_tests:ByteModel")
    assert ok.returncode == 0, ok.stderr
    e = ws.engine()
    assert e.models.implementation("newrole", "v1")[0] == "layers_for_tests:ByteModel"
    assert e.models.spec.roles["newrole"].implementation == "layers_for_tests:ByteModel"  # a new role: on the role
    w2 = ws.weights("det-y", b"y" * 64)
    assert ws.cli("models", "register", "detector", "det-y", str(w2), "--implementation", "layers_for_tests:ByteModel").returncode == 0
    e = ws.engine()
    assert e.models.spec.roles["detector"].implementation == ""  # an existing role: on the version
    assert e.models.spec.roles["detector"].versions["det-y"].implementation == "layers_for_tests:ByteModel"
