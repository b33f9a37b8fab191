"""The tree shows the design: imports go one way, between packages and between the engine's
subpackages, every cross-subpackage import goes through the subpackage's ``__init__``, the
engine has no import cycle, and every name and path the docs mention exists.

See docs/architecture.md for the picture; ``ENGINE_ORDER`` below is its source of truth.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO

from artifacts.plugins import import_module

# The engine's groups, lowest first. A module may import its own group and groups on lower
# rows; groups on one row are peers and must not import each other.
ENGINE_ORDER: list[set[str]] = [
    {"errors"},
    {"keys", "plugins"},
    {"store", "registry", "workspace"},
    {"layers"},
    {"plan"},
    {"build", "provenance", "operations"},
    {"api", "pytest_plugin", "__init__"},
]
# The built-in parts, likewise: the layers run the models; the reference models are trained by
# running the layers; trainers read the layers' artifacts; the demo uses all of them.
GENERATORS_ORDER: list[set[str]] = [
    {"render", "models"},
    {"layers"},
    {"reference"},
    {"trainers"},
    {"demo"},
    {"__init__"},
]
ORDERS = {"artifacts": ENGINE_ORDER, "generators": GENERATORS_ORDER}
RANKS = {pkg: {group: rank for rank, row in enumerate(order) for group in row} for pkg, order in ORDERS.items()}
PACKAGES = ("artifacts", "generators", "cli")  # cli -> generators -> artifacts


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module) of every import in ``path``: top level, in functions and
    under TYPE_CHECKING alike. ``from pkg import name`` yields ``pkg`` when the package's
    ``__init__`` binds ``name`` (an export), else ``pkg.name`` when that is a module."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                exported = alias.name in _bound_in_init(node.module)
                yield node.lineno, sub if _is_module(sub) and not exported else node.module


def _is_module(dotted: str) -> bool:
    base = REPO / dotted.replace(".", "/")
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _bound_in_init(package: str) -> set[str]:
    init = REPO / package.replace(".", "/") / "__init__.py"
    if not init.is_file():
        return set()
    bound: set[str] = set()
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            bound |= {a.asname or a.name for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
    return bound


def _module_of(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _group(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _files(pkg: str = "artifacts") -> list[Path]:
    return sorted((REPO / pkg).rglob("*.py"))


@pytest.mark.parametrize("pkg", sorted(ORDERS))
def test_every_group_has_a_rank(pkg: str) -> None:
    groups = {_group(_module_of(p)) for p in _files(pkg)}
    assert groups - set(RANKS[pkg]) == set(), f"add the new group to the order of {pkg} (and docs/architecture.md)"


def test_packages_import_one_way() -> None:
    offenders = []
    for i, pkg in enumerate(PACKAGES):
        above = PACKAGES[i + 1:]
        for path in sorted((REPO / pkg).rglob("*.py")):
            for line, mod in _imports(path):
                if mod.split(".")[0] in above:
                    offenders.append(f"{path.relative_to(REPO)}:{line} imports {mod}")
    assert offenders == []


@pytest.mark.parametrize("pkg", sorted(ORDERS))
def test_groups_import_downwards_only(pkg: str) -> None:
    rank = RANKS[pkg]
    offenders = []
    for path in _files(pkg):
        src = _group(_module_of(path))
        for line, mod in _imports(path):
            if mod.split(".")[0] != pkg:
                continue
            dst = _group(mod)
            if dst != src and rank[dst] >= rank[src]:
                offenders.append(f"{path.relative_to(REPO)}:{line} imports {mod} ({src} rank {rank[src]} -> {dst} rank {rank[dst]})")
    assert offenders == []


def test_other_groups_are_reached_through_their_init() -> None:
    """Outside a subpackage, only the names its ``__init__`` exports are used."""
    offenders = []
    for pkg in ("artifacts", "generators", "cli", "bench"):
        for path in sorted((REPO / pkg).rglob("*.py")):
            own = _group(_module_of(path)) if pkg == "artifacts" else None
            for line, mod in _imports(path):
                parts = mod.split(".")
                if parts[0] == "artifacts" and len(parts) > 2 and parts[1] != own:
                    offenders.append(f"{path.relative_to(REPO)}:{line} imports {mod}; import from artifacts.{parts[1]}")
    assert offenders == []


def test_engine_has_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for path in _files():
        graph[_module_of(path)] = {m for _, m in _imports(path) if m.split(".")[0] == "artifacts" and _is_module(m)}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


def test_each_subpackage_exports_what_it_names() -> None:
    """Every name in a subpackage's ``__all__`` (and the top level's) resolves."""
    for init in [REPO / "artifacts" / "__init__.py", *sorted((REPO / "artifacts").glob("*/__init__.py"))]:
        module = importlib.import_module(_module_of(init))
        names = getattr(module, "__all__", None)
        assert names, f"{init.relative_to(REPO)} names nothing in __all__"
        for name in names:
            assert getattr(module, name, None) is not None, f"{module.__name__}.{name}"


# Names in the docs that are not Python: configuration files and entry-point groups.
NOT_PYTHON = {"artifacts.toml", "artifacts.models", "artifacts.combiners", "artifacts.moved"}
DOC_IMPORT = re.compile(r"^\s*from ((?:artifacts|generators)(?:\.\w+)*) import ([\w, ]+)$", re.MULTILINE)
DOC_DOTTED = re.compile(r"`((?:artifacts|generators)(?:\.\w+)+)(?::(\w+))?`")
DOC_RUN = re.compile(r"python -m ((?:generators|artifacts|cli)(?:\.\w+)+)")
DOC_PATH = re.compile(r"\b((?:artifacts|generators|cli|bench|tests)/[\w/]+\.py)\b")


def _docs() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _resolve(dotted: str) -> object:
    """The object ``a.b.c.Name`` names: the longest importable module prefix, then attributes.

    Modules are imported as users' files load them (artifacts.plugins), so an old path the
    docs mention as moved resolves exactly when its move is declared."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def _documented() -> list[tuple[str, str]]:
    found = []
    for doc in _docs():
        text = doc.read_text()
        where = str(doc.relative_to(REPO))
        for mod, names in DOC_IMPORT.findall(text):
            found += [(where, f"{mod}.{n.strip()}") for n in names.split(",") if n.strip()]
        for dotted, attr in DOC_DOTTED.findall(text):
            if dotted not in NOT_PYTHON:
                found.append((where, f"{dotted}.{attr}" if attr else dotted))
        found += [(where, m) for m in DOC_RUN.findall(text)]
    return sorted(set(found))


@pytest.mark.parametrize(("doc", "name"), _documented())
def test_documented_name_imports(doc: str, name: str) -> None:
    try:
        _resolve(name)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"{doc} names {name}, which does not import: {exc}")


def test_documented_paths_exist() -> None:
    missing = [f"{doc.relative_to(REPO)}: {p}" for doc in _docs() for p in DOC_PATH.findall(doc.read_text()) if not (REPO / p).exists()]
    assert missing == []


def test_the_docs_name_some_python() -> None:
    """Guards the scanners above: a regex that stopped matching would pass every check."""
    names = {n for _, n in _documented()}
    assert {"artifacts.Generator", "artifacts.BuildContext", "artifacts.store.Store"} <= names
