"""Four trivial chained layers for ``bench/engine_scale.py``.

They do almost no work on purpose, so that what the benchmark measures is the framework:
keys, status, planning, scheduling, staging, hashing outputs and committing manifests.

    scale-a  (game source "clip"; model role detector)  -> a.bin
    scale-b  (scale-a; model role tracker)               -> b.bin
    scale-c  (scale-b)                                    -> c.bin
    scale-d  (scale-c)                                    -> d.parquet (a one-row table)

The workspace registers them with ``layers = ["scale_layers:LayerA", ...]`` in artifacts.toml;
``bench/`` must be on ``sys.path`` (running ``python bench/engine_scale.py`` puts it there, and
the build's spawned workers inherit the parent's ``sys.path``).
"""

from __future__ import annotations

import xxhash

from artifacts import BuildContext, Generator

LAYER_NAMES = ("scale-a", "scale-b", "scale-c", "scale-d")
LAYER_PATHS = tuple(f"scale_layers:{c}" for c in ("LayerA", "LayerB", "LayerC", "LayerD"))


def _mix(*parts: bytes) -> bytes:
    return xxhash.xxh3_64_digest(b"\x00".join(parts))


class LayerA(Generator):
    name = "scale-a"
    version = "1"
    models = ("detector",)
    sources = ("clip",)
    outputs = ("a.bin",)
    description = "benchmark layer: 8 bytes from the game's clip and the detector weights"

    def build(self, ctx: BuildContext) -> None:
        with ctx.open_source("clip") as f:
            data = f.read()
        ctx.output_path("a.bin").write_bytes(_mix(data, ctx.model("detector").read_bytes()))


class LayerB(Generator):
    name = "scale-b"
    version = "1"
    upstream = ("scale-a",)
    models = ("tracker",)
    outputs = ("b.bin",)
    description = "benchmark layer: 8 bytes from scale-a and the tracker weights"

    def build(self, ctx: BuildContext) -> None:
        with ctx.upstream("scale-a").open("a.bin") as f:
            data = f.read()
        ctx.output_path("b.bin").write_bytes(_mix(data, ctx.model("tracker").read_bytes()))


class LayerC(Generator):
    name = "scale-c"
    version = "1"
    upstream = ("scale-b",)
    outputs = ("c.bin",)
    description = "benchmark layer: 8 bytes from scale-b"

    def build(self, ctx: BuildContext) -> None:
        with ctx.upstream("scale-b").open("b.bin") as f:
            data = f.read()
        ctx.output_path("c.bin").write_bytes(_mix(data, b"c"))


class LayerD(Generator):
    name = "scale-d"
    version = "1"
    upstream = ("scale-c",)
    outputs = ("d.parquet",)
    description = "benchmark layer: a one-row parquet table from scale-c"

    def build(self, ctx: BuildContext) -> None:
        import pyarrow as pa

        with ctx.upstream("scale-c").open("c.bin") as f:
            data = f.read()
        ctx.write_table("d.parquet", pa.table({"game": [ctx.game], "value": [int.from_bytes(_mix(data, b"d"), "little", signed=True)]}))
