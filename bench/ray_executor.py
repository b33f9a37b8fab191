"""Ray executor against the local executor: the same build, its wall time and throughput.

Creates two fresh workspaces of ``--games`` games with the four trivial chained layers of
``bench/scale_layers.py`` (so that what is measured is the framework and the executor, not the
layers), builds ``scale-d`` in one through the local executor (``--jobs`` worker processes)
and in the other through the Ray executor on a local Ray cluster of ``--jobs`` CPUs, started
in this process first (its start is timed on its own). Each build starts cold: new worker
processes, which open the workspace and import the layers. It checks that both builds gave
the same keys and output digests, and prints the wall time of each build, tasks per second,
and the ratio Ray / local.

    .venv/bin/python bench/ray_executor.py                  # 200 games x 4 layers, --jobs 2
    .venv/bin/python bench/ray_executor.py --games 1000 --jobs 8
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from engine_scale import prepare_workspace
from scale_layers import LAYER_NAMES

from artifacts import api
from artifacts.plan import Engine
from artifacts.workspace import ExecutorSettings


def build(root: Path, settings: ExecutorSettings, jobs: int) -> tuple[float, int, dict[tuple[str, str], list[tuple[str, str]]]]:
    """Wall time, task count and (layer, game) -> output digests of one full build."""
    engine = Engine.open(root)
    t0 = time.perf_counter()
    report = api.build(engine, ["scale-d"], jobs=jobs, executor=settings)
    wall = time.perf_counter() - t0
    if not report.ok():
        raise SystemExit(f"error: the {settings.kind} build failed")
    out = {}
    for layer in LAYER_NAMES:
        for game in report.plan.games:
            m = engine.store.manifest(layer, game, report.plan.key(layer, game) or "")
            assert m is not None
            out[(layer, game)] = [(o.path, o.digest) for o in m.outputs]
    return wall, len(report.tasks), out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--games", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    import ray

    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        roots = {k: Path(tmp) / k for k in ("local", "ray")}
        for root in roots.values():
            prepare_workspace(root, args.games)
        local_s, tasks, local_out = build(roots["local"], ExecutorSettings(kind="local"), args.jobs)
        t0 = time.perf_counter()
        ray.init(num_cpus=args.jobs, include_dashboard=False, logging_level=logging.WARNING)
        start_s = time.perf_counter() - t0
        try:
            ray_s, _, ray_out = build(roots["ray"], ExecutorSettings(kind="ray"), args.jobs)
        finally:
            ray.shutdown()
    same = local_out == ray_out
    print(f"{args.games} games x {len(LAYER_NAMES)} layers = {tasks} tasks, --jobs {args.jobs} / Ray cluster of {args.jobs} CPUs")
    print(f"{'executor':<10} {'build s':>9} {'tasks/s':>9}")
    print(f"{'local':<10} {local_s:>9.2f} {tasks / local_s:>9.1f}")
    print(f"{'ray':<10} {ray_s:>9.2f} {tasks / ray_s:>9.1f}")
    print(f"ratio ray / local build time: {ray_s / local_s:.2f}   (Ray cluster start, not in the build time: {start_s:.1f} s)")
    print(f"identical keys and output digests: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
