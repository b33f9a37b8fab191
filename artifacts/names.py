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


def check_game_id(game: str) -> str:
    """Return ``game`` if it is a valid game id, else raise :class:`InvalidNameError`."""
    if not _GAME.fullmatch(game) or ".." in game:
        raise InvalidNameError("game id", game, "is not a valid game id", GAME_ID_RULE)
    return game


def check_layer_name(name: str) -> str:
    """Return ``name`` if it is a valid layer name."""
    if not _LAYER.fullmatch(name):
        raise InvalidNameError(
            "layer name", name, "is not a valid layer name", "use a-z 0-9 - _, starting with a letter"
        )
    return name


def check_role(name: str) -> str:
    """Return ``name`` if it is a valid model role."""
    if not _LAYER.fullmatch(name):
        raise InvalidNameError(
            "model role", name, "is not a valid role name", "use a-z 0-9 - _, starting with a letter"
        )
    return name


def check_source_name(name: str) -> str:
    """Return ``name`` if it is a valid source name."""
    if not _SOURCE.fullmatch(name):
        raise InvalidNameError(
            "source name", name, "is not a valid source name", "use 1-64 of A-Z a-z 0-9 _ -"
        )
    return name
