"""Status on an S3 store: time and request count at N games x 4 layers, against a moto server.

Reuses ``bench/engine_scale.py``'s workspace (``--games`` games, the four chained scale layers
of ``bench/scale_layers.py``), starts a real S3 API server on localhost (moto in server mode,
``tests/s3_server.py``, threaded here since nothing writes concurrently during the timings)
and fills a bucket with one real manifest (``Manifest`` of the expected recipe) and one 8-byte
data object per expected artifact, stored straight into moto's backend (the test server's
``POST /_bulk``: one HTTP PUT each would take minutes on a loaded machine). Building 4 x N
tasks through S3 is not what is measured here, so the artifacts are written directly; status reads
only the listing, never a manifest of a FRESH artifact or any data. Then, as medians of
``--repeat`` runs with a fresh Engine each (the s3fs connection pool is reused, as it is in one
process):

1. ``artifacts.api.status`` over all 4 x N artifacts on ``s3://bench/store``, with the number
   and kind of requests the server received during one run and the time it was busy; and the
   listing alone, the layers one after the other against concurrently (as status does);
2. the same status on a local store holding the same manifests and data files (the baseline,
   same process);
3. what one request per artifact would cost instead: a ``HEAD`` of ``--sample`` manifests
   (``fs.exists``), extrapolated to 4 x N.

What carries over to a real S3 endpoint is the request count: it does not grow with games
beyond one request per 1,000 entries of a layer (the ListObjectsV2 page size). The time does
not carry over as it is: moto answers each ListObjectsV2 page by scanning and sorting every
key of the bucket (``moto/s3/models.py`` ``list_objects``), so its server time grows with the
bucket's size, which S3's does not; the server's share is measured (the test server times
every request) and reported apart from the client's.

    .venv/bin/python bench/object_store_status.py                  # 10,000 games, temp dir
    .venv/bin/python bench/object_store_status.py --games 1000 --repeat 3 --dir /tmp/scale-1k
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
for p in (BENCH_DIR, REPO / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from engine_scale import check_all_fresh, emit_json, engine_revision, prepare_workspace, summarise, timed_runs, workspace_dir
from rich.console import Console
from rich.table import Table
from s3_server import S3Server
from scale_layers import LAYER_NAMES

from artifacts import api
from artifacts.keys import hash_bytes
from artifacts.plan import Engine, KeyPlan
from artifacts.store import Builder, Manifest, OutputFile, Store, Timings, library_versions

BUCKET = "bench"
log = Console(stderr=True, highlight=False)


def artifacts_of(plan: KeyPlan) -> list[tuple[str, Manifest, bytes]]:
    """(data object path relative to the store, manifest, data bytes) per expected artifact."""
    builder = Builder(host="bench", user="bench", pid=0, attempt="bench-0-000000000000", versions=library_versions())
    timings = Timings(started="2026-01-01T00:00:00.000+00:00", finished="2026-01-01T00:00:00.000+00:00", build_s=0.0, total_s=0.0)
    out = []
    for layer in LAYER_NAMES:
        name = "d.parquet" if layer == "scale-d" else f"{layer[-1]}.bin"
        for game, key in plan.layers[layer].keys.items():
            data = key[:8].encode()
            m = Manifest(
                layer=layer, game=game, key=key, recipe=plan.recipe(layer, game), data=f"{layer}/data/{game}/{key}.bench-0-000000000000",
                outputs=[OutputFile(path=name, size=len(data), digest=hash_bytes(data))], timings=timings, builder=builder,
            )
            out.append((f"{m.data}/{name}", m, data))
    return out


def fill(store: Store, items: list[tuple[str, Manifest, bytes]], server: S3Server | None = None, batch: int = 5000) -> float:
    """Write every data object and manifest (data first); seconds taken."""
    t0 = time.perf_counter()
    store.ensure()
    if server is None:
        for rel, m, data in items:
            p = Path(store.data_path(rel))
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
            mp = Path(store.manifest_path(m.layer, m.game, m.key))
            mp.parent.mkdir(parents=True, exist_ok=True)
            mp.write_bytes(m.model_dump_json(indent=1).encode())
        return time.perf_counter() - t0
    bucket, _, _ = store.fs.split_path(store.root)

    def key(path: str) -> str:
        return path.split("/", 1)[1]

    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        server.bulk_put(bucket, {key(store.data_path(rel)): data.decode() for rel, _m, data in chunk})
        server.bulk_put(bucket, {key(store.manifest_path(m.layer, m.game, m.key)): m.model_dump_json(indent=1) for _r, m, _d in chunk})
        log.print(f"  uploaded {min(start + batch, len(items)):,}/{len(items):,} artifacts, {time.perf_counter() - t0:.0f} s")
    return time.perf_counter() - t0


def status_on(root: Path, url: str, options: dict[str, Any]) -> Any:
    engine = Engine.open(root)
    engine.store = Store(url, options)  # the same workspace, another store
    try:
        return api.status(engine, list(LAYER_NAMES))
    finally:
        engine.close()


def measure_s3(root: Path, url: str, options: dict[str, Any], server: S3Server, s3: Store, items: list[tuple[str, Manifest, bytes]],
               args: argparse.Namespace, n_art: int) -> dict[str, Any]:
    """Status, listing alone (sequential and concurrent) and one HEAD per artifact, on S3."""
    out: dict[str, Any] = {}
    server.reset_counts()
    first, rep = timed_runs(lambda: status_on(root, url, options), 1)
    check_all_fresh(rep, n_art, "status on S3")
    out["requests_per_status"] = server.counts()
    server.reset_counts()
    times, rep = timed_runs(lambda: status_on(root, url, options), args.repeat)
    check_all_fresh(rep, n_art, "status on S3")
    out["status"] = summarise(times) | {"first_run_s": first[0], "server_busy_s_mean": server.busy_s() / args.repeat}
    seq, _ = timed_runs(lambda: [s3.list_layer(l) for l in LAYER_NAMES], args.repeat)
    par, _ = timed_runs(lambda: s3.list_layers(list(LAYER_NAMES)), args.repeat)
    out["listing_sequential"] = summarise(seq)
    out["listing_concurrent"] = summarise(par)
    sample = [s3.manifest_path(m.layer, m.game, m.key) for _r, m, _d in items[:: max(1, len(items) // args.sample)]][: args.sample]
    t0 = time.perf_counter()
    found = 0
    for path in sample:
        s3.fs.invalidate_cache(path)
        found += bool(s3.fs.exists(path))
    head_s = time.perf_counter() - t0
    if found != len(sample):
        raise SystemExit(f"error: {len(sample) - found} sampled manifests not found")
    out["head_per_artifact"] = {"sample": len(sample), "seconds": head_s, "ms_per_request": head_s / len(sample) * 1e3, "extrapolated_s": head_s / len(sample) * n_art}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--games", type=int, default=10_000, help="number of games (default 10,000)")
    ap.add_argument("--dir", type=Path, default=None, help="workspace directory, shared with engine_scale.py (default: a new temp dir)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per timed figure; the median is reported (default 5)")
    ap.add_argument("--sample", type=int, default=400, help="manifests HEAD-requested one by one for the per-artifact comparison (default 400)")
    ap.add_argument("--latency-ms", type=float, default=20.0, help="also measure with this delay added to every request, a model of a remote endpoint (default 20; 0: skip)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    ap.add_argument("--save", type=Path, default=None, metavar="FILE", help="also write the JSON object to FILE")
    args = ap.parse_args(argv)
    root, tmp = workspace_dir(args.dir, "artifacts-objstore-")
    n_art = args.games * len(LAYER_NAMES)
    res: dict[str, Any] = {
        "benchmark": "object_store_status", "date": dt.date.today().isoformat(), "games": args.games, "layers": list(LAYER_NAMES),
        "artifacts": n_art, "repeat": args.repeat,
        "env": {"python": platform.python_version(), "cpus": os.cpu_count(), "loadavg_start": os.getloadavg(), "engine_revision": engine_revision()},
    }
    local_dir = root / "bench-objstore-local"
    try:
        res["workspace"] = prepare_workspace(root, args.games)
        engine = Engine.open(root)
        plan = engine.plan_keys(list(LAYER_NAMES))
        engine.close()
        items = artifacts_of(plan)
        with S3Server(threaded=True) as server:
            server.make_bucket(BUCKET)
            url, options = f"s3://{BUCKET}/store", server.options()
            s3 = Store(url, options)
            log.print(f"moto server at {server.endpoint}; uploading {n_art:,} manifests and data objects ...")
            res["fill_s3_s"] = fill(s3, items, server)
            if local_dir.exists():
                shutil.rmtree(local_dir)
            res["fill_local_s"] = fill(Store(str(local_dir)), items)

            log.print("status on the local baseline ...")
            times, rep = timed_runs(lambda: status_on(root, str(local_dir), {}), args.repeat)
            check_all_fresh(rep, n_art, "status on the local store")
            res["status_local"] = summarise(times)
            res["s3"] = {}
            for latency in sorted({0.0, args.latency_ms}):
                server.set_latency(latency)
                log.print(f"status on S3, {latency:g} ms added per request ...")
                res["s3"][f"{latency:g}"] = measure_s3(root, url, options, server, s3, items, args, n_art)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(local_dir)
        if tmp is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(tmp)
    if emit_json(res, args.save, args.json):
        return 0
    loc = res["status_local"]["median_s"]
    t = Table(title=f"status on S3 (moto server, localhost): {args.games:,} games x {len(LAYER_NAMES)} layers = {n_art:,} artifacts "
              f"(median of {args.repeat}; {res['env']['cpus']} CPUs; {res['date']}; engine {res['env']['engine_revision']}; "
              f"1-min load {res['env']['loadavg_start'][0]:.2f} -> {res['env']['loadavg_end'][0]:.2f})")
    for col in ("figure", "measured", "ratio"):
        t.add_column(col, justify="left" if col == "figure" else "right")
    t.add_row("status, local store with the same manifests (baseline)", f"{loc:.3f} s", "-")
    for latency, m in res["s3"].items():
        s3t, head, req = m["status"]["median_s"], m["head_per_artifact"], m["requests_per_status"]
        t.add_row(f"[bold]S3 store, {latency} ms added per request[/]", "", "")
        t.add_row("  status (in-process, fresh Engine)", f"{s3t:.3f} s", f"S3 / local = {s3t / loc:.1f}")
        t.add_row("    first run (new connections)", f"{m['status']['first_run_s']:.3f} s", "-")
        srv = m["status"]["server_busy_s_mean"]
        t.add_row("    of which the moto server was busy", f"{srv:.3f} s", f"{srv / s3t:.0%} of the run")
        t.add_row("    requests per status run", f"{sum(req.values())}: " + ", ".join(f"{k} {v}" for k, v in sorted(req.items())), "-")
        t.add_row("    LIST requests per layer", f"{req.get('LIST', 0) / len(LAYER_NAMES):g} (one per 1,000 entries)", "-")
        sq, pa = m["listing_sequential"]["median_s"], m["listing_concurrent"]["median_s"]
        t.add_row(f"  listing the {len(LAYER_NAMES)} layers one after the other", f"{sq:.3f} s", "-")
        t.add_row("    concurrently (what status does)", f"{pa:.3f} s", f"sequential / concurrent = {sq / pa:.2f}")
        t.add_row(f"  one HEAD per artifact, measured on {head['sample']}", f"{head['ms_per_request']:.2f} ms each", "-")
        t.add_row(f"    extrapolated to {n_art:,} artifacts", f"{head['extrapolated_s']:.1f} s", f"/ status = {head['extrapolated_s'] / s3t:.0f}x")
    Console(highlight=False, width=None if sys.stdout.isatty() else 140).print(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
