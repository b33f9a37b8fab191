"""Running tasks: plan the non-FRESH (layer, game) tasks and run them on an executor.

The runner (order, retries, failure isolation, events), one task's execution inside a worker
(lease, staging, publish), and the executors (local processes, Ray). Chunks of a task (issue
11) run here. Depends on :mod:`artifacts.plan` and below.
"""

from __future__ import annotations

from artifacts.build.executors.factory import open_executor
from artifacts.build.runner import BuildResult, BuildRunner, Task, TaskEvent, plan_tasks

__all__ = [
    "BuildResult",
    "BuildRunner",
    "Task",
    "TaskEvent",
    "open_executor",
    "plan_tasks",
]
