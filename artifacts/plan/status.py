"""Status: expected keys against what the store holds, with causes for STALE.

Contract: status computes keys and lists the store (one listing per layer, the layers
concurrently on object stores); it reads no
artifact data. For a STALE (layer, game) it reads the manifest of the newest stored artifact
(metadata, not data), diffs recipes, and follows changed upstream keys down to the root
change: a model ref, weights digest, parameter, generator version or source file. Those
manifests, and the failure records of FAILED entries, are read in batches (concurrent
requests on object stores).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, JsonValue

from artifacts.keys import Recipe
from artifacts.plan.keyplan import KeyPlan
from artifacts.store import LayerListing, Manifest, Signal, Store


class State(StrEnum):
    FRESH = "FRESH"
    STALE = "STALE"
    MISSING = "MISSING"
    FAILED = "FAILED"


class Cause(BaseModel):
    """One root change between a stored recipe and the expected one.

    ``kind`` is one of ``model`` (another version of a role), ``weights`` (same version,
    other digest), ``param``, ``generator``, ``source``, ``upstream`` (an upstream key changed
    and its old recipe is gone, so the trace stops there). ``layer`` is where the change sits;
    ``via`` is set when it sits upstream of the layer whose status is explained.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    kind: str
    layer: str
    name: str
    old: JsonValue
    new: JsonValue
    via: str | None = None

    def text(self) -> str:
        def short(v: JsonValue) -> str:
            s = "absent" if v is None else str(v)
            return s.split(":", 1)[1][:8] if s.startswith("xxh3-128:") else s

        core = {
            "model": f"{self.name} {short(self.old)} -> {short(self.new)}",
            "weights": f"{self.name} weights {short(self.old)} -> {short(self.new)}",
            "param": f"{self.layer} param {self.name} {short(self.old)} -> {short(self.new)}",
            "generator": f"{self.layer} generator v{short(self.old)} -> v{short(self.new)}",
            "source": f"source {self.name} {short(self.old)} -> {short(self.new)}",
            "upstream": f"upstream {self.name} changed (its old recipe is no longer stored)",
        }[self.kind]
        return f"{core} (via {self.via})" if self.via else core


@dataclass(slots=True)
class Entry:
    """Status of one (layer, game)."""

    layer: str
    game: str
    state: State
    key: str | None
    stored_key: str | None = None
    causes: tuple[Cause, ...] = ()
    note: str | None = None
    signals: tuple[Signal, ...] = ()  # a FRESH artifact's skipped items and caps hit

    def record(self) -> dict[str, object]:
        """The machine-readable form (one record per (layer, game) in ``--json``)."""
        return {
            "layer": self.layer,
            "game": self.game,
            "state": self.state.value,
            "key": self.key,
            "stored_key": self.stored_key,
            "causes": [c.model_dump() | {"text": c.text()} for c in self.causes],
            "note": self.note,
            "signals": [sig.model_dump(mode="json") | {"text": sig.text()} for sig in self.signals],
        }


@dataclass
class Group:
    """Entries of one layer with the same state and the same causes."""

    layer: str
    state: State
    reason: str
    games: list[str] = field(default_factory=list)


@dataclass
class SignalGroup:
    """Artifacts of one layer that skipped items (or hit a cap) for the same reason."""

    layer: str
    kind: str
    what: str
    reason: str
    fix: str
    games: list[str] = field(default_factory=list)
    count: int = 0
    total: int = 0

    def text(self) -> str:
        return f"{self.kind} {self.count:,} of {self.total:,} {self.what}: {self.reason}; {self.fix}"


