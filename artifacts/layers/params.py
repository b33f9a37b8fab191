"""Layer parameters: the base class every generator's ``Params`` derives from.

Its own module so that the generator (which declares ``Params``) and the build context (which
hands the validated instance to ``build``) both depend on it without depending on each other.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Params(BaseModel):
    """Base class of layer parameters: strict (no "2" for 2.0), immutable values."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, strict=True)
