"""Loading YAML files with line numbers, and mapping validation errors back to lines.

Contract: :func:`load_yaml` returns ruamel's round-trip structures (dict/list subclasses that
remember line numbers and comments); :func:`line_of` finds the 1-based line of the value at a
path inside them, or of the closest parent that exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from artifacts.errors import ConfigError


def load_yaml(path: Path, error: type[ConfigError] = ConfigError) -> Any:
    """Parse ``path``; syntax errors become ``error`` naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise error(str(path), None, "file not found", "create it or point --workspace at the right place") from exc
    return parse_yaml(text, path, error)


def parse_yaml(text: str, path: Path, error: type[ConfigError] = ConfigError) -> Any:
    """Parse ``text`` (the content of ``path``); syntax errors name ``path`` and the line."""
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 0
        raise error(f"{path}:{line}", None, f"YAML syntax error: {exc.problem}", "fix the YAML syntax") from exc


def line_of(data: Any, loc: tuple[int | str, ...]) -> int:
    """1-based line of the node at ``loc`` (a pydantic error location), best effort upward."""
    node = data
    line = 1
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, dict) and part in node:
                if lc is not None:
                    line = lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                if lc is not None:
                    line = lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        except (KeyError, IndexError, TypeError):
            break
    return line
