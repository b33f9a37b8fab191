"""Registering a model version: digest its weights file and add it to models.yaml."""

from __future__ import annotations

from pathlib import Path

from pydantic import JsonValue

from artifacts.errors import UsageError
from artifacts.keys import check_role, hash_file
from artifacts.registry.modelimpl import resolve_implementation
from artifacts.registry.models import Models, TrainedOn
from artifacts.registry.models_edit import child, edit_models


def check_new_version(models: Models, role: str, version: str | None) -> None:
    """Refuse an invalid role name, or a ``version`` that ``role`` already has (so a trainer
    can ask before spending the time to train; None checks the role alone)."""
    check_role(role)
    existing = models.spec.roles.get(role)
    if version is not None and existing is not None and version in existing.versions:
        raise UsageError(f"version of {role}", version, "is already registered", "choose a new version name: a version's weights never change")


def register(
    models: Models,
    role: str,
    version: str,
    weights: Path,
    trained_with: dict[str, str] | None = None,
    trained_on: list[TrainedOn] | None = None,
    provides: dict[str, JsonValue] | None = None,
    expects: dict[str, dict[str, JsonValue]] | None = None,
    description: str = "",
    implementation: str = "",
) -> Models:
    """Add ``role`` ``version`` with the digest of ``weights``; refuse an existing version.

    ``implementation`` (``package.module:Class`` or an ``artifacts.models`` entry point) is the
    code that runs the weights; it must import and offer ``from_weights`` now, not at the first
    build. It is written on the version, or on the role when the role is new."""
    check_new_version(models, role, version)
    if not weights.is_file():
        raise UsageError("weights file", str(weights), "not found", "pass the path of the trained weights")
    if implementation:
        resolve_implementation(implementation, f"--implementation of {role} {version}")
    digest = hash_file(weights)
    base = models.path.parent.resolve()
    w = weights.resolve()
    location = w.relative_to(base).as_posix() if w.is_relative_to(base) else str(w)

    entry: dict[str, object] = {"weights": location, "digest": digest}
    if description:
        entry["description"] = description
    if trained_with:
        entry["trained_with"] = dict(trained_with)
    if trained_on:
        entry["trained_on"] = [t.model_dump() for t in trained_on]
    if provides:
        entry["provides"] = dict(provides)
    if expects:
        entry["expects"] = {r: dict(c) for r, c in expects.items()}

    new_role = role not in models.spec.roles
    if implementation and not new_role:
        entry["implementation"] = implementation

    def change(data: dict[str, object]) -> None:
        if implementation and new_role:
            child(child(data, "roles"), role)["implementation"] = implementation
        child(child(child(data, "roles"), role), "versions")[version] = entry
        if "schema" not in data:
            data["schema"] = 1

    return edit_models(models.path, change)
