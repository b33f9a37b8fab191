"""Garbage collection: delete what no collection, pin or trained model reaches.

Roots:

* every expected key of every collection in models.yaml (``plan_keys`` over every layer the
  collection can run, for every registered game), labelled ``collection NAME``;
* every pinned artifact (:mod:`artifacts.store.pins`), labelled ``pin by USER (NOTE)``;
* every artifact a registered model version records in ``trained_on``, labelled
  ``trained_on of ROLE VERSION``.

Pinned and trained-on artifacts keep their upstream artifacts too (their recipes' upstream
keys, followed through the manifests); a collection's expected keys already include theirs.

Everything else is garbage: artifacts no root reaches (manifest, then data directory),
failure records of keys no root reaches, data directories no manifest references (crashed or
lost attempts), dead leases, staging directories of dead builders, and the chunks of chunked
tasks (``<key>.chunks``, :mod:`artifacts.store.chunks`) whose key is committed already or no
longer wanted by any root. The chunks of a wanted key that is not committed yet are kept: they
are a build's work in progress, which the next build resumes. A data directory, chunks
directory or staging directory is only removed when it is older than ``min_age_s`` and no
live lease covers its key (or one of its chunks), so that an attempt in progress (a build about to publish, a pull) is never
touched. :func:`collect` only looks; :func:`delete` removes what it found.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from artifacts.errors import StoreError
from artifacts.keys import seconds_of
from artifacts.plan import Engine
from artifacts.store import (
    CHUNKS_SUFFIX,
    Store,
    attempt_is_dead_here,
    is_chunks_dir,
    is_dead,
    list_pins,
    read_lease,
    read_lease_at,
    remove_dead_lease,
)

DEFAULT_MIN_AGE_S = 3600.0

ItemKind = Literal["artifact", "orphan", "chunks", "failure", "signals", "lease", "staging"]
ArtifactId = tuple[str, str, str]  # (layer, game, key)


@dataclass(frozen=True)
class Item:
    """One thing gc would delete."""

    kind: ItemKind
    layer: str
    game: str
    key: str
    path: str  # relative to the store root
    bytes: int

    def record(self) -> dict[str, object]:
        return {"kind": self.kind, "layer": self.layer, "game": self.game, "key": self.key, "path": self.path, "bytes": self.bytes}


@dataclass
class LayerSummary:
    kept: int = 0
    kept_bytes: int = 0
    artifacts: int = 0  # artifacts to delete
    artifact_bytes: int = 0
    orphans: int = 0  # unreferenced data directories to delete
    orphan_bytes: int = 0
    chunks: int = 0  # chunks directories of committed or unwanted keys to delete
    chunk_bytes: int = 0
    failures: int = 0
    signals: int = 0  # signal records of artifacts that are gone
    leases: int = 0

    @property
    def bytes(self) -> int:
        return self.artifact_bytes + self.orphan_bytes + self.chunk_bytes


@dataclass
class GcReport:
    """What gc keeps (with the roots that keep it) and what it deletes."""

    kept: dict[ArtifactId, set[str]] = field(default_factory=dict)
    kept_bytes: dict[ArtifactId, int] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    deleted: int = 0

    def layers(self) -> dict[str, LayerSummary]:
        out: dict[str, LayerSummary] = defaultdict(LayerSummary)
        for (layer, _g, _k), n in self.kept_bytes.items():
            out[layer].kept += 1
            out[layer].kept_bytes += n
        for it in self.items:
            s = out[it.layer]
            if it.kind == "artifact":
                s.artifacts += 1
                s.artifact_bytes += it.bytes
            elif it.kind == "orphan":
                s.orphans += 1
                s.orphan_bytes += it.bytes
            elif it.kind == "chunks":
                s.chunks += 1
                s.chunk_bytes += it.bytes
            elif it.kind == "failure":
                s.failures += 1
            elif it.kind == "signals":
                s.signals += 1
            elif it.kind == "lease":
                s.leases += 1
        return dict(sorted(out.items()))

    def kept_by_root(self) -> dict[str, dict[str, int]]:
        """layer -> root label -> number of artifacts that root keeps."""
        out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for (layer, _g, _k), roots in self.kept.items():
            for r in roots:
                out[layer][r] += 1
        return {l: dict(sorted(v.items())) for l, v in sorted(out.items())}

    def bytes_to_delete(self) -> int:
        return sum(it.bytes for it in self.items)


def roots(engine: Engine) -> dict[ArtifactId, set[str]]:
    """Every root artifact with the labels of the roots that reach it (see the module docstring)."""
    out: dict[ArtifactId, set[str]] = defaultdict(set)
    for coll in engine.models.spec.collections:
        unavailable = engine.unavailable_layers(coll)
        layers = [n for n in engine.dag.order if n not in unavailable]
        if not layers:
            continue
        plan = engine.plan_keys(layers, coll)
        for layer in layers:
            for game, key in plan.layers[layer].keys.items():
                out[(layer, game, key)].add(f"collection {coll}")
    store = engine.store
    extra: list[tuple[ArtifactId, str]] = []
    for p in list_pins(store):
        extra.append(((p.layer, p.game, p.key), p.label()))
    for role, rs in engine.models.spec.roles.items():
        for version, mv in rs.versions.items():
            for t in mv.trained_on:
                extra.append(((t.layer, t.game, t.key), f"trained_on of {role} {version}"))
    seen: set[tuple[ArtifactId, str]] = set()
    while extra:  # follow upstream keys through the manifests
        (layer, game, key), label = extra.pop()
        if ((layer, game, key), label) in seen:
            continue
        seen.add(((layer, game, key), label))
        out[(layer, game, key)].add(label)
        try:
            m = store.manifest(layer, game, key)
        except StoreError:  # an unreadable manifest: keep the artifact, verify reports it
            continue
        if m is not None:
            extra.extend(((up, game, k), label) for up, k in m.recipe.upstream.items())
    return dict(out)


@dataclass
class _Dir:
    bytes: int = 0
    newest: float = 0.0


def _data_dirs(store: Store, layer: str) -> dict[tuple[str, str], _Dir]:
    """(game, directory name) -> total bytes and newest modification of every data directory."""
    base = store.data_path(f"{layer}/data")
    out: dict[tuple[str, str], _Dir] = defaultdict(_Dir)
    if store.local:
        for game in _listdir(Path(base)):
            for d in _listdir(Path(base) / game):
                acc = out[(game, d)]
                top = Path(base) / game / d
                acc.newest = top.stat().st_mtime
                for dirpath, _dirs, files in os.walk(top):
                    for f in files:
                        st = (Path(dirpath) / f).stat()
                        acc.bytes += st.st_size
                        acc.newest = max(acc.newest, st.st_mtime)
        return dict(out)
    store.fs.invalidate_cache(base)
    try:
        found = store.fs.find(base, detail=True)
    except FileNotFoundError:
        return {}
    for name, info in found.items():
        rest = name[len(base.rstrip("/")) + 1:].split("/")
        if len(rest) < 3 or info.get("type") == "directory":
            continue
        acc = out[(rest[0], rest[1])]
        acc.bytes += int(info.get("size") or 0)
        acc.newest = max(acc.newest, seconds_of(info.get("LastModified") or info.get("mtime") or info.get("created")) or 0.0)
    return dict(out)


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


def _referenced(store: Store, layer: str, game: str, key: str, dirs: list[str]) -> str | None:
    """The data directory name the manifest of (layer, game, key) references."""
    candidates = [d for d in dirs if d.startswith(key + ".") and not is_chunks_dir(d)]
    if len(candidates) == 1:  # the usual case: no need to read the manifest
        return candidates[0]
    try:
        m = store.manifest(layer, game, key)
    except StoreError:
        return None
    return m.data.rsplit("/", 1)[-1] if m is not None else None


def _chunks_item(store: Store, layer: str, game: str, d: str, info: _Dir, committed: list[str], keep: dict[ArtifactId, set[str]],
                 live_keys: set[tuple[str, str]], min_age_s: float, now: float) -> Item | None:
    """The chunks directory ``d`` of (layer, game) as an item to delete, or None to keep it."""
    key = d[: -len(CHUNKS_SUFFIX)]
    if (game, key) in live_keys:
        return None  # its merge (or whole build) is running: it removes them itself
    if key not in committed and (layer, game, key) in keep:
        return None  # work in progress of a wanted key: the next build resumes from it
    if now - info.newest < min_age_s:
        return None  # too young to judge
    base = f"{layer}/data/{game}/{d}"
    for name in store.backend.names(store.data_path(base)):
        if name.endswith(".lease.json") and not is_dead(read_lease_at(store, store.data_path(f"{base}/{name}")), now):
            return None  # a chunk is being computed
    return Item("chunks", layer, game, key, base, info.bytes)


def collect(engine: Engine, min_age_s: float = DEFAULT_MIN_AGE_S, now: float | None = None) -> GcReport:
    """What gc would keep and delete in the engine's store (reads, never writes)."""
    store = engine.store
    now = time.time() if now is None else now
    keep = roots(engine)
    report = GcReport()
    for layer in store.layers():
        listing = store.list_layer(layer, ("manifests", "failures", "leases", "signals"))
        dirs = _data_dirs(store, layer)
        by_game: dict[str, list[str]] = defaultdict(list)
        for game, d in dirs:
            by_game[game].append(d)
        referenced: set[tuple[str, str]] = set()
        for game, keys in sorted(listing.committed.items()):
            for key in sorted(keys):
                ref = _referenced(store, layer, game, key, by_game.get(game, []))
                size = dirs[(game, ref)].bytes if ref is not None and (game, ref) in dirs else 0
                if ref is not None:
                    referenced.add((game, ref))
                aid = (layer, game, key)
                if aid in keep:
                    report.kept[aid] = keep[aid]
                    report.kept_bytes[aid] = size
                else:
                    report.items.append(Item("artifact", layer, game, key, f"{layer}/manifests/{game}.{key}.json", size))
        live_keys = set()
        for game, keys in listing.leased.items():
            for key in keys:
                if is_dead(read_lease(store, layer, game, key), now):
                    report.items.append(Item("lease", layer, game, key, f"{layer}/leases/{game}.{key}.json", 0))
                else:
                    live_keys.add((game, key))
        for (game, d), info in sorted(dirs.items()):
            if (game, d) in referenced:
                continue
            if is_chunks_dir(d):
                item = _chunks_item(store, layer, game, d, info, listing.committed.get(game, []), keep, live_keys, min_age_s, now)
                if item is not None:
                    report.items.append(item)
                continue
            key, _, attempt = d.partition(".")
            if (game, key) in live_keys:
                continue  # someone is building that key: this may be their upload
            if now - info.newest < min_age_s and not attempt_is_dead_here(attempt):
                continue  # too young to judge: perhaps a pull or a commit about to publish
            report.items.append(Item("orphan", layer, game, key, f"{layer}/data/{game}/{d}", info.bytes))
        for game, keys in sorted(listing.failed.items()):
            for key in sorted(keys):
                if (layer, game, key) not in keep:
                    report.items.append(Item("failure", layer, game, key, f"{layer}/failures/{game}.{key}.json", 0))
        for game, keys in sorted(listing.signaled.items()):
            for key in sorted(keys):
                gone = key not in listing.committed.get(game, ())
                if gone or (layer, game, key) not in keep:  # an index entry of an artifact gc keeps stays with it
                    report.items.append(Item("signals", layer, game, key, f"{layer}/signals/{game}.{key}.json", 0))
    if store.local:
        base = store.staging_base()
        for d in sorted(_listdir(base)):
            p = base / d
            if attempt_is_dead_here(d) or now - p.stat().st_mtime >= min_age_s:
                report.items.append(Item("staging", "", "", "", f".staging/{d}", sum(f.stat().st_size for f in p.rglob("*") if f.is_file())))
    return report


def delete(engine: Engine, report: GcReport, on_item: Callable[[Item], None] | None = None) -> int:
    """Delete what ``report`` lists; artifacts lose their manifest first. Returns the count."""
    store = engine.store
    n = 0
    for it in report.items:
        if it.kind == "artifact":
            try:
                m = store.manifest(it.layer, it.game, it.key)
            except StoreError:  # unreadable: remove the manifest; its data becomes an orphan for the next gc
                store.fs.rm_file(store.data_path(it.path))
                m = None
            if m is not None:
                store.remove_artifact(m)
        elif it.kind in ("orphan", "chunks"):
            store.remove_tree(it.path)
        elif it.kind in ("failure", "signals"):
            try:
                store.fs.rm_file(store.data_path(it.path))
            except FileNotFoundError:
                continue
        elif it.kind == "lease":
            if not remove_dead_lease(store, it.layer, it.game, it.key):
                continue
        elif it.kind == "staging":
            shutil.rmtree(store.data_path(it.path), ignore_errors=False)
        n += 1
        if on_item is not None:
            on_item(it)
    report.deleted = n
    return n
