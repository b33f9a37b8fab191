"""What a key is: canonical encoding, digests, recipes, names and source digests.

Pure functions and values (plus reading a source's bytes to digest it). A key is the xxh3-128
digest of a recipe's domain-separated canonical encoding; everything here is deterministic and
independent of where anything is stored. Depends on :mod:`artifacts.errors` only.
"""

from __future__ import annotations

from artifacts.keys.canonical import CanonicalEncodingError, canonical_bytes, canonical_json, record_digest
from artifacts.keys.hashing import CHUNK, hash_bytes, hash_file, hash_stream
from artifacts.keys.names import check_game_id, check_layer_name, check_role, check_source_name
from artifacts.keys.recipe import ModelRef, Recipe, RecipeTemplate
from artifacts.keys.sources import Fingerprint, digest, fingerprint, local_path, open_source, seconds_of

__all__ = [
    "CHUNK",
    "CanonicalEncodingError",
    "Fingerprint",
    "ModelRef",
    "Recipe",
    "RecipeTemplate",
    "canonical_bytes",
    "canonical_json",
    "check_game_id",
    "check_layer_name",
    "check_role",
    "check_source_name",
    "digest",
    "fingerprint",
    "hash_bytes",
    "hash_file",
    "hash_stream",
    "local_path",
    "open_source",
    "record_digest",
    "seconds_of",
]
