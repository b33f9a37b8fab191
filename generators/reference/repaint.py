"""Training augmentation: give a rendered player another jersey number, in the decoded frame.

A few rendered games hold a few hundred players, each always wearing one number, so a crop
encoder can learn a player's number from the skin tone, shoes and height (which identify the
player) instead of from the digits, and then fails on new games. Repainting a random number
onto some crops breaks that shortcut: the digits become the only cue to the label.

The number is drawn exactly where and how the renderer draws it (:mod:`generators.render.draw`:
the jersey band of ``LAYOUT``, ``TORSO_HALF``, the 3x5 font at the largest whole scale that
fits, centred on the jersey), after the old number is painted over in the shirt's colour.
Only fully visible players qualify (nothing in front of the jersey to paint over).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from generators.render.draw import FIGURE_HALF_WIDTH, LAYOUT, NUMBER_COLOUR, TEAM_COLOURS, TORSO_HALF
from generators.render.font import GLYPH_H, number_mask, number_width


def number_pixels(number: int, fu: float, fv: float, height: float, frame_hw: tuple[int, int]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Rows and columns of the frame pixels the renderer paints ``number`` on, for a player standing on ``(fu, fv)``."""
    half = FIGURE_HALF_WIDTH * height
    r0, r1 = math.floor(fv - height), math.ceil(fv)
    c0, c1 = math.floor(fu - half), math.ceil(fu + half)
    vv, uu = np.mgrid[r0:r1, c0:c1].astype(np.float64) + 0.5
    up = (fv - vv) / height
    lo, hi = LAYOUT["jersey"]
    shirt = (up >= lo) & (up < hi) & (np.abs(uu - fu) / height <= TORSO_HALF)
    digits = np.zeros_like(shirt)
    scale = int(min((2 * TORSO_HALF * height - 1) // number_width(number), ((hi - lo) * height - 2) // GLYPH_H))
    if scale >= 1:
        glyph = number_mask(number, scale)
        gh, gw = glyph.shape
        top = int(np.rint((fv - r0) - (lo + hi) / 2 * height - gh / 2))
        left = int(np.rint((fu - c0) - gw / 2))
        t0, l0 = max(top, 0), max(left, 0)
        t1, l1 = min(top + gh, r1 - r0), min(left + gw, c1 - c0)
        if t1 > t0 and l1 > l0:
            digits[t0:t1, l0:l1] = glyph[t0 - top : t1 - top, l0 - left : l1 - left]
    digits &= shirt
    h, w = frame_hw
    inside = (vv >= 0) & (vv < h) & (uu >= 0) & (uu < w)
    rows, cols = np.nonzero(digits & inside)
    return (rows + r0).astype(np.intp), (cols + c0).astype(np.intp)


def repaint_number(frame: NDArray[np.uint8], fu: float, fv: float, height: float, team: int, old: int, new: int) -> None:
    """Replace, in place, the number ``old`` on player's jersey (team 0 or 1) by ``new``."""
    if team not in (0, 1):
        raise ValueError(f"team {team}: only players (team 0 or 1) wear numbers")
    hw = (frame.shape[0], frame.shape[1])
    old_r, old_c = number_pixels(old, fu, fv, height, hw)
    frame[old_r, old_c] = TEAM_COLOURS[team]
    new_r, new_c = number_pixels(new, fu, fv, height, hw)
    frame[new_r, new_c] = NUMBER_COLOUR


def random_numbers(rng: np.random.Generator, count: int) -> NDArray[np.int64]:
    """``count`` jersey numbers 0-99, two-digit ones four times as likely (like a roster)."""
    pool = np.arange(100)
    weights = np.where(pool >= 10, 4.0, 1.0)
    return rng.choice(pool, size=count, p=weights / weights.sum()).astype(np.int64)
