"""The Ray executor: each task attempt is one Ray task on a Ray cluster.

Importing this module imports Ray; only :func:`artifacts.build.executors.factory.open_executor`
does so, when a build asks for ``--executor ray``.

* **Cluster.** With an address (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``) it connects to
  that cluster, after checking that the address answers at all (Ray itself would retry for
  minutes). Without one it starts a local cluster of ``jobs`` CPUs for the build and stops it
  afterwards. If this process is already connected to Ray (embedding code, tests), that
  connection is used and left open; a ``HOST:PORT`` address other than that cluster's GCS
  address is then an error.
* **Workers.** A Ray task gets the :class:`EngineSpec` and opens the workspace itself, once
  per worker process and build, so it needs nothing of the submitting process. Every node
  must see the workspace, the store and the sources at the same paths or URLs, and have the
  same code installed; the submitting process's own code directories (its ``sys.path``
  outside the Python installation) are put on the workers' ``PYTHONPATH``.
* **Resources.** A layer's :class:`Resources` become ``num_cpus``, ``num_gpus`` and
  ``memory``. A GPU request on a cluster without GPUs runs on CPUs, with a note; a request
  that no node can meet fails the build before any task starts, rather than waiting forever.
  Tasks given no GPU see none (``CUDA_VISIBLE_DEVICES`` is empty), so a layer that uses a GPU
  when it sees one does not use a GPU it did not reserve.
* **Failures.** Ray's own retries are off: a worker lost under a task (crash, out of memory,
  node gone) is a transient ``WorkerDied`` outcome, retried by the runner like any other.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import traceback
import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from functools import partial
from typing import Any

import ray
import ray.exceptions

from artifacts.build.execute import TaskExecutor
from artifacts.build.executors.base import Executor, relay, worker_lost
from artifacts.build.task import Outcome, TaskSpec
from artifacts.errors import ArtifactsError, ExecutorError
from artifacts.layers import Resources
from artifacts.plan import Engine, EngineSpec

_MIB = 1024 * 1024


class RayExecutor(Executor):
    """Runs tasks as Ray tasks; see the module docstring."""

    def __init__(self, engine: Engine, address: str | None = None, jobs: int = 1) -> None:
        self._engine_spec = engine.spec()
        self._build = uuid.uuid4().hex  # workers open the workspace afresh for each build
        self._owned = False
        if not ray.is_initialized():
            self._connect(address, jobs)
            self._owned = True
        elif address not in (None, "auto") and not address.startswith("ray://") and address != ray.get_runtime_context().gcs_address:
            raise ExecutorError(
                "Ray address", address, f"differs from the cluster this process is already connected to ({ray.get_runtime_context().gcs_address})",
                "leave the address out, or call ray.shutdown() first",
            )
        self._nodes: list[dict[str, float]] = [n["Resources"] for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
        self._has_gpu = any(r.get("GPU", 0) > 0 for r in self._nodes)
        self._code_path = os.pathsep.join(_code_dirs())
        self._run = ray.remote(run_task)
        self._pending: dict[Future[Outcome], ray.ObjectRef[Outcome]] = {}

    def _connect(self, address: str | None, jobs: int) -> None:
        where = address or os.environ.get("RAY_ADDRESS") or None
        if where is not None and where != "auto":
            _check_reachable(where)
        kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
        if where is None:
            kwargs["num_cpus"] = max(1, jobs)  # a cluster of our own: --jobs CPUs
        try:
            ray.init(address=address, **kwargs)
        except ConnectionError as exc:
            raise ExecutorError("Ray cluster", where, f"cannot be reached ({exc})", "start one with 'ray start --head' or fix --ray-address") from exc

    @property
    def slots(self) -> int:
        cpus = sum(float(r.get("CPU", 0)) for r in self._nodes)
        return max(2, int(2 * cpus))

    def prepare(self, layers: Mapping[str, Resources]) -> list[str]:
        notes = []
        for layer, wanted in sorted(layers.items()):
            res = self._effective(wanted)
            if res != wanted:
                notes.append(f"layer {layer} asks for {wanted.gpus:g} GPU per task, but the Ray cluster has no GPU: its tasks run on CPUs")
            if not any(_fits(res, node) for node in self._nodes):
                largest: Mapping[str, float] = max(self._nodes, key=lambda n: (n.get("CPU", 0), n.get("GPU", 0), n.get("memory", 0)), default={})
                raise ExecutorError(
                    f"resources of layer {layer}", res.text(),
                    f"are more than any node of the Ray cluster has (the largest has {_node_text(largest)}), so its tasks could never start",
                    "lower the layer's resources or add a bigger node to the cluster",
                )
        return notes

    def _effective(self, res: Resources) -> Resources:
        return res if self._has_gpu or not res.gpus else res.model_copy(update={"gpus": 0.0})

    def submit(self, spec: TaskSpec, resources: Resources) -> Future[Outcome]:
        res = self._effective(resources)
        env = {"PYTHONPATH": self._code_path}
        if not res.gpus:
            env["CUDA_VISIBLE_DEVICES"] = ""  # Ray leaves GPUs visible to tasks that reserved none
        options: dict[str, Any] = {
            "num_cpus": res.cpus, "num_gpus": res.gpus, "max_retries": 0, "retry_exceptions": False,
            "name": f"{spec.layer} {spec.game}", "runtime_env": {"env_vars": env},
        }
        if res.memory_mb:
            options["memory"] = res.memory_mb * _MIB
        ref = self._run.options(**options).remote(self._engine_spec, self._build, spec)
        out: Future[Outcome] = Future()
        self._pending[out] = ref
        out.add_done_callback(self._forget)
        ref.future().add_done_callback(partial(relay, out, lost=partial(self._lost, spec)))
        return out

    def _forget(self, out: Future[Outcome]) -> None:
        self._pending.pop(out, None)

    @staticmethod
    def _lost(spec: TaskSpec, exc: BaseException) -> Outcome | None:
        if isinstance(exc, ray.exceptions.RayTaskError) or not isinstance(exc, ray.exceptions.RayError):
            return None  # the engine raised in the task: a bug, reported as the local executor does
        first = str(exc).splitlines()[0] if str(exc) else ""
        return worker_lost(spec, f"Ray worker lost: {type(exc).__name__}: {first}")

    def close(self) -> None:
        for ref in list(self._pending.values()):
            ray.cancel(ref)
        self._pending.clear()
        if self._owned and ray.is_initialized():
            ray.shutdown()
            self._owned = False


def _fits(res: Resources, node: Mapping[str, float]) -> bool:
    return (
        node.get("CPU", 0) >= res.cpus
        and node.get("GPU", 0) >= res.gpus
        and node.get("memory", 0) >= res.memory_mb * _MIB
    )


def _node_text(node: Mapping[str, float]) -> str:
    return f"{node.get('CPU', 0):g} CPUs, {node.get('GPU', 0):g} GPUs, {node.get('memory', 0) / _MIB:.0f} MiB memory"


def _check_reachable(address: str) -> None:
    """Fail in seconds on an address where nothing listens (ray.init would retry for minutes)."""
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise ExecutorError("Ray address", address, "is not HOST:PORT, ray://HOST:PORT or auto", "fix --ray-address (or ray_address in artifacts.toml)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except OSError as exc:
        raise ExecutorError("Ray cluster", address, f"cannot be reached ({exc.strerror or exc})", "start one with 'ray start --head' or fix --ray-address") from exc


def _code_dirs() -> list[str]:
    """This process's code directories: its ``sys.path`` outside the Python installation (the
    installation's own paths would be wrong on a node with another one)."""
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    dirs = []
    for entry in sys.path:
        path = os.path.realpath(entry or os.getcwd())
        if os.path.isdir(path) and not any(path == p or path.startswith(p + os.sep) for p in prefixes) and path not in dirs:
            dirs.append(path)
    return dirs


# A Ray worker process keeps the task executor of the build it last ran (it is reused across
# tasks, and across builds of one driver). This is per-process state of a worker, never
# touched in the submitting process.
_WORKER: dict[str, tuple[str, TaskExecutor]] = {}


def run_task(engine: EngineSpec, build: str, spec: TaskSpec) -> Outcome:
    """The Ray task: open the workspace (once per worker and build) and run one attempt."""
    current = _WORKER.get("executor")
    if current is None or current[0] != build:
        if current is not None:
            current[1].engine.close()
        try:
            _WORKER["executor"] = (build, TaskExecutor(Engine.from_spec(engine)))
        except ArtifactsError as exc:  # the workspace cannot be opened on this node: fails the task
            return Outcome(spec.layer, spec.game, spec.key, False, error=type(exc).__name__, message=exc.line(), detail="".join(traceback.format_exception(exc)), step=spec.step, chunk=spec.chunk)
    return _WORKER["executor"][1].run(spec)
