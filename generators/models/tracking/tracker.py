"""The tracker: online association of foot-point detections into tracks (model 3).

It is the model implementation of the ``tracker`` role: models.yaml names it as
``implementation: generators.models.tracking.tracker:Tracker`` and the framework builds it with
``Tracker.from_weights(path)`` on the digest-verified weights file, which holds the fitted
:class:`TrackerParams` (see ``params.py``). The category head is :meth:`Tracker.categorize`.

Association, frame by frame in increasing frame order (online: a frame's assignment uses only
the frames before it):

1. Tracks unseen for more than ``max_age`` frames end.
2. Every live track predicts its position at constant velocity: ``p + v * dt``.
3. Cost of (track, detection) = ``|detection - prediction| / gate`` (normalised motion), mixed
   with the cosine distance of the embeddings when given. Pairs farther than the track's gate
   (widening with the frames it went unseen) are not allowed.
4. Hungarian assignment (``scipy.optimize.linear_sum_assignment``) of the allowed pairs.
5. Matched tracks update with an alpha-beta filter (position gain, velocity gain), whose
   gains grow with the frames since the track's last detection; unmatched tentative tracks end; unmatched detections confident enough start
   tentative tracks.

Each step is vectorised over the frame's tracks and detections. Everything is deterministic:
the same inputs and parameters give the same track ids. The association itself lives in
:class:`~generators.models.tracking.state.TrackerState` (``state.py``), which holds what is
known between two frames and can be saved and restored: :meth:`Tracker.track` runs one over
a whole sequence, the track-level layer runs one per camera across chunks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from generators.models.tracking.categories import categorize
from generators.models.tracking.params import TrackerParams, load_params, save_params
from generators.models.tracking.state import IntArray, TrackerState, validated


class Tracker:
    """Online constant-velocity tracker with Hungarian assignment and a category head."""

    def __init__(self, params: TrackerParams | None = None) -> None:
        self.params = params if params is not None else TrackerParams()

    @classmethod
    def from_weights(cls, path: str | Path) -> Tracker:
        """The tracker whose parameters are the safetensors file at ``path`` (see ``params.py``)."""
        return cls(load_params(path))

    def save(self, path: str | Path) -> None:
        """Write this tracker's parameters as a weights file that :meth:`from_weights` reads."""
        save_params(self.params, path)

    def track(
        self,
        frame: npt.ArrayLike,
        xy: npt.ArrayLike,
        conf: npt.ArrayLike,
        embedding: npt.ArrayLike | None = None,
    ) -> IntArray:
        """Track ids for one camera's sequence of detections, one row per detection.

        ``frame``: [N] integer frame numbers (any order; gaps allowed). ``xy``: [N, 2]
        foot-points (pixels or court units: the parameters' distances are in the same units).
        ``conf``: [N] detection confidences. ``embedding``: optional [N, D] appearance
        embeddings (any scale: only their direction is used).

        Returns [N] int64 track ids aligned with the input rows: tracks are numbered 0, 1, ...
        in the order they were confirmed; a detection in no confirmed track gets -1. Once a
        track is confirmed, its tentative first detections carry its id too (the layer
        labels a whole sequence, so it need not hide them as a live display would).
        Raises ``ValueError`` when the arrays' shapes or values disagree with this contract.
        """
        frames, points, confs, embs = validated(frame, xy, conf, embedding)
        order = np.argsort(frames, kind="stable")
        state = self.state(embs.shape[1] if embedding is not None else None)
        det_uid = np.full(len(frames), -1, np.int64)  # internal track uid of each detection
        det_uid[order] = state.run(frames[order], points[order], confs[order], embs[order], np.zeros((len(frames), 0)))
        return state.track_ids(det_uid)

    def state(self, embedding_dim: int | None, categories: bool = False) -> TrackerState:
        """A fresh online state with this tracker's parameters, for a sequence fed in frame
        order (see :class:`~generators.models.tracking.state.TrackerState`): ``track`` on a
        whole sequence equals feeding it to a state in pieces and mapping the uids at the end.
        ``embedding_dim``: None when no embeddings are fed. ``categories``: accumulate the
        category head's per-track sums too."""
        return TrackerState(self.params, embedding_dim, categories)

    def categorize(self, track_ids: npt.ArrayLike, team_probs: npt.ArrayLike) -> dict[int, str]:
        """The category head: see :func:`generators.models.tracking.categories.categorize`."""
        return categorize(track_ids, team_probs)

