"""Pins: artifacts that ``gc`` keeps whatever the collections say.

A pin is a small record ``<layer>/pins/<game>.<key>.json`` in the store itself, so that it
protects the artifact for everyone who runs ``gc`` on that store, from any workspace. Pinning
an artifact keeps its upstream artifacts too (gc follows the recipe's upstream keys).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, ValidationError

from artifacts.errors import StoreError, UsageError
from artifacts.store.manifest import current_user
from artifacts.store.store import Store


class Pin(BaseModel):
    """One pinned artifact."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    layer: str
    game: str
    key: str
    note: str = ""
    by: str
    at: str

    def label(self) -> str:
        return f"pin by {self.by}" + (f" ({self.note})" if self.note else "")


def pin(store: Store, layer: str, game: str, key: str, note: str = "") -> Pin:
    """Pin a committed artifact (pinning it again replaces the note)."""
    if not store.has_manifest(layer, game, key):
        raise UsageError(f"artifact {layer}/{game}", key, "is not in the store", "build it (or pull it) before pinning it")
    record = Pin(layer=layer, game=game, key=key, note=note, by=current_user(), at=datetime.now(UTC).isoformat(timespec="seconds"))
    path = store.pin_path(layer, game, key)
    store.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    store.fs.pipe_file(path, record.model_dump_json(indent=1).encode())
    return record


def unpin(store: Store, layer: str, game: str, key: str | None = None) -> list[str]:
    """Remove the pins of (layer, game), of one key or all; the keys unpinned."""
    keys = store.list_layer(layer, ("pins",)).pinned.get(game, [])
    gone = [k for k in keys if key is None or k == key]
    if not gone:
        raise UsageError(f"artifact {layer}/{game}", key, "is not pinned", "see 'artifacts pins'")
    for k in gone:
        store.fs.rm_file(store.pin_path(layer, game, k))
    return gone


def list_pins(store: Store, layers: list[str] | None = None) -> list[Pin]:
    """Every pin of ``layers`` (default: every layer in the store)."""
    out = []
    for layer in layers or store.layers():
        for game, keys in sorted(store.list_layer(layer, ("pins",)).pinned.items()):
            for key in sorted(keys):
                try:
                    raw = store.fs.cat_file(store.pin_path(layer, game, key))
                except FileNotFoundError:  # unpinned since the listing
                    continue
                try:
                    out.append(Pin.model_validate_json(raw))
                except ValidationError as exc:
                    raise StoreError(f"pin of {layer}/{game}", key, "is corrupt", f"delete {store.pin_path(layer, game, key)} and pin it again") from exc
    return out
