"""Checks of a game's sources at the door: bad input is refused when a game is registered.

A layer that reads an annotation (a shots table, a plays table) knows its format. It declares
a check per source selector it reads::

    class ShotHeatmaps(Generator):
        sources = ("kind:video", "shots")
        source_checks = {"shots": check_shots}     # check_shots(source: SourceCheck) -> None

``artifacts games add`` (and ``--replace``) runs, for every source of every game it
registers, the checks that the registered layers declare for a selector matching that source,
before anything is registered: a check raises :class:`artifacts.errors.SourceError` with one
line naming the file, row, column, value and fix, and no game of the call is registered. A
build runs the checks of its own layer on the sources it reads before it starts, so a file
changed after registration is refused the same way.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from artifacts.keys import local_path


@dataclass(frozen=True)
class SourceCheck:
    """One source to check, with the rest of its game's sources (a check of an annotation may
    need the videos: a time outside the video is refused)."""

    game: str
    name: str
    kind: str
    url: str
    game_sources: Mapping[str, tuple[str, str]]  # every source of the game: name -> (kind, url)

    @property
    def path(self) -> str | None:
        """The local path of the source, or None when it is remote."""
        return local_path(self.url)


SourceChecker = Callable[[SourceCheck], None]


def selector_matches(selector: str, name: str, kind: str) -> bool:
    """Whether a source selector (``kind:K`` or a name pattern) picks the source."""
    if selector.startswith("kind:"):
        return kind == selector[5:]
    return fnmatch.fnmatchcase(name, selector)


def checks_of(declared: Sequence[Mapping[str, SourceChecker]], game: str, sources: Mapping[str, tuple[str, str]]) -> list[tuple[SourceChecker, SourceCheck]]:
    """Every (checker, source) pair to run for a game's ``sources`` (name -> (kind, url)), from
    the layers' declared checks; a checker declared by several layers runs once per source."""
    out: list[tuple[SourceChecker, SourceCheck]] = []
    seen: set[tuple[int, str]] = set()
    for checks in declared:
        for selector, checker in checks.items():
            for name, (kind, url) in sorted(sources.items()):
                if selector_matches(selector, name, kind) and (id(checker), name) not in seen:
                    seen.add((id(checker), name))
                    out.append((checker, SourceCheck(game, name, kind, url, sources)))
    return out
