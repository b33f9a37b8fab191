"""Verify: re-hash stored outputs against the sizes and digests their manifests record.

A manifest lists every output file of its artifact with its size and xxh3-128 digest (see
docs/store.md). :func:`check_output` checks one file; :func:`verify_store` checks every
artifact of some layers and reports, per artifact, the files that are missing, have another
size or digest, or that the manifest does not list, and manifests that cannot be read or whose
recipe does not hash to their key. It reads every byte of every output once.

Build workers call :func:`check_output` on each upstream file before a generator reads it
(once per task and file), so a corrupt upstream artifact fails the task with an error naming
it instead of being read silently.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from artifacts.errors import CorruptArtifactError, CorruptChunkError, StoreError
from artifacts.keys import hash_file, hash_stream
from artifacts.store.chunks import ChunkRecord
from artifacts.store.manifest import Manifest, OutputFile
from artifacts.store.store import Store

ProblemKind = Literal["missing", "size", "digest", "extra", "manifest", "recipe"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one artifact."""

    layer: str
    game: str
    key: str
    kind: ProblemKind
    path: str  # the output file (relative to the data directory), or "" for the manifest
    detail: str

    def text(self) -> str:
        where = f" {self.path}" if self.path else ""
        return f"{self.layer} {self.game} {self.key[:12]}{where}: {self.kind}: {self.detail}"

    def record(self) -> dict[str, str]:
        return {"layer": self.layer, "game": self.game, "key": self.key, "kind": self.kind, "path": self.path, "detail": self.detail}


@dataclass
class VerifyReport:
    """What :func:`verify_store` checked and found."""

    layers: list[str]
    artifacts: int = 0
    files: int = 0
    bytes: int = 0
    problems: list[Problem] = field(default_factory=list)

    def ok(self) -> bool:
        return not self.problems

    def bad_artifacts(self) -> list[tuple[str, str, str]]:
        """(layer, game, key) of every artifact with a problem, sorted, once each."""
        return sorted({(p.layer, p.game, p.key) for p in self.problems})


def _file_digest(store: Store, path: str, size: int) -> str:
    if store.local:
        return hash_file(path)
    with store.fs.open(path, "rb") as f:
        return hash_stream(f, size)


def output_problem(store: Store, manifest: Manifest | ChunkRecord, out: OutputFile, size: int | None = None) -> Problem | None:
    """The problem with one output file of ``manifest`` (or of a chunk's record), or None when it matches.

    ``size`` is the size already known from a listing (None: ask the filesystem).
    """
    path = f"{store.data_path(manifest.data)}/{out.path}"

    def problem(kind: ProblemKind, detail: str) -> Problem:
        return Problem(manifest.layer, manifest.game, manifest.key, kind, out.path, detail)

    if size is None:
        try:
            size = os.stat(path).st_size if store.local else int(store.fs.info(path)["size"])
        except FileNotFoundError:
            return problem("missing", "the file is gone")
    if size != out.size:
        return problem("size", f"{size} bytes, the manifest records {out.size}")
    try:
        digest = _file_digest(store, path, size)
    except FileNotFoundError:
        return problem("missing", "the file is gone")
    if digest != out.digest:
        return problem("digest", f"{digest}, the manifest records {out.digest}")
    return None


def check_output(store: Store, manifest: Manifest | ChunkRecord, out: OutputFile) -> None:
    """Raise :class:`CorruptArtifactError` unless the output file matches its manifest (or chunk record)."""
    p = output_problem(store, manifest, out)
    if p is not None and isinstance(manifest, ChunkRecord):
        raise CorruptChunkError(
            manifest.index, f"chunk {manifest.index} of {p.layer}/{p.game}", p.key, f"output {p.path} is corrupt ({p.kind}: {p.detail})",
            "build again: a corrupt chunk is computed anew",
        )
    if p is not None:
        raise CorruptArtifactError(
            f"artifact {p.layer}/{p.game}", p.key, f"output {p.path} is corrupt ({p.kind}: {p.detail})",
            f"run 'artifacts verify {p.layer}' to list corrupt artifacts and 'artifacts verify {p.layer} --drop' to remove them, then build again",
        )


