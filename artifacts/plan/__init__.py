"""What the DAG should hold and what it does hold, from keys alone.

The :class:`Engine` (an opened workspace with layers, models, catalog and store), the key
plan (every expected key under a collection, before anything is built), ``status`` (expected
keys against the store's listing, with causes for STALE) and ``explain``. Reads manifests,
never artifact data. Depends on layers and everything below.
"""

from __future__ import annotations

from artifacts.plan.engine import Engine, EngineSpec
from artifacts.plan.explain import ExplainNode, explain
from artifacts.plan.keyplan import KeyPlan, LayerPlan
from artifacts.plan.status import Entry, SignalGroup, State, StatusReport, compute_status, diff_recipes

__all__ = [
    "Engine",
    "EngineSpec",
    "Entry",
    "ExplainNode",
    "KeyPlan",
    "LayerPlan",
    "SignalGroup",
    "State",
    "StatusReport",
    "compute_status",
    "diff_recipes",
    "explain",
]
