"""Questions asked of models over the built DAG: lineage, promotion, impact and check.

Whether a collection is consistent (``trained_with``, ``trained_on``, contracts), whether a
promotion keeps it so, what a model change invalidates and which models it sends back to
training, and everything CI should refuse. Reads the plan and status; builds nothing.
"""

from __future__ import annotations

from artifacts.provenance.check import check
from artifacts.provenance.impact import Impact, impact
from artifacts.provenance.lineage import Problem, collection_problems, lineage_cycles
from artifacts.provenance.promotion import promote

__all__ = [
    "Impact",
    "Problem",
    "check",
    "collection_problems",
    "impact",
    "lineage_cycles",
    "promote",
]