def _listed_files(store: Store, manifest: Manifest) -> dict[str, int]:
    """Relative path -> size of every file under the artifact's data directory."""
    base = store.data_path(manifest.data)
    out: dict[str, int] = {}
    if store.local:
        for dirpath, _dirs, files in os.walk(base):
            for f in files:
                p = Path(dirpath) / f
                out[p.relative_to(base).as_posix()] = p.stat().st_size
        return out
    store.fs.invalidate_cache(base)
    try:
        found = store.fs.find(base, detail=True)
    except FileNotFoundError:
        return out
    for name, info in found.items():
        if info.get("type") != "directory":
            out[name[len(base.rstrip("/")) + 1:]] = int(info["size"])
    return out


def verify_artifact(store: Store, layer: str, game: str, key: str) -> tuple[list[Problem], int, int]:
    """Problems of one artifact, with the number of files and bytes checked."""
    try:
        manifest = store.manifest(layer, game, key)
    except StoreError as exc:
        return [Problem(layer, game, key, "manifest", "", exc.problem)], 0, 0
    if manifest is None:  # removed since the listing (gc, verify --drop): nothing to check
        return [], 0, 0
    problems: list[Problem] = []
    if manifest.key != key or manifest.layer != layer or manifest.game != game:
        problems.append(Problem(layer, game, key, "manifest", "", f"names {manifest.layer}/{manifest.game} {manifest.key}"))
    elif manifest.recipe.key() != key:
        problems.append(Problem(layer, game, key, "recipe", "", f"its recipe hashes to {manifest.recipe.key()}"))
    present = _listed_files(store, manifest)
    checked_bytes = 0
    for out in manifest.outputs:
        size = present.pop(out.path, None)
        if size is None:
            problems.append(Problem(layer, game, key, "missing", out.path, "the file is gone"))
            continue
        p = output_problem(store, manifest, out, size)
        if p is not None:
            problems.append(p)
        checked_bytes += size
    for extra in sorted(present):
        problems.append(Problem(layer, game, key, "extra", extra, "a file the manifest does not list"))
    return problems, len(manifest.outputs), checked_bytes


def verify_store(
    store: Store,
    layers: list[str] | None = None,
    games: Iterable[str] | None = None,
    jobs: int = 4,
    on_artifact: Callable[[str, str, str, list[Problem]], None] | None = None,
) -> VerifyReport:
    """Verify every artifact of ``layers`` (default: every layer in the store) for ``games``
    (default: all), hashing with ``jobs`` threads."""
    names = layers if layers else store.layers()
    wanted = set(games) if games else None
    report = VerifyReport(names)
    todo: list[tuple[str, str, str]] = []
    for layer in names:
        for game, keys in sorted(store.list_layer(layer, ("manifests",)).committed.items()):
            if wanted is None or game in wanted:
                todo.extend((layer, game, key) for key in sorted(keys))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for (layer, game, key), (problems, files, nbytes) in zip(todo, pool.map(lambda t: verify_artifact(store, *t), todo)):
            report.artifacts += 1
            report.files += files
            report.bytes += nbytes
            report.problems.extend(problems)
            if on_artifact is not None:
                on_artifact(layer, game, key, problems)
    return report


def drop_artifacts(store: Store, artifacts: list[tuple[str, str, str]]) -> int:
    """Remove the given artifacts (manifest first, then data), so that a build redoes them."""
    n = 0
    for layer, game, key in artifacts:
        try:
            manifest = store.manifest(layer, game, key)
        except StoreError:  # unreadable: its data directory cannot be found, gc removes it later
            store.fs.rm_file(store.manifest_path(layer, game, key))
            n += 1
            continue
        if manifest is not None:
            store.remove_artifact(manifest)
            n += 1
    return n
