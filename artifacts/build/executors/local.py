"""The local executor: worker processes on this machine (the default), or inline with one job.

With ``jobs`` > 1, a pool of that many worker processes, started with ``spawn`` (the parent
may hold threads and open handles), each opening the workspace once. With ``jobs=1``, tasks
run in the calling process, one at a time. Resource requests are not scheduled: each worker
runs one task at a time with whatever the machine has (``--jobs`` is the knob).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial

from artifacts.build.execute import TaskExecutor, init_worker, run_in_worker
from artifacts.build.executors.base import Executor, relay, worker_lost
from artifacts.build.task import Outcome, TaskSpec
from artifacts.layers import Resources
from artifacts.plan import Engine


class LocalExecutor(Executor):
    """Runs tasks in local worker processes; a pool whose worker died is replaced."""

    def __init__(self, engine: Engine, jobs: int = 1) -> None:
        self.engine = engine
        self.jobs = max(1, jobs)
        self._inline: TaskExecutor | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._broken: ProcessPoolExecutor | None = None  # the pool a worker died in, if any

    @property
    def slots(self) -> int:
        return self.jobs * 2

    def submit(self, spec: TaskSpec, resources: Resources) -> Future[Outcome]:
        if self.jobs == 1:
            if self._inline is None:
                self._inline = TaskExecutor(self.engine)
            done: Future[Outcome] = Future()
            done.set_result(self._inline.run(spec))
            return done
        if self._pool is None or self._pool is self._broken:
            self._restart()
        assert self._pool is not None
        pool = self._pool
        try:
            inner = pool.submit(run_in_worker, spec)
        except BrokenProcessPool:
            self._restart()
            assert self._pool is not None
            pool = self._pool
            inner = pool.submit(run_in_worker, spec)
        out: Future[Outcome] = Future()
        inner.add_done_callback(partial(relay, out, lost=partial(self._lost, spec, pool)))
        return out

    def _lost(self, spec: TaskSpec, pool: ProcessPoolExecutor, exc: BaseException) -> Outcome | None:
        if not isinstance(exc, BrokenProcessPool):
            return None
        # A worker died (killed, out of memory): the attempt is lost, not the task. Only this
        # pool is marked, so a late report from an older pool restarts nothing.
        self._broken = pool
        return worker_lost(spec, f"worker process died: {exc}")

    def _restart(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        spec = self.engine.spec()
        self._pool = ProcessPoolExecutor(
            max_workers=self.jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
            initargs=(spec.root, spec.layer_paths, spec.sys_path),
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