@dataclass
class StatusReport:
    collection: str
    layers: list[str]
    entries: list[Entry]
    unavailable: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {l: {s.value: 0 for s in State} for l in self.layers}
        for e in self.entries:
            out[e.layer][e.state.value] += 1
        return out

    def groups(self) -> list[Group]:
        """Non-FRESH entries grouped by layer, state and identical cause text."""
        grouped: dict[tuple[str, State, str], Group] = {}
        for e in self.entries:
            if e.state is State.FRESH:
                continue
            reason = "; ".join(c.text() for c in e.causes) or (e.note or "")
            g = grouped.get((e.layer, e.state, reason))
            if g is None:
                g = grouped[(e.layer, e.state, reason)] = Group(e.layer, e.state, reason)
            g.games.append(e.game)
        order = {l: i for i, l in enumerate(self.layers)}
        return sorted(grouped.values(), key=lambda g: (order[g.layer], g.state.value, -len(g.games), g.reason))

    def signal_groups(self) -> list[SignalGroup]:
        """FRESH entries' signals grouped by layer and signal kind, items and reason, with the
        games and the counts added up (what ``status`` prints under the table)."""
        grouped: dict[tuple[str, str, str, str], SignalGroup] = {}
        for e in self.entries:
            for sig in e.signals:
                k = (e.layer, sig.kind, sig.what, sig.reason)
                g = grouped.get(k)
                if g is None:
                    g = grouped[k] = SignalGroup(e.layer, sig.kind, sig.what, sig.reason, sig.fix)
                g.games.append(e.game)
                g.count += sig.count
                g.total += sig.total
        order = {l: i for i, l in enumerate(self.layers)}
        return sorted(grouped.values(), key=lambda g: (order[g.layer], g.kind, -len(g.games), g.reason))

    def all_fresh(self) -> bool:
        return all(e.state is State.FRESH for e in self.entries)


ManifestReader = Callable[[str, str, str], Manifest | None]


def diff_recipes(
    store: Store, plan: KeyPlan, game: str, new: Recipe, old: Recipe, via: str | None = None, read: ManifestReader | None = None
) -> list[Cause]:
    """Root causes that turn ``old`` into ``new``, following upstream keys through the store
    (``read``: how to get a manifest; default ``store.manifest``)."""
    read = read or store.manifest
    layer = new.layer
    causes: list[Cause] = []
    if new.generator_version != old.generator_version:
        causes.append(Cause(kind="generator", layer=layer, name=layer, old=old.generator_version, new=new.generator_version, via=via))
    for p in sorted(set(new.params) | set(old.params)):
        if new.params.get(p) != old.params.get(p):
            causes.append(Cause(kind="param", layer=layer, name=p, old=old.params.get(p, "default"), new=new.params.get(p, "default"), via=via))
    for role in sorted(set(new.models) | set(old.models)):
        n, o = new.models.get(role), old.models.get(role)
        if n == o:
            continue
        if n is not None and o is not None and n.version == o.version:
            causes.append(Cause(kind="weights", layer=layer, name=f"{role} {n.version}", old=o.digest, new=n.digest, via=via))
        else:
            causes.append(Cause(kind="model", layer=layer, name=role, old=o.version if o else None, new=n.version if n else None, via=via))
    for s in sorted(set(new.sources) | set(old.sources)):
        if new.sources.get(s) != old.sources.get(s):
            causes.append(Cause(kind="source", layer=layer, name=s, old=old.sources.get(s), new=new.sources.get(s), via=via))
    for up in sorted(set(new.upstream) | set(old.upstream)):
        nk, ok = new.upstream.get(up), old.upstream.get(up)
        if nk == ok:
            continue
        old_up = read(up, game, ok) if ok else None
        if old_up is not None and up in plan.layers and nk is not None:
            causes.extend(diff_recipes(store, plan, game, plan.recipe(up, game), old_up.recipe, via=up, read=read))
        else:
            causes.append(Cause(kind="upstream", layer=layer, name=up, old=ok, new=nk, via=via))
    # The same root change reached through two upstream paths is one cause.
    unique: dict[str, Cause] = {}
    for c in causes:
        unique.setdefault(c.text(), c)
    return list(unique.values())


