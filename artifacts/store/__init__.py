"""Bytes at rest: the artifact store and its commit protocol, on any fsspec URL.

Manifests (the commit point), staging and publish, leases (one builder per key), pins,
verify, and the per-filesystem primitives (conditional create on object stores) they rest on.
Depends on :mod:`artifacts.keys` and :mod:`artifacts.errors`; knows nothing of layers,
models or workspaces.
"""

from __future__ import annotations

from artifacts.store.lease import Held, Lease, LeaseRecord, Renewer, acquire, is_dead, read_lease, remove_dead_lease
from artifacts.store.manifest import Builder, FailureRecord, Manifest, OutputFile, Timings, current_user, host_name, library_versions
from artifacts.store.objectstore import backend_for
from artifacts.store.pins import list_pins, pin, unpin
from artifacts.store.store import LayerListing, Staging, Store, attempt_is_dead_here, host_id, new_attempt_id
from artifacts.store.verify import check_output, drop_artifacts, verify_store

__all__ = [
    "Builder",
    "FailureRecord",
    "Held",
    "LayerListing",
    "Lease",
    "LeaseRecord",
    "Manifest",
    "OutputFile",
    "Renewer",
    "Staging",
    "Store",
    "Timings",
    "acquire",
    "attempt_is_dead_here",
    "backend_for",
    "check_output",
    "current_user",
    "drop_artifacts",
    "host_id",
    "host_name",
    "is_dead",
    "library_versions",
    "list_pins",
    "new_attempt_id",
    "pin",
    "read_lease",
    "remove_dead_lease",
    "unpin",
    "verify_store",
]
