"""Leases: at most one builder computes a key at a time, and a dead builder's claim expires.

A lease is a small object ``<layer>/leases/<game>.<key>.json`` holding the holder's attempt
id, host, pid and an expiry time. A builder takes it with a conditional create before
computing a key, renews it from a background thread every third of its time to live, and
deletes it when the task ends. Another builder that finds the lease:

* live: does not compute the key now (the build runner looks again later; by then the key
  is usually committed and is reused);
* expired, or held by a process of this host that no longer exists: takes it over with a
  compare-and-swap on the version it read (S3 ``If-Match``), and sweeps the dead holder's
  files.

Leases save work; they do not carry correctness. If a holder stalls past its expiry and the
key is computed twice, the manifest's conditional create still lets only one publish. The
expiry is judged with the reader's clock against the holder's: hosts must agree on the time
to within a small fraction of the time to live (NTP). See docs/scaling.md.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, ValidationError

from artifacts.errors import StoreError
from artifacts.store.manifest import host_name
from artifacts.store.store import Store, attempt_is_dead_here

DEFAULT_TTL_S = 60.0
_TAKE_TRIES = 5  # create/read/replace rounds before giving up to a competitor


class LeaseRecord(BaseModel):
    """The content of a lease object."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    holder: str  # the attempt id (host-pid-random)
    host: str
    pid: int
    expires: float  # seconds since the epoch, by the holder's clock
    ttl_s: float
    taken: str  # UTC, ISO 8601

    def body(self) -> bytes:
        return self.model_dump_json().encode()


@dataclass(frozen=True)
class Held:
    """The key is being built by someone else; their record (None if unreadable)."""

    record: LeaseRecord | None

    def text(self) -> str:
        r = self.record
        if r is None:
            return "another builder holds its lease"
        left = max(0.0, r.expires - time.time())
        return f"being built by {r.holder} on {r.host} (lease expires in {left:.0f} s)"


class Lease:
    """A lease this process holds. Use :meth:`kept` around the work it protects."""

    def __init__(self, store: Store, path: str, record: LeaseRecord, token: object, took_over_from: str | None, clock: Callable[[], float]) -> None:
        self.store = store
        self.path = path
        self.record = record
        self.took_over_from = took_over_from
        self.lost = False  # another builder took it over (we stalled past the expiry)
        self.renewals = 0
        self.last_error: Exception | None = None  # of the last failed renewal, if any
        self._token = token
        self._clock = clock
        self._lock = threading.Lock()

    def renew(self) -> bool:
        """Push the expiry one time-to-live ahead; False once the lease was lost."""
        with self._lock:
            if self.lost:
                return False
            record = self.record.model_copy(update={"expires": self._clock() + self.record.ttl_s})
            token = self.store.backend.replace(self.path, record.body(), self._token)
            if token is None:
                self.lost = True
                return False
            self.record, self._token = record, token
            self.renewals += 1
            return True

    def release(self) -> bool:
        """Delete the lease if it is still ours."""
        with self._lock:
            if self.lost:
                return False
            self.lost = True
            return self.store.backend.delete(self.path, self._token)

    @contextmanager
    def kept(self, renewer: Renewer | None = None) -> Iterator[Lease]:
        """Renew in the background while the body runs; release at the end, however it ends.

        ``renewer`` is the builder process's shared renewal thread; without one, a thread is
        started for this lease alone (starting a thread per task costs milliseconds).
        """
        own = renewer is None
        keeper = Renewer() if renewer is None else renewer
        keeper.add(self)
        try:
            yield self
        finally:
            keeper.remove(self)
            if own:
                keeper.stop()
            self.release()


class Renewer:
    """One background thread that renews every lease of a builder process a third of its time
    to live after the last renewal. Owned by whoever builds (one per task executor)."""

    def __init__(self) -> None:
        self._due: dict[int, tuple[Lease, float]] = {}  # id(lease) -> (lease, monotonic due time)
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._wake_at = 0.0  # when the thread will look next (monotonic)

    def add(self, lease: Lease) -> None:
        with self._cond:
            at = time.monotonic() + lease.record.ttl_s / 3
            self._due[id(lease)] = (lease, at)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)
                self._thread.start()
            if at < self._wake_at:  # only then: waking the thread for nothing costs every task
                self._cond.notify()

    def remove(self, lease: Lease) -> None:
        with self._cond:
            self._due.pop(id(lease), None)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                now = time.monotonic()
                due = [lease for lease, at in self._due.values() if at <= now]
                for lease in due:
                    self._due[id(lease)] = (lease, now + lease.record.ttl_s / 3)
                if not due:
                    self._wake_at = min((at for _l, at in self._due.values()), default=now + 3600.0)
                    self._cond.wait(timeout=max(0.0, self._wake_at - now))
                    continue
                self._wake_at = 0.0  # renewing: an add meanwhile must notify
            for lease in due:  # network calls outside the lock: add/remove never wait for them
                try:
                    if not lease.renew():
                        self.remove(lease)
                except (OSError, StoreError) as exc:  # a network blip: the next renewal may succeed before expiry
                    lease.last_error = exc


def _parse(body: bytes) -> LeaseRecord | None:
    try:
        return LeaseRecord.model_validate_json(body)
    except ValidationError:
        return None  # a torn or foreign object: nobody can be relying on it


def is_dead(record: LeaseRecord | None, now: float) -> bool:
    """Whether a lease can be taken over: unreadable, expired, or its holder died on this host."""
    return record is None or record.expires <= now or attempt_is_dead_here(record.holder)


def acquire(store: Store, layer: str, game: str, key: str, holder: str, ttl_s: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.time) -> Lease | Held:
    """Take the lease of (layer, game, key) for attempt ``holder``, or say who holds it."""
    return acquire_at(store, store.lease_path(layer, game, key), holder, ttl_s, clock)


def acquire_at(store: Store, path: str, holder: str, ttl_s: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.time) -> Lease | Held:
    """Take the lease object at ``path`` (a key's, or a chunk's) for ``holder``, or say who holds it."""
    backend = store.backend
    current: LeaseRecord | None = None
    for _ in range(_TAKE_TRIES):
        now = clock()
        record = LeaseRecord(
            holder=holder, host=host_name(), pid=os.getpid(), expires=now + ttl_s, ttl_s=ttl_s,
            taken=datetime.now(UTC).isoformat(timespec="milliseconds"),
        )
        token = backend.create(path, record.body())
        if token is not None:
            return Lease(store, path, record, token, None, clock)
        seen = backend.read(path)
        if seen is None:
            continue  # released between our create and our read: try again
        current = _parse(seen[0])
        if not is_dead(current, now):
            return Held(current)
        token = backend.replace(path, record.body(), seen[1])
        if token is not None:
            return Lease(store, path, record, token, current.holder if current else None, clock)
        # someone else changed it first (renewed, released, or took it over): look again
    return Held(current)


def read_lease(store: Store, layer: str, game: str, key: str) -> LeaseRecord | None:
    """The current lease of a key, if any and readable."""
    return read_lease_at(store, store.lease_path(layer, game, key))


def read_lease_at(store: Store, path: str) -> LeaseRecord | None:
    """The lease object at ``path``, if any and readable."""
    seen = store.backend.read(path)
    return None if seen is None else _parse(seen[0])


def remove_dead_lease(store: Store, layer: str, game: str, key: str, now: float | None = None) -> bool:
    """Delete the lease of a key if it is dead (for gc); False if absent, live or changed."""
    return remove_dead_lease_at(store, store.lease_path(layer, game, key), now)


def remove_dead_lease_at(store: Store, path: str, now: float | None = None) -> bool:
    """Delete the lease object at ``path`` if it is dead; False if absent, live or changed."""
    seen = store.backend.read(path)
    if seen is None or not is_dead(_parse(seen[0]), time.time() if now is None else now):
        return False
    return store.backend.delete(path, seen[1])
