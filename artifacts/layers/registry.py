"""The layer registry: which generators exist, found without the engine importing them.

Generators come from two places: entry points in the ``artifacts.layers`` group (how the
built-in layers and any third-party package register), and ``"module:Class"`` import paths
listed in the workspace's ``layers`` setting (handy for a project's own layers).
"""

from __future__ import annotations

import difflib
from importlib.metadata import entry_points

from artifacts.errors import LayerDefinitionError, UnknownLayerError
from artifacts.layers.generator import Generator, validate_generator
from artifacts.plugins import import_path

ENTRY_POINT_GROUP = "artifacts.layers"


def _import(path: str) -> object:
    try:
        return import_path(path)
    except ValueError as exc:
        raise LayerDefinitionError("layer import path", path, "is not of the form 'package.module:Class'", "fix the layers setting") from exc
    except (ImportError, AttributeError) as exc:
        raise LayerDefinitionError("layer import path", path, f"cannot be imported ({exc})", "check the module is installed and on the path") from exc


class LayerRegistry:
    """Name -> generator class. An immutable value once built."""

    def __init__(self, generators: dict[str, type[Generator]]) -> None:
        self._generators = dict(generators)

    @classmethod
    def from_classes(cls, classes: list[type[Generator]]) -> LayerRegistry:
        """A registry of exactly these generators (used by tests and embedding code)."""
        out: dict[str, type[Generator]] = {}
        for g in classes:
            validate_generator(g, g.__qualname__)
            if g.name in out and out[g.name] is not g:
                raise LayerDefinitionError("layer", g.name, "is provided by two generators", "rename one of them")
            out[g.name] = g
        return cls(out)

    @classmethod
    def discover(cls, import_paths: list[str], use_entry_points: bool = True) -> LayerRegistry:
        """Entry points of group ``artifacts.layers`` plus the given import paths.

        An import path wins over an entry point of the same layer name, so a workspace can
        override a packaged layer deliberately.
        """
        found: dict[str, type[Generator]] = {}
        if use_entry_points:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                try:
                    obj = ep.load()
                except (ImportError, AttributeError) as exc:
                    raise LayerDefinitionError(
                        "layer entry point", ep.value, f"cannot be loaded ({exc})", f"fix or uninstall the package providing {ep.name}"
                    ) from exc
                cls_ = _check_class(obj, ep.value)
                if cls_.name in found and found[cls_.name] is not cls_:
                    raise LayerDefinitionError(
                        "layer", cls_.name, f"is provided by two installed packages ({ep.value} and another)",
                        "uninstall one, or pick one with layers = [...] and entry_points = false",
                    )
                found[cls_.name] = cls_
        for path in import_paths:
            obj = _import(path)
            found[_check_class(obj, path).name] = obj  # type: ignore[assignment]
        return cls(found)

    def names(self) -> list[str]:
        return sorted(self._generators)

    def get(self, name: str) -> type[Generator]:
        """The generator of layer ``name``; unknown names get the closest suggestion."""
        try:
            return self._generators[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._generators, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}?" if close else f"known layers: {', '.join(self.names()) or 'none'}"
            raise UnknownLayerError("layer", name, "is not a registered layer", hint) from None

    def __contains__(self, name: object) -> bool:
        return name in self._generators


def _check_class(obj: object, origin: str) -> type[Generator]:
    if not (isinstance(obj, type) and issubclass(obj, Generator)):
        raise LayerDefinitionError("layer", origin, "is not a Generator subclass", "point it at a class deriving from artifacts.Generator")
    return validate_generator(obj, origin)
