"""Push and pull: copy artifacts between the local store and a remote one, by key.

An artifact is copied only when the destination lacks its key, with the store's own commit
protocol: the output files first, into a new data directory named after a new attempt id,
then the manifest with an exclusive create (so a copy racing a build or another copy of the
same key publishes at most once, and the loser's files are removed). The manifest is the
source's, byte for byte except its ``data`` field.

Digests are checked on the way: files read from a local source are re-hashed against the
manifest before they are uploaded (a corrupt local artifact is never pushed); downloaded files
are hashed before the manifest is written (a corrupt remote artifact is never pulled). Uploads
to S3 carry a CRC32 checksum that the server verifies (botocore's default), so the bytes that
arrive are the bytes that were hashed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from artifacts.errors import ArtifactsError, CorruptArtifactError, UsageError
from artifacts.keys import hash_file
from artifacts.plan import Engine
from artifacts.store import Manifest, Staging, Store, check_output, new_attempt_id

ArtifactId = tuple[str, str, str]  # (layer, game, key)
CopyResult = Literal["copied", "present", "absent", "failed"]


@dataclass
class TransferReport:
    """What a push or pull did, per artifact."""

    source: str
    destination: str
    copied: list[ArtifactId] = field(default_factory=list)
    present: list[ArtifactId] = field(default_factory=list)  # the destination had it already
    absent: list[ArtifactId] = field(default_factory=list)  # the source does not have it
    failed: list[tuple[ArtifactId, str]] = field(default_factory=list)
    bytes: int = 0

    def ok(self) -> bool:
        return not self.failed


def copy_artifact(src: Store, dst: Store, manifest: Manifest) -> bool:
    """Copy one artifact from ``src`` to ``dst``; False if ``dst`` got the key first.

    Raises :class:`CorruptArtifactError` when a source file disagrees with the manifest.
    """
    attempt = new_attempt_id()
    copy = manifest.model_copy(update={"data": f"{manifest.layer}/data/{manifest.game}/{manifest.key}.{attempt}"})
    if src.local and not dst.local:
        for out in manifest.outputs:  # hash before uploading: never push a corrupt artifact
            check_output(src, manifest, out)
        staging = Staging(manifest.layer, manifest.game, manifest.key, attempt, Path(src.data_path(manifest.data)))
        return dst.commit(staging, copy)  # uploads from the source's data directory; does not move it
    with dst.staging(manifest.layer, manifest.game, manifest.key, attempt) as st:
        for out in manifest.outputs:
            remote = f"{src.data_path(manifest.data)}/{out.path}"
            local = st.dir / out.path
            local.parent.mkdir(parents=True, exist_ok=True)
            try:
                if src.local:
                    shutil.copyfile(remote, local)
                else:
                    src.fs.get_file(remote, str(local))
            except FileNotFoundError:
                raise CorruptArtifactError(f"artifact {manifest.layer}/{manifest.game}", manifest.key, f"output {out.path} is missing in {src.url}", f"run 'artifacts verify {manifest.layer}' on that store") from None
            digest = hash_file(local)
            if digest != out.digest or local.stat().st_size != out.size:
                raise CorruptArtifactError(
                    f"artifact {manifest.layer}/{manifest.game}", manifest.key,
                    f"output {out.path} in {src.url} has digest {digest}, its manifest records {out.digest}",
                    f"run 'artifacts verify {manifest.layer}' on that store and rebuild it there",
                )
        return dst.commit(st, copy)


def transfer(src: Store, dst: Store, wanted: list[ArtifactId], jobs: int = 4, on_item: Callable[[ArtifactId, CopyResult], None] | None = None) -> TransferReport:
    """Copy every artifact of ``wanted`` that ``src`` has and ``dst`` lacks (one listing per
    layer on each side, then ``jobs`` artifacts at a time)."""
    report = TransferReport(src.url, dst.url)
    layers = sorted({l for l, _g, _k in wanted})
    have_src = {l: src.list_layer(l, ("manifests",)).committed for l in layers}
    have_dst = {l: dst.list_layer(l, ("manifests",)).committed for l in layers}
    todo: list[ArtifactId] = []
    for aid in wanted:
        layer, game, key = aid
        if key in have_dst[layer].get(game, ()):
            report.present.append(aid)
        elif key not in have_src[layer].get(game, ()):
            report.absent.append(aid)
        else:
            todo.append(aid)
    if todo:
        dst.ensure()

    def one(aid: ArtifactId) -> tuple[CopyResult, int, str]:
        layer, game, key = aid
        try:
            m = src.manifest(layer, game, key)
            if m is None:
                return "absent", 0, ""
            copied = copy_artifact(src, dst, m)
        except (ArtifactsError, OSError) as exc:  # one bad artifact must not stop the others
            return "failed", 0, exc.line() if isinstance(exc, ArtifactsError) else f"{type(exc).__name__}: {exc}"
        return ("copied" if copied else "present"), sum(o.size for o in m.outputs) if copied else 0, ""

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for aid, (result, nbytes, message) in zip(todo, pool.map(one, todo)):
            if result == "copied":
                report.copied.append(aid)
                report.bytes += nbytes
            elif result == "present":
                report.present.append(aid)
            elif result == "absent":
                report.absent.append(aid)
            else:
                report.failed.append((aid, message))
            if on_item is not None:
                on_item(aid, result)
    return report


def expected_artifacts(engine: Engine, layers: list[str] | None, collection: str | None, games: list[str] | None) -> list[ArtifactId]:
    """The expected (layer, game, key) of ``layers`` (default: every layer the collection can
    run) under ``collection``, for ``games`` (default: all)."""
    if layers:
        targets = [engine.registry.get(l).name for l in layers]
    else:
        unavailable = engine.unavailable_layers(collection)
        targets = [n for n in engine.dag.order if n not in unavailable]
    plan = engine.plan_keys(targets, collection, games)
    return [(l, g, k) for l in targets for g, k in sorted(plan.layers[l].keys.items())]


def remote_store(engine: Engine, url: str | None) -> Store:
    """The remote store: ``url``, else ``remote`` of artifacts.toml (with ``remote_options``)."""
    ws = engine.workspace
    target = url or ws.remote_url
    if not target:
        raise UsageError("remote", None, "is not set", "pass --remote URL or set remote = \"s3://bucket/prefix\" in artifacts.toml")
    if target == engine.store.url:
        raise UsageError("remote", target, "is the workspace's own store", "name another store")
    return Store(target, ws.config.remote_options)


def push(engine: Engine, remote: str | None = None, layers: list[str] | None = None, collection: str | None = None, games: list[str] | None = None, jobs: int = 4) -> TransferReport:
    """Copy the collection's expected artifacts that the local store has to the remote."""
    dst = remote_store(engine, remote)
    wanted = expected_artifacts(engine, layers, collection, games)
    engine.store.check_format()
    dst.check_format()
    return transfer(engine.store, dst, wanted, jobs)


def pull(engine: Engine, remote: str | None = None, layers: list[str] | None = None, collection: str | None = None, games: list[str] | None = None, jobs: int = 4) -> TransferReport:
    """Copy the collection's expected artifacts that the remote has into the local store."""
    src = remote_store(engine, remote)
    wanted = expected_artifacts(engine, layers, collection, games)
    src.check_format()
    engine.store.check_format()
    return transfer(src, engine.store, wanted, jobs)
