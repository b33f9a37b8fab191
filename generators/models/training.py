"""What every training loop here shares: a reproducible torch session and the learning-rate schedule.

:func:`reproducible` seeds torch's generator, turns on deterministic algorithms and fixes the
thread count for the duration of a ``with`` block, and restores all three afterwards, so a
training run leaves no process-global state behind. Within it, the same data and seed give
bit-identical weights on the same machine type and library versions (CPU kernels may differ
between instruction sets, so digests are compared on one machine).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def reproducible(seed: int, threads: int = 1) -> Iterator[None]:
    """Seed torch, use deterministic algorithms and ``threads`` CPU threads inside the block."""
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_deterministic)
            torch.set_num_threads(was_threads)


def cosine_lr(base: float, step: int, total: int, warmup: int = 20) -> float:
    """Learning rate at ``step`` of ``total``: a linear warm-up, then a cosine decay to 5% of ``base``."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
