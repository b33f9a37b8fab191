"""The few storage primitives the commit protocol and leases need, per kind of filesystem.

Object stores have no rename and no hard link, so "first writer wins" and "replace only what
I read" are expressed as conditional requests. Each backend offers:

* :meth:`Backend.create` - write an object only if it does not exist (returns a version token,
  or None when it already existed);
* :meth:`Backend.read` - an object's bytes with the version token they belong to;
* :meth:`Backend.replace` / :meth:`Backend.delete` - overwrite or delete it only if it is still
  the version of that token;
* :meth:`Backend.list_layer` - the names under a layer's ``manifests/``, ``failures/``,
  ``leases/`` and ``pins/``, with as few listing requests as the backend allows;
* :meth:`Backend.read_many` - many small objects at once (concurrent requests on object stores).

Backends:

* local directories (:class:`LocalBackend`): ``os.link`` of a temporary file (atomic,
  exclusive); replace and delete under an ``flock`` of the directory's ``.lock`` file, whose
  lock dies with its process;
* S3 through s3fs (:class:`S3Backend`): ``PutObject`` with ``If-None-Match: *``, ``PutObject``
  and ``DeleteObject`` with ``If-Match: <ETag>``; a layer is listed with one paginated
  ``ListObjectsV2`` whose delimiter ``data/`` folds every output file into one prefix;
* GCS through gcsfs and the in-memory filesystem (:class:`GenericBackend`):
  ``pipe_file(mode="create")`` (gcsfs sends ``ifGenerationMatch=0``: atomic; the memory
  filesystem checks then writes, which is atomic only within one process), and replace/delete
  by comparing the bytes read, which is **not** atomic (see docs/scaling.md).

Any other protocol has no conditional create known here; :func:`backend_for` says so and
:meth:`Backend.check_writable` refuses to build there.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from artifacts.errors import StoreError

# The subdirectories of a layer that hold small records named "<game>.<key>.json".
RECORD_DIRS = ("manifests", "failures", "leases", "pins", "signals")


class Backend:
    """Conditional-write primitives over one fsspec filesystem (see the module docstring)."""

    name = "generic"
    atomic_create = True  # create is exclusive against other processes and hosts
    atomic_replace = True  # replace and delete are compare-and-swap against other processes and hosts

    def __init__(self, fs: Any, url: str) -> None:
        self.fs = fs
        self.url = url

    def check_writable(self) -> None:
        """Refuse to publish on a filesystem without a known conditional create."""

    def create(self, path: str, body: bytes, durable: bool = False) -> object | None:
        """Write ``body`` at ``path`` if nothing is there; its version token, else None."""
        try:
            self.fs.pipe_file(path, body, mode="create")
        except FileExistsError:
            return None
        return body

    def read(self, path: str) -> tuple[bytes, object] | None:
        """The bytes at ``path`` and their version token, or None if absent."""
        self.fs.invalidate_cache(path)
        try:
            body: bytes = self.fs.cat_file(path)
        except FileNotFoundError:
            return None
        return body, body

    def replace(self, path: str, body: bytes, token: object) -> object | None:
        """Overwrite ``path`` with ``body`` if it is still the version ``token``; new token or None."""
        current = self.read(path)
        if current is None or current[1] != token:
            return None
        self.fs.pipe_file(path, body)
        return body

    def delete(self, path: str, token: object) -> bool:
        """Delete ``path`` if it is still the version ``token``."""
        current = self.read(path)
        if current is None or current[1] != token:
            return False
        self.fs.rm_file(path)
        return True

    def read_many(self, paths: list[str]) -> dict[str, bytes]:
        """The bytes of each of ``paths`` that exists (fetched concurrently by async filesystems)."""
        if not paths:
            return {}
        for p in paths:
            self.fs.invalidate_cache(p)
        found: dict[str, bytes] = self.fs.cat(paths, on_error="omit")
        # fsspec may return paths without the protocol: map back to what was asked.
        stripped = {self.fs._strip_protocol(p): p for p in paths}
        return {stripped.get(self.fs._strip_protocol(k), k): v for k, v in found.items()}

    def names(self, path: str) -> list[str]:
        """Names directly under the directory ``path`` (empty if absent)."""
        self.fs.invalidate_cache(path)
        try:
            return [p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(path, detail=False)]
        except FileNotFoundError:
            return []

    def list_layer(self, layer_path: str, subdirs: tuple[str, ...] = RECORD_DIRS) -> dict[str, dict[str, float | None]]:
        """Names under each of ``subdirs`` of the layer at ``layer_path``, with their
        modification time when the listing gives it for free (S3), else None."""
        return {d: dict.fromkeys(self.names(f"{layer_path}/{d}")) for d in subdirs}


class LocalBackend(Backend):
    """A local (or network-mounted) directory: link, rename and flock."""

    name = "local"

    def create(self, path: str, body: bytes, durable: bool = False) -> object | None:
        d = Path(path).parent
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f".tmp.{uuid.uuid4().hex}"
        with open(tmp, "wb") as f:
            f.write(body)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # atomic and exclusive: the first writer wins
        except FileExistsError:
            return None
        finally:
            tmp.unlink()
        if durable:
            fsync_dir(d)
        return body

    def read(self, path: str) -> tuple[bytes, object] | None:
        try:
            with open(path, "rb") as f:
                body = f.read()
        except FileNotFoundError:
            return None
        return body, body

    def read_many(self, paths: list[str]) -> dict[str, bytes]:
        out = {}
        for p in paths:
            seen = self.read(p)
            if seen is not None:
                out[p] = seen[0]
        return out

    @contextmanager
    def _locked(self, path: str) -> Iterator[None]:
        # One lock file per directory, never deleted: replace and delete are read-compare-act
        # sequences, and the lock makes them atomic against each other. An flock is released
        # by the kernel when its holder dies, so a killed builder never leaves it taken.
        d = Path(path).parent
        d.mkdir(parents=True, exist_ok=True)
        fd = os.open(d / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def replace(self, path: str, body: bytes, token: object) -> object | None:
        with self._locked(path):
            current = self.read(path)
            if current is None or current[1] != token:
                return None
            tmp = f"{path}.tmp.{uuid.uuid4().hex}"
            with open(tmp, "wb") as f:
                f.write(body)
            os.replace(tmp, path)
        return body

    def delete(self, path: str, token: object) -> bool:
        with self._locked(path):
            current = self.read(path)
            if current is None or current[1] != token:
                return False
            os.unlink(path)
        return True

    def names(self, path: str) -> list[str]:
        try:
            with os.scandir(path) as it:
                return [e.name for e in it]
        except FileNotFoundError:
            return []


def _precondition_failed(exc: BaseException) -> bool:
    """Whether an s3fs error is an S3 412 (a condition that did not hold)."""
    cause = exc.__cause__
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        return bool(response.get("Error", {}).get("Code") == "PreconditionFailed")
    return False


class S3Backend(Backend):
    """S3 (and S3-compatible servers) through s3fs: conditional PutObject/DeleteObject."""

    name = "s3"
    PAGE = 1000  # ListObjectsV2 returns at most 1,000 entries per request

    def create(self, path: str, body: bytes, durable: bool = False) -> object | None:
        try:
            out = self.fs.pipe_file(path, body, mode="create")  # PutObject, If-None-Match: *
        except FileExistsError:
            return None
        return _etag(out)

    def read(self, path: str) -> tuple[bytes, object] | None:
        # The ETag first, then the bytes: if the object changes in between, the bytes are newer
        # than the token and a conditional write with that token fails, which is safe.
        self.fs.invalidate_cache(path)
        try:
            etag = self.fs.info(path)["ETag"]
            body: bytes = self.fs.cat_file(path)
        except FileNotFoundError:
            return None
        return body, etag

    def replace(self, path: str, body: bytes, token: object) -> object | None:
        try:
            out = self.fs.pipe_file(path, body, IfMatch=str(token))
        except FileNotFoundError:
            return None
        except OSError as exc:
            if _precondition_failed(exc):
                return None
            raise
        return _etag(out)

    def delete(self, path: str, token: object) -> bool:
        bucket, key, _ = self.fs.split_path(path)
        try:
            self.fs.call_s3("delete_object", Bucket=bucket, Key=key, IfMatch=str(token))
        except FileNotFoundError:
            return False
        except OSError as exc:
            if _precondition_failed(exc):
                return False
            raise
        finally:
            self.fs.invalidate_cache(path)
        return True

    def list_layer(self, layer_path: str, subdirs: tuple[str, ...] = RECORD_DIRS) -> dict[str, dict[str, float | None]]:
        # One paginated listing for the whole layer: the delimiter "data/" folds every output
        # file under <layer>/data/ into a single common prefix, so only the small records are
        # returned, whatever the number of games. (No record name contains "data/": names
        # have no "/".)
        bucket, prefix, _ = self.fs.split_path(layer_path.rstrip("/") + "/")
        out: dict[str, dict[str, float | None]] = {d: {} for d in subdirs}
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "data/", "MaxKeys": self.PAGE}
            if token:
                kwargs["ContinuationToken"] = token
            try:
                page = self.fs.call_s3("list_objects_v2", **kwargs)
            except FileNotFoundError:  # no such bucket: nothing stored
                return out
            for obj in page.get("Contents", ()):
                sub, _, name = obj["Key"][len(prefix):].partition("/")
                if sub in out and "/" not in name:
                    stamp = obj.get("LastModified")
                    out[sub][name] = stamp.timestamp() if stamp is not None else None
            if not page.get("IsTruncated"):
                return out
            token = page["NextContinuationToken"]


def _etag(response: Any) -> str:
    if isinstance(response, dict) and response.get("ETag"):
        return str(response["ETag"])
    raise StoreError("S3 PutObject", None, "returned no ETag", "use an S3 API server that returns ETags (every known one does)")


class GcsBackend(Backend):
    """GCS through gcsfs: ``pipe_file(mode="create")`` sends ``ifGenerationMatch=0`` (atomic);
    replace and delete compare the bytes read, which is not atomic (see docs/scaling.md)."""

    name = "gcs"
    atomic_replace = False


class MemoryBackend(Backend):
    """fsspec's in-memory filesystem: one process only (tests, experiments)."""

    name = "memory"
    atomic_create = False
    atomic_replace = False


class UnsupportedBackend(Backend):
    """A filesystem on which no conditional create is known: readable, not publishable."""

    name = "unsupported"
    atomic_create = False
    atomic_replace = False

    def check_writable(self) -> None:
        proto = _protocols(self.fs)[0]
        raise StoreError(
            "store", self.url, f"protocol {proto} has no conditional create known to this version, so two builders could publish one key twice",
            "use a local path, s3:// or gs:// (see docs/scaling.md)",
        )


def _protocols(fs: Any) -> tuple[str, ...]:
    p = fs.protocol
    return (p,) if isinstance(p, str) else tuple(p)


def backend_for(fs: Any, url: str) -> Backend:
    """The backend for an fsspec filesystem instance."""
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(fs, LocalFileSystem):
        return LocalBackend(fs, url)
    protocols = set(_protocols(fs))
    if protocols & {"s3", "s3a"}:
        return S3Backend(fs, url)
    if protocols & {"gs", "gcs"}:
        return GcsBackend(fs, url)
    if "memory" in protocols:
        return MemoryBackend(fs, url)
    return UnsupportedBackend(fs, url)


def fsync_dir(path: Path) -> None:
    """fsync a directory, so that a link or rename in it survives a power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
