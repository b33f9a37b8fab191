"""The artifact store over fsspec (a local directory by default).

Layout under the store root (see docs/store.md)::

    STORE.json                                   {"format": 1}
    <layer>/manifests/<game>.<key>.json          commit point of an artifact, written last
    <layer>/failures/<game>.<key>.json           why the last attempt at that key failed
    <layer>/data/<game>/<key>.<attempt>/...      the artifact's output files
    .staging/<attempt>/                          outputs being written (local stores)

Commit protocol: a builder writes outputs into a private staging directory, moves them to a
data directory named after its attempt (so two builders never write the same path), then
publishes the manifest with an exclusive create (``os.link`` locally: atomic, first writer
wins). A crash at any point leaves at most unreferenced files, never a visible artifact.
Listing one layer is one directory read of ``manifests/``, whatever the number of games.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem
from pydantic import ValidationError

from artifacts.errors import StoreError
from artifacts.hashing import hash_file
from artifacts.manifest import FailureRecord, Manifest, OutputFile
from artifacts.sources import seconds_of

STORE_FORMAT = 1
_KEY_LEN = 32


def new_attempt_id() -> str:
    """A unique attempt id that also says which host and process made it."""
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


def _attempt_owner(attempt: str) -> tuple[str, int] | None:
    host, _, _uuid = attempt.rpartition("-")
    host, _, pid = host.rpartition("-")
    return (host, int(pid)) if pid.isdigit() else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@dataclass
class LayerListing:
    """What the store holds for one layer: committed keys and failure records per game."""

    committed: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Staging:
    """A private place to write one artifact's outputs before commit."""

    layer: str
    game: str
    key: str
    attempt: str
    dir: Path


def _split_entry(name: str) -> tuple[str, str] | None:
    # "<game>.<key>.json": the key is fixed-width hex, so split from the right.
    if not name.endswith(".json") or len(name) < _KEY_LEN + 7:
        return None
    stem = name[:-5]
    game, dot, key = stem[: -_KEY_LEN - 1], stem[-_KEY_LEN - 1], stem[-_KEY_LEN:]
    if dot != "." or not game:
        return None
    return game, key


