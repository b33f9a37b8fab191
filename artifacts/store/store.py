"""The artifact store over fsspec (a local directory by default).

Layout under the store root (see docs/store.md)::

    STORE.json                                   {"format": 1}
    <layer>/manifests/<game>.<key>.json          commit point of an artifact, written last
    <layer>/failures/<game>.<key>.json           why the last attempt at that key failed
    <layer>/data/<game>/<key>.<attempt>/...      the artifact's output files
    <layer>/leases/<game>.<key>.json             who is building that key, until when
    <layer>/pins/<game>.<key>.json               an artifact kept by gc whatever collections say
    <layer>/signals/<game>.<key>.json            the items an artifact skipped and the caps it hit, if any
    <layer>/data/<game>/<key>.chunks/...         a chunked task's plan and finished chunks (store/chunks.py)
    .staging/<attempt>/                          outputs being written (local stores)

Commit protocol: a builder writes outputs into a private staging directory, moves (local) or
uploads (object stores) them to a data directory named after its attempt (so two builders
never write the same path), then publishes the manifest with an exclusive create (``os.link``
locally, a conditional PUT on object stores: first writer wins; see
:mod:`artifacts.store.objectstore`). A crash at any point leaves at most unreferenced files, never a
visible artifact. Listing one layer is one directory read of ``manifests/`` (and
``failures/``), or one paginated listing on S3, whatever the number of games.
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
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from artifacts.errors import StoreError
from artifacts.keys import hash_file, local_path, seconds_of
from artifacts.store.manifest import FailureRecord, Manifest, OutputFile, Signal
from artifacts.store.objectstore import Backend, LocalBackend, backend_for

STORE_FORMAT = 1
_KEY_LEN = 32


def host_id() -> str:
    """This host's name as it appears in attempt ids."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


def new_attempt_id() -> str:
    """A unique attempt id that also says which host and process made it."""
    return f"{host_id()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


def attempt_is_dead_here(attempt: str) -> bool:
    """True when ``attempt`` was made on this host by a process that no longer exists.

    False for other hosts' attempts: a pid says nothing about another machine's processes.
    """
    owner = _attempt_owner(attempt)
    return owner is not None and owner[0] == host_id() and not _pid_alive(owner[1])


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
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed process stays a zombie until its parent reaps it; it runs no more (Linux)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):  # no /proc (not Linux), or gone meanwhile
        return False


