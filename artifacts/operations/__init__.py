"""Whole-store operations over an opened engine: gc, push and pull, cross-game combiners.

Depends on :mod:`artifacts.plan` (expected keys of every collection) and below.
"""

from __future__ import annotations

from artifacts.operations.combine import CombineContext, CombineOutcome, CombinePlan, Combiner, get_combiner, plan_combine, run_combine
from artifacts.operations.gc import DEFAULT_MIN_AGE_S, collect, delete
from artifacts.operations.transfer import TransferReport, pull, push

__all__ = [
    "DEFAULT_MIN_AGE_S",
    "CombineContext",
    "CombineOutcome",
    "CombinePlan",
    "Combiner",
    "TransferReport",
    "collect",
    "delete",
    "get_combiner",
    "plan_combine",
    "pull",
    "push",
    "run_combine",
]
