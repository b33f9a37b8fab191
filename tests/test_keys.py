"""Recipe keys: golden values, what leaves them unchanged, and what changes them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, Ws
from layers_for_tests import TFrames

from artifacts import api
from artifacts.keys import ModelRef, Recipe, RecipeTemplate
from artifacts.layers import resolve_params

D = "xxh3-128:" + "0" * 32
REF = ModelRef(role="tracker", version="trk-v1", digest=D)


def base() -> Recipe:
    return Recipe(
        layer="track-level",
        generator_version="3",
        params={"max_gap": 40},
        models={"tracker": REF},
        upstream={"frame-level": "a" * 32},
        sources={"cam0": D},
    )


def test_golden_key() -> None:
    # Pinned: changing the encoding scheme silently would re-key every store in the field.
    assert base().key() == "542bc55c13bcedbced6ceea582f3be3b"


def test_golden_preimage_of_a_recipe() -> None:
    from artifacts.keys import canonical_json

    assert canonical_json(base().canonical()) == (
        '{"generator":"3","layer":"track-level",'
        f'"models":{{"tracker":{{"digest":"{D}","version":"trk-v1"}}}},'
        '"params":{"max_gap":40},'
        f'"sources":{{"cam0":"{D}"}},'
        f'"upstream":{{"frame-level":"{"a" * 32}"}}}}'
    )


def test_golden_key_of_minimal_recipe() -> None:
    assert Recipe(layer="frame-level", generator_version="1").key() == "c9ef89f7c1b768986e84a386b1f70988"


def test_template_matches_full_recipe_byte_for_byte() -> None:
    r = base()
    t = RecipeTemplate(r.layer, r.generator_version, r.params, r.models)
    assert t.key(r.sources, r.upstream) == r.key()
    assert t.recipe(r.sources, r.upstream) == r
    # and with several, unsorted entries and non-ASCII names
    s = {"zcam": D, "acam": D, "é": D}
    u = {"b-layer": "b" * 32, "a-layer": "c" * 32}
    assert t.key(s, u) == t.recipe(s, u).key()


def test_dict_order_leaves_key_unchanged() -> None:
    a = Recipe(layer="l", generator_version="1", params={"a": 1, "b": 2}, sources={"x": D, "y": D})
    b = Recipe(layer="l", generator_version="1", params={"b": 2, "a": 1}, sources={"y": D, "x": D})
    assert a.key() == b.key()


@pytest.mark.parametrize(
    "change",
    [
        {"layer": "track-level-2"},
        {"generator_version": "4"},
        {"params": {"max_gap": 41}},
        {"params": {}},
        {"models": {"tracker": ModelRef(role="tracker", version="trk-v2", digest=D)}},
        {"models": {"tracker": ModelRef(role="tracker", version="trk-v1", digest="xxh3-128:" + "1" * 32)}},
        {"upstream": {"frame-level": "b" * 32}},
        {"sources": {"cam0": "xxh3-128:" + "2" * 32}},
        {"sources": {"cam0": D, "cam1": D}},
    ],
)
def test_each_recipe_field_changes_the_key(change: dict[str, object]) -> None:
    assert base().model_copy(update=change).key() != base().key()


def test_recipe_refuses_unknown_fields() -> None:
    with pytest.raises(ValueError):
        Recipe(layer="l", generator_version="1", host="me")  # type: ignore[call-arg]


def test_default_valued_params_stay_out_of_the_recipe() -> None:
    _, explicit_default = resolve_params(TFrames, {"scale": 1.0, "stride": 1})
    _, nothing = resolve_params(TFrames, {})
    _, changed = resolve_params(TFrames, {"scale": 2.0})
    assert explicit_default == nothing == {}
    assert changed == {"scale": 2.0}


def test_key_is_the_same_in_a_second_process() -> None:
    code = (
        "from artifacts.keys import Recipe, ModelRef;"
        f"r = Recipe.model_validate_json({base().model_dump_json()!r});"
        "print(r.key())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == base().key()


def test_moving_the_workspace_leaves_keys_unchanged(ws: Ws, tmp_path: Path) -> None:
    before = api.status(ws.engine())
    moved = tmp_path / "elsewhere" / "moved"
    shutil.copytree(ws.root, moved)
    # Sources are registered by absolute path; moving their files with the workspace means
    # re-registering them, which must not change any digest or key.
    moved_ws = Ws(moved)
    for g in ("g0", "g1", "g2"):
        moved_ws.engine().catalog.remove_game(g)
        moved_ws.add_game(g)
    after = api.status(moved_ws.engine())
    assert [(e.layer, e.game, e.key) for e in before.entries] == [(e.layer, e.game, e.key) for e in after.entries]
    assert all(e.key for e in after.entries)


def test_template_with_a_param_or_role_named_sources() -> None:
    odd = Recipe(
        layer="l", generator_version="1", params={"sources": {"upstream": 1}, "a": 2},
        models={"sources": ModelRef(role="sources", version="v", digest=D)},
        sources={"cam0": D}, upstream={"u": "a" * 32},
    )
    t = RecipeTemplate(odd.layer, odd.generator_version, odd.params, odd.models)
    assert t.key(odd.sources, odd.upstream) == odd.key()


@pytest.mark.parametrize(
    "odd",
    [{"q\"uote": D}, {"cam0": 'va"lue'}, {"back\\slash": D}, {"nl\n": D}, {"tab": "a\tb"}, {"é": "ü"}, {}, {"b": D, "a": D}],
)
def test_template_fast_encoding_equals_canonical_json_for_any_string(odd: dict[str, str]) -> None:
    t = RecipeTemplate("l", "1", {}, {})
    assert t.key(odd, odd) == t.recipe(odd, odd).key()
