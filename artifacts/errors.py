"""The one exception hierarchy of the framework.

Every error a user can see is an :class:`ArtifactsError`. Its message is one line that names
the thing, the value and the fix; the CLI prints exactly that line (no traceback unless
``--debug``) and exits with :attr:`ArtifactsError.exit_code`.
"""

from __future__ import annotations


class ArtifactsError(Exception):
    """Base of every error the framework raises on purpose.

    ``thing`` is what is wrong (``game id``, ``layer``, ``models.yaml:12 roles.tracker``),
    ``value`` the offending value, ``fix`` what the user should do about it.
    """

    exit_code = 1

    def __init__(self, thing: str, value: object, problem: str, fix: str) -> None:
        self.thing = thing
        self.value = value
        self.problem = problem
        self.fix = fix
        super().__init__(self.line())

    def line(self) -> str:
        """The one-line message shown to users."""
        value = f" {self.value!r}" if self.value is not None and self.value != "" else ""
        return f"{self.thing}{value}: {self.problem}; {self.fix}"


class UsageError(ArtifactsError):
    """The command line asks for something that does not exist or cannot be done."""

    exit_code = 2


class ConfigError(ArtifactsError):
    """A configuration file (workspace config, models.yaml) is missing or malformed."""

    exit_code = 2


class UnknownLayerError(UsageError):
    """A layer name that no registered generator provides."""


class UnknownGameError(UsageError):
    """A game id that is not registered in the workspace."""


class InvalidNameError(UsageError):
    """A game id, layer name or source name outside the documented character set."""


class ModelsFileError(ConfigError):
    """models.yaml is malformed or inconsistent; the thing names file, line and field."""


class SourceError(ArtifactsError):
    """A game's source file is missing or unreadable (bad input: exit code 2 on the CLI)."""

    exit_code = 2


class ModelWeightsError(ArtifactsError):
    """A model's weights file is missing or its digest disagrees with models.yaml."""


class StoreError(ArtifactsError):
    """The artifact store is unreachable, malformed or holds a corrupt artifact."""


class CorruptArtifactError(StoreError):
    """A stored output file is missing or differs from the digest its manifest records."""


class CorruptChunkError(CorruptArtifactError):
    """A committed chunk's output file is missing or differs from its record: the chunk is
    dropped and computed again. ``index`` is the chunk's number."""

    def __init__(self, index: int, thing: str, value: object, problem: str, fix: str) -> None:
        self.index = index
        super().__init__(thing, value, problem, fix)


class LayerDefinitionError(ConfigError):
    """A generator declares itself inconsistently (cycle, unknown upstream, bad params)."""


class BuildError(ArtifactsError):
    """A build task failed for a reason that retrying will not fix."""


class TransientError(ArtifactsError):
    """A failure that may succeed when retried (network blip, busy resource).

    Generators raise it (or let ``ConnectionError``/``TimeoutError`` escape) to ask the
    builder for a bounded number of retries.
    """


class ContractError(ArtifactsError):
    """What a consumer expects of an artifact (shape, dtype, token grid, feature family,
    channel layout) disagrees with what the artifact records; the problem is the diff."""


class ExecutorError(ArtifactsError):
    """The executor cannot run the build: a Ray cluster that cannot be reached, or a layer's
    resource request that no node of the cluster can meet."""


def dotted(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as ``a.b[2].c``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
