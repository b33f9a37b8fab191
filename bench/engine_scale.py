"""Engine scale benchmark: status, no-op build and per-task overhead at N games x 4 layers.

Builds (or reuses) a synthetic workspace of ``--games`` games, each with one small source
file, and four chained trivial layers (``bench/scale_layers.py``: scale-a reads the game's
source and runs the "detector" role, scale-b reads scale-a and runs "tracker", scale-c reads
scale-b, scale-d reads scale-c). Then it measures, as medians of ``--repeat`` runs:

1. ``artifacts.api.status`` over all 4 x N artifacts in-process, with a fresh Engine per run
   (so opening the workspace, discovering layers, loading models.yaml and the catalog and
   stat-ing every source are counted), and the wall time of ``artifacts -w DIR status`` as a
   subprocess (interpreter start and imports included); then both again in pairs (in-process,
   then CLI), whose differences are the CLI's own cost (target: at most 0.3 s), and the wall
   time of ``artifacts --help``;
2. a no-op ``artifacts.api.build`` of scale-d (everything FRESH), in-process;
3. the framework's per-task overhead during the full build (once, with ``--jobs`` workers,
   from an empty store): overhead = Outcome.total_s - Outcome.build_s (worker-side time of a
   task outside the generator), median over the first 10 % of completed tasks against the last
   10 %; and tasks/s over the first and last 10 % of completion times, as seen by the parent;
4. xxh3-128 (``artifacts.keys.hashing.hash_file``), hashlib.md5 and a plain read over a
   page-cached 1 GiB file, in GB/s.

It prints a table of figure, target and ratio to target (``--json``: one JSON object), and
the DVC 3.67 reference figures quoted in the issue, as constants (not measured here).

    .venv/bin/python bench/engine_scale.py                 # 10,000 games, temp dir
    .venv/bin/python bench/engine_scale.py --games 1000 --dir /tmp/scale-1k --repeat 3
    .venv/bin/python bench/engine_scale.py --dir /tmp/scale-10k --skip-build --profile 25
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import hashlib
import io
import itertools
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
if str(BENCH_DIR) not in sys.path:  # scale_layers must be importable here and in spawned workers
    sys.path.insert(0, str(BENCH_DIR))

import numpy as np
from rich.console import Console
from rich.table import Table
from scale_layers import LAYER_NAMES, LAYER_PATHS

from artifacts import api
from artifacts.build import TaskEvent
from artifacts.keys import CHUNK, hash_file
from artifacts.plan import Engine, State
from artifacts.workspace import SourceSpec, init_workspace

MARKER = "bench-workspace.json"
MARKER_FORMAT = 1
SOURCE_BYTES = 256
SETTLE_S = 3.0  # pause after heavy writes (emptying the store, the full build) before timing more
WEIGHTS = {"detector": "det-v1", "tracker": "trk-v1"}

TARGET_STATUS_S = 1.0  # status of 10,000 games x 4 layers
TARGET_NOOP_BUILD_S = 2.0  # no-op build of 10,000 games x 4 layers
TARGET_OVERHEAD_RATIO = 1.5  # per-task overhead, last 10 % / first 10 % ("flat")
TARGET_CLI_EXTRA_S = 0.3  # CLI status minus in-process status: interpreter, imports, printing

# DVC 3.67, as quoted in the issue: NOT measured by this script.
DVC_REFERENCE: dict[str, Any] = {
    "version": "3.67",
    "stages": 1000,
    "status_s": 4.7,
    "noop_repro_s": 9.3,
    "first_run_per_stage_start_s": 0.16,
    "first_run_per_stage_end_s": 2.4,
    "source": "the issue (DVC 3.67, 1,000 stages); constants, not measured by this script",
}

log = Console(stderr=True, highlight=False)


# ----- workspace ---------------------------------------------------------------------------


def _seeded(seed: int, n: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def engine_revision() -> str:
    """The repository's commit, with '+dirty' when artifacts/ has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "artifacts"], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def game_ids(n: int) -> list[str]:
    width = max(5, len(str(n)))
    return [f"g{i:0{width}d}" for i in range(n)]


def workspace_dir(given: Path | None, prefix: str) -> tuple[Path, str | None]:
    """The benchmark's workspace directory, and the temporary one to remove afterwards (if any)."""
    if given is None:
        tmp = tempfile.mkdtemp(prefix=prefix)
        return Path(tmp), tmp
    root = given.resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root, None


