"""Model implementations: the code that turns a verified weights file into a runnable model.

models.yaml names each role's implementation (``implementation:`` on the role, or on one
version when its architecture differs) as an import path ``package.module:Class`` or as the
name of an entry point in the ``artifacts.models`` group. The class must provide::

    @classmethod
    def from_weights(cls, path: str) -> Self   # path: local weights file, digest verified

The implementation is not part of a recipe: a version's weights and code go together, so
changing either is a new version (and so a new key).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from artifacts.errors import ModelsFileError
from artifacts.plugins import import_path

ENTRY_POINT_GROUP = "artifacts.models"


def resolve_implementation(spec: str, where: str) -> Any:
    """The class named by ``spec``; errors name ``where`` (file and field) and the fix."""
    if ":" in spec:
        try:
            cls = import_path(spec)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ModelsFileError(where, spec, f"cannot be imported ({exc})", "check the module is installed and the class name") from exc
    else:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == spec]
        if not found:
            raise ModelsFileError(where, spec, f"is neither 'module:Class' nor an installed {ENTRY_POINT_GROUP} entry point", "install the package that provides it or use an import path")
        cls = found[0].load()
    if not callable(getattr(cls, "from_weights", None)):
        raise ModelsFileError(where, spec, "has no from_weights(path) classmethod", "implement from_weights on the model class")
    return cls
