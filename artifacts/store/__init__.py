"""Bytes at rest: the artifact store and its commit protocol, on any fsspec URL.

Manifests (the commit point), staging and publish, leases (one builder per key), pins,
verify, and the per-filesystem primitives (conditional create on object stores) they rest on.
Depends on :mod:`artifacts.keys` and :mod:`artifacts.errors`; knows nothing of layers,
models or workspaces.
"""

from __future__ import annotations

from artifacts.store.chunks import (
    CHUNKS_SUFFIX,
    ChunkRecord,
    chunk_data_dir,
    chunk_lease_path,
    chunks_dir,
    commit_chunk,
    committed_chunks,
    drop_chunk,
    is_chunks_dir,
    read_chunk,
    read_plan,
    remove_chunks,
    sweep_dead_chunk_attempts,
    write_plan,
)
from artifacts.store.lease import (
    Held,
    Lease,
    LeaseRecord,
    Renewer,
    acquire,
    acquire_at,
    is_dead,
    read_lease,
    read_lease_at,
    remove_dead_lease,
    remove_dead_lease_at,
)
from artifacts.store.manifest import Builder, FailureRecord, Manifest, OutputFile, Timings, current_user, host_name, library_versions
from artifacts.store.objectstore import backend_for
from artifacts.store.pins import list_pins, pin, unpin
from artifacts.store.store import LayerListing, Staging, Store, attempt_is_dead_here, host_id, new_attempt_id
from artifacts.store.verify import check_output, drop_artifacts, verify_store

__all__ = [
    "CHUNKS_SUFFIX",
    "Builder",
    "ChunkRecord",
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
    "acquire_at",
    "attempt_is_dead_here",
    "backend_for",
    "check_output",
    "chunk_data_dir",
    "chunk_lease_path",
    "chunks_dir",
    "commit_chunk",
    "committed_chunks",
    "current_user",
    "drop_artifacts",
    "drop_chunk",
    "host_id",
    "host_name",
    "is_chunks_dir",
    "is_dead",
    "library_versions",
    "list_pins",
    "new_attempt_id",
    "pin",
    "read_chunk",
    "read_lease",
    "read_lease_at",
    "read_plan",
    "remove_chunks",
    "remove_dead_lease",
    "remove_dead_lease_at",
    "sweep_dead_chunk_attempts",
    "unpin",
    "verify_store",
    "write_plan",
]
