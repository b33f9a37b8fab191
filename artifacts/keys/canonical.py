"""Canonical, domain-separated encoding of records, and their xxh3-128 digests.

Contract: ``canonical_bytes(tag, value)`` is a pure function of ``tag`` and the JSON value
``value``. The pre-image is::

    b"artifacts\\x00scheme=<SCHEME>\\x00type=<tag>\\x00" + canonical JSON

Canonical JSON means: object keys sorted, no insignificant whitespace, UTF-8 (not ASCII
escapes), integers as integers, floats in Python's shortest round-trip form, and NaN or
infinities rejected. Only str keys, and only None/bool/int/float/str/list/dict values are
accepted: anything else (a Path, a datetime, a numpy scalar) is an error rather than being
silently stringified, because a silent conversion could change a key between versions.
"""

from __future__ import annotations

import json
import math
from typing import Any

import xxhash

from artifacts.errors import ArtifactsError

SCHEME = 1
"""Version of the encoding scheme. Bump it only together with every golden key test."""


class CanonicalEncodingError(ArtifactsError):
    """A value cannot be encoded canonically (NaN, a non-JSON type, a non-str key)."""


def _check(value: Any, where: str) -> None:
    # json.dumps would accept tuples and int subclasses (bool) silently; we want the exact
    # JSON data model so that the same logical value always yields the same bytes.
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CanonicalEncodingError(
                where, value, "NaN and infinities have no canonical form", "use a finite number or null"
            )
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, str):
                raise CanonicalEncodingError(
                    where, k, "object keys must be strings", "convert the key to str"
                )
            _check(item, f"{where}.{k}")
        return
    raise CanonicalEncodingError(
        where, type(value).__name__, "is not a JSON value", "convert it to str, int, float, bool, list or dict"
    )


def canonical_json(value: Any, *, checked: bool = False) -> str:
    """Canonical JSON text of ``value`` (see module docstring). ``checked`` skips validation."""
    if not checked:
        _check(value, "value")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def domain_prefix(tag: str) -> bytes:
    """The domain-separation prefix of a record type."""
    return f"artifacts\x00scheme={SCHEME}\x00type={tag}\x00".encode()


def canonical_bytes(tag: str, value: Any) -> bytes:
    """The full pre-image of ``value`` as a record of type ``tag``."""
    return domain_prefix(tag) + canonical_json(value).encode()


def digest_hex(data: bytes) -> str:
    """xxh3-128 of ``data`` as 32 lowercase hex characters."""
    return xxhash.xxh3_128_hexdigest(data)


def record_digest(tag: str, value: Any) -> str:
    """Digest of ``value`` as a record of type ``tag``: xxh3-128 of its pre-image."""
    return digest_hex(canonical_bytes(tag, value))
