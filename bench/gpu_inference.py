"""The inference layers' models on CUDA against the CPU: same results, and how much faster.

For the GPU check of issues 4-6 (``frame-level`` and ``videomae-features`` run their models on
CUDA when present). Reads decoded frames from a ``.npy`` file ``[N, H, W, 3]`` uint8 (so it
needs no video decoder) and the weights files of the detector, the crop encoder and a
VideoMAE, runs each model on the CPU and on CUDA, and prints:

- detector: detections per frame equal on both, largest foot-point and confidence difference;
- crop encoder: on the same crops, largest difference of the embedding, jersey and team outputs;
- VideoMAE: on 224x224x16 clips cut from the frames, largest token difference (float16 cache);
- frames/s (clips/s) on each device, the best of ``--repeat`` runs, after a warm-up.

    python bench/gpu_inference.py FRAMES.npy DETECTOR CROP_ENCODER VIDEOMAE [--repeat 3]
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch

from generators.models.crop_encoder import CropEncoder, crop_boxes, extract_crops
from generators.models.detector import FootpointDetector
from generators.models.videomae import VideoMAEFeatures


def best(fn: Callable[[], Any], repeat: int, sync: bool) -> tuple[float, Any]:
    fn()  # warm-up (CUDA context, kernels, allocator)
    times, out = [], None
    for _ in range(repeat):
        if sync:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        if sync:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("frames")
    ap.add_argument("detector")
    ap.add_argument("crop_encoder")
    ap.add_argument("videomae")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--against", default="cuda", help="the device compared with the CPU (cpu: a dry run of this script without a GPU)")
    args = ap.parse_args()
    if args.against == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this check needs a GPU")
    frames = np.load(args.frames)
    n = frames.shape[0]
    cpu, gpu = torch.device("cpu"), torch.device(args.against)
    print(f"{torch.cuda.get_device_name(0) if args.against == 'cuda' else 'CPU only'}; torch {torch.__version__}; {n} frames {frames.shape[1]}x{frames.shape[2]}; CPU threads {torch.get_num_threads()}")

    det_w = FootpointDetector.from_weights(args.detector)
    dets = [FootpointDetector(det_w.config, copy.deepcopy(det_w.net), d) for d in (cpu, gpu)]
    t_det: dict[str, float] = {}
    found: dict[str, Any] = {}
    for d, det_model in zip(("cpu", "cuda"), dets, strict=True):
        t_det[d], found[d] = best(partial(det_model.detect, frames), args.repeat, gpu.type == "cuda" and d == "cuda")
    same_counts = all(len(a) == len(b) for a, b in zip(found["cpu"], found["cuda"], strict=True))
    diffs = [np.abs(a - b).max(axis=0) for a, b in zip(found["cpu"], found["cuda"], strict=True) if len(a) == len(b) and len(a)]
    worst = np.max(np.stack(diffs), axis=0) if diffs else np.zeros(3)
    print(f"detector: detections per frame equal on both devices: {same_counts} ({sum(len(f) for f in found['cpu'])} in all); "
          f"largest difference px {worst[0]:.2e}, py {worst[1]:.2e}, confidence {worst[2]:.2e}")
    print(f"  CPU {n / t_det['cpu']:.1f} frames/s, CUDA {n / t_det['cuda']:.1f} frames/s ({t_det['cpu'] / t_det['cuda']:.1f}x)")

    enc_w = CropEncoder.from_weights(args.crop_encoder)
    crops = np.concatenate([extract_crops(frames[i], crop_boxes(f[:, 0], f[:, 1], None, enc_w.crop_size, frames.shape[1:3]), enc_w.crop_size)
                            for i, f in enumerate(found["cpu"]) if len(f)])
    encs = [CropEncoder(enc_w.config, copy.deepcopy(enc_w.net), d) for d in (cpu, gpu)]
    t_enc: dict[str, float] = {}
    feats: dict[str, Any] = {}
    for d, enc_model in zip(("cpu", "cuda"), encs, strict=True):
        t_enc[d], feats[d] = best(partial(enc_model.encode, crops), args.repeat, gpu.type == "cuda" and d == "cuda")
    for name in ("embedding", "jersey", "team"):
        a, b = getattr(feats["cpu"], name), getattr(feats["cuda"], name)
        print(f"crop encoder {name}: largest difference {np.abs(a - b).max():.2e}" + (
            f"; argmax equal on {np.mean(a.argmax(1) == b.argmax(1)):.4f} of {len(a)} crops" if name == "team" else ""))
    print(f"  CPU {len(crops) / t_enc['cpu']:.0f} crops/s, CUDA {len(crops) / t_enc['cuda']:.0f} crops/s ({t_enc['cpu'] / t_enc['cuda']:.1f}x)")

    vm_w = VideoMAEFeatures.from_weights(args.videomae)  # on CUDA when present: copies are placed explicitly
    vms = [VideoMAEFeatures(vm_w.arch, copy.deepcopy(vm_w.net), d) for d in (cpu, gpu)]
    vm_cpu = vms[0]
    clips = np.stack([frames[s : s + 16, 60:284, 200:424] for s in range(0, n - 15, 4)])
    t_vm: dict[str, float] = {}
    toks: dict[str, Any] = {}
    for d, vm_model in zip(("cpu", "cuda"), vms, strict=True):
        t_vm[d], toks[d] = best(partial(vm_model.encode, clips), args.repeat, gpu.type == "cuda" and d == "cuda")
    diff = np.abs(toks["cpu"].astype(np.float32) - toks["cuda"].astype(np.float32))
    print(f"videomae {vm_cpu.arch.grid} x {vm_cpu.hidden_dim}: {len(clips)} clips, largest token difference {diff.max():.2e} "
          f"(mean {diff.mean():.2e}; float16 spacing near 1 is 9.8e-04)")
    print(f"  CPU {len(clips) / t_vm['cpu']:.1f} clips/s, CUDA {len(clips) / t_vm['cuda']:.1f} clips/s ({t_vm['cpu'] / t_vm['cuda']:.1f}x)")


if __name__ == "__main__":
    main()
