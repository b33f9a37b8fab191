"""Cached VideoMAE tokens read back in shuffled order, against a .npy memmap, zarr v3 and recomputing.

    python bench/token_cache.py [--clips 384] [--batch 32] [--rounds 5] [--recompute-clips 8] [--preset small]

Writes ``--clips`` clips of ``[3136, 768]`` float16 tokens (4.8 MB each) three ways in one
directory: the token cache of ``videomae-features`` (``generators/layers/videomae/cache.py``: raw
little-endian file + JSON header), a plain ``.npy`` of the same bytes, and zarr v3 with one
uncompressed chunk per clip. After one warm-up pass over everything (page cache and mappings
warm), each round reads every clip once in a fresh random order and reports clips/s:

- ``cache, batches``: ``TokenCache.read(rows, out=buf)`` into one reused ``[batch, 3136, 768]``
  buffer: what a training loop's data pipeline does;
- ``cache, per clip``: the same reader, one clip at a time into a reused clip buffer;
- ``npy memmap, per clip``: ``np.array(mm[i])``, the plain baseline (a fresh array per clip);
- ``npy memmap, fancy batch``: ``mm[rows]``, a fresh array per batch;
- ``zarr v3, per clip``: ``z[i]``, one chunk per clip, no compression.

Then it times recomputing the same number of tokens: the ``--preset`` VideoMAE configuration
(``small`` is the demo's) run on ``--recompute-clips`` random uint8 clips, on CUDA when present
(else the CPU with ``--threads`` threads), ``--recompute-batch`` clips a pass, float32, after one warm-up batch; the ratio is what the cache
saves per epoch. Figures are medians over rounds; ratios are against the npy baseline measured
in the same process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from generators.layers.videomae.cache import TokenCache, TokenCacheWriter, TokenExpectation


def grid_of(tokens: int) -> tuple[int, int, int]:
    return (16, 14, 14) if tokens == 16 * 14 * 14 else (1, 1, tokens)


def write_all(d: Path, clips: int, tokens: int, hidden: int) -> None:
    """The same bytes three ways; each clip differs (a base clip plus its index)."""
    import zarr

    base = np.random.default_rng(0).standard_normal((tokens, hidden)).astype(np.float16)
    w = TokenCacheWriter(d, clips, grid_of(tokens), hidden, "videomae")
    npy = np.lib.format.open_memmap(d / "tokens.npy", mode="w+", dtype=np.float16, shape=(clips, tokens, hidden))
    z = zarr.create_array(store=str(d / "tokens.zarr"), shape=(clips, tokens, hidden), dtype="float16", chunks=(1, tokens, hidden),
                          compressors=None, zarr_format=3)
    clip = np.empty_like(base)
    for i in range(clips):
        np.add(base, np.float16(i % 64), out=clip)
        w.write(i, clip)
        npy[i] = clip
        z[i] = clip
    w.close(missing=[])
    npy.flush()
    del npy


def rounds(name: str, fn: Callable[[np.ndarray[Any, Any]], None], n: int, batch: int, reps: int, rng: np.random.Generator) -> float:
    rates = []
    for _ in range(reps):
        perm = rng.permutation(n)
        t0 = time.perf_counter()
        for s in range(0, n, batch):
            fn(perm[s : s + batch])
        rates.append(n / (time.perf_counter() - t0))
    med = statistics.median(rates)
    print(f"  {name:28s} {med:8.0f} clips/s  (rounds {min(rates):.0f}-{max(rates):.0f})", flush=True)
    return med


def recompute(preset: str, n: int, threads: int, batch: int) -> tuple[float, str]:
    import torch

    from generators.models.videomae import VideoMAEFeatures, arch_preset

    torch.set_num_threads(threads)
    arch = arch_preset(preset)  # type: ignore[arg-type]
    model = VideoMAEFeatures(arch, VideoMAEFeatures.seeded(arch, 0).net)  # seeded on the CPU, then on the inference device
    clips = np.random.default_rng(1).integers(0, 256, (n, *model.clip_shape), dtype=np.uint8)
    batch = min(batch, n)
    model.encode(clips[:batch], batch_size=batch)  # warm-up: kernels, allocator
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    model.encode(clips, batch_size=batch)
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    where = torch.cuda.get_device_name() if model.device.type == "cuda" else f"CPU, {threads} thread(s)"
    return n / (time.perf_counter() - t0), f"{preset} (hidden {arch.hidden_size}, {arch.num_hidden_layers} layers, grid {arch.grid}, batch {batch}) on {where}"


def reads(args: argparse.Namespace) -> float:
    """Write the three copies, warm them, time shuffled reads of each; the cache's batch rate."""
    import zarr

    d = Path(tempfile.mkdtemp(prefix="token-cache-", dir=args.dir))
    try:
        mb = args.tokens * args.hidden * 2 / 1e6
        print(f"{args.clips} clips of [{args.tokens}, {args.hidden}] float16 ({mb:.1f} MB each, {args.clips * mb / 1e3:.2f} GB per copy) in {d}")
        t0 = time.perf_counter()
        write_all(d, args.clips, args.tokens, args.hidden)
        print(f"written three ways in {time.perf_counter() - t0:.1f} s; {os.cpu_count()} CPUs")
        cache = TokenCache(d, TokenExpectation(family="videomae", grid=grid_of(args.tokens), hidden_dim=args.hidden, rows=args.clips))
        npy = np.load(d / "tokens.npy", mmap_mode="r")
        z = zarr.open_array(str(d / "tokens.zarr"), mode="r")
        buf = cache.empty(args.batch)
        one = cache.empty(1)
        buf.fill(0)  # touch the reused buffers once: first-touch page faults are not reading
        one.fill(0)
        sink = np.zeros(1, np.float64)

        for i in range(args.clips):  # warm: page cache and the maps' page tables
            cache.read([i], out=one)
            sink += float(np.asarray(npy[i])[0, 0])
            z[i]

        def cache_batch(rows: np.ndarray[Any, Any]) -> None:
            cache.read(rows, out=buf)

        def npy_fancy(rows: np.ndarray[Any, Any]) -> None:
            npy[rows]

        def npy_clip(rows: np.ndarray[Any, Any]) -> None:
            for r in rows:
                np.array(npy[r])

        def zarr_clip(rows: np.ndarray[Any, Any]) -> None:
            for r in rows:
                z[int(r)]

        def cache_clip(rows: np.ndarray[Any, Any]) -> None:
            for r in rows:
                cache.read([r], out=one)

        rng = np.random.default_rng(2)
        print("shuffled reads, warm:")
        r_cache = rounds("cache, batches", cache_batch, args.clips, args.batch, args.rounds, rng)
        r_clip = rounds("cache, per clip", cache_clip, args.clips, args.batch, args.rounds, rng)
        r_npy = rounds("npy memmap, per clip", npy_clip, args.clips, args.batch, args.rounds, rng)
        r_fancy = rounds("npy memmap, fancy batch", npy_fancy, args.clips, args.batch, args.rounds, rng)
        r_zarr = rounds("zarr v3, per clip", zarr_clip, args.clips, args.batch, max(1, args.rounds // 2), rng)
        print(f"ratios to the npy memmap baseline: cache batches {r_cache / r_npy:.2f}x, cache per clip {r_clip / r_npy:.2f}x, "
              f"npy fancy {r_fancy / r_npy:.2f}x, zarr {r_zarr / r_npy:.2f}x; cache batches vs zarr {r_cache / r_zarr:.1f}x")
        print(f"cache batches move {r_cache * mb / 1e3:.1f} GB/s")
        return r_cache
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--clips", type=int, default=384)
    ap.add_argument("--tokens", type=int, default=3136)
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--recompute-clips", type=int, default=8)
    ap.add_argument("--recompute-batch", type=int, default=4)
    ap.add_argument("--preset", choices=["small", "tiny", "base"], default="small")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dir", type=Path, default=None, help="where to write the three copies (default: a temporary directory)")
    args = ap.parse_args(argv)

    r_cache = reads(args) if args.clips else 0.0
    if args.recompute_clips:
        rate, what = recompute(args.preset, args.recompute_clips, args.threads, args.recompute_batch)
        print(f"recompute VideoMAE {what}: {rate:.2f} clips/s", flush=True)
        if r_cache:
            print(f"the cache (batches) is {r_cache / rate:,.0f}x faster than recomputing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
