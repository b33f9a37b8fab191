"""Editing models.yaml in place: atomic, validated, keeping order and comments.

Every change goes through :func:`edit_models`: load the round-trip YAML, apply a change, dump
to a temporary file beside the original, validate it as a whole, then ``os.replace`` it over
the original. A change that would make the file invalid never reaches it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from artifacts.errors import ModelsFileError
from artifacts.registry.models import Models
from artifacts.registry.yamlfile import load_yaml


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.indent(mapping=2, sequence=4, offset=2)
    y.preserve_quotes = True
    y.width = 4096  # never fold long digests or descriptions
    return y


def edit_models(path: Path, change: Callable[[Any], None]) -> Models:
    """Apply ``change`` to the round-trip document of ``path``; write atomically if valid."""
    data = load_yaml(path, ModelsFileError)
    if data is None:
        data = CommentedMap()
    change(data)
    text = _dump(data)
    Models.parse(text, path)  # refuse before touching the file
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, os.stat(path).st_mode)  # an atomic replace must not reset the file's mode
    os.replace(tmp, path)
    return Models.load(path)


def child(node: Any, key: str) -> Any:
    """``node[key]``, created as an empty mapping when absent."""
    if key not in node or node[key] is None:
        node[key] = CommentedMap()
    return node[key]


def import_models(source: Path, dest: Path) -> Models:
    """Copy the registry at ``source`` (a models.yaml, or a workspace directory holding one)
    to ``dest``, with every relative weights path made absolute, so that the copy runs the
    same weights files from wherever it lives. Comments and order are kept; the copy is
    validated before it is written, and ``dest`` must not hold versions already."""
    src = source / "models.yaml" if source.is_dir() else source
    data = load_yaml(src, ModelsFileError)
    Models.parse(_dump(data), src)
    if dest.exists():
        existing = Models.load(dest)
        if any(rs.versions for rs in existing.spec.roles.values()):
            raise ModelsFileError(str(dest), None, "already registers model versions", "import into a new workspace, or register versions one by one")
    base = src.parent.resolve()
    for rs in (data.get("roles") or {}).values():
        for mv in ((rs or {}).get("versions") or {}).values():
            weights = mv.get("weights") if mv else None
            if isinstance(weights, str) and "://" not in weights and not Path(weights).is_absolute():
                mv["weights"] = str(base / weights)
    text = _dump(data)
    Models.parse(text, dest)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, dest)
    return Models.load(dest)


def _dump(data: Any) -> str:
    buf = io.StringIO()
    _yaml().dump(data, buf)
    return buf.getvalue()
