"""The game catalog of a workspace: games, their sources, and cached source digests.

Stored in SQLite (one file, transactional, safe for concurrent readers), because registering
a game must be atomic and loading 10,000 games must take milliseconds.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from artifacts.errors import SourceError, UnknownGameError, UsageError
from artifacts.keys import Fingerprint, check_game_id, check_source_name, digest, fingerprint, local_path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    game TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL,
    etag TEXT,
    digest TEXT NOT NULL,
    PRIMARY KEY (game, name)
);
"""

KINDS = ("video", "annotation", "other")


@dataclass(frozen=True, slots=True)
class Source:
    """One registered source of a game, with its cached digest.

    A dataclass rather than a pydantic model: status loads tens of thousands of these.
    """

    game: str
    name: str
    kind: str
    url: str
    size: int
    mtime: float | None
    etag: str | None
    digest: str

    @property
    def fingerprint(self) -> Fingerprint:
        return Fingerprint(self.size, self.mtime, self.etag)


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A source as given on the command line or in a listing, before hashing."""

    name: str
    url: str
    kind: str = "video"


@dataclass(frozen=True, slots=True)
class MissingSource:
    """A registered source whose file is gone."""

    game: str
    name: str
    url: str


class Catalog:
    """Access to the catalog file. Not shared across processes: each opens its own."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def add_games(
        self,
        entries: Sequence[tuple[str, Sequence[SourceSpec]]],
        replace_existing: bool = False,
        check: Callable[[str, dict[str, tuple[str, str]]], None] | None = None,
    ) -> int:
        """Register games with their sources, hashing each source once. All or nothing.

        A game already registered is an error unless ``replace_existing``; then the named
        sources are replaced and the others kept. ``check`` is called with each game and its
        sources as they will be (name -> (kind, url)) before anything is written; it raises
        to refuse the whole call.
        """
        rows: list[tuple[object, ...]] = []
        known = set(self.games())
        for game, specs in entries:
            check_game_id(game)
            if not specs:
                raise UsageError("game", game, "has no sources", "pass at least one --source NAME=URL")
            if game in known and not replace_existing:
                raise UsageError("game", game, "is already registered", "pass --replace to change its sources")
            for spec in specs:
                check_source_name(spec.name)
                if spec.kind not in KINDS:
                    raise UsageError(f"source {spec.name} of game {game}", spec.kind, "is not a source kind", f"use one of {KINDS}")
                url = _absolute(spec.url)
                fp = fingerprint(game, spec.name, url)
                rows.append((game, spec.name, spec.kind, url, fp.size, fp.mtime, fp.etag, digest(game, spec.name, url)))
            if check is not None:
                final = {n: (src.kind, src.url) for n, src in self.game_sources(game).items()} if game in known else {}
                final.update({spec.name: (spec.kind, _absolute(spec.url)) for spec in specs})
                check(game, final)
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO sources VALUES (?,?,?,?,?,?,?,?)", rows)
        return len(entries)

    def games(self) -> list[str]:
        """All registered game ids, sorted."""
        return [r[0] for r in self._db.execute("SELECT DISTINCT game FROM sources ORDER BY game")]

    def sources(self) -> dict[str, dict[str, Source]]:
        """game -> source name -> source, for every registered game."""
        out: dict[str, dict[str, Source]] = {}
        for row in self._db.execute("SELECT game, name, kind, url, size, mtime, etag, digest FROM sources"):
            out.setdefault(row[0], {})[row[1]] = Source(*row)
        return out

    def game_sources(self, game: str) -> dict[str, Source]:
        """source name -> source of one game (empty if unknown)."""
        rows = self._db.execute(
            "SELECT game, name, kind, url, size, mtime, etag, digest FROM sources WHERE game = ?", (game,)
        )
        return {r[1]: Source(*r) for r in rows}

    def remove_game(self, game: str) -> None:
        """Forget a game (its artifacts stay in the store)."""
        with self._db:
            n = self._db.execute("DELETE FROM sources WHERE game = ?", (game,)).rowcount
        if n == 0:
            raise UnknownGameError("game", game, "is not registered", "see 'artifacts games list'")

    def refresh(
        self, sources: dict[str, dict[str, Source]], games: Iterable[str]
    ) -> tuple[dict[str, dict[str, Source]], list[MissingSource]]:
        """Re-check the fingerprints of ``games``' sources; rehash only those that changed.

        Returns the updated mapping (a new dict; unchanged entries are shared) and the sources
        whose files are gone (their last digest is kept, so keys stay computable).
        """
        updated = dict(sources)
        missing: list[MissingSource] = []
        changed: list[Source] = []
        for game in games:
            per = sources.get(game)
            if per is None:
                continue
            new_per = None
            for name, src in per.items():
                path = local_path(src.url)
                try:
                    if path is not None:
                        # Fast path: a bare stat, no fsspec dispatch, for the common local case.
                        st = os.stat(path)
                        fp = Fingerprint(st.st_size, st.st_mtime, None)
                    else:
                        fp = fingerprint(game, name, src.url)
                except (FileNotFoundError, SourceError):
                    missing.append(MissingSource(game, name, src.url))
                    continue
                if fp == src.fingerprint:
                    continue
                fresh = replace(src, size=fp.size, mtime=fp.mtime, etag=fp.etag, digest=digest(game, name, src.url))
                changed.append(fresh)
                if new_per is None:
                    new_per = dict(per)
                new_per[name] = fresh
            if new_per is not None:
                updated[game] = new_per
        if changed:
            with self._db:
                self._db.executemany(
                    "UPDATE sources SET size=?, mtime=?, etag=?, digest=? WHERE game=? AND name=?",
                    [(s.size, s.mtime, s.etag, s.digest, s.game, s.name) for s in changed],
                )
        return updated, missing


def _absolute(url: str) -> str:
    path = local_path(url)
    if path is None:
        return url
    return str(Path(path).resolve())


def read_listing(path: Path) -> list[tuple[str, list[SourceSpec]]]:
    """Read a bulk listing (CSV or parquet) with columns game, name, url and optional kind."""
    import pyarrow.csv as pacsv  # lazy: only the bulk form needs pyarrow
    import pyarrow.parquet as pq

    if not path.is_file():
        raise UsageError("listing", str(path), "not found", "pass an existing CSV or parquet file")
    import pyarrow as pa

    # Game ids like 0021500575 are text: never let CSV type inference turn them into numbers.
    as_text = pacsv.ConvertOptions(column_types={c: pa.string() for c in ("game", "name", "url", "kind")})
    table = pq.read_table(path) if path.suffix == ".parquet" else pacsv.read_csv(path, convert_options=as_text)
    cols = set(table.column_names)
    need = {"game", "name", "url"}
    if not need <= cols:
        raise UsageError(
            "listing", str(path), f"lacks columns {sorted(need - cols)}", "provide columns game, name, url[, kind]"
        )
    kinds = table.column("kind").to_pylist() if "kind" in cols else ["video"] * table.num_rows
    grouped: dict[str, list[SourceSpec]] = {}
    for game, name, url, kind in zip(
        table.column("game").to_pylist(), table.column("name").to_pylist(), table.column("url").to_pylist(), kinds
    ):
        url = str(url)
        if "://" not in url and not Path(url).is_absolute():
            url = str(path.parent / url)  # relative paths in a listing are relative to the listing
        grouped.setdefault(str(game), []).append(SourceSpec(str(name), url, str(kind)))
    return list(grouped.items())
