"""Loading code that users name in their files: ``module:attr`` import paths and entry points.

Files users write name code by import path: ``layers`` and ``combiners`` in artifacts.toml,
``implementation`` in models.yaml, ``--dataset`` of ``artifacts train``. A package that moves
a module keeps those files working by declaring the move as an entry point of the
``artifacts.moved`` group: the name is the old module path (or a package prefix of it), the
value the new one::

    [project.entry-points."artifacts.moved"]
    "generators.tracking" = "generators.models.tracking"

:func:`import_path` imports ``module:attr``; when ``module`` itself does not exist (not when
something it imports is missing), the longest declared prefix of it is replaced and the new
module imported instead. Nothing else is guessed: an undeclared missing module is an error.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from types import ModuleType

MOVED_GROUP = "artifacts.moved"


def moved_module(module: str) -> str | None:
    """Where an installed package declares that ``module`` moved to, or None."""
    moves = {ep.name: ep.value for ep in entry_points(group=MOVED_GROUP)}
    parts = module.split(".")
    for cut in range(len(parts), 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in moves:
            return ".".join([moves[prefix], *parts[cut:]])
    return None


def import_module(module: str) -> ModuleType:
    """``importlib.import_module``, following a declared move when ``module`` does not exist."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        # Only a missing ``module`` (or a package above it) is a move; a missing dependency
        # of an existing module is reported as it is.
        if exc.name is None or not (module == exc.name or module.startswith(exc.name + ".")):
            raise
        new = moved_module(module)
        if new is None:
            raise
        return importlib.import_module(new)


def import_path(path: str) -> object:
    """The object that ``package.module:attr`` names.

    Raises ValueError when ``path`` is not of that form, ImportError when the module cannot
    be imported, AttributeError when it lacks ``attr``; callers turn these into their own
    one-line errors naming the file and field the path came from.
    """
    module, _, attr = path.partition(":")
    if not module or not attr:
        raise ValueError(f"{path!r} is not of the form 'package.module:attr'")
    obj: object = import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj
