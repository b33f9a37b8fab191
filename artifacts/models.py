"""models.yaml: model roles, their versions with weights and digests, and collections.

Schema (see docs/registry.md)::

    schema: 1
    roles:
      tracker:
        versions:
          trk-v1:
            weights: weights/tracker-v1.safetensors   # local path, relative to models.yaml
            digest: xxh3-128:0123...                   # content digest of the weights file
    collections:
      production:
        tracker: trk-v1

A collection maps each role to one version; status and build resolve model refs through it.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from artifacts.errors import ModelsFileError, UsageError
from artifacts.names import check_role
from artifacts.recipe import ModelRef
from artifacts.yamlfile import dotted, line_of, load_yaml


class ModelVersion(BaseModel):
    """One version of a role: where its weights are and what their digest is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: str
    digest: str = Field(pattern=r"^xxh3-128:[0-9a-f]{32}$")


class RoleSpec(BaseModel):
    """All registered versions of one model role."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    versions: dict[str, ModelVersion]


class ModelsSpec(BaseModel):
    """The validated content of models.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = Field(1, alias="schema")
    roles: dict[str, RoleSpec] = {}
    collections: dict[str, dict[str, str]] = {}

    @field_validator("roles")
    @classmethod
    def _role_names(cls, roles: dict[str, RoleSpec]) -> dict[str, RoleSpec]:
        for role in roles:
            check_role(role)
        return roles


class Models:
    """models.yaml loaded: resolves collections to model refs and weights locations."""

    def __init__(self, path: Path, spec: ModelsSpec) -> None:
        self.path = path
        self.spec = spec

    @classmethod
    def load(cls, path: Path) -> Models:
        """Load and validate ``path``; every error names the file, line and field."""
        data = load_yaml(path, ModelsFileError)
        if data is None:
            data = {}
        try:
            spec = ModelsSpec.model_validate(data)
        except ValidationError as exc:
            # A misspelt field shows up twice (extra + missing); the extra one points at the typo.
            err = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
            loc = tuple(err["loc"])
            raise ModelsFileError(
                f"{path}:{line_of(data, loc)} {dotted(loc)}",
                None,
                err["msg"],
                "fix that field (see docs/registry.md for the schema)",
            ) from exc
        models = cls(path, spec)
        models._check_collections(data)
        return models

    def _check_collections(self, data: Any) -> None:
        for name, members in self.spec.collections.items():
            for role, version in members.items():
                where = f"{self.path}:{line_of(data, ('collections', name, role))} collections.{name}.{role}"
                if role not in self.spec.roles:
                    raise ModelsFileError(where, role, "names an unknown role", "add the role under roles: or remove it")
                if version not in self.spec.roles[role].versions:
                    raise ModelsFileError(
                        where, version, f"is not a registered version of {role}",
                        f"use one of {sorted(self.spec.roles[role].versions)}",
                    )

    def collection(self, name: str) -> dict[str, str]:
        """role -> version of collection ``name``."""
        try:
            return self.spec.collections[name]
        except KeyError:
            close = difflib.get_close_matches(name, self.spec.collections, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"use one of {sorted(self.spec.collections)}"
            raise UsageError("collection", name, f"is not defined in {self.path}", hint) from None

    def ref(self, role: str, version: str) -> ModelRef:
        """The model ref of ``role`` at ``version``."""
        return ModelRef(role=role, version=version, digest=self.spec.roles[role].versions[version].digest)

    def weights_url(self, role: str, version: str) -> str:
        """Absolute location of the weights file (relative paths resolve against models.yaml)."""
        weights = self.spec.roles[role].versions[version].weights
        if "://" in weights or Path(weights).is_absolute():
            return weights
        return str((self.path.parent / weights).resolve())

    def refs_for(self, collection: str, roles: tuple[str, ...], layer: str) -> dict[str, ModelRef]:
        """Model refs of ``roles`` under ``collection``; a role it lacks is an error naming the layer."""
        members = self.collection(collection)
        out: dict[str, ModelRef] = {}
        for role in roles:
            if role not in members:
                raise ModelsFileError(
                    f"{self.path} collections.{collection}", role,
                    f"has no version for role needed by layer {layer}",
                    f"add '{role}: <version>' to collection {collection}",
                )
            out[role] = self.ref(role, members[role])
        return out
