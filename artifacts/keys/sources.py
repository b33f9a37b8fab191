"""A game's source inputs on any fsspec URL: their fingerprints and content digests.

A fingerprint is what can be learned without reading content (size, mtime, ETag). The
catalog recomputes a digest only when the fingerprint changed, so a registered source is
hashed once however often status runs. Local paths are read with the standard library;
fsspec is imported only for a remote URL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from artifacts.errors import SourceError
from artifacts.keys.hashing import hash_file, hash_stream


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What identifies a source's version without reading it."""

    size: int
    mtime: float | None
    etag: str | None


def local_path(url: str) -> str | None:
    """The local filesystem path of ``url``, or None when it is remote."""
    if url.startswith("file://"):
        return url[len("file://"):]
    if "://" in url:
        return None
    return url


def _missing(game: str, name: str, url: str) -> SourceError:
    return SourceError(
        f"source {name} of game {game}", url, "not found",
        f"restore the file or re-register it with 'artifacts games add {game} --source {name}=URL --replace'",
    )


def fingerprint(game: str, name: str, url: str) -> Fingerprint:
    """Fingerprint of the source at ``url``; a missing file raises :class:`SourceError`."""
    path = local_path(url)
    if path is not None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise _missing(game, name, url) from None
        return Fingerprint(st.st_size, st.st_mtime, None)
    import fsspec

    fs, p = fsspec.core.url_to_fs(url)
    try:
        info: dict[str, Any] = fs.info(p)
    except FileNotFoundError:
        raise _missing(game, name, url) from None
    etag = info.get("ETag") or info.get("etag")
    return Fingerprint(int(info.get("size") or 0), seconds_of(info.get("mtime") or info.get("LastModified")), str(etag) if etag else None)


def seconds_of(stamp: Any) -> float | None:
    """An fsspec info() time (datetime, number or absent) as seconds since the epoch."""
    if stamp is None:
        return None
    if hasattr(stamp, "timestamp"):
        return float(stamp.timestamp())
    return float(stamp)


def digest(game: str, name: str, url: str) -> str:
    """Content digest of the source at ``url`` (streamed xxh3-128)."""
    path = local_path(url)
    try:
        if path is not None:
            return hash_file(path)
        import fsspec

        with fsspec.open(url, "rb") as f:
            return hash_stream(f)
    except FileNotFoundError:
        raise _missing(game, name, url) from None
    except OSError as exc:
        raise SourceError(f"source {name} of game {game}", url, f"unreadable: {exc}", "check the file and its permissions") from exc


def open_source(url: str) -> Any:
    """Open a source for binary reading (a context manager)."""
    path = local_path(url)
    if path is not None:
        return open(path, "rb")
    import fsspec

    return fsspec.open(url, "rb")
