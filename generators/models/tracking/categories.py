"""The category taxonomy of tracks and the category head.

Every track gets one category of :data:`CATEGORIES`:

    team_a    a player of the first team (the crop encoder's team slot 0)
    team_b    a player of the second team (slot 1)
    referee   a referee
    other     anyone else on camera (coach, bench, spectator, mascot) or no usable evidence

The crop encoder gives each detection a *preliminary* distribution over these four
categories (one row of ``team_probs``, in this order). One crop is often wrong (occlusion,
motion blur, a jersey seen edge-on); a track sees the same person many times, so the head
averages the per-detection probabilities over the track and takes the most probable category.
The mean, not the product, of probabilities: a few confidently wrong crops move the mean by
their share of the track only, whereas they would dominate a product (a sum of log-probs).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

CATEGORIES: Final = ("team_a", "team_b", "referee", "other")


def categorize(track_ids: npt.ArrayLike, team_probs: npt.ArrayLike) -> dict[int, str]:
    """Category of each track: argmax of the mean of its detections' category probabilities.

    ``track_ids``: [N] int, one per detection, -1 for detections in no track (ignored).
    ``team_probs``: [N, 4] probabilities over :data:`CATEGORIES` in that order (rows need not
    sum to one exactly; they are averaged as given). Ties go to the earlier category.
    Returns ``{track_id: category}`` for every track id >= 0, in increasing id order.
    Raises ``ValueError`` when the shapes disagree or a probability is negative or not finite.
    """
    ids = np.asarray(track_ids)
    probs = np.asarray(team_probs, dtype=np.float64)
    if ids.ndim != 1 or probs.shape != (len(ids), len(CATEGORIES)):
        raise ValueError(f"team_probs must have shape [{len(ids)}, {len(CATEGORIES)}] for {len(ids)} track ids, got {list(probs.shape)}")
    if not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise ValueError("team_probs must be finite and non-negative")
    keep = ids >= 0
    tracks, inverse = np.unique(ids[keep], return_inverse=True)
    sums = np.zeros((len(tracks), len(CATEGORIES)))
    np.add.at(sums, inverse, probs[keep])
    return dict(zip((int(t) for t in tracks), categories_of_sums(sums), strict=True))


def categories_of_sums(sums: npt.ArrayLike) -> list[str]:
    """Category of each track from the sum of its detections' probabilities, [K, 4] float64
    (what :func:`categorize` computes; a streaming caller accumulates the sums itself, adding
    each track's detections in order from 0.0 to get the same bits). Ties go to the earlier
    category."""
    s = np.asarray(sums, dtype=np.float64).reshape(-1, len(CATEGORIES))
    # Means differ from sums by a positive per-track factor: the argmax is the same.
    return [CATEGORIES[int(c)] for c in np.argmax(s, axis=1)]