def emit_json(res: dict[str, Any], save: Path | None, as_json: bool) -> bool:
    """Record the load at the end; write the result to ``save``; print it when ``as_json``
    (then return True: no tables)."""
    res["env"]["loadavg_end"] = os.getloadavg()
    if save is not None:
        save.write_text(json.dumps(res, indent=1) + "\n")
    if as_json:
        print(json.dumps(res, indent=1))
    return as_json


def prepare_workspace(root: Path, games: int) -> dict[str, Any]:
    """Create the workspace at ``root``, or reuse it when it was made with the same ``games``."""
    marker = root / MARKER
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("format") == MARKER_FORMAT and info.get("games") == games:
            log.print(f"reusing workspace {root} ({games:,} games)")
            return {"reused": True, "register_s": None}
        raise SystemExit(
            f"error: {root} is a benchmark workspace of {info.get('games')} games, not {games}; "
            f"pass --games {info.get('games')} or another --dir"
        )
    if root.exists() and any(root.iterdir()):
        raise SystemExit(f"error: {root} exists and is not a benchmark workspace; pass an empty or new --dir")
    log.print(f"creating workspace {root} ({games:,} games x {len(LAYER_NAMES)} layers)")
    init_workspace(root, layers=list(LAYER_PATHS))
    lines = ["# Written by bench/engine_scale.py.", "schema: 1", "roles:"]
    for i, (role, version) in enumerate(WEIGHTS.items()):
        w = root / "weights" / f"{version}.bin"
        w.parent.mkdir(parents=True, exist_ok=True)
        w.write_bytes(_seeded(100 + i, 4096))
        lines += [f"  {role}:", "    versions:", f"      {version}:", f"        weights: weights/{version}.bin", f"        digest: {hash_file(w)}"]
    lines += ["collections:", "  production:"] + [f"    {role}: {version}" for role, version in WEIGHTS.items()]
    (root / "models.yaml").write_text("\n".join(lines) + "\n")

    src_dir = root / "sources"
    src_dir.mkdir(exist_ok=True)
    blob = _seeded(7, SOURCE_BYTES * games)
    entries = []
    for i, game in enumerate(game_ids(games)):
        p = src_dir / f"{game}.clip"
        p.write_bytes(blob[i * SOURCE_BYTES : (i + 1) * SOURCE_BYTES])
        entries.append((game, [SourceSpec("clip", str(p), "video")]))
    engine = Engine.open(root)
    try:
        t0 = time.perf_counter()
        engine.catalog.add_games(entries)
        register_s = time.perf_counter() - t0
    finally:
        engine.close()
    marker.write_text(json.dumps({"format": MARKER_FORMAT, "games": games}) + "\n")
    log.print(f"registered {games:,} games in {register_s:.2f} s")
    return {"reused": False, "register_s": register_s}


# ----- measurements ------------------------------------------------------------------------


def timed_runs(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, last = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        last = fn()
        times.append(time.perf_counter() - t0)
    return times, last


def status_once(root: Path) -> Any:
    engine = Engine.open(root)
    try:
        return api.status(engine, list(LAYER_NAMES))
    finally:
        engine.close()


def noop_build_once(root: Path, jobs: int) -> Any:
    engine = Engine.open(root)
    try:
        return api.build(engine, [LAYER_NAMES[-1]], jobs=jobs)
    finally:
        engine.close()


def check_all_fresh(report: Any, expected: int, what: str) -> None:
    counts = report.counts()
    fresh = sum(c[State.FRESH.value] for c in counts.values())
    if len(report.entries) != expected or fresh != expected:
        raise SystemExit(f"error: {what}: expected {expected} FRESH artifacts, got {fresh} of {len(report.entries)}: {counts}")


def cli_head() -> list[str]:
    """How the ``artifacts`` command is started: the console script, else ``python -m``."""
    exe = Path(sys.executable).parent / "artifacts"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "cli.main"]


def cli_command(root: Path) -> list[str]:
    return [*cli_head(), "-w", str(root), "status", "--check", *LAYER_NAMES]


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    # An installed package has its bytecode cached (pip compiles it, or the first run writes
    # it); without this, a shell that sets PYTHONDONTWRITEBYTECODE would time compiling.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(BENCH_DIR), env.get("PYTHONPATH", "")) if p)
    return env


