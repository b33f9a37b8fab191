"""What the rasteriser reads, as plain arrays: a game's detections, its tracks and its shot windows.

The ``shot-heatmaps`` layer fills these from the frame-level and track-level artifacts and the
shots annotation, a chunk of shots at a time (``upstream`` reads only their windows' rows);
``generators.layers.heatmaps.sportvu`` from real SportVU positions; the benchmark from either. Everything downstream is vectorised over these arrays, all their shots at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from generators.models.crops import DEFAULT_HEIGHT_FRACTION

# Track categories, in generators/models/tracking/categories.py's order: team_a is the crop encoder's
# team slot 0, team_b slot 1; the shots annotation's shooter_team uses the same 0 / 1.
TEAM_A, TEAM_B, REFEREE, OTHER = 0, 1, 2, 3
FOOTPRINT_ASPECT = 0.4  # footprint width / height
NO_TRACK = -1


def footprint_height(frame_height: int) -> float:
    """The footprint height in pixels of a detection in a frame ``frame_height`` pixels high:
    the crop encoder's default figure height (``generators.models.crops``, 1/9 of the frame)."""
    return DEFAULT_HEIGHT_FRACTION * frame_height


@dataclass(frozen=True)
class Detections:
    """``N`` detections of a game, any order.

    ``camera``: int index into the game's camera list; ``frame``: frame index in that camera's
    video; ``px, py``: foot-point in its pixels; ``confidence``; ``track``: row in
    :class:`Tracks` or ``NO_TRACK``; ``team``: argmax of the crop encoder's team scores (0 team_a,
    1 team_b, 2 referee), used for detections in no track.
    """

    camera: NDArray[np.int32]
    frame: NDArray[np.int32]
    px: NDArray[np.float32]
    py: NDArray[np.float32]
    confidence: NDArray[np.float32]
    track: NDArray[np.int64]
    team: NDArray[np.int8]

    def __len__(self) -> int:
        return int(self.frame.shape[0])


@dataclass(frozen=True)
class Tracks:
    """``T`` tracks: their id (as stored upstream), category (``TEAM_A`` ... ``OTHER``) and jersey
    number (0-99, -1 unknown)."""

    track_id: NDArray[np.int64]
    category: NDArray[np.int8]
    jersey: NDArray[np.int16]

    def __len__(self) -> int:
        return int(self.track_id.shape[0])


@dataclass(frozen=True)
class Windows:
    """``S`` shot windows (only shots that have one): camera index, top-left pixel ``x0, y0``,
    ``first_frame``, origin ``[S, 2]`` float32 in window pixels, the offense (0 team_a, 1 team_b)
    and the shooter's jersey number. ``footprint_px[c]`` is camera ``c``'s footprint height."""

    camera: NDArray[np.int32]
    x0: NDArray[np.int32]
    y0: NDArray[np.int32]
    first_frame: NDArray[np.int32]
    origin: NDArray[np.float32]
    offense: NDArray[np.int8]
    shooter_jersey: NDArray[np.int16]
    footprint_px: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.camera.shape[0])
