"""Phase 1 training steps per second: from cached VideoMAE tokens vs recomputing VideoMAE every step.

    python bench/shooter_step.py [--batch 4] [--steps 2] [--rounds 3] [--threads 1]
        [--vm-hidden 384 --vm-layers 12 --vm-heads 6 --vm-intermediate 1536 --tubelet 2]
        [--d-track 64 --depth 2 --heads 4 --attention frame] [--json]

Both paths run the same dual-stream training step (forward, backward, AdamW) on the same
synthetic heatmaps [B, 16, 14, 14, 18]. ``cached`` reads the tokens of a batch already in
memory as float16 (what a cache gives a training loop, minus the read, which the reader's own
benchmark measures); ``recompute`` first runs a frozen ``transformers`` VideoMAEModel forward
(no gradient, eval mode) over random 16-frame 224x224 clips of the batch, the cost that Phase 1
avoids by reading the cache. The VideoMAE is randomly initialised (only its cost matters); its
size is configurable: the defaults are ViT-S-like (384 wide, 12 layers); ViT-B is
``--vm-hidden 768 --vm-heads 12 --vm-intermediate 3072``. Prints steps/s of each path and their
ratio, measured in one process after one warm-up step each: the median over ``--rounds``
rounds in which the paths take turns (``--steps`` steps each), so that the load of a shared
machine hits both alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable

import torch

from generators.trainers.shooter.batch import collate_shots
from generators.trainers.shooter.config import DualStreamConfig
from generators.trainers.shooter.model import DualStream
from generators.trainers.shooter.synthetic import SyntheticShots, SyntheticSpec


def _rates(paths: dict[str, Callable[[], None]], steps: int, rounds: int) -> dict[str, float]:
    """Median steps/s of each path over ``rounds`` rounds; the paths take turns within a round,
    so a change of machine load between rounds hits them alike."""
    for step in paths.values():
        step()  # warm-up: allocator, kernel selection
    seen: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, step in paths.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            seen[name].append(steps / (time.perf_counter() - t0))
    return {name: statistics.median(v) for name, v in seen.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=2, help="steps per path per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--vm-hidden", type=int, default=384)
    p.add_argument("--vm-layers", type=int, default=12)
    p.add_argument("--vm-heads", type=int, default=6)
    p.add_argument("--vm-intermediate", type=int, default=1536)
    p.add_argument("--tubelet", type=int, default=2, choices=(1, 2))
    p.add_argument("--d-track", type=int, default=64)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--attention", choices=("clip", "frame"), default="frame")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    from transformers import VideoMAEConfig, VideoMAEModel

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    t = 16 // a.tubelet
    data = SyntheticShots(SyntheticSpec(shots=a.batch, frames=16, grid=14, token_frames=t, token_dim=a.vm_hidden))
    batch = collate_shots([data[i] for i in range(a.batch)])
    model = DualStream(DualStreamConfig(d_track=a.d_track, depth=a.depth, heads=a.heads, attention=a.attention, token_frames=t, token_dim=a.vm_hidden))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    videomae = VideoMAEModel(VideoMAEConfig(
        image_size=224, patch_size=16, num_frames=16, tubelet_size=a.tubelet, hidden_size=a.vm_hidden, num_hidden_layers=a.vm_layers,
        num_attention_heads=a.vm_heads, intermediate_size=a.vm_intermediate,
    )).eval()
    for prm in videomae.parameters():
        prm.requires_grad_(False)  # Phase 1: frozen
    clips = torch.rand(a.batch, 16, 3, 224, 224)

    def train_step(tokens: torch.Tensor) -> None:
        logits = model(batch["heatmaps"], tokens, batch["token_grid"])
        ok = torch.isfinite(logits.gather(1, batch["label"][:, None]))[:, 0]
        loss = torch.nn.functional.cross_entropy(logits[ok], batch["label"][ok])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()

    def cached() -> None:
        train_step(batch["tokens"])

    def recompute() -> None:
        with torch.no_grad():
            tokens = videomae(pixel_values=clips).last_hidden_state
        train_step(tokens)

    def forward_only() -> None:
        with torch.no_grad():
            videomae(pixel_values=clips)

    rates = _rates({"cached": cached, "recompute": recompute, "forward": forward_only}, a.steps, a.rounds)
    cached_rate, recompute_rate, forward_rate = rates["cached"], rates["recompute"], rates["forward"]
    result = {
        "batch": a.batch, "threads": a.threads, "token_grid": list(batch["token_grid"]), "token_dim": a.vm_hidden,
        "videomae": {"hidden": a.vm_hidden, "layers": a.vm_layers, "heads": a.vm_heads, "tubelet": a.tubelet,
                     "parameters": sum(x.numel() for x in videomae.parameters())},
        "dual_stream": {"d_track": a.d_track, "depth": a.depth, "heads": a.heads, "attention": a.attention,
                        "parameters": sum(x.numel() for x in model.parameters())},
        "cached_steps_per_s": cached_rate, "recompute_steps_per_s": recompute_rate, "videomae_forward_per_s": forward_rate,
        "speedup": cached_rate / recompute_rate,
    }
    if a.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"batch {a.batch}, {a.threads} thread(s), tokens {tuple(batch['token_grid'])} x {a.vm_hidden}; "
          f"VideoMAE {result['videomae']['parameters'] / 1e6:.1f}M params (frozen), dual-stream {result['dual_stream']['parameters'] / 1e6:.2f}M "
          f"(d_track {a.d_track}, depth {a.depth}, attention {a.attention})")
    print(f"cached tokens:       {cached_rate:8.3f} steps/s  {cached_rate * a.batch:8.2f} shots/s")
    print(f"recompute VideoMAE:  {recompute_rate:8.3f} steps/s  {recompute_rate * a.batch:8.2f} shots/s   "
          f"(VideoMAE forward alone {forward_rate:.3f} batches/s)")
    print(f"cache / recompute:   {cached_rate / recompute_rate:8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