class Store:
    """An artifact store at an fsspec URL or local path."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.local = isinstance(self.fs, LocalFileSystem)
        self.root = self.root.rstrip("/")

    # ----- layout -------------------------------------------------------------------------

    def _p(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    def manifest_path(self, layer: str, game: str, key: str) -> str:
        return self._p(layer, "manifests", f"{game}.{key}.json")

    def failure_path(self, layer: str, game: str, key: str) -> str:
        return self._p(layer, "failures", f"{game}.{key}.json")

    def data_path(self, relative: str) -> str:
        """Absolute location of a manifest's ``data`` directory."""
        return self._p(relative)

    def check_format(self) -> bool:
        """Refuse a store of an unknown format; True if the store exists. Never writes."""
        marker = self._p("STORE.json")
        try:
            raw = self.fs.cat_file(marker)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StoreError("store", self.url, f"is not reachable ({exc})", "check the store URL in artifacts.toml") from exc
        fmt = json.loads(raw).get("format")
        if fmt != STORE_FORMAT:
            raise StoreError("store", self.url, f"has format {fmt}, this version reads {STORE_FORMAT}", "upgrade the artifacts package or use another store")
        return True

    def ensure(self) -> None:
        """Create the store if absent; refuse a store of an unknown format."""
        if self.check_format():
            return
        try:
            self.fs.makedirs(self.root, exist_ok=True)
            self.fs.pipe_file(self._p("STORE.json"), json.dumps({"format": STORE_FORMAT}).encode())
        except OSError as exc:
            raise StoreError("store", self.url, f"cannot be created ({exc})", "check the store URL in artifacts.toml and its permissions") from exc

    # ----- listing ------------------------------------------------------------------------

    def _names(self, path: str) -> list[str]:
        if self.local:
            try:
                with os.scandir(path) as it:
                    return [e.name for e in it]
            except FileNotFoundError:
                return []
        try:
            return [p.rsplit("/", 1)[-1] for p in self.fs.ls(path, detail=False)]
        except FileNotFoundError:
            return []

    def list_layer(self, layer: str) -> LayerListing:
        """Committed keys and failure records of ``layer``: two directory listings."""
        listing = LayerListing()
        for name in self._names(self._p(layer, "manifests")):
            parts = _split_entry(name)
            if parts is not None:
                listing.committed.setdefault(parts[0], []).append(parts[1])
        for name in self._names(self._p(layer, "failures")):
            parts = _split_entry(name)
            if parts is not None:
                listing.failed.setdefault(parts[0], []).append(parts[1])
        return listing

    def modified(self, layer: str, game: str, key: str) -> float:
        """When the manifest of (layer, game, key) was committed (seconds since epoch)."""
        path = self.manifest_path(layer, game, key)
        if self.local:
            return os.stat(path).st_mtime
        info = self.fs.info(path)
        return seconds_of(info.get("mtime") or info.get("LastModified") or info.get("created")) or 0.0

    # ----- reading ------------------------------------------------------------------------

    def manifest(self, layer: str, game: str, key: str) -> Manifest | None:
        """The manifest of (layer, game, key), or None if that artifact does not exist."""
        path = self.manifest_path(layer, game, key)
        try:
            raw = self.fs.cat_file(path)
        except FileNotFoundError:
            return None
        try:
            return Manifest.model_validate_json(raw)
        except ValidationError as exc:
            raise StoreError(f"manifest of {layer}/{game}", key, f"is corrupt ({exc.error_count()} errors)", "delete it and rebuild") from exc

    def failure(self, layer: str, game: str, key: str) -> FailureRecord | None:
        try:
            raw = self.fs.cat_file(self.failure_path(layer, game, key))
        except FileNotFoundError:
            return None
        try:
            return FailureRecord.model_validate_json(raw)
        except ValidationError as exc:
            raise StoreError(f"failure record of {layer}/{game}", key, "is corrupt", "delete it") from exc

    # ----- writing ------------------------------------------------------------------------

    @contextmanager
    def staging(self, layer: str, game: str, key: str, attempt: str) -> Iterator[Staging]:
        """A private local directory for one attempt; removed afterwards unless committed."""
        if self.local:
            base = Path(self._p(".staging"))
        else:
            import tempfile

            base = Path(tempfile.gettempdir()) / "artifacts-staging"
        d = base / attempt
        d.mkdir(parents=True, exist_ok=False)
        try:
            yield Staging(layer, game, key, attempt, d)
        finally:
            if d.exists():
                shutil.rmtree(d, ignore_errors=False)

    def outputs_of(self, staging: Staging) -> list[OutputFile]:
        """Every file under the staging directory with its size and digest, sorted by path."""
        out = []
        for dirpath, _dirs, files in os.walk(staging.dir):
            for f in files:
                p = Path(dirpath) / f
                out.append(OutputFile(path=p.relative_to(staging.dir).as_posix(), size=p.stat().st_size, digest=hash_file(p)))
        return sorted(out, key=lambda o: o.path)

    def data_dir_for(self, staging: Staging) -> str:
        """The data directory (relative to the root) that the attempt's outputs move to."""
        return f"{staging.layer}/data/{staging.game}/{staging.key}.{staging.attempt}"

    def commit(self, staging: Staging, manifest: Manifest) -> bool:
        """Publish: move outputs into place, then create the manifest exclusively.

        Returns False when another builder already published this key; then this attempt's
        files are removed and the other artifact stands.
        """
        final = self.manifest_path(staging.layer, staging.game, staging.key)
        data = self._p(manifest.data)
        body = manifest.model_dump_json(indent=1).encode()
        if self.local:
            Path(data).parent.mkdir(parents=True, exist_ok=True)
            os.rename(staging.dir, data)
            mdir = Path(final).parent
            mdir.mkdir(parents=True, exist_ok=True)
            tmp = mdir / f".tmp.{staging.attempt}"
            with open(tmp, "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, final)  # atomic and exclusive: the first writer wins
            except FileExistsError:
                shutil.rmtree(data)
                return False
            finally:
                tmp.unlink()
            self._fsync_dir(mdir)
            return True
        # Generic fsspec stores: upload, then write the manifest if absent. Object stores get a
        # conditional create (see docs/store.md); this generic path is not race-free.
        self.fs.put(str(staging.dir), data, recursive=True)
        if self.fs.exists(final):
            self.fs.rm(data, recursive=True)
            return False
        self.fs.pipe_file(final, body)
        return True

    @staticmethod
    def _fsync_dir(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def record_failure(self, record: FailureRecord) -> None:
        path = self.failure_path(record.layer, record.game, record.key)
        body = record.model_dump_json(indent=1).encode()
        if self.local:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            tmp = f"{path}.tmp.{os.getpid()}"
            with open(tmp, "wb") as f:
                f.write(body)
            os.replace(tmp, path)
        else:
            self.fs.pipe_file(path, body)

    def clear_failure(self, layer: str, game: str, key: str) -> None:
        path = self.failure_path(layer, game, key)
        try:
            self.fs.rm_file(path)
        except FileNotFoundError:
            return

    def sweep_dead_attempts(self, layer: str, game: str, key: str) -> int:
        """Remove uncommitted files of dead builders on this host: data directories of
        (layer, game, key) not referenced by its manifest, and any staging directory.

        Called before building a key, so a crashed (kill -9) attempt leaves no garbage once
        work resumes. Only attempts of this host are judged: a pid says nothing about
        another machine's processes.
        """
        if not self.local:
            return 0
        me = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
        removed = 0
        committed = self.manifest(layer, game, key)
        live_data = committed.data.rsplit("/", 1)[-1] if committed else None
        game_dir = Path(self._p(layer, "data", game))
        for d in _entries(game_dir):
            if not d.startswith(key + ".") or d == live_data:
                continue
            owner = _attempt_owner(d[len(key) + 1:])
            if owner and owner[0] == me and not _pid_alive(owner[1]):
                shutil.rmtree(game_dir / d)
                removed += 1
        staging_dir = Path(self._p(".staging"))
        for d in _entries(staging_dir):
            owner = _attempt_owner(d)
            if owner and owner[0] == me and not _pid_alive(owner[1]):
                try:
                    shutil.rmtree(staging_dir / d)
                except FileNotFoundError:  # another builder on this host swept it first
                    continue
                removed += 1
        return removed


def _entries(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []

