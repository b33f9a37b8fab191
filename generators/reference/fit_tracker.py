"""Fitting the tracker's parameters on sequences with ground truth, deterministically.

This is how the project makes its reference tracker reproducibly, without downloading
anything: a coordinate search over a small grid per parameter maximises the mean IDF1 over
the given sequences. Starting from ``start``, each round visits the parameters in the grid's
order and sets each to the grid value with the best score (others held); a value replaces the
current one only when strictly better, so ties keep the earlier choice. Rounds repeat until
one changes nothing (or ``rounds`` is reached). Same sequences, grid and start give the same
parameters, hence the same weights file bytes and digest.

The appearance parameters are not in the default grid: SportsMOT has no embeddings. They
are fitted once the crop encoder provides embeddings to fit with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from generators.models.tracking.params import TrackerParams
from generators.models.tracking.tracker import Tracker
from generators.reference.mot import Detections, GroundTruth, idf1
from generators.reference.tracker_baseline import GreedyParams, greedy_nearest

P = TypeVar("P", bound=BaseModel)

Grid = Mapping[str, Sequence[float]]

# For pixel foot-points of 720p broadcast video at 25 fps: players move ~5 px a frame, ~15 at
# a sprint, neighbours stand ~30 px apart at the closest, and a box's bottom edge (the
# foot-point) can jump 50 px in a frame when the legs are occluded. Court units need another grid.
TRACKER_GRID: Grid = {
    "gate": (10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0),
    "gate_growth": (0.0, 0.1, 0.25, 0.5, 1.0),
    "position_gain": (0.4, 0.6, 0.8, 0.9, 1.0),
    "velocity_gain": (0.05, 0.1, 0.2, 0.4, 0.7, 1.0),
    "max_age": (5, 15, 30, 60, 120),
    "min_hits": (1, 2, 3, 5),
    "new_track_confidence": (0.3, 0.45, 0.6, 0.75),
}
GREEDY_GRID: Grid = {
    "gate": (10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0),
    "max_age": (5, 15, 30, 60, 120),
    "new_track_confidence": (0.3, 0.45, 0.6, 0.75),
}


@dataclass(frozen=True)
class FitSequence:
    """One sequence to fit on: its ground truth, the detections to track and, optionally, their
    appearance embeddings [N, D] (aligned with the detections' rows)."""

    gt: GroundTruth
    detections: Detections
    embedding: npt.NDArray[np.float32] | None = None


@dataclass(frozen=True)
class FitResult(Generic[P]):
    """The best parameters found, their mean IDF1, and how many parameter sets were scored."""

    params: P
    score: float
    evaluations: int


def coordinate_search(start: P, grid: Grid, score: Callable[[P], float], rounds: int = 4) -> FitResult[P]:
    """Maximise ``score`` by coordinate search over ``grid`` from ``start`` (see module doc)."""
    unknown = sorted(set(grid) - set(type(start).model_fields))
    if unknown:
        raise ValueError(f"grid names {unknown}, which are not fields of {type(start).__name__}")
    cache: dict[tuple[tuple[str, object], ...], float] = {}

    def scored(params: P) -> float:
        key = tuple(sorted(params.model_dump().items()))
        if key not in cache:
            cache[key] = score(params)
        return cache[key]

    best, best_score = start, scored(start)
    for _ in range(rounds):
        changed = False
        for name, values in grid.items():
            for value in values:
                candidate = type(best).model_validate({**best.model_dump(), name: value})
                s = scored(candidate)
                if s > best_score:
                    best, best_score, changed = candidate, s, True
        if not changed:
            break
    return FitResult(params=best, score=best_score, evaluations=len(cache))


def fit_tracker(sequences: Sequence[FitSequence], threshold: float, grid: Grid = TRACKER_GRID, start: TrackerParams | None = None) -> FitResult[TrackerParams]:
    """Tracker parameters maximising the mean IDF1 over ``sequences`` (match ``threshold``
    in the foot-points' units)."""

    def score(params: TrackerParams) -> float:
        tracker = Tracker(params)
        return float(np.mean([idf1(s.gt, s.detections.frame, s.detections.xy, tracker.track(s.detections.frame, s.detections.xy, s.detections.conf, s.embedding),
                                   threshold) for s in sequences]))

    return coordinate_search(start if start is not None else TrackerParams(), grid, score)


def fit_greedy(sequences: Sequence[FitSequence], threshold: float, grid: Grid = GREEDY_GRID, start: GreedyParams | None = None) -> FitResult[GreedyParams]:
    """Baseline parameters fitted the same way, so that comparisons are like for like."""

    def score(params: GreedyParams) -> float:
        return float(np.mean([idf1(s.gt, s.detections.frame, s.detections.xy, greedy_nearest(s.detections.frame, s.detections.xy, s.detections.conf, params), threshold) for s in sequences]))

    return coordinate_search(start if start is not None else GreedyParams(), grid, score)
