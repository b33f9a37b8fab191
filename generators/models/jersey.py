"""The 133 jersey-number features: their layout, training targets and decoding.

Layout of one row (``JERSEY_DIM`` = 133 logits), as consumers slice it positionally:

- ``[0:3]`` objectness: no number (referee, or unreadable) / one digit / two digits;
- ``[3:13]`` the single digit of a one-digit number (0-9);
- ``[13:23]`` the tens digit of a two-digit number (0-9; 1-9 in practice);
- ``[23:33]`` the units digit of a two-digit number (0-9);
- ``[33:133]`` whole-number logits for 0-99.

The crop encoder composes the whole-number logits from the others plus a learned residual:
``whole[n] = log p(one digit) + log p(single = n)`` for n < 10 and
``log p(two digits) + log p(tens = n // 10) + log p(units = n % 10)`` otherwise, so a number
never seen in training still gets a sensible logit from its digits.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

JERSEY_DIM = 133
OBJECTNESS = slice(0, 3)
SINGLE = slice(3, 13)
TENS = slice(13, 23)
UNITS = slice(23, 33)
WHOLE = slice(33, 133)
NO_NUMBER, ONE_DIGIT, TWO_DIGITS = 0, 1, 2
IGNORE = -100  # the target of a head that does not apply (torch's cross-entropy ignore_index)

_N = np.arange(100)


def compose_whole(objectness: torch.Tensor, single: torch.Tensor, tens: torch.Tensor, units: torch.Tensor) -> torch.Tensor:
    """Whole-number log-probabilities ``[N, 100]`` implied by the objectness and digit logits."""
    lo, ls, lt, lu = (F.log_softmax(t, dim=1) for t in (objectness, single, tens, units))
    n = torch.as_tensor(_N, device=objectness.device)
    one = lo[:, ONE_DIGIT : ONE_DIGIT + 1] + ls[:, n % 10]
    two = lo[:, TWO_DIGITS : TWO_DIGITS + 1] + lt[:, n // 10] + lu[:, n % 10]
    return torch.where(n < 10, one, two)


def targets(numbers: NDArray[np.integer]) -> NDArray[np.int64]:
    """Targets ``[N, 5]`` (objectness, single, tens, units, whole) of jersey numbers (-1: none).

    Heads that do not apply get :data:`IGNORE`.
    """
    n = np.asarray(numbers, dtype=np.int64)
    out = np.full((n.shape[0], 5), IGNORE, dtype=np.int64)
    none, one, two = n < 0, (n >= 0) & (n < 10), n >= 10
    out[:, 0] = np.where(none, NO_NUMBER, np.where(one, ONE_DIGIT, TWO_DIGITS))
    out[one, 1] = n[one]
    out[two, 2] = n[two] // 10
    out[two, 3] = n[two] % 10
    out[~none, 4] = n[~none]
    return out


def decode_digits(jersey: NDArray[np.float32]) -> NDArray[np.int64]:
    """The number read from objectness and digit logits ``[N, 133]``: 0-99, or -1 for none."""
    obj = jersey[:, OBJECTNESS].argmax(axis=1)
    single = jersey[:, SINGLE].argmax(axis=1)
    two = jersey[:, TENS].argmax(axis=1) * 10 + jersey[:, UNITS].argmax(axis=1)
    return np.where(obj == NO_NUMBER, -1, np.where(obj == ONE_DIGIT, single, two)).astype(np.int64)


def decode_whole(jersey: NDArray[np.float32]) -> NDArray[np.int64]:
    """The number of the largest whole-number logit (0-99), or -1 where objectness says none."""
    obj = jersey[:, OBJECTNESS].argmax(axis=1)
    return np.where(obj == NO_NUMBER, -1, jersey[:, WHOLE].argmax(axis=1)).astype(np.int64)