class _Prefetched:
    """The manifests status reads to explain STALE entries, fetched a batch at a time: the
    newest stored manifest of each STALE (layer, game), then, level by level, the old upstream
    manifests their recipes name. On an object store each batch is concurrent requests, so
    explaining 10,000 STALE games is not 10,000 round trips one after the other."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.got: dict[tuple[str, str, str], Manifest | None] = {}

    def fetch(self, ids: list[tuple[str, str, str]]) -> None:
        todo = list(dict.fromkeys(i for i in ids if i not in self.got))
        found = self.store.manifests(todo)
        for i in todo:
            self.got[i] = found.get(i)

    def get(self, layer: str, game: str, key: str) -> Manifest | None:
        if (layer, game, key) not in self.got:
            self.fetch([(layer, game, key)])
        return self.got[(layer, game, key)]

    def fetch_traces(self, plan: KeyPlan, stale: list[Entry]) -> None:
        frontier = [(e.layer, e.game, e.stored_key or "", plan.recipe(e.layer, e.game)) for e in stale]
        while frontier:
            self.fetch([(l, g, k) for l, g, k, _new in frontier])
            nxt = []
            for l, g, k, new in frontier:
                m = self.got.get((l, g, k))
                if m is None:
                    continue
                for up, nk in new.upstream.items():
                    ok = m.recipe.upstream.get(up)
                    if ok and ok != nk and up in plan.layers and (up, g, ok) not in self.got:
                        nxt.append((up, g, ok, plan.recipe(up, g)))
            frontier = nxt


def compute_status(store: Store, plan: KeyPlan, layers: list[str], explain: bool = True) -> StatusReport:
    """Status of ``layers`` x ``plan.games``. ``explain`` traces causes of STALE entries."""
    entries: list[Entry] = []
    failed_entries: list[Entry] = []
    stale_entries: list[Entry] = []
    missing_by_game: dict[str, list[str]] = defaultdict(list)
    for m in plan.missing_sources:
        missing_by_game[m.game].append(m.name)
    listings = store.list_layers(layers, ("manifests", "failures", "signals"))
    signaled: list[Entry] = []
    for layer in layers:
        lp = plan.layers[layer]
        listing: LayerListing = listings[layer]
        committed, failed = listing.committed, listing.failed
        for game in plan.games:
            key = lp.keys.get(game)
            if key is None:
                entries.append(Entry(layer, game, State.MISSING, None, note=f"cannot be built: {lp.blocked[game]}"))
                continue
            stored = committed.get(game)
            if stored is not None and key in stored:
                entries.append(Entry(layer, game, State.FRESH, key))
                if key in listing.signaled.get(game, ()):
                    signaled.append(entries[-1])
                continue
            if key in failed.get(game, ()):
                entries.append(Entry(layer, game, State.FAILED, key, note="failed"))
                failed_entries.append(entries[-1])
                continue
            note = None
            if game in missing_by_game:
                note = f"source file missing: {', '.join(missing_by_game[game])}"
            if not stored:
                entries.append(Entry(layer, game, State.MISSING, key, note=note))
                continue
            if len(stored) == 1:
                newest = stored[0]
            else:
                stamps = listing.committed_at
                newest = max(stored, key=lambda k: stamps.get((game, k)) or store.modified(layer, game, k))
            entries.append(Entry(layer, game, State.STALE, key, newest, (), note))
            stale_entries.append(entries[-1])
    if failed_entries:
        records = store.failures([(e.layer, e.game, e.key or "") for e in failed_entries])
        for e in failed_entries:
            rec = records.get((e.layer, e.game, e.key or ""))
            e.note = rec.message if rec else "failed"
    if signaled:
        found = store.signals([(e.layer, e.game, e.key or "") for e in signaled])
        for e in signaled:
            e.signals = tuple(found.get((e.layer, e.game, e.key or ""), ()))
    if explain and stale_entries:
        prefetched = _Prefetched(store)
        prefetched.fetch_traces(plan, stale_entries)
        for e in stale_entries:
            old = prefetched.get(e.layer, e.game, e.stored_key or "")
            if old is not None:
                e.causes = tuple(diff_recipes(store, plan, e.game, plan.recipe(e.layer, e.game), old.recipe, read=prefetched.get))
    return StatusReport(plan.collection, layers, entries)
