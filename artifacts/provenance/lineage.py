"""Lineage and contract checks over models.yaml: what promotion and ``check`` refuse.

A collection is compatible when, for every pair of its models, (a) a model's
``trained_with`` agrees with the version the collection runs for that role, and (c) a model's
``expects`` agrees with what the collection's model of that role ``provides``. Separately,
the role graph made by ``trained_with`` edges must have no cycle. The ``trained_on`` check
(b) needs a workspace and lives in :mod:`artifacts.provenance.promotion`.
"""

from __future__ import annotations

from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter

from pydantic import JsonValue

from artifacts.registry import ModelsSpec


@dataclass(frozen=True)
class Problem:
    """One incompatibility, as one line. ``roles`` are the roles it involves."""

    kind: str
    message: str
    roles: tuple[str, ...]

    def line(self) -> str:
        return f"{self.kind}: {self.message}"


def _show(v: JsonValue | None) -> str:
    return "nothing" if v is None else repr(v)


def collection_problems(spec: ModelsSpec, members: dict[str, str], collection: str) -> list[Problem]:
    """Problems (a) and (c) among the models of ``members`` (role -> version)."""
    out: list[Problem] = []
    for role, version in members.items():
        mv = spec.roles[role].versions[version]
        for up, up_version in sorted(mv.trained_with.items()):
            if up in members and members[up] != up_version:
                out.append(Problem(
                    "trained_with",
                    f"{role} {version} was trained with {up} {up_version}, but {collection} runs {up} {members[up]}",
                    (role, up),
                ))
        for up, contract in sorted(mv.expects.items()):
            if up not in members:
                continue
            provided = spec.roles[up].versions[members[up]].provides
            for name, want in sorted(contract.items()):
                have = provided.get(name)
                if have != want:
                    out.append(Problem(
                        "contract",
                        f"{role} {version} expects {up}.{name} = {_show(want)}, but {up} {members[up]} provides {_show(have)}",
                        (role, up),
                    ))
    return out


def role_graph(spec: ModelsSpec) -> dict[str, set[str]]:
    """role -> roles it was trained with (over all registered versions)."""
    return {role: {up for mv in rs.versions.values() for up in mv.trained_with} for role, rs in spec.roles.items()}


def lineage_cycles(spec: ModelsSpec) -> list[Problem]:
    """A cycle in the trained_with role graph, as one problem (empty when acyclic)."""
    try:
        TopologicalSorter(role_graph(spec)).prepare()
    except CycleError as exc:
        cycle = list(exc.args[1])
        return [Problem("cycle", "trained_with forms a cycle: " + " -> ".join(cycle), tuple(cycle))]
    return []
