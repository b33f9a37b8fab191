"""The basketball court in feet: dimensions, hoops, and the painted lines as a distance field.

Coordinates follow SportVU: ``x`` along the 94 ft length (0 = left baseline), ``y`` across
the 50 ft width (0 = the sideline nearest the cameras), ``z`` up. Every feature of an NBA
court is symmetric about both centre lines, so the line geometry is written for one quarter
and evaluated on coordinates folded into it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

LENGTH_FT = 94.0
WIDTH_FT = 50.0
HOOP_FROM_BASELINE_FT = 5.25
HOOP_HEIGHT_FT = 10.0
RIM_RADIUS_FT = 0.75
BACKBOARD_FROM_BASELINE_FT = 4.0
THREE_POINT_RADIUS_FT = 23.75
THREE_POINT_CORNER_Y_FT = 3.0
KEY_HALF_WIDTH_FT = 8.0
FREE_THROW_LINE_X_FT = 19.0
CIRCLE_RADIUS_FT = 6.0
LINE_WIDTH_FT = 0.33  # wider than the real 2 in, so the far lines survive a small frame


def hoop_xy(side: int) -> tuple[float, float]:
    """Centre of the hoop on ``side`` 0 (left, x = 5.25) or 1 (right, x = 88.75)."""
    return (HOOP_FROM_BASELINE_FT if side == 0 else LENGTH_FT - HOOP_FROM_BASELINE_FT, WIDTH_FT / 2)


def _segment_distance(px: NDArray[np.float64], py: NDArray[np.float64], a: tuple[float, float], b: tuple[float, float]) -> NDArray[np.float64]:
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    return np.hypot(px - (ax + t * dx), py - (ay + t * dy))


def line_distance(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Distance in feet from each ground point to the nearest painted line (any shape)."""
    fx = np.where(x <= LENGTH_FT / 2, x, LENGTH_FT - x)
    fy = np.where(y <= WIDTH_FT / 2, y, WIDTH_FT - y)
    half_l, half_w = LENGTH_FT / 2, WIDTH_FT / 2
    key_y = half_w - KEY_HALF_WIDTH_FT
    hx, hy = HOOP_FROM_BASELINE_FT, half_w
    arc_x = hx + float(np.sqrt(THREE_POINT_RADIUS_FT**2 - (half_w - THREE_POINT_CORNER_Y_FT) ** 2))
    d = _segment_distance(fx, fy, (0.0, 0.0), (half_l, 0.0))  # sideline
    d = np.minimum(d, _segment_distance(fx, fy, (0.0, 0.0), (0.0, half_w)))  # baseline
    d = np.minimum(d, _segment_distance(fx, fy, (half_l, 0.0), (half_l, half_w)))  # half-court line
    d = np.minimum(d, np.abs(np.hypot(fx - half_l, fy - hy) - CIRCLE_RADIUS_FT))  # centre circle
    d = np.minimum(d, _segment_distance(fx, fy, (0.0, key_y), (FREE_THROW_LINE_X_FT, key_y)))  # key side
    d = np.minimum(d, _segment_distance(fx, fy, (FREE_THROW_LINE_X_FT, key_y), (FREE_THROW_LINE_X_FT, half_w)))  # free-throw line
    d = np.minimum(d, np.abs(np.hypot(fx - FREE_THROW_LINE_X_FT, fy - hy) - CIRCLE_RADIUS_FT))  # free-throw circle
    d = np.minimum(d, _segment_distance(fx, fy, (0.0, THREE_POINT_CORNER_Y_FT), (arc_x, THREE_POINT_CORNER_Y_FT)))  # corner three
    arc = np.abs(np.hypot(fx - hx, fy - hy) - THREE_POINT_RADIUS_FT)
    return np.minimum(d, np.where(fx >= arc_x, arc, np.inf))


def in_key(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Whether each ground point lies in either painted key."""
    fx = np.where(x <= LENGTH_FT / 2, x, LENGTH_FT - x)
    return (fx >= 0) & (fx <= FREE_THROW_LINE_X_FT) & (np.abs(y - WIDTH_FT / 2) <= KEY_HALF_WIDTH_FT)


def in_court(x: NDArray[np.float64], y: NDArray[np.float64], margin_ft: float = 0.0) -> NDArray[np.bool_]:
    """Whether each ground point lies inside the court grown by ``margin_ft``."""
    return (x >= -margin_ft) & (x <= LENGTH_FT + margin_ft) & (y >= -margin_ft) & (y <= WIDTH_FT + margin_ft)
