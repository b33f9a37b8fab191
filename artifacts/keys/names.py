"""Validation of the names users choose: game ids, layer names, source names, roles.

Game ids become path components in the store, so the rules are strict:

* game id: 1-128 characters from ``A-Z a-z 0-9 . _ -``, starting with a letter or digit,
  never containing ``..``. No path separators, no spaces, no leading dot.
* layer name and role: ``a-z 0-9 -`` and ``_``, starting with a letter, at most 64 characters.
* source name: like a game id but without dots, at most 64 characters.
"""

from __future__ import annotations

import re

from artifacts.errors import InvalidNameError

_GAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_LAYER = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_SOURCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")

GAME_ID_RULE = "use 1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit, without '..'"


def _check(pattern: re.Pattern[str], value: str, thing: str, rule: str) -> str:
    if not pattern.fullmatch(value):
        raise InvalidNameError(thing, value, f"is not a valid {thing}", rule)
    return value


def check_game_id(game: str) -> str:
    """Return ``game`` if it is a valid game id, else raise :class:`InvalidNameError`."""
    if ".." in game:
        raise InvalidNameError("game id", game, "is not a valid game id", GAME_ID_RULE)
    return _check(_GAME, game, "game id", GAME_ID_RULE)


def check_layer_name(name: str) -> str:
    """Return ``name`` if it is a valid layer name."""
    return _check(_LAYER, name, "layer name", "use a-z 0-9 - _, starting with a letter")


def check_role(name: str) -> str:
    """Return ``name`` if it is a valid model role."""
    return _check(_LAYER, name, "role name", "use a-z 0-9 - _, starting with a letter")


def check_source_name(name: str) -> str:
    """Return ``name`` if it is a valid source name."""
    return _check(_SOURCE, name, "source name", "use 1-64 of A-Z a-z 0-9 _ -")
