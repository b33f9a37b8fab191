"""Recipes and keys.

A :class:`Recipe` is the canonical, fully expanded description of how one artifact is made:
layer name, generator version, the parameters that differ from their defaults, the model refs
it ran (role, version, weights digest), the keys of the upstream artifacts it read and the
digests of the game's source inputs it read. Nothing else: no paths, no mtimes, no host
names, no store location, no game id (two games with byte-identical inputs share a key).

The key is ``xxh3-128`` of the recipe's domain-separated canonical encoding (record type
``recipe``, see :mod:`artifacts.keys.canonical`). :class:`RecipeTemplate` computes the same bytes
faster for many games of one layer, by encoding the per-layer part once.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue

from artifacts.keys.canonical import canonical_json, digest_hex, domain_prefix

RECIPE_TAG = "recipe"


class ModelRef(BaseModel):
    """A model as a recipe sees it: its role, version and weights digest."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    role: str
    version: str
    digest: str

    def label(self) -> str:
        return f"{self.role} {self.version}"


class Recipe(BaseModel):
    """How one artifact is made. See the module docstring for what belongs here."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    layer: str
    generator_version: str
    params: dict[str, JsonValue] = {}
    models: dict[str, ModelRef] = {}
    upstream: dict[str, str] = {}
    sources: dict[str, str] = {}

    def canonical(self) -> dict[str, Any]:
        """The JSON value that is encoded for the key (field names are part of the scheme)."""
        return {
            "generator": self.generator_version,
            "layer": self.layer,
            "models": {r: {"digest": m.digest, "version": m.version} for r, m in self.models.items()},
            "params": self.params,
            "sources": self.sources,
            "upstream": self.upstream,
        }

    def key(self) -> str:
        """The artifact key: 32 hex characters."""
        return digest_hex(domain_prefix(RECIPE_TAG) + canonical_json(self.canonical()).encode())


class RecipeTemplate:
    """The part of a recipe shared by every game of a layer, pre-encoded.

    ``key(sources, upstream)`` equals ``Recipe(..., sources=sources, upstream=upstream).key()``
    byte for byte; it exists because status computes tens of thousands of keys and the
    canonical encoding, not the hash, dominates that cost. The equality is pinned by tests.
    """

    def __init__(
        self,
        layer: str,
        generator_version: str,
        params: dict[str, JsonValue],
        models: dict[str, ModelRef],
    ) -> None:
        self.layer = layer
        self.generator_version = generator_version
        self.params = params
        self.models = models
        whole = canonical_json(
            Recipe(
                layer=layer, generator_version=generator_version, params=params, models=models
            ).canonical()
        )
        # Sorted keys put "sources" and "upstream" last, so the per-game part is a suffix. Cut
        # exactly that suffix: a param or role may itself be called "sources".
        empty_tail = ',"sources":{},"upstream":{}}'
        assert whole.endswith(empty_tail)
        self._prefix = domain_prefix(RECIPE_TAG) + whole[: -len(empty_tail)].encode()

    def key(self, sources: dict[str, str], upstream: dict[str, str]) -> str:
        """Key of the recipe with these per-game parts (values must be plain str)."""
        tail = ',"sources":' + _str_object(sources) + ',"upstream":' + _str_object(upstream) + "}"
        return digest_hex(self._prefix + tail.encode())

    def recipe(self, sources: dict[str, str], upstream: dict[str, str]) -> Recipe:
        """The full recipe with these per-game parts."""
        return Recipe(
            layer=self.layer,
            generator_version=self.generator_version,
            params=self.params,
            models=self.models,
            sources=sources,
            upstream=upstream,
        )


# Characters JSON must escape (with ensure_ascii=False): quote, backslash, control characters.
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def _str_object(d: dict[str, str]) -> str:
    """Canonical JSON of a flat str -> str object; equal to ``canonical_json(d)``.

    Names and digests never need escaping, so joining strings is exact and several times
    faster than json.dumps; anything that would need escaping takes the general path.
    """
    if _NEEDS_ESCAPE.search("".join(d) + "".join(d.values())):
        return json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "{" + ",".join(f'"{k}":"{d[k]}"' for k in sorted(d)) + "}"
