"""What one build task of a layer needs to run: CPUs, GPUs and memory.

A generator declares it as a class attribute (``resources = Resources(gpus=1)``); the default
is one CPU. The local executor runs one task per worker process and does not schedule by
resources; the Ray executor passes them to Ray as ``num_cpus``, ``num_gpus`` and ``memory``,
so a task only starts on a node with that much free. Resources are not part of the recipe:
they say where a task may run, never what it produces.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Resources(BaseModel):
    """The resources one task of a layer reserves while it runs.

    ``cpus`` (> 0, fractions allowed) and ``gpus`` (>= 0; a fraction of one GPU, or a whole
    number) are counts; ``memory_mb`` is the memory to reserve in MiB (0: none reserved).
    ``gpus`` is a request the executor may downgrade: on a Ray cluster without GPUs the task
    runs on CPUs with a note (see docs/writing-a-layer.md#resources).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, strict=True)

    cpus: float = Field(default=1.0, gt=0)
    gpus: float = Field(default=0.0, ge=0)
    memory_mb: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _whole_gpus_above_one(self) -> Resources:
        if self.gpus > 1 and not float(self.gpus).is_integer():
            raise ValueError(f"gpus={self.gpus:g}: more than one GPU must be a whole number")
        return self

    def text(self) -> str:
        """``cpus=2 gpus=1 memory_mb=4096``, leaving out what is zero."""
        parts = [f"cpus={self.cpus:g}"]
        if self.gpus:
            parts.append(f"gpus={self.gpus:g}")
        if self.memory_mb:
            parts.append(f"memory_mb={self.memory_mb}")
        return " ".join(parts)
