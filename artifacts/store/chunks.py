"""Chunks at rest: the plan, the committed chunks and the chunk leases of one (layer, game, key).

A chunked task keeps what it has finished inside the layer's ``data/`` tree, beside the
artifact's own data directories, so that listing a layer (status) never sees it, and an object
store lists it only when a build or gc asks::

    <layer>/data/<game>/<key>.chunks/plan.json              the task's chunk plan, created once
    <layer>/data/<game>/<key>.chunks/<index>.json           a committed chunk (written last)
    <layer>/data/<game>/<key>.chunks/<index>.<attempt>/...  that chunk's output files
    <layer>/data/<game>/<key>.chunks/<index>.lease.json     the lease of the builder computing it

``<index>`` is the chunk's number, zero-padded to six digits. A chunk commits with the same
protocol as an artifact (:meth:`Store.publish`): its files first, then its record with a
conditional create, so the first builder to finish a chunk wins and a chunk either is
committed whole or does not exist. The plan is created the same way: two builders of one key
always agree on its chunks. Once the artifact is committed its chunks are removed; ``gc``
removes the chunks of keys that no root wants any more.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from artifacts.errors import StoreError
from artifacts.store.manifest import Builder, OutputFile, Signal, Timings
from artifacts.store.store import Store, attempt_is_dead_here

CHUNKS_SUFFIX = ".chunks"
PLAN_NAME = "plan.json"
INDEX_WIDTH = 6


class ChunkRecord(BaseModel):
    """The commit point of one chunk: what it is and its output files with sizes and digests."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    format: Literal[1] = 1
    layer: str
    game: str
    key: str  # the artifact's key: a chunk has no key of its own
    index: int
    label: str
    units: int
    data: str  # the chunk's data directory, relative to the store root
    outputs: list[OutputFile]
    timings: Timings
    builder: Builder
    signals: list[Signal] = []  # added up into the artifact's at the merge


def chunks_dir(layer: str, game: str, key: str) -> str:
    """The chunks directory of a key, relative to the store root."""
    return f"{layer}/data/{game}/{key}{CHUNKS_SUFFIX}"


def is_chunks_dir(name: str) -> bool:
    """Whether a directory name under ``<layer>/data/<game>/`` is a chunks directory."""
    return name.endswith(CHUNKS_SUFFIX)


def _index(index: int) -> str:
    return f"{index:0{INDEX_WIDTH}d}"


def chunk_data_dir(layer: str, game: str, key: str, index: int, attempt: str) -> str:
    """Where one attempt's chunk outputs go, relative to the store root."""
    return f"{chunks_dir(layer, game, key)}/{_index(index)}.{attempt}"


def chunk_lease_path(store: Store, layer: str, game: str, key: str, index: int) -> str:
    return store.data_path(f"{chunks_dir(layer, game, key)}/{_index(index)}.lease.json")


def _record_path(store: Store, layer: str, game: str, key: str, index: int) -> str:
    return store.data_path(f"{chunks_dir(layer, game, key)}/{_index(index)}.json")


def write_plan(store: Store, layer: str, game: str, key: str, body: bytes) -> bytes:
    """Create the key's chunk plan with ``body`` unless one exists; the plan that stands."""
    path = store.data_path(f"{chunks_dir(layer, game, key)}/{PLAN_NAME}")
    if store.backend.create(path, body, durable=True) is not None:
        return body
    seen = store.backend.read(path)
    if seen is None:  # removed between our create and our read (the artifact committed): ours stands
        raise StoreError(f"chunk plan of {layer}/{game}", key, "vanished while it was being read", "run the build again")
    return seen[0]


def read_plan(store: Store, layer: str, game: str, key: str) -> bytes | None:
    seen = store.backend.read(store.data_path(f"{chunks_dir(layer, game, key)}/{PLAN_NAME}"))
    return None if seen is None else seen[0]


def committed_chunks(store: Store, layer: str, game: str, key: str) -> set[int]:
    """Indices of the key's committed chunks (one directory listing)."""
    out = set()
    for name in store.backend.names(store.data_path(chunks_dir(layer, game, key))):
        stem, _, ext = name.partition(".")
        if ext == "json" and stem.isdigit():
            out.add(int(stem))
    return out


def read_chunk(store: Store, layer: str, game: str, key: str, index: int) -> ChunkRecord | None:
    """The record of a committed chunk, or None; a corrupt one is a StoreError naming it."""
    seen = store.backend.read(_record_path(store, layer, game, key, index))
    if seen is None:
        return None
    try:
        return ChunkRecord.model_validate_json(seen[0])
    except ValidationError as exc:
        raise StoreError(f"chunk {index} of {layer}/{game}", key, "has a corrupt record", "delete the key's chunks directory and build again") from exc


def commit_chunk(store: Store, src: Path, record: ChunkRecord) -> bool:
    """Publish one chunk's files from ``src`` and then its record; False if another builder's
    record of that chunk was there first (then ours is removed and theirs stands)."""
    path = _record_path(store, record.layer, record.game, record.key, record.index)
    return store.publish(src, record.data, path, record.model_dump_json(indent=1).encode(), record.outputs)


def sweep_dead_chunk_attempts(store: Store, layer: str, game: str, key: str, index: int, dead: str | None = None) -> int:
    """Remove data directories of ``index`` left by dead attempts (``dead``, the holder whose
    lease was taken over, or a dead process of this host); never the committed one."""
    committed = read_chunk(store, layer, game, key, index)
    live = committed.data.rsplit("/", 1)[-1] if committed else None
    prefix = _index(index) + "."
    removed = 0
    base = chunks_dir(layer, game, key)
    for name in store.backend.names(store.data_path(base)):
        if not name.startswith(prefix) or name == live or name.endswith(".json"):
            continue
        attempt = name[len(prefix):]
        if attempt == dead or attempt_is_dead_here(attempt):
            store.remove_tree(f"{base}/{name}")
            removed += 1
    return removed


def drop_chunk(store: Store, layer: str, game: str, key: str, index: int) -> None:
    """Remove a committed chunk (record first, so it stops existing, then its files): for a
    chunk found corrupt, which the build then computes again."""
    path = _record_path(store, layer, game, key, index)
    seen = store.backend.read(path)
    if seen is None:
        return
    record = read_chunk(store, layer, game, key, index)
    store.backend.delete(path, seen[1])
    if record is not None:
        store.remove_tree(record.data)


def remove_chunks(store: Store, layer: str, game: str, key: str) -> None:
    """Delete a key's chunks directory and everything in it (after its artifact committed)."""
    store.remove_tree(chunks_dir(layer, game, key))