@dataclass
class LayerListing:
    """What the store holds for one layer: committed keys and failure records per game."""

    committed: dict[str, list[str]] = field(default_factory=dict)
    failed: dict[str, list[str]] = field(default_factory=dict)
    leased: dict[str, list[str]] = field(default_factory=dict)
    pinned: dict[str, list[str]] = field(default_factory=dict)
    signaled: dict[str, list[str]] = field(default_factory=dict)  # keys whose artifact has signals
    committed_at: dict[tuple[str, str], float] = field(default_factory=dict)  # (game, key) -> when, where the listing says (S3)


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
    """An artifact store at an fsspec URL or local path.

    ``options`` are passed to the fsspec filesystem (``[store_options]`` of artifacts.toml:
    e.g. ``endpoint_url``, ``profile`` for s3fs; ``project``, ``token`` for gcsfs).
    """

    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        self.url = url
        self.options = dict(options or {})
        path = local_path(url)
        if path is not None and not self.options:
            # A local store needs no fsspec to list, read and commit; ``fs`` opens it on first use.
            self.root = os.path.abspath(path).rstrip("/") or "/"
            self.backend: Backend = LocalBackend(None, url)
            self.local = True
            return
        import fsspec

        try:
            self.fs, self.root = fsspec.core.url_to_fs(url, **self.options)
        except ImportError as exc:  # the protocol's driver (s3fs, gcsfs) is not installed
            raise StoreError("store", url, f"needs a filesystem driver that is not installed ({exc})", "pip install 'artifacts-framework[s3]' (or [gcs])") from exc
        except ValueError as exc:  # an unknown protocol
            raise StoreError("store", url, f"cannot be opened ({exc})", "use a local path or an s3:// or gs:// URL") from exc
        self.backend = backend_for(self.fs, url)
        self.local = isinstance(self.backend, LocalBackend)
        self.root = self.root.rstrip("/")

    @cached_property
    def fs(self) -> Any:
        """The fsspec filesystem of the store (remote stores set it when opened)."""
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem()

    # ----- layout -------------------------------------------------------------------------

    def _p(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    def manifest_path(self, layer: str, game: str, key: str) -> str:
        return self._p(layer, "manifests", f"{game}.{key}.json")

    def failure_path(self, layer: str, game: str, key: str) -> str:
        return self._p(layer, "failures", f"{game}.{key}.json")

    def lease_path(self, layer: str, game: str, key: str) -> str:
        return self._p(layer, "leases", f"{game}.{key}.json")

    def pin_path(self, layer: str, game: str, key: str) -> str:
        return self._p(layer, "pins", f"{game}.{key}.json")

    def signals_path(self, layer: str, game: str, key: str) -> str:
        return self._p(layer, "signals", f"{game}.{key}.json")

    def data_path(self, relative: str) -> str:
        """Absolute location of a manifest's ``data`` directory."""
        return self._p(relative)

    def check_format(self) -> bool:
        """Refuse a store of an unknown format; True if the store exists. Never writes."""
        marker = self._p("STORE.json")
        try:
            raw = self._cat(marker)
        except OSError as exc:
            raise StoreError("store", self.url, f"is not reachable ({exc})", "check the store URL in artifacts.toml") from exc
        if raw is None:
            return False
        fmt = json.loads(raw).get("format")
        if fmt != STORE_FORMAT:
            raise StoreError("store", self.url, f"has format {fmt}, this version reads {STORE_FORMAT}", "upgrade the artifacts package or use another store")
        return True

    def ensure(self) -> None:
        """Create the store if absent; refuse a store of an unknown format."""
        if self.check_format():
            return
        self.backend.check_writable()
        try:
            self.fs.makedirs(self.root, exist_ok=True)
            self.fs.pipe_file(self._p("STORE.json"), json.dumps({"format": STORE_FORMAT}).encode())
        except OSError as exc:
            raise StoreError("store", self.url, f"cannot be created ({exc})", "check the store URL in artifacts.toml and its permissions") from exc

    # ----- listing ------------------------------------------------------------------------

    def layers(self) -> list[str]:
        """Names of the layers that have anything in the store, sorted."""
        return sorted(n for n in self.backend.names(self.root) if n not in ("STORE.json", ".staging") and not n.startswith("."))

    def list_layer(self, layer: str, records: tuple[str, ...] = ("manifests", "failures")) -> LayerListing:
        """Committed keys and failure records of ``layer`` (and leases, pins when asked):
        one directory read per kind locally, one paginated listing on S3."""
        names = self.backend.list_layer(self._p(layer), records)
        listing = LayerListing()
        for kind, target in (("manifests", listing.committed), ("failures", listing.failed), ("leases", listing.leased), ("pins", listing.pinned), ("signals", listing.signaled)):
            for name, stamp in names.get(kind, {}).items():
                parts = _split_entry(name)
                if parts is not None:
                    target.setdefault(parts[0], []).append(parts[1])
                    if kind == "manifests" and stamp is not None:
                        listing.committed_at[parts] = stamp
        return listing

    def list_layers(self, layers: list[str], records: tuple[str, ...] = ("manifests", "failures")) -> dict[str, LayerListing]:
        """:meth:`list_layer` of several layers; on object stores the listings run concurrently,
        since each is a chain of round trips (one per 1,000 entries)."""
        if self.local or len(layers) < 2:
            return {layer: self.list_layer(layer, records) for layer in layers}
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(8, len(layers))) as pool:
            return dict(zip(layers, pool.map(lambda l: self.list_layer(l, records), layers)))

    def has_manifest(self, layer: str, game: str, key: str) -> bool:
        """Whether (layer, game, key) is committed (one stat, or one HEAD request)."""
        path = self.manifest_path(layer, game, key)
        if self.local:
            return os.path.exists(path)
        self.fs.invalidate_cache(path)
        return bool(self.fs.exists(path))

    def manifests(self, ids: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], Manifest]:
        """The manifests of many (layer, game, key) at once; absent ones are left out.

        On object stores the reads run concurrently (one request each, many in flight)."""
        paths = {self.manifest_path(*i): i for i in ids}
        return {paths[p]: self.parse_manifest(*paths[p], raw) for p, raw in self.backend.read_many(list(paths)).items()}

    def failures(self, ids: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], FailureRecord]:
        """The failure records of many (layer, game, key) at once; absent ones are left out."""
        paths = {self.failure_path(*i): i for i in ids}
        out = {}
        for p, raw in self.backend.read_many(list(paths)).items():
            layer, game, key = paths[p]
            try:
                out[paths[p]] = FailureRecord.model_validate_json(raw)
            except ValidationError as exc:
                raise StoreError(f"failure record of {layer}/{game}", key, "is corrupt", "delete it") from exc
        return out

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
        raw = self._cat(self.manifest_path(layer, game, key))
        return None if raw is None else self.parse_manifest(layer, game, key, raw)

    def _cat(self, path: str) -> bytes | None:
        """The bytes of the object at ``path`` (one GET on object stores), None if absent."""
        if self.local:
            try:
                with open(path, "rb") as f:
                    return f.read()
            except FileNotFoundError:
                return None
        try:
            body: bytes = self.fs.cat_file(path)
        except FileNotFoundError:
            return None
        return body

    @staticmethod
    def parse_manifest(layer: str, game: str, key: str, raw: bytes) -> Manifest:
        """A manifest from its stored bytes; a corrupt one is a StoreError naming it."""
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
        d = self.staging_base() / attempt
        d.mkdir(parents=True, exist_ok=False)
        try:
            yield Staging(layer, game, key, attempt, d)
        finally:
            if d.exists():
                shutil.rmtree(d, ignore_errors=False)

    def staging_base(self) -> Path:
        """Where attempts stage their outputs: inside the store for local stores (so the move
        into place is a same-filesystem rename), the local temporary directory otherwise."""
        if self.local:
            return Path(self._p(".staging"))
        import tempfile

        # One per user: the temporary directory is shared, and the sweep must only ever judge
        # (and be able to remove) this user's attempts.
        return Path(tempfile.gettempdir()) / f"artifacts-staging-{os.getuid()}"

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
        """Publish: move (local) or upload (object stores) the outputs to ``manifest.data``, then
        create the manifest exclusively.

        Returns False when another builder already published this key; then this attempt's
        files are removed and the other artifact stands. ``staging.dir`` is left in place on
        object stores (the caller owns it), moved into the store on local ones.
        """
        final = self.manifest_path(staging.layer, staging.game, staging.key)
        return self.publish(staging.dir, manifest.data, final, manifest.model_dump_json(indent=1).encode(), manifest.outputs)

    def publish(self, src: Path, data: str, record: str, body: bytes, outputs: list[OutputFile]) -> bool:
        """The commit protocol for any record over a data directory (artifacts, chunks).

        Move (local) or upload (object stores) the files of ``src`` to ``data`` (relative to the
        root), then create ``record`` (a full path) with ``body`` exclusively: the first writer
        wins. Returns False when ``record`` already existed; then ``data`` is removed again.
        """
        dest = self._p(data)
        if self.local:
            Path(dest).parent.mkdir(parents=True, exist_ok=True)
            os.rename(src, dest)
            if self.backend.create(record, body, durable=True) is None:
                shutil.rmtree(dest)
                return False
            return True
        self.backend.check_writable()
        uploads = [(str(src / o.path), f"{dest}/{o.path}") for o in outputs]
        try:
            if uploads:
                self.fs.put([lp for lp, _ in uploads], [rp for _, rp in uploads])
        except BaseException:
            self.remove_tree(data)  # a failed upload leaves no partial data behind
            raise
        # The record last, with a conditional create (S3 If-None-Match: *): the first writer wins.
        if self.backend.create(record, body) is None:
            self.remove_tree(data)
            return False
        return True

    def remove_tree(self, relative: str) -> None:
        """Delete a data directory (relative to the root) and everything under it, if present."""
        path = self._p(relative)
        if self.local:
            try:
                shutil.rmtree(path)
            except FileNotFoundError:
                return
            return
        self.fs.invalidate_cache(path)
        try:
            self.fs.rm(path, recursive=True)
        except FileNotFoundError:
            return

    def remove_artifact(self, manifest: Manifest) -> None:
        """Delete an artifact: its manifest first (from then on it does not exist), then its data."""
        try:
            self.fs.rm_file(self.manifest_path(manifest.layer, manifest.game, manifest.key))
        except FileNotFoundError:
            return
        self.remove_tree(manifest.data)

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

    def write_signals(self, layer: str, game: str, key: str, signals: list[Signal]) -> None:
        """Index an artifact's signals (written before its manifest, so a committed artifact's
        are always listed); the manifest holds them too."""
        path = self.signals_path(layer, game, key)
        body = json.dumps([s.model_dump(mode="json") for s in signals], indent=1).encode()
        if self.local:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            tmp = f"{path}.tmp.{os.getpid()}"
            with open(tmp, "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        else:
            self.fs.pipe_file(path, body)

    def signals(self, ids: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], list[Signal]]:
        """The indexed signals of many (layer, game, key) at once; absent ones are left out."""
        paths = {self.signals_path(*i): i for i in ids}
        out = {}
        for p, raw in self.backend.read_many(list(paths)).items():
            try:
                out[paths[p]] = [Signal.model_validate(d) for d in json.loads(raw)]
            except (ValueError, ValidationError) as exc:
                raise StoreError(f"signals of {paths[p][0]}/{paths[p][1]}", paths[p][2], "are corrupt", "delete the file; the manifest holds them too") from exc
        return out

    def clear_failure(self, layer: str, game: str, key: str) -> None:
        path = self.failure_path(layer, game, key)
        try:
            self.fs.rm_file(path)
        except FileNotFoundError:
            return

    def sweep_dead_attempts(self, layer: str, game: str, key: str, dead: str | None = None) -> int:
        """Remove uncommitted files of dead builders; return how many directories went.

        Removed: data directories of (layer, game, key) that its manifest does not reference,
        made by ``dead`` (the attempt whose expired lease the caller took over) or, on a local
        store, by a process of this host that no longer exists; and staging directories of
        this host's dead processes (of any key). Called before building a key, while holding
        its lease, so a crashed (kill -9) attempt leaves no garbage once work resumes. Other
        leftovers (a key never built again) are for ``artifacts gc``.
        """
        removed = 0
        committed = self.manifest(layer, game, key)
        live_data = committed.data.rsplit("/", 1)[-1] if committed else None
        if self.local:
            game_dir = Path(self._p(layer, "data", game))
            for d in _entries(game_dir):
                if not d.startswith(key + ".") or d == live_data or d.endswith(".chunks"):  # chunks: kept for resume
                    continue
                attempt = d[len(key) + 1:]
                if attempt == dead or attempt_is_dead_here(attempt):
                    shutil.rmtree(game_dir / d)
                    removed += 1
        elif dead is not None and f"{key}.{dead}" != live_data:
            before = f"{layer}/data/{game}/{key}.{dead}"
            self.fs.invalidate_cache(self._p(before))
            if self.fs.exists(self._p(before)):
                self.remove_tree(before)
                removed += 1
        base = self.staging_base()
        for d in _entries(base):
            if d == dead or attempt_is_dead_here(d):
                try:
                    shutil.rmtree(base / d)
                except FileNotFoundError:  # another builder on this host swept it first
                    continue
                removed += 1
        return removed


def _entries(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []

