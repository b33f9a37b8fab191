"""Leases on a local store and on S3 (moto): exclusive take, renewal, expiry and takeover."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from s3_server import S3Server

from artifacts.store import Held, Lease, LeaseRecord, Renewer, Store, acquire, host_id, new_attempt_id, read_lease, remove_dead_lease

KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        s = Store(str(tmp_path / "store"))
    else:
        s3: S3Server = request.getfixturevalue("s3")
        bucket: str = request.getfixturevalue("bucket")
        s = Store(f"s3://{bucket}/store", s3.options())
    s.ensure()
    return s


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def take(store: Store, holder: str, clock: Clock, ttl: float = 60) -> Lease | Held:
    return acquire(store, "l", "g", KEY, holder, ttl, clock)


def test_a_live_lease_is_exclusive_and_names_its_holder(store: Store) -> None:
    clock = Clock()
    a = take(store, "hostA-1-aaaaaaaaaaaa", clock)
    assert isinstance(a, Lease) and a.took_over_from is None
    b = take(store, "hostB-2-bbbbbbbbbbbb", clock)
    assert isinstance(b, Held) and b.record is not None and b.record.holder == "hostA-1-aaaaaaaaaaaa"
    rec = read_lease(store, "l", "g", KEY)
    assert rec is not None and rec.expires == clock.now + 60
    assert store.list_layer("l", ("leases",)).leased == {"g": [KEY]}
    assert a.release() is True
    assert read_lease(store, "l", "g", KEY) is None
    assert isinstance(take(store, "hostB-2-bbbbbbbbbbbb", clock), Lease)


def test_renewal_pushes_the_expiry_and_keeps_others_out(store: Store) -> None:
    clock = Clock()
    a = take(store, "hostA-1-aaaaaaaaaaaa", clock)
    assert isinstance(a, Lease)
    clock.now += 50
    assert a.renew() is True
    clock.now += 50  # 100 s after taking, 50 s after renewing: still live
    assert isinstance(take(store, "hostB-2-bbbbbbbbbbbb", clock), Held)
    rec = read_lease(store, "l", "g", KEY)
    assert rec is not None and rec.expires == 1_000_000.0 + 50 + 60


def test_an_expired_lease_is_taken_over_and_the_old_holder_finds_it_lost(store: Store) -> None:
    clock = Clock()
    a = take(store, "hostA-1-aaaaaaaaaaaa", clock)
    assert isinstance(a, Lease)
    clock.now += 61
    b = take(store, "hostB-2-bbbbbbbbbbbb", clock)
    assert isinstance(b, Lease) and b.took_over_from == "hostA-1-aaaaaaaaaaaa"
    # A stalled past its expiry: its renewal and release fail and leave B's lease alone
    assert a.renew() is False and a.lost
    assert a.release() is False
    rec = read_lease(store, "l", "g", KEY)
    assert rec is not None and rec.holder == "hostB-2-bbbbbbbbbbbb"


def test_the_lease_of_a_dead_process_on_this_host_is_taken_over_before_expiry(store: Store) -> None:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead = f"{host_id()}-{int(done.stdout)}-deadbeef0000"
    clock = Clock()
    assert isinstance(take(store, dead, clock), Lease)
    b = take(store, new_attempt_id(), clock)  # same host, the holder's pid is gone: no need to wait
    assert isinstance(b, Lease) and b.took_over_from == dead


def test_a_killed_holder_not_yet_reaped_counts_as_dead(store: Store) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        holder = f"{host_id()}-{child.pid}-deadbeef0001"
        clock = Clock()
        assert isinstance(take(store, holder, clock), Lease)
        assert isinstance(take(store, new_attempt_id(), clock), Held)  # alive: its lease holds
        child.kill()
        time.sleep(0.2)  # killed, and not waited for: a zombie until reaped
        b = take(store, new_attempt_id(), clock)
        assert isinstance(b, Lease) and b.took_over_from == holder
    finally:
        child.kill()
        child.wait()


def test_kept_renews_in_the_background_and_releases_at_the_end(store: Store) -> None:
    a = acquire(store, "l", "g", KEY, new_attempt_id(), ttl_s=0.6)
    assert isinstance(a, Lease)
    with a.kept():
        time.sleep(1.0)  # longer than the time to live: renewals every 0.2 s keep it live
        assert isinstance(acquire(store, "l", "g", KEY, "hostB-2-bbbbbbbbbbbb", ttl_s=0.6), Held)
    assert a.renewals >= 2 and a.last_error is None
    assert read_lease(store, "l", "g", KEY) is None


def test_one_renewer_thread_keeps_several_leases(store: Store) -> None:
    renewer = Renewer()
    a = acquire(store, "l", "g", KEY, new_attempt_id(), ttl_s=0.6)
    b = acquire(store, "l", "h", KEY, new_attempt_id(), ttl_s=0.6)
    assert isinstance(a, Lease) and isinstance(b, Lease)
    with a.kept(renewer), b.kept(renewer):
        time.sleep(1.0)
        assert isinstance(acquire(store, "l", "g", KEY, "hostB-2-bbbbbbbbbbbb", ttl_s=0.6), Held)
        assert isinstance(acquire(store, "l", "h", KEY, "hostB-2-bbbbbbbbbbbb", ttl_s=0.6), Held)
    assert a.renewals >= 2 and b.renewals >= 2
    assert read_lease(store, "l", "g", KEY) is None and read_lease(store, "l", "h", KEY) is None
    renewer.stop()


def test_gc_removes_only_dead_leases(store: Store) -> None:
    clock = Clock()
    a = take(store, "hostA-1-aaaaaaaaaaaa", clock)
    assert isinstance(a, Lease)
    assert remove_dead_lease(store, "l", "g", KEY, now=clock.now + 10) is False
    assert remove_dead_lease(store, "l", "g", KEY, now=clock.now + 61) is True
    assert read_lease(store, "l", "g", KEY) is None


def test_an_unreadable_lease_object_is_taken_over(store: Store) -> None:
    store.fs.makedirs(store.lease_path("l", "g", KEY).rsplit("/", 1)[0], exist_ok=True)
    store.fs.pipe_file(store.lease_path("l", "g", KEY), b"{torn")
    a = take(store, "hostA-1-aaaaaaaaaaaa", Clock())
    assert isinstance(a, Lease) and a.took_over_from is None
    assert LeaseRecord.model_validate_json(store.fs.cat_file(store.lease_path("l", "g", KEY))).holder == "hostA-1-aaaaaaaaaaaa"