def run_cli_status(root: Path) -> None:
    proc = subprocess.run(cli_command(root), env=cli_env(), check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(cli_command(root))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")


def run_cli_import() -> None:
    subprocess.run([sys.executable, "-c", "import cli.main"], env=cli_env(), check=True)


def run_cli_help() -> None:
    subprocess.run([*cli_head(), "--help"], env=cli_env(), check=True, capture_output=True)


FLOOR_CODE = "import typer, rich.console, rich.table, pydantic"


def run_floor() -> None:
    subprocess.run([sys.executable, "-c", FLOOR_CODE], env=cli_env(), check=True)


def cli_extra(root: Path, repeat: int) -> dict[str, Any]:
    """In-process status, the CLI's, and the floor, in rounds: the median of CLI minus in-process.

    In rounds because this VM's speed drifts by tens of percent between minutes: each round
    runs under about the same conditions. The floor is an interpreter that imports only the
    libraries every command needs (typer, rich, pydantic): what no change to this project's
    code can remove, measured in the same rounds."""
    diffs, inproc, cli, floor = [], [], [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        status_once(root)
        t1 = time.perf_counter()
        run_cli_status(root)
        t2 = time.perf_counter()
        run_floor()
        t3 = time.perf_counter()
        inproc.append(t1 - t0)
        cli.append(t2 - t1)
        floor.append(t3 - t2)
        diffs.append((t2 - t1) - (t1 - t0))
    return summarise(diffs) | {"in_process_s": inproc, "cli_s": cli, "floor_s": floor, "floor_code": FLOOR_CODE,
                               "floor_median_s": statistics.median(floor)}


def _cpu_sample() -> tuple[float, float] | None:
    """(CPU seconds used by the whole machine, by this process and its descendants) so far.

    Linux only (/proc). The difference tells how much CPU other programs took while the build
    ran: on a shared 2-core machine that, not the engine, is what makes a decile slow.
    """
    try:
        tick = os.sysconf("SC_CLK_TCK")
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
        procs: dict[int, tuple[int, int]] = {}  # pid -> (ppid, utime + stime)
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        rest = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                procs[int(d)] = (int(rest[1]), int(rest[11]) + int(rest[12]))
        mine, frontier = {os.getpid()}, [os.getpid()]
        while frontier:
            parent = frontier.pop()
            for pid, (ppid, _) in procs.items():
                if ppid == parent and pid not in mine:
                    mine.add(pid)
                    frontier.append(pid)
        own = sum(procs[p][1] for p in mine if p in procs)
        return busy / tick, own / tick
    except (OSError, ValueError, IndexError):
        return None


def full_build(root: Path, jobs: int, games: int) -> dict[str, Any]:
    """Empty the store, build scale-d (and so everything) once; per-task figures."""
    store = root / "store"
    if store.exists():
        shutil.rmtree(store)  # only STORE.json here: main() emptied it before the empty-store status
    n_tasks = games * len(LAYER_NAMES)
    done_at: list[float] = []
    step = max(1, n_tasks // 10)
    t_start = time.perf_counter()

    samples = [(t_start, _cpu_sample())]  # at each tenth of the tasks: (time, CPU sample)

    def on_event(ev: TaskEvent) -> None:
        if ev.kind in ("built", "reused", "failed", "skipped", "blocked"):
            done_at.append(time.perf_counter())
            if len(done_at) % step == 0:
                samples.append((done_at[-1], _cpu_sample()))
                log.print(f"  build: {len(done_at):,}/{n_tasks:,} tasks, {done_at[-1] - t_start:.1f} s")

    cpu0 = time.process_time()
    engine = Engine.open(root)
    try:
        report = api.build(engine, [LAYER_NAMES[-1]], jobs=jobs, on_event=on_event)
    finally:
        engine.close()
    wall = time.perf_counter() - t_start
    parent_cpu = time.process_time() - cpu0
    result = report.result
    if result is None or not report.ok():
        counts = {k: result.count(k) for k in ("built", "reused", "failed", "skipped", "blocked")} if result else {}
        raise SystemExit(f"error: the full build did not make everything FRESH: {counts}")
    outcomes = [o for o in result.outcomes if o.ok]
    n = len(outcomes)
    k = max(1, n // 10)
    overhead = [o.total_s - o.build_s for o in outcomes]  # completion order, as the parent saw it
    first_oh, last_oh = statistics.median(overhead[:k]), statistics.median(overhead[-k:])
    t = done_at
    rate_first = k / (t[k] - t[0]) if len(t) > k and t[k] > t[0] else float("nan")
    rate_last = k / (t[-1] - t[-1 - k]) if len(t) > k and t[-1] > t[-1 - k] else float("nan")
    deciles = [overhead[i * k : (i + 1) * k] for i in range(10) if overhead[i * k : (i + 1) * k]]
    # CPU share taken by other programs in each tenth of the build (1.0 = one whole core).
    foreign: list[float | None] = []
    for (ta, ca), (tb, cb) in itertools.pairwise(samples):
        foreign.append(None if ca is None or cb is None or tb <= ta else ((cb[0] - ca[0]) - (cb[1] - ca[1])) / (tb - ta))
    layers_first = sorted({o.layer for o in outcomes[:k]})
    layers_last = sorted({o.layer for o in outcomes[-k:]})
    return {
        "tasks": n,
        "jobs": jobs,
        "wall_s": wall,
        "runner_wall_s": result.wall_s,
        "tasks_per_s": n / result.wall_s,
        "parent_cpu_per_task_ms": parent_cpu / n * 1e3,
        "overhead_first10_ms": first_oh * 1e3,
        "overhead_last10_ms": last_oh * 1e3,
        "overhead_ratio": last_oh / first_oh,
        "overhead_median_ms": statistics.median(overhead) * 1e3,
        "build_s_median_ms": statistics.median(o.build_s for o in outcomes) * 1e3,
        "total_s_median_ms": statistics.median(o.total_s for o in outcomes) * 1e3,
        "tasks_per_s_first10": rate_first,
        "tasks_per_s_last10": rate_last,
        "rate_ratio": rate_last / rate_first,
        "overhead_by_decile_ms": [statistics.median(d) * 1e3 for d in deciles],
        "tasks_per_s_by_decile": [step / (b[0] - a[0]) for a, b in itertools.pairwise(samples) if b[0] > a[0]],
        "foreign_cpu_cores_by_decile": foreign,
        "layers_first10": layers_first,
        "layers_last10": layers_last,
        "overhead_ratio_within_layer": {layer: _ratio_within(outcomes, layer) for layer in LAYER_NAMES},
        "build_s_by_layer_ms": {
            layer: statistics.median(o.build_s for o in outcomes if o.layer == layer) * 1e3 for layer in LAYER_NAMES
        },
        "overhead_by_layer_ms": {
            layer: statistics.median(o.total_s - o.build_s for o in outcomes if o.layer == layer) * 1e3 for layer in LAYER_NAMES
        },
    }


def _ratio_within(outcomes: list[Any], layer: str) -> float:
    """Overhead of the last 10 % of one layer's tasks over its first 10 % (same generator)."""
    oh = [o.total_s - o.build_s for o in outcomes if o.layer == layer]
    k = max(1, len(oh) // 10)
    return float(statistics.median(oh[-k:]) / statistics.median(oh[:k]))


def hashing(path: Path, size: int, repeat: int) -> dict[str, Any]:
    """xxh3-128 (the engine's hash_file), md5 and a plain read of a page-cached file, GB/s."""
    if not path.exists() or path.stat().st_size != size:
        log.print(f"writing {size / 2**30:.2f} GiB hashing file {path}")
        block = _seeded(11, 64 * 2**20)
        with open(path, "wb") as f:
            left = size
            while left:
                n = min(left, len(block))
                f.write(block[:n])
                left -= n
    # Same read loop as artifacts.keys.hash_stream (a CHUNK buffer allocated per call, then
    # reused across reads), so that the three figures differ only in the hash function. On these
    # VMs a buffer kept alive across calls measured slower (~8 GB/s) than a fresh one (~18 GB/s).

    def read_only() -> None:
        buf = bytearray(CHUNK)
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass

    def md5() -> str:
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        h = hashlib.md5()
        with open(path, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                h.update(view[:n])
        return h.hexdigest()

    read_only()  # page-cache it before timing
    out: dict[str, Any] = {"bytes": size}
    for name, fn in (("read", read_only), ("xxh3_128", lambda: hash_file(path)), ("md5", md5)):
        times, _ = timed_runs(fn, repeat)
        out[f"{name}_gb_s"] = size / 1e9 / statistics.median(times)
    out["xxh3_over_md5"] = out["xxh3_128_gb_s"] / out["md5_gb_s"]
    out["xxh3_over_read"] = out["xxh3_128_gb_s"] / out["read_gb_s"]
    return out


def profile_status(root: Path, top: int) -> str:
    prof = cProfile.Profile()
    prof.enable()
    status_once(root)
    prof.disable()
    s = io.StringIO()
    st = pstats.Stats(prof, stream=s)
    st.sort_stats("tottime").print_stats(top)
    st.sort_stats("cumulative").print_stats(top)
    return s.getvalue()


# ----- report ------------------------------------------------------------------------------


def summarise(times: list[float]) -> dict[str, Any]:
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "runs_s": times}


def print_tables(res: dict[str, Any]) -> None:
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 132)
    g = res["games"]
    n_art = res["artifacts"]
    load = res["env"]["loadavg_start"][0], res["env"]["loadavg_end"][0]
    t = Table(title=f"engine scale: {g:,} games x {len(LAYER_NAMES)} layers = {n_art:,} artifacts "
              f"(median of {res['repeat']} runs; {res['env']['cpus']} CPUs, Python {res['env']['python']}, "
              f"{res['date']}, engine {res['env']['engine_revision']}; 1-min load {load[0]:.2f} at start, {load[1]:.2f} at end)")
    t.add_column("figure")
    t.add_column("measured", justify="right")
    t.add_column("target", justify="right")
    t.add_column("ratio to target", justify="right")
    t.add_column("", justify="left")

    def verdict(ok: bool | None) -> str:
        return "" if ok is None else ("[green]ok[/]" if ok else "[red]MISSED[/]")

    def row(name: str, value: str, target: str = "-", ratio: float | None = None, ok: bool | None = None) -> None:
        t.add_row(name, value, target, "-" if ratio is None else f"{ratio:.2f}", verdict(ok))

    st, cli, noop = res["status"], res["cli_status"], res["noop_build"]
    if res["workspace"]["register_s"] is not None:
        row(f"register {g:,} games (catalog.add_games, hashing each source)", f"{res['workspace']['register_s']:.2f} s")
    row("status, in-process (fresh Engine)", f"{st['median_s']:.3f} s", f"< {TARGET_STATUS_S:g} s",
        st["median_s"] / TARGET_STATUS_S, st["median_s"] < TARGET_STATUS_S)
    row("  per artifact", f"{st['median_s'] / n_art * 1e6:.1f} µs")
    row("  first run after build/reuse (cold caches, not in the median)", f"{st['first_run_s']:.3f} s")
    row("status, CLI subprocess (artifacts -w DIR status)", f"{cli['median_s']:.3f} s", f"< {TARGET_STATUS_S:g} s",
        cli["median_s"] / TARGET_STATUS_S, cli["median_s"] < TARGET_STATUS_S)
    row("  of which: interpreter + 'import cli.main'", f"{res['cli_import']['median_s']:.3f} s")
    ex = res["cli_extra"]
    row("  CLI minus in-process (paired, median)", f"{ex['median_s']:.3f} s", f"<= {TARGET_CLI_EXTRA_S:g} s",
        ex["median_s"] / TARGET_CLI_EXTRA_S, ex["median_s"] <= TARGET_CLI_EXTRA_S)
    row(f"  floor: python -c '{FLOOR_CODE}' (same rounds)", f"{ex['floor_median_s']:.3f} s")
    row("  CLI minus in-process minus floor: this project's own", f"{ex['median_s'] - ex['floor_median_s']:.3f} s")
    row("artifacts --help, CLI subprocess", f"{res['cli_help']['median_s']:.3f} s")
    row("no-op build of scale-d, in-process", f"{noop['median_s']:.3f} s", f"< {TARGET_NOOP_BUILD_S:g} s",
        noop["median_s"] / TARGET_NOOP_BUILD_S, noop["median_s"] < TARGET_NOOP_BUILD_S)
    if res.get("status_empty_store"):
        row("status, empty store (all MISSING), in-process", f"{res['status_empty_store']['median_s']:.3f} s")
    fb = res.get("full_build")
    if fb:
        row(f"full build: {fb['tasks']:,} tasks, --jobs {fb['jobs']}", f"{fb['runner_wall_s']:.1f} s")
        row("  tasks/s overall", f"{fb['tasks_per_s']:.0f}")
        row("  per-task overhead, first 10 % (median)", f"{fb['overhead_first10_ms']:.2f} ms")
        row("  per-task overhead, last 10 % (median)", f"{fb['overhead_last10_ms']:.2f} ms")
        row("  overhead last/first", f"{fb['overhead_ratio']:.2f}", f"<= {TARGET_OVERHEAD_RATIO:g}",
            fb["overhead_ratio"] / TARGET_OVERHEAD_RATIO, fb["overhead_ratio"] <= TARGET_OVERHEAD_RATIO)
        row("  overhead last/first within each layer", " / ".join(f"{v:.2f}" for v in fb["overhead_ratio_within_layer"].values()))
        row("  overhead by layer (median)", " / ".join(f"{v:.2f}" for v in fb["overhead_by_layer_ms"].values()) + " ms",
            "-", None, None)
        row("  generator time per task (median)", f"{fb['build_s_median_ms']:.2f} ms")
        row("  generator time by layer (median)", " / ".join(f"{v:.2f}" for v in fb["build_s_by_layer_ms"].values()) + " ms")
        row("  build process (scheduler) CPU per task", f"{fb['parent_cpu_per_task_ms']:.2f} ms")
        row("  tasks/s, first 10 % of completions", f"{fb['tasks_per_s_first10']:.0f}")
        row("  tasks/s, last 10 % of completions", f"{fb['tasks_per_s_last10']:.0f}")
        row("  tasks/s last/first", f"{fb['rate_ratio']:.2f}")
        row("  overhead by tenth of the build (median, ms)", " ".join(f"{v:.1f}" for v in fb["overhead_by_decile_ms"]))
        row("  tasks/s by tenth of the build", " ".join(f"{v:.0f}" for v in fb["tasks_per_s_by_decile"]))
        if all(v is not None for v in fb["foreign_cpu_cores_by_decile"]):
            row("  CPU taken by other programs, by tenth (cores)", " ".join(f"{max(0.0, v):.2f}" for v in fb["foreign_cpu_cores_by_decile"]))
    h = res.get("hashing")
    if h:
        row(f"plain read, page-cached {h['bytes'] / 2**30:g} GiB", f"{h['read_gb_s']:.2f} GB/s")
        row("xxh3-128 (artifacts.keys.hash_file)", f"{h['xxh3_128_gb_s']:.2f} GB/s")
        row("md5 (hashlib)", f"{h['md5_gb_s']:.2f} GB/s")
        row("  xxh3-128 / md5", f"{h['xxh3_over_md5']:.1f}x")
        row("  xxh3-128 / plain read", f"{h['xxh3_over_read']:.2f}")
    out.print(t)

    d = DVC_REFERENCE
    r = Table(title=f"for scale: DVC {d['version']} reference figures from the issue (NOT measured here)")
    r.add_column("DVC figure (constant)")
    r.add_column("DVC", justify="right")
    r.add_column("DVC per stage", justify="right")
    r.add_column("this engine per artifact (measured)", justify="right")
    r.add_column("DVC / this engine", justify="right")
    dvc_st = d["status_s"] / d["stages"]
    dvc_noop = d["noop_repro_s"] / d["stages"]
    ours_st = st["median_s"] / n_art
    ours_noop = noop["median_s"] / n_art
    r.add_row(f"dvc status, {d['stages']:,} stages", f"{d['status_s']} s", f"{dvc_st * 1e3:.1f} ms", f"{ours_st * 1e6:.1f} µs", f"{dvc_st / ours_st:,.0f}x")
    r.add_row(f"no-op dvc repro, {d['stages']:,} stages", f"{d['noop_repro_s']} s", f"{dvc_noop * 1e3:.1f} ms", f"{ours_noop * 1e6:.1f} µs", f"{dvc_noop / ours_noop:,.0f}x")
    if fb:
        r.add_row("first full run: per-stage time, start -> end", f"{d['first_run_per_stage_start_s']} s -> {d['first_run_per_stage_end_s']} s",
                  f"{d['first_run_per_stage_end_s'] / d['first_run_per_stage_start_s']:.0f}x growth",
                  f"overhead {fb['overhead_first10_ms']:.2f} -> {fb['overhead_last10_ms']:.2f} ms ({fb['overhead_ratio']:.2f}x)", "-")
    out.print(r)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--games", type=int, default=10_000, help="number of games (default 10,000)")
    ap.add_argument("--dir", type=Path, default=None, help="workspace directory (default: a new temp dir); reused if made with the same --games")
    ap.add_argument("--repeat", type=int, default=5, help="runs per timed figure; the median is reported (default 5)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes of the full build (default 2)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    ap.add_argument("--skip-build", action="store_true", help="keep the store as it is (must be fully built); no full-build figures")
    ap.add_argument("--hash-mib", type=int, default=1024, help="size of the hashing file in MiB (default 1024; 0 skips hashing)")
    ap.add_argument("--save", type=Path, default=None, metavar="FILE", help="also write the JSON object to FILE")
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile one in-process status run; print the top N functions to stderr")
    args = ap.parse_args(argv)
    if args.games < 10 or args.repeat < 1 or args.jobs < 1:
        ap.error("--games must be >= 10, --repeat and --jobs >= 1")

    root, tmp = workspace_dir(args.dir, "artifacts-scale-")
    n_art = args.games * len(LAYER_NAMES)
    res: dict[str, Any] = {
        "benchmark": "engine_scale",
        "date": dt.date.today().isoformat(),
        "games": args.games,
        "layers": list(LAYER_NAMES),
        "artifacts": n_art,
        "repeat": args.repeat,
        "dir": str(root),
        "env": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(), "loadavg_start": os.getloadavg(),
                "engine_revision": engine_revision()},
        "targets": {"status_s": TARGET_STATUS_S, "noop_build_s": TARGET_NOOP_BUILD_S, "overhead_ratio": TARGET_OVERHEAD_RATIO,
                    "cli_extra_s": TARGET_CLI_EXTRA_S},
        "dvc_reference": DVC_REFERENCE,
    }
    try:
        res["workspace"] = prepare_workspace(root, args.games)

        if not args.skip_build:
            if (root / "store").exists():
                log.print("emptying the store of the previous run ...")
                shutil.rmtree(root / "store")
                os.sync()  # the deletion's writeback must not slow the first tasks of the build
                time.sleep(SETTLE_S)
            log.print("status on an empty store ...")
            times, rep = timed_runs(lambda: status_once(root), args.repeat)
            if len(rep.entries) != n_art:
                raise SystemExit(f"error: status reported {len(rep.entries)} artifacts, expected {n_art}")
            res["status_empty_store"] = summarise(times)
            log.print(f"full build of {n_art:,} tasks with --jobs {args.jobs} ...")
            res["full_build"] = full_build(root, args.jobs, args.games)
            os.sync()  # let the build's writeback finish before timing reads
            time.sleep(SETTLE_S)

        log.print("status (all FRESH) ...")
        first, rep = timed_runs(lambda: status_once(root), 1)  # the first run after the build: cold caches
        check_all_fresh(rep, n_art, "status")
        times, rep = timed_runs(lambda: status_once(root), args.repeat)
        res["status"] = summarise(times) | {"first_run_s": first[0]}

        log.print("CLI status ...")
        run_cli_status(root)  # warm the OS caches of the interpreter's files once
        times, _ = timed_runs(lambda: run_cli_status(root), args.repeat)
        res["cli_status"] = summarise(times) | {"command": " ".join(cli_command(root)), "pythonpath": str(BENCH_DIR)}
        times, _ = timed_runs(run_cli_import, args.repeat)
        res["cli_import"] = summarise(times)
        res["cli_extra"] = cli_extra(root, max(args.repeat, 5))
        run_cli_help()
        times, _ = timed_runs(run_cli_help, args.repeat)
        res["cli_help"] = summarise(times)

        log.print("no-op build ...")
        times, rep = timed_runs(lambda: noop_build_once(root, args.jobs), args.repeat)
        if rep.tasks or rep.result is not None:
            raise SystemExit(f"error: the no-op build planned {len(rep.tasks)} tasks")
        res["noop_build"] = summarise(times)

        if args.hash_mib > 0:
            log.print("hashing ...")
            res["hashing"] = hashing(root / "hash-input.bin", args.hash_mib * 2**20, args.repeat)

        if args.profile:
            res["profile_status"] = profile_status(root, args.profile)
            log.print(res["profile_status"])
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                shutil.rmtree(tmp)

    if not emit_json(res, args.save, args.json):
        print_tables(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
