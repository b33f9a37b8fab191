"""A 3x5 bitmap digit font, for jersey numbers that stay legible at a few pixels per stroke."""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray

_GLYPHS = {
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", ".##", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", ".#.", ".#.", ".#."),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
}
GLYPH_W, GLYPH_H = 3, 5


@cache
def _number_mask(number: int) -> NDArray[np.bool_]:
    glyphs = [np.array([[c == "#" for c in row] for row in _GLYPHS[d]]) for d in str(number)]
    gap = np.zeros((GLYPH_H, 1), dtype=bool)
    mask = glyphs[0]
    for g in glyphs[1:]:
        mask = np.hstack([mask, gap, g])
    mask.setflags(write=False)
    return mask


def number_mask(number: int, scale: int) -> NDArray[np.bool_]:
    """Boolean bitmap ``[5*scale, w*scale]`` of ``number`` (0-99), digits one column apart."""
    if not 0 <= number <= 99 or scale < 1:
        raise ValueError(f"number_mask draws 0-99 at scale >= 1, got {number} at {scale}")
    mask = _number_mask(number)
    return np.repeat(np.repeat(mask, scale, axis=0), scale, axis=1)


def number_width(number: int) -> int:
    """Width in font cells of ``number`` at scale 1."""
    return int(_number_mask(number).shape[1])
