"""Frames per second through the frame-level layer on the demo configuration, and where the time goes.

The demo configuration: 4 rendered games of 4 s, 2 cameras each, 640x360 at 10 fps (320
frames), stride 1, batches of 16, one build process (``--jobs 1``), CPU. The script builds
``frame-level`` through the engine exactly as ``artifacts build`` does, in a fresh workspace,
then, on the same videos in the same process, times decoding alone (``decode_batches``) and
inference alone (``detect_and_encode`` on the decoded frames, detector then crop encoder). It
prints frames/s end to end and the shares of the wall time:

- decode: PyAV decoding to RGB arrays;
- inference: the detector and the crop encoder (crops included);
- worker imports: a fresh build worker imports torch, av and pyarrow once (timed in a
  subprocess), inside the first task's time;
- model loading: each task loads the detector and the crop encoder from their weights;
- rest of the generator: assembling and writing the parquet table and what the machine's load
  adds (the generator's own time, from the manifests' ``build_s``, minus the above);
- framework: everything else (planning keys, process pool start, workers loading models and
  checking digests, staging, commit), the build's wall time minus the generators' time.

    .venv/bin/python bench/frame_level.py WEIGHTS_DIR       # a directory from generators.reference.build
    .venv/bin/python bench/frame_level.py WEIGHTS_DIR --games 8 --seconds 8 --threads 2
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from artifacts import api
from artifacts.plan import Engine
from artifacts.workspace import init_workspace
from generators.layers.frame_level.decode import decode_batches
from generators.layers.frame_level.infer import detect_and_encode
from generators.models.crop_encoder import CropEncoder
from generators.models.detector import FootpointDetector
from generators.reference.train import CROP_ENCODER_FILE, DETECTOR_FILE
from generators.reference.workspace import PIPELINE_LAYERS, reference_models_yaml
from generators.render import render_game


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("weights_dir", type=Path)
    parser.add_argument("--games", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, here and in the build worker")
    parser.add_argument("--repeat", type=int, default=3, help="each measurement is the fastest of this many runs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-frame-level-") as tmp:
        root = Path(tmp) / "ws"
        init_workspace(root, layers=PIPELINE_LAYERS, entry_points=False)
        (root / "models.yaml").write_text(reference_models_yaml(args.weights_dir, root))
        games = [render_game(Path(tmp) / "games" / f"g{i}", f"g{i}", seed=i, seconds=args.seconds) for i in range(args.games)]
        engine = Engine.open(root)
        engine.catalog.add_games([g.entry() for g in games])
        walls, builds = [], []
        for _ in range(args.repeat):  # a fresh store each time: every run builds everything
            shutil.rmtree(root / "store", ignore_errors=True)
            t0 = time.perf_counter()
            report = api.build(engine, ["frame-level"], jobs=1)
            walls.append(time.perf_counter() - t0)
            assert report.ok(), "build failed"
            plan = engine.plan_keys(["frame-level"])
            manifests = [engine.store.manifest("frame-level", g.game_id, plan.key("frame-level", g.game_id) or "") for g in games]
            builds.append(sum(m.timings.build_s for m in manifests if m is not None))
        best = int(np.argmin(walls))
        wall, build_s = walls[best], builds[best]

        videos = [(c.name, str(g.video(c.name))) for g in games for c in g.cameras]
        decode_runs, infer_runs = [], []
        detector = FootpointDetector.from_weights(args.weights_dir / DETECTOR_FILE)
        encoder = CropEncoder.from_weights(args.weights_dir / CROP_ENCODER_FILE)
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            decoded = [(idx.copy(), frames.copy()) for name, url in videos for idx, frames in decode_batches(name, url, 1, 16)]
            decode_runs.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            detections = sum(len(detect_and_encode(detector, encoder, frames, idx.astype(np.int32))) for idx, frames in decoded)
            infer_runs.append(time.perf_counter() - t0)
        decode_s, infer_s = min(decode_runs), min(infer_runs)
        n_frames = sum(f.shape[0] for _, f in decoded)

    imports = []
    for _ in range(args.repeat):  # what a fresh build worker pays once: importing torch, av, pyarrow and the layer
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch, av, pyarrow.parquet, generators.layers.frame_level.infer"], check=True)
        imports.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in games:  # each task loads both models and checks nothing else
        FootpointDetector.from_weights(args.weights_dir / DETECTOR_FILE)
        CropEncoder.from_weights(args.weights_dir / CROP_ENCODER_FILE)
    load_s = time.perf_counter() - t0
    import_s = min(imports)
    rest = max(build_s - decode_s - infer_s - import_s - load_s, 0.0)
    framework = max(wall - build_s, 0.0)
    print(f"frame-level on {args.games} games x {len(games[0].cameras)} cameras x {args.seconds:g}s: {n_frames} frames, "
          f"{detections} detections, torch threads {args.threads}")
    print(f"end to end (artifacts build, --jobs 1, fastest of {args.repeat}): {wall:.2f}s = {n_frames / wall:.1f} frames/s")
    parts = (("decode", decode_s), ("inference", infer_s), ("worker imports (once)", import_s), ("model loading", load_s),
             ("rest of the generator", rest), ("framework", framework))
    for name, s in parts:
        print(f"  {name:22s} {s:7.2f}s  {100 * s / wall:5.1f}%  ({n_frames / s:.0f} frames/s alone)" if s > 0 else f"  {name:22s} {s:7.2f}s")


if __name__ == "__main__":
    main()
