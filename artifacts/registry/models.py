"""models.yaml: model roles, their versions with weights and digests, and collections.

Schema (see docs/registry.md)::

    schema: 1
    roles:
      tracker:
        trains_on: [frame-level]                     # layers its training reads
        versions:
          trk-v1:
            weights: weights/tracker-v1.safetensors   # local path, relative to models.yaml
            digest: xxh3-128:0123...                   # content digest of the weights file
            trained_with: {crop_encoder: ce-v1}        # upstream models it was trained with
            trained_on: [{layer: frame-level, game: g1, key: 0123...}]
            expects: {crop_encoder: {embedding_dim: 64}}
    evaluations:
      ptfe: {after: [tracker]}
    collections:
      production:
        tracker: trk-v1

A collection maps each role to one version; status and build resolve model refs through it.
Lineage (trained_with, trained_on) and contracts (provides, expects) are checked by
:mod:`artifacts.provenance.lineage`, :mod:`artifacts.provenance.promotion` and :mod:`artifacts.provenance.check`.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator

from artifacts.errors import ModelsFileError, UsageError, dotted
from artifacts.keys import ModelRef, check_role
from artifacts.registry.yamlfile import line_of, load_yaml, parse_yaml


class TrainedOn(BaseModel):
    """One artifact a model was trained on."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    layer: str
    game: str
    key: str = Field(pattern=r"^[0-9a-f]{32}$")


class ModelVersion(BaseModel):
    """One version of a role: its weights, its lineage and its contracts.

    ``trained_with`` names the upstream models (role -> version) it was trained with;
    ``trained_on`` the artifacts it was trained on. ``provides`` are contracts of its outputs
    (``embedding_dim: 64``); ``expects`` what it requires of other roles' models
    (``crop_encoder: {embedding_dim: 64}``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    weights: str
    digest: str = Field(pattern=r"^xxh3-128:[0-9a-f]{32}$")
    description: str = ""
    implementation: str = ""
    trained_with: dict[str, str] = {}
    trained_on: list[TrainedOn] = []
    provides: dict[str, JsonValue] = {}
    expects: dict[str, dict[str, JsonValue]] = {}


class RoleSpec(BaseModel):
    """All registered versions of one model role.

    ``trains_on`` lists the layers whose artifacts this role's training reads; ``impact``
    uses it to order retraining after precompute when a version records no ``trained_on``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    description: str = ""
    implementation: str = ""
    trains_on: list[str] = []
    versions: dict[str, ModelVersion]


class Evaluation(BaseModel):
    """An evaluation run (e.g. PTFE) that must be redone after the roles it reads change."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    description: str = ""
    after: list[str]


class ModelsSpec(BaseModel):
    """The validated content of models.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, populate_by_name=True)

    schema_version: Literal[1] = Field(1, alias="schema")
    roles: dict[str, RoleSpec] = {}
    collections: dict[str, dict[str, str]] = {}
    evaluations: dict[str, Evaluation] = {}

    @field_validator("roles")
    @classmethod
    def _role_names(cls, roles: dict[str, RoleSpec]) -> dict[str, RoleSpec]:
        for role in roles:
            check_role(role)
        return roles


def models_json_schema() -> dict[str, Any]:
    """JSON Schema of models.yaml, for editors (see docs/models.schema.json)."""
    schema = ModelsSpec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "models.yaml"
    return schema


class Models:
    """models.yaml loaded: resolves collections to model refs and weights locations."""

    def __init__(self, path: Path, spec: ModelsSpec, data: Any = None) -> None:
        self.path = path
        self.spec = spec
        self._data = data  # the parsed document, for line numbers in later errors

    @classmethod
    def load(cls, path: Path) -> Models:
        """Load and validate ``path``; every error names the file, line and field."""
        return cls._validated(path, load_yaml(path, ModelsFileError))

    @classmethod
    def parse(cls, text: str, path: Path) -> Models:
        """Validate ``text`` as the would-be content of ``path`` (errors name ``path``)."""
        return cls._validated(path, parse_yaml(text, path, ModelsFileError))

    @classmethod
    def _validated(cls, path: Path, data: Any) -> Models:
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
        models = cls(path, spec, data)
        models._check_collections(data)
        models._check_references(data)
        return models

    def _where(self, data: Any, loc: tuple[str | int, ...]) -> str:
        return f"{self.path}:{line_of(data, loc)} {dotted(loc)}"

    def _check_references(self, data: Any) -> None:
        """trained_with, expects and evaluations must name registered roles and versions."""
        roles = self.spec.roles
        for role, rs in roles.items():
            for version, mv in rs.versions.items():
                for up, up_version in mv.trained_with.items():
                    loc: tuple[str | int, ...] = ("roles", role, "versions", version, "trained_with", up)
                    if up not in roles:
                        raise ModelsFileError(self._where(data, loc), up, "names an unknown role", "register that role or fix the name")
                    if up_version not in roles[up].versions:
                        raise ModelsFileError(self._where(data, loc), up_version, f"is not a registered version of {up}", f"use one of {sorted(roles[up].versions)}")
                for up in mv.expects:
                    if up not in roles:
                        loc = ("roles", role, "versions", version, "expects", up)
                        raise ModelsFileError(self._where(data, loc), up, "names an unknown role", "register that role or fix the name")
        for name, ev in self.spec.evaluations.items():
            for i, role in enumerate(ev.after):
                if role not in roles:
                    raise ModelsFileError(self._where(data, ("evaluations", name, "after", i)), role, "names an unknown role", "register that role or fix the name")

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

    def implementation(self, role: str, version: str) -> tuple[str, str]:
        """The implementation spec of ``role`` ``version`` (the version's, else the role's),
        and where it is written (for error messages); ``""`` when none is named."""
        rs = self.spec.roles[role]
        if rs.versions[version].implementation:
            return rs.versions[version].implementation, self._where(self._data, ("roles", role, "versions", version, "implementation"))
        return rs.implementation, self._where(self._data, ("roles", role, "implementation"))

    def weights_url(self, role: str, version: str) -> str:
        """Absolute location of the weights file (relative paths resolve against models.yaml)."""
        weights = self.spec.roles[role].versions[version].weights
        if "://" in weights or Path(weights).is_absolute():
            return weights
        return str((self.path.parent / weights).resolve())

    def refs_for(
        self, collection: str, roles: tuple[str, ...], layer: str, overrides: dict[str, str] | None = None
    ) -> dict[str, ModelRef]:
        """Model refs of ``roles`` under ``collection`` with ``overrides`` (role -> version)
        applied; a role it lacks is an error naming the layer."""
        members = self.collection(collection) | (overrides or {})
        out: dict[str, ModelRef] = {}
        for role in roles:
            if role not in members:
                raise ModelsFileError(
                    self._where(self._data, ("collections", collection)), role,
                    f"has no version for role needed by layer {layer}",
                    f"add '{role}: <version>' to collection {collection}",
                )
            out[role] = self.ref(role, members[role])
        return out
