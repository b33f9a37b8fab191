"""Canonical encoding: golden pre-images and digests, and what it refuses."""

from __future__ import annotations

import pytest

from artifacts.keys import CanonicalEncodingError, canonical_bytes, canonical_json, record_digest


def test_golden_preimage_is_domain_separated_sorted_and_compact() -> None:
    assert canonical_bytes("recipe", {"b": [1, 2.5, None], "a": "é"}) == (
        b"artifacts\x00scheme=1\x00type=recipe\x00" + '{"a":"é","b":[1,2.5,null]}'.encode()
    )


def test_golden_digest() -> None:
    assert record_digest("recipe", {"a": 1}) == "1af69b91488aaeec957f9230dd62967f"


def test_record_type_separates_domains() -> None:
    assert record_digest("recipe", {"a": 1}) != record_digest("manifest", {"a": 1})


def test_dict_order_does_not_matter() -> None:
    assert canonical_json({"x": 1, "y": {"b": 2, "a": 1}}) == canonical_json({"y": {"a": 1, "b": 2}, "x": 1})


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {"a": [float("-inf")]}])
def test_non_finite_numbers_are_rejected(bad: object) -> None:
    with pytest.raises(CanonicalEncodingError, match="NaN and infinities"):
        canonical_json(bad)


def test_non_json_types_are_rejected_not_stringified() -> None:
    from pathlib import Path

    with pytest.raises(CanonicalEncodingError, match="is not a JSON value"):
        canonical_json({"p": Path("/tmp")})
    with pytest.raises(CanonicalEncodingError, match="keys must be strings"):
        canonical_json({1: "a"})
    with pytest.raises(CanonicalEncodingError, match="is not a JSON value"):
        canonical_json({"t": (1, 2)})
