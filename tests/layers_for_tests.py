"""Small layers for the engine's tests: a 3-layer chain plus layers that fail on purpose.

Behaviour is driven by the game's source content (never by global state), so each test
decides what a game does by what it writes into the game's source file:

* a source starting with ``FAIL`` makes ``t-frames`` raise a permanent error;
* ``TRANSIENT <n>`` makes it fail transiently until ``n`` attempts were made (counted in a
  file next to the source, since attempts may run in different worker processes);
* ``DIE <n>`` makes ``t-frames`` kill its own worker process until ``n`` attempts were made
  (counted like ``TRANSIENT``; only for builds whose tasks run in worker processes);
* ``SLOW <seconds>`` makes ``t-slow`` sleep that long. ``t-slow`` also appends
  ``<game> <pid>`` to ``builds.log`` beside the games' source directories each time it starts
  computing, so tests can count how often each key was computed, and by which process.

``RESOURCE_PROBES`` are layers that record what their task was given (for the executors'
tests); they are not in ``ALL``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import ClassVar

from artifacts import BuildContext, Generator, Params, Resources, TransientError
from artifacts.errors import SourceError
from artifacts.layers import SourceCheck, SourceChecker


class FrameParams(Params):
    scale: float = 1.0
    stride: int = 1
    embedding_dim: int = 8


def _read(ctx: BuildContext, name: str) -> bytes:
    with ctx.open_source(name) as f:
        data: bytes = f.read()
    return data


class TFrames(Generator):
    name = "t-frames"
    version = "1"
    Params = FrameParams
    models = ("detector", "crop_encoder")
    sources = ("kind:video",)
    outputs = ("detections.parquet",)
    contracts: ClassVar[dict[str, str]] = {"embedding_dim": "crop_encoder"}

    def build(self, ctx: BuildContext) -> None:
        import numpy as np
        import pyarrow as pa

        p = ctx.params
        assert isinstance(p, FrameParams)
        for name in ctx.source_names():
            data = _read(ctx, name)
            if data.startswith(b"FAIL"):
                raise ValueError(f"cannot decode {name}: bad header")
            if data.startswith((b"TRANSIENT", b"DIE")):
                need = int(data.split()[1])
                counter = Path(ctx.source(name).url + ".attempts")
                n = int(counter.read_text()) + 1 if counter.exists() else 1
                counter.write_text(str(n))
                if n < need and data.startswith(b"DIE"):
                    os.kill(os.getpid(), signal.SIGKILL)
                if n < need:
                    raise TransientError("decoder", name, f"busy on attempt {n}", "retry")
        weights = ctx.model("detector").read_bytes()
        values = np.frombuffer(b"".join(_read(ctx, n) for n in ctx.source_names()), dtype=np.uint8)[:: p.stride]
        table = pa.table({"i": np.arange(len(values)), "v": values.astype(np.float64) * p.scale + weights[0]})
        ctx.write_table("detections.parquet", table)
        ctx.record_contract("embedding_dim", p.embedding_dim)


class TTracks(Generator):
    name = "t-tracks"
    version = "1"
    upstream = ("t-frames",)
    models = ("tracker",)
    outputs = ("tracks.parquet",)

    def build(self, ctx: BuildContext) -> None:
        import polars as pl

        det = ctx.upstream("t-frames").frame("detections.parquet")  # polars in, polars out
        bias = ctx.model("tracker").read_bytes()[0]
        ctx.write_table("tracks.parquet", det.select(((pl.col("v") + bias) % 7).cast(pl.Int64).alias("track")))


def check_shots(source: SourceCheck) -> None:
    """The test shots format: a ``frame`` header, then one non-negative frame number a row."""
    assert source.path is not None
    lines = Path(source.path).read_text().splitlines()
    if not lines or lines[0] != "frame":
        raise SourceError(f"{source.path} row 1", lines[0] if lines else "", "is not the header 'frame'", "start the file with the line: frame")
    for row, line in enumerate(lines[1:], start=2):
        if not line.isdigit():
            raise SourceError(f"{source.path} row {row} column frame", line, "is not a non-negative integer", "write the shot's frame number")


class TSummary(Generator):
    name = "t-summary"
    version = "1"
    upstream = ("t-tracks",)
    sources = ("shots",)
    source_checks: ClassVar[dict[str, SourceChecker]] = {"shots": check_shots}
    outputs = ("hist.zarr",)

    def build(self, ctx: BuildContext) -> None:
        import numpy as np

        tracks = ctx.upstream("t-tracks").table("tracks.parquet").column("track").to_numpy()
        shots = len(_read(ctx, "shots").splitlines())
        hist = np.bincount(tracks, minlength=7).astype(np.float32) * shots
        arr = ctx.create_array("hist.zarr", shape=(7,), dtype="float32", chunks=(7,))
        arr[:] = hist


class SlowParams(Params):
    default_sleep: float = 0.0


class TSlow(Generator):
    name = "t-slow"
    version = "1"
    Params = SlowParams
    sources = ("kind:video",)
    outputs = ("out.bin",)

    def build(self, ctx: BuildContext) -> None:
        p = ctx.params
        assert isinstance(p, SlowParams)
        data = b"".join(_read(ctx, n) for n in ctx.source_names())
        log = Path(ctx.source(ctx.source_names()[0]).url).parent.parent / "builds.log"
        with open(log, "a") as f:  # one small O_APPEND write: lines of concurrent builders never mix
            f.write(f"{ctx.game} {os.getpid()}\n")
        delay = float(data.split()[1]) if data.startswith(b"SLOW") else p.default_sleep
        path = ctx.output_path("out.bin")
        with open(path, "wb") as f:
            f.write(data[:16])
            f.flush()
            time.sleep(delay)  # the output is half written while we sleep: a kill here must not publish
            f.write(data[16:])


class TPicky(Generator):
    """Counts a source's bytes; zero bytes are items it cannot use (skipped), bytes above 250
    hit its cap (capped)."""

    name = "t-picky"
    version = "1"
    sources = ("kind:video",)
    outputs = ("count.json",)

    def build(self, ctx: BuildContext) -> None:
        for name in ctx.source_names():
            data = _read(ctx, name)
            zeros = [i for i, b in enumerate(data) if b == 0]
            ctx.skipped("bytes", len(zeros), len(data), "a zero byte carries nothing", "fill the holes in the export", [f"{name}@{i}" for i in zeros])
            ctx.capped("bytes", sum(1 for b in data if b > 250), len(data), "the counter saturates at 250", "raise params.t-picky.cap (not implemented)")
        ctx.output_path("count.json").write_text(json.dumps({n: len(_read(ctx, n)) for n in ctx.source_names()}))


ALL = ["layers_for_tests:TFrames", "layers_for_tests:TPicky", "layers_for_tests:TTracks", "layers_for_tests:TSummary", "layers_for_tests:TSlow", "layers_for_tests:TModeled"]


class ByteModel:
    """A model implementation for tests: its "weights" are bytes; it remembers its loading."""

    def __init__(self, weights: bytes, path: str) -> None:
        import uuid

        self.weights = weights
        self.path = path
        self.instance = uuid.uuid4().hex

    @classmethod
    def from_weights(cls, path: str) -> ByteModel:
        return cls(Path(path).read_bytes(), path)

    def score(self, data: bytes) -> int:
        return (sum(data) + sum(self.weights)) % 1000


class TModeled(Generator):
    name = "t-modeled"
    version = "1"
    models = ("tracker",)
    sources = ("kind:video",)
    outputs = ("score.txt",)

    def build(self, ctx: BuildContext) -> None:
        model = ctx.model("tracker").load()
        data = b"".join(_read(ctx, n) for n in ctx.source_names())
        ctx.output_path("score.txt").write_text(f"{model.score(data)} {model.instance}")


class TProbe(Generator):
    """Records what its task was given: the Ray resources assigned to it (when it runs in a
    Ray worker) and the GPUs it could see."""

    name = "t-probe"
    version = "1"
    sources = ("kind:video",)
    outputs = ("given.json",)

    def build(self, ctx: BuildContext) -> None:
        given: dict[str, object] = {"pid": os.getpid(), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}
        if "ray" in sys.modules:  # imported by the Ray worker that runs this task
            import ray

            given["ray_resources"] = ray.get_runtime_context().get_assigned_resources()
        ctx.output_path("given.json").write_text(json.dumps(given, sort_keys=True))


class TProbeTwoCpus(TProbe):
    name = "t-probe-2cpu"
    resources = Resources(cpus=2, memory_mb=64)


class TProbeGpu(TProbe):
    name = "t-probe-gpu"
    resources = Resources(gpus=1)


class TProbeHuge(TProbe):
    name = "t-probe-huge"
    resources = Resources(cpus=64)


RESOURCE_PROBES = [f"layers_for_tests:{c}" for c in ("TProbe", "TProbeTwoCpus", "TProbeGpu", "TProbeHuge")]
