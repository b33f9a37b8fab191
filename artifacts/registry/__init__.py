"""The model registry: models.yaml (roles, versions, weights digests, lineage, collections).

Loading and validating it with line numbers, editing it in place atomically, registering a
version, and resolving a role's implementation class. Depends on :mod:`artifacts.keys`.
"""

from __future__ import annotations

from artifacts.registry.modelimpl import resolve_implementation
from artifacts.registry.models import Models, ModelsSpec, TrainedOn, models_json_schema
from artifacts.registry.models_edit import child, edit_models, import_models
from artifacts.registry.register import check_new_version, register

__all__ = [
    "Models",
    "ModelsSpec",
    "TrainedOn",
    "check_new_version",
    "child",
    "edit_models",
    "import_models",
    "models_json_schema",
    "register",
    "resolve_implementation",
]
