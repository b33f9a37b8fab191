"""Phase 1 of the seed: VideoMAE frozen, so the dual-stream model trains from cached tokens only.

:func:`train_phase1` trains every new component (track encoder, cross-attention, classifier)
with AdamW at a constant ``lr`` (1e-3 in the seed) for ``epochs`` passes over a shot data set,
then evaluates on a held-out one beside two baselines: a uniform guess over the five slots
(20%) and :func:`~generators.trainers.shooter.batch.nearest_player`. On one CPU thread with the same
data and config it writes the same weights, byte for byte (see
:func:`generators.models.training.reproducible`).

A training shot whose shooter's mask is empty (the shooter never seen in the window) cannot be
scored, since that slot's logit is -inf: it is left out of the loss and counted in the report.
Held-out accuracy counts such shots as misses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from artifacts.errors import UsageError
from generators.models.training import reproducible
from generators.trainers.shooter.batch import collate_shots, nearest_player
from generators.trainers.shooter.config import CHANNELS, DualStreamConfig, EpochLog, Evaluation, Phase1Config, Phase1Report, StreamSizes
from generators.trainers.shooter.model import DualStream


def _loader(data: Dataset[Any], config: Phase1Config, shuffle: bool) -> DataLoader[Any]:
    generator = torch.Generator().manual_seed(config.seed)
    return DataLoader(data, batch_size=config.batch_size, shuffle=shuffle, collate_fn=collate_shots, num_workers=config.workers,
                      generator=generator, persistent_workers=False)


def model_config_for(item: dict[str, Any], sizes: StreamSizes) -> DualStreamConfig:
    """The model config for shots shaped like ``item`` with the chosen ``sizes``."""
    hm = item["heatmaps"]
    tokens = item["tokens"]
    t, h, w = (int(v) for v in item["token_grid"])
    if len(hm.shape) != 4 or hm.shape[-1] != CHANNELS or hm.shape[1] != hm.shape[2]:
        raise UsageError("heatmaps of shape", tuple(hm.shape), f"are not [T, H, H, {CHANNELS}]", "read shot-heatmaps of the seed's layout")
    if (h, w) != (hm.shape[1], hm.shape[2]) or len(tokens.shape) != 2 or tokens.shape[0] != t * h * w:
        raise UsageError("video tokens", f"{tuple(tokens.shape)} on grid {(t, h, w)}", f"do not align with heatmaps {tuple(hm.shape)}",
                         "cut heatmaps and features from the same shot window")
    return DualStreamConfig(**sizes.model_dump(), channels=CHANNELS, frames=int(hm.shape[0]), grid=int(hm.shape[1]), token_frames=t,
                            token_dim=int(tokens.shape[1]))


@torch.no_grad()
def evaluate(model: DualStream, data: Dataset[Any], config: Phase1Config) -> Evaluation:
    """Accuracy of ``model`` on ``data`` beside the random and nearest-player baselines."""
    model.eval()
    n = hits = near = unanswerable = 0
    chance = 0.0
    for batch in _loader(data, config, shuffle=False):
        hm, label = batch["heatmaps"], batch["label"]
        logits = model(hm, batch["tokens"], batch["token_grid"])
        visible = torch.isfinite(logits)
        hits += int((logits.argmax(dim=1) == label).sum())
        near += int((nearest_player(hm) == label).sum())
        unanswerable += int((~visible.gather(1, label[:, None])).sum())
        chance += float((1.0 / visible.sum(dim=1).clamp(min=1)).sum())
        n += int(label.shape[0])
    if n == 0:
        raise UsageError("held-out shots", 0, "none to evaluate on", "hold out at least one game with shots")
    return Evaluation(shots=n, accuracy=hits / n, visible_chance=chance / n, nearest_player=near / n, unanswerable=unanswerable)


def train_phase1(
    train: Dataset[Any],
    held_out: Dataset[Any],
    config: Phase1Config | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[DualStream, Phase1Report]:
    """Train a new dual-stream model on ``train``, evaluate it on ``held_out``.

    Every parameter is new and trains at ``config.lr``; VideoMAE is not in the graph at all
    (its tokens are read from the cache). Returns the model (eval mode) and the report.
    """
    config = config or Phase1Config()
    say = log or (lambda _m: None)
    if len(train) == 0:  # type: ignore[arg-type]
        raise UsageError("training shots", 0, "none to train on", "train on games that have shots with a known shooter")
    with reproducible(config.seed, config.threads):
        model_config = model_config_for(train[0], config.model)
        model = DualStream(model_config)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        epochs: list[EpochLog] = []
        steps = skipped = 0
        t_start = time.perf_counter()
        loader = _loader(train, config, shuffle=True)
        for epoch in range(1, config.epochs + 1):
            model.train()
            t0 = time.perf_counter()
            loss_sum = 0.0
            seen = hits = 0
            for batch in loader:
                logits = model(batch["heatmaps"], batch["tokens"], batch["token_grid"])
                label = batch["label"]
                ok = torch.isfinite(logits.gather(1, label[:, None]))[:, 0]
                if epoch == 1:
                    skipped += int((~ok).sum())
                if not bool(ok.any()):
                    continue
                loss = F.cross_entropy(logits[ok], label[ok])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                optimizer.step()
                steps += 1
                loss_sum += float(loss.detach()) * int(ok.sum())
                seen += int(ok.sum())
                hits += int((logits[ok].argmax(dim=1) == label[ok]).sum())
            log_ = EpochLog(epoch=epoch, loss=loss_sum / max(seen, 1), train_accuracy=hits / max(seen, 1), seconds=time.perf_counter() - t0)
            epochs.append(log_)
            say(f"epoch {epoch}/{config.epochs}: loss {log_.loss:.4f}, train accuracy {log_.train_accuracy:.1%} ({log_.seconds:.1f}s)")
        seconds = time.perf_counter() - t_start
        held = evaluate(model, held_out, config)
    report = Phase1Report(
        config=config, model=model_config, parameters=sum(p.numel() for p in model.parameters()), train_shots=len(train),  # type: ignore[arg-type]
        skipped_unanswerable=skipped, steps=steps, seconds=seconds, steps_per_s=steps / seconds if seconds > 0 else 0.0,
        epochs=epochs, held_out=held,
    )
    say(f"held-out accuracy {held.accuracy:.1%} on {held.shots} shots (random {held.random_baseline:.0%}, "
        f"nearest player {held.nearest_player:.1%})")
    return model, report
