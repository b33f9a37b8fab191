"""Fixed virtual cameras: pinhole projections from court feet to pixels, serialisable to JSON.

A camera sits above and behind the near sideline (y < 0) and looks at the court; ``x`` of the
court runs to the right of the picture and ``z`` up. Its focal length and principal point are
fitted once so that a named region of the court, players' heads included, fills the frame.
The parameters in ``cameras.json`` are everything a reader needs to project a court point
(:meth:`Camera.project`) or to intersect a pixel's ray with the floor (:meth:`Camera.ground`).
"""

from __future__ import annotations

import re

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator

from generators.render.court import LENGTH_FT, WIDTH_FT

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_UP = np.array([0.0, 0.0, 1.0])


class Camera(BaseModel):
    """A pinhole camera at ``position`` looking at ``look_at`` (feet), square pixels.

    Pixel ``(u, v)`` has its origin at the top-left corner of the frame, ``u`` to the right,
    ``v`` down; pixel centres lie at half-integers.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    position: tuple[float, float, float]
    look_at: tuple[float, float, float]
    focal_px: float = Field(gt=0)
    cx: float
    cy: float

    @field_validator("name")
    @classmethod
    def _name_is_a_source_name(cls, v: str) -> str:
        # The name becomes a file name, a source name and a column prefix.
        if not _NAME.match(v):
            raise ValueError(f"camera name {v!r} must be 1-32 of a-z 0-9 _, starting with a letter")
        return v

    def rotation(self) -> NDArray[np.float64]:
        """World-to-camera rotation: rows are the camera's right, down and forward axes."""
        fwd = np.subtract(self.look_at, self.position)
        fwd = fwd / np.linalg.norm(fwd)
        right = np.cross(fwd, _UP)
        right = right / np.linalg.norm(right)
        down = np.cross(fwd, right)
        return np.stack([right, down, fwd])

    def project(self, points: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Pixels ``[..., 2]`` and depth in feet ``[...]`` of world points ``[..., 3]``.

        Points behind the camera get NaN pixels; depth is along the viewing axis.
        """
        cam = (np.asarray(points, dtype=np.float64) - np.asarray(self.position)) @ self.rotation().T
        depth = cam[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(depth > 1e-6, 1.0 / depth, np.nan)
        uv = np.stack([cam[..., 0] * inv * self.focal_px + self.cx, cam[..., 1] * inv * self.focal_px + self.cy], axis=-1)
        return uv, depth

    def project_ground(self, x: NDArray[np.float64], y: NDArray[np.float64], z: float | NDArray[np.float64] = 0.0) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Pixel ``u`` and ``v`` arrays of points ``(x, y, z)`` (z = 0: the floor)."""
        pts = np.stack(np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64), np.asarray(z, np.float64)), axis=-1)
        uv, _ = self.project(pts)
        return uv[..., 0], uv[..., 1]

    def ground(self, u: NDArray[np.float64], v: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Floor point ``(x, y)`` in feet seen at pixel ``(u, v)``; NaN above the horizon."""
        rays = np.stack([(u - self.cx) / self.focal_px, (v - self.cy) / self.focal_px, np.ones_like(u)], axis=-1) @ self.rotation()
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(rays[..., 2] < -1e-9, -self.position[2] / rays[..., 2], np.nan)
        return self.position[0] + t * rays[..., 0], self.position[1] + t * rays[..., 1]

    def pixel_grid(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Pixel-centre coordinates ``(u, v)`` of the whole frame, each ``[height, width]``."""
        v, u = np.mgrid[0 : self.height, 0 : self.width].astype(np.float64) + 0.5
        return u, v

    def in_frame(self, u: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Whether pixel coordinates fall inside the frame (NaN: no)."""
        return (u >= 0) & (u < self.width) & (v >= 0) & (v < self.height)


def fit_camera(
    name: str,
    size: tuple[int, int],
    position: tuple[float, float, float],
    look_at: tuple[float, float, float],
    region: tuple[float, float, float, float],
    *,
    top_ft: float = 7.5,
    margin: float = 0.03,
) -> Camera:
    """A camera whose view just holds ``region`` = (x0, x1, y0, y1) of the floor up to ``top_ft``.

    The focal length is the largest that fits the region's corners (at floor and head height)
    inside the frame less ``margin`` on every side; the principal point centres them.
    """
    width, height = size
    probe = Camera(name=name, width=width, height=height, position=position, look_at=look_at, focal_px=1.0, cx=0.0, cy=0.0)
    x0, x1, y0, y1 = region
    corners = np.array([(x, y, z) for x in (x0, x1) for y in (y0, y1) for z in (0.0, top_ft)])
    uv, depth = probe.project(corners)
    if not (depth > 0).all():
        raise ValueError(f"camera {name}: region {region} is not entirely in front of the camera at {position}")
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    usable = np.array([width, height]) * (1 - 2 * margin)
    focal = float(np.min(usable / (hi - lo)))
    centre = (lo + hi) / 2 * focal
    return probe.model_copy(update={"focal_px": focal, "cx": width / 2 - float(centre[0]), "cy": height / 2 - float(centre[1])})


# Camera presets: where each stands and what it must see. "left" and "right" each hold one
# half and a third of the other, as a pair of sideline cameras do; "wide" holds the whole court
# from the stands, as a broadcast's main camera does; "tactical" looks down on the whole court
# from high above the near sideline (about 60 degrees down), as a coaches' all-players camera does.
_PRESETS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float, float]]] = {
    "left": ((28.0, -50.0, 50.0), (28.0, WIDTH_FT / 2, 0.0), (-3.0, 56.0, -3.5, WIDTH_FT + 3.0)),
    "right": ((LENGTH_FT - 28.0, -50.0, 50.0), (LENGTH_FT - 28.0, WIDTH_FT / 2, 0.0), (LENGTH_FT - 56.0, LENGTH_FT + 3.0, -3.5, WIDTH_FT + 3.0)),
    "wide": ((LENGTH_FT / 2, -65.0, 55.0), (LENGTH_FT / 2, WIDTH_FT / 2, 0.0), (-3.0, LENGTH_FT + 3.0, -3.5, WIDTH_FT + 3.0)),
    "tactical": ((LENGTH_FT / 2, -25.0, 90.0), (LENGTH_FT / 2, WIDTH_FT / 2, 0.0), (-3.0, LENGTH_FT + 3.0, -3.5, WIDTH_FT + 3.0)),
}
CAMERA_PRESETS = tuple(_PRESETS)
DEFAULT_CAMERAS = ("left", "right")


def preset_camera(name: str, size: tuple[int, int]) -> Camera:
    """The preset camera ``name`` (one of :data:`CAMERA_PRESETS`) fitted to a frame of ``size``."""
    if name not in _PRESETS:
        raise ValueError(f"camera {name!r} is not a preset; use one of {CAMERA_PRESETS}")
    position, look_at, region = _PRESETS[name]
    return fit_camera(name, size, position, look_at, region)
