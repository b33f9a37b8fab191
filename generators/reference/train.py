"""Train the reference detector and crop encoder on rendered games, reproducibly.

``python -m generators.reference.train OUT_DIR [--seed N] [--games N] [--seconds S] [--cache DIR]``
renders the training games (into ``--cache``, or a temporary directory), trains both models on
one CPU thread with deterministic algorithms, writes ``OUT_DIR/detector.safetensors`` and
``OUT_DIR/crop_encoder.safetensors`` and prints what it trained with their digests. The same
command on the same machine type and library versions writes files with the same digests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from artifacts.keys import hash_file
from generators.models.crop_encoder import CropEncoderConfig
from generators.models.detector import DetectorConfig
from generators.models.training import reproducible
from generators.reference.data import load_views, render_games
from generators.reference.fit_detector import DetectorTraining, fit_detector
from generators.reference.fit_encoder import EncoderTraining, fit_encoder

DETECTOR_FILE = "detector.safetensors"
CROP_ENCODER_FILE = "crop_encoder.safetensors"


def train_reference_models(
    out_dir: Path,
    *,
    seed: int = 0,
    games: int = 10,
    seconds: float = 3.0,
    cache_dir: Path | None = None,
    detector: DetectorTraining | None = None,
    encoder: EncoderTraining | None = None,
    detector_config: DetectorConfig | None = None,
    encoder_config: CropEncoderConfig | None = None,
    threads: int = 1,
    log: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Render ``games`` training games of ``seconds`` each, train both models, write their weights.

    Returns ``{"detector": path, "crop_encoder": path}`` under ``out_dir``. Everything that
    varies is drawn from ``seed``: the games, the initial weights, the batches and the jitter.
    ``cache_dir`` keeps the rendered games for later runs (rendering is deterministic too).
    """
    say = log or (lambda _m: None)
    detector = detector or DetectorTraining()
    encoder = encoder or EncoderTraining()
    detector_config = detector_config or DetectorConfig()
    encoder_config = encoder_config or CropEncoderConfig()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="render-") as tmp:
        t0 = time.perf_counter()
        rendered = render_games(cache_dir or Path(tmp), seed, "train", games, seconds)
        views = load_views(rendered)
        say(f"rendered and decoded {games} games x {len(rendered[0].cameras)} cameras, {sum(v.frames.shape[0] for v in views)} frames "
            f"in {time.perf_counter() - t0:.1f}s")
    paths = {"detector": out_dir / DETECTOR_FILE, "crop_encoder": out_dir / CROP_ENCODER_FILE}
    with reproducible(seed, threads):
        t0 = time.perf_counter()
        fit_detector(views, detector, detector_config, seed, say).save(paths["detector"])
        say(f"trained the detector in {time.perf_counter() - t0:.1f}s")
    with reproducible(seed + 1, threads):
        t0 = time.perf_counter()
        fit_encoder(views, encoder, encoder_config, seed, say).save(paths["crop_encoder"])
        say(f"trained the crop encoder in {time.perf_counter() - t0:.1f}s")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generators.reference.train", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--games", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--cache", type=Path, default=None, help="keep rendered games here (default: a temporary directory)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    paths = train_reference_models(args.out_dir, seed=args.seed, games=args.games, seconds=args.seconds, cache_dir=args.cache,
                                   log=lambda m: print(m, flush=True))
    print(f"trained in {time.perf_counter() - t0:.1f}s (seed {args.seed}, {args.games} games x {args.seconds:g}s)")
    for role, path in paths.items():
        print(f"{role}: {path} {hash_file(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
