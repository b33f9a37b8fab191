"""Which executor a build uses: the ``[executor]`` table of artifacts.toml, overridden by the
command line (``--executor``, ``--ray-address``)."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

from artifacts.errors import UsageError

ExecutorKind = Literal["local", "ray"]
KINDS: tuple[str, ...] = get_args(ExecutorKind)


class ExecutorSettings(BaseModel):
    """``kind``: ``local`` (worker processes on this machine) or ``ray``. ``ray_address``: the
    Ray cluster to connect to (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``); none: start a
    local Ray cluster for the build (or use ``RAY_ADDRESS`` when that is set, as Ray does)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    kind: ExecutorKind = "local"
    ray_address: str | None = None

    def override(self, kind: str | None, ray_address: str | None) -> ExecutorSettings:
        """These settings with the command line's choices applied; errors name the option."""
        if kind is not None and kind not in KINDS:
            raise UsageError("--executor", kind, "is not an executor", f"use one of {', '.join(KINDS)}")
        chosen = self.model_copy(update={k: v for k, v in (("kind", kind), ("ray_address", ray_address)) if v is not None})
        if ray_address is not None and chosen.kind != "ray":
            raise UsageError("--ray-address", ray_address, "only applies to the Ray executor", "add --executor ray")
        return chosen
