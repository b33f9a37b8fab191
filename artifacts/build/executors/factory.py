"""Open the executor that :class:`ExecutorSettings` name."""

from __future__ import annotations

from artifacts.build.executors.base import Executor
from artifacts.build.executors.local import LocalExecutor
from artifacts.plan import Engine
from artifacts.workspace import ExecutorSettings


def open_executor(settings: ExecutorSettings, engine: Engine, jobs: int) -> Executor:
    """A started executor; close it (or use it as a context manager) when the build is done.

    ``jobs`` is the number of local worker processes, or the CPUs of a local Ray cluster
    started for the build. Ray is imported here only when it is asked for.
    """
    if settings.kind == "ray":
        from artifacts.build.executors.ray_executor import RayExecutor

        return RayExecutor(engine, settings.ray_address, jobs)
    return LocalExecutor(engine, jobs)
