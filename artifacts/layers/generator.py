"""How a layer is declared: the :class:`Generator` base class and its parameters.

A generator is a class that declares, as class attributes, everything the engine needs to
compute its recipe without running it, and implements :meth:`Generator.build`::

    class TrackLevel(Generator):
        name = "track-level"
        version = "3"                      # bump when the code's output changes
        Params = TrackParams               # pydantic model; defaults stay out of recipes
        upstream = ("frame-level",)        # layers it reads, per game
        models = ("tracker",)              # model roles it runs
        sources = ()                       # source selectors: "kind:video", or name patterns
        source_checks = {}                 # selector -> format check run when games are registered
        outputs = ("tracks.parquet",)      # files or zarr arrays it must write
        contracts = {}                     # contract name -> role whose `provides` it follows
        resources = Resources(cpus=1)      # what one task reserves (executors schedule by it)

        def build(self, ctx: BuildContext) -> None: ...

A layer whose tasks are long (a whole broadcast) declares chunks instead of ``build``:
``chunk_size`` and the methods ``plan_chunks``, ``build_chunk`` and ``merge_chunks`` (see
:mod:`artifacts.layers.chunks`).

Layers reach the engine through a registry (entry points in the ``artifacts.layers`` group,
or ``layers = [...]`` import paths in artifacts.toml), never by the engine importing them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, JsonValue, TypeAdapter, ValidationError

from artifacts.errors import ConfigError, LayerDefinitionError
from artifacts.keys import check_layer_name, check_role
from artifacts.layers.checks import SourceChecker, selector_matches
from artifacts.layers.params import Params
from artifacts.layers.resources import Resources

if TYPE_CHECKING:
    from artifacts.layers.chunks import ChunkContext, ChunkPlan, ChunkReader
    from artifacts.layers.context import BuildContext
    from artifacts.workspace import Source


class Generator:
    """Base class of every layer's generator. See the module docstring."""

    name: ClassVar[str]
    version: ClassVar[str]
    Params: ClassVar[type[Params]] = Params
    upstream: ClassVar[tuple[str, ...]] = ()
    models: ClassVar[tuple[str, ...]] = ()
    sources: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ()
    contracts: ClassVar[dict[str, str]] = {}
    resources: ClassVar[Resources] = Resources()
    description: ClassVar[str] = ""
    chunk_size: ClassVar[int] = 0  # chunked layers: default units per chunk (artifacts.toml [chunk_size] overrides)
    source_checks: ClassVar[dict[str, SourceChecker]] = {}  # selector -> check of that source's format (artifacts.layers.checks)

    def build(self, ctx: BuildContext) -> None:
        """Produce the outputs of one game into ``ctx``'s staging place.

        Contract: read inputs only through ``ctx`` (so that what is read is what the recipe
        names), write every declared output, raise :class:`artifacts.errors.TransientError`
        for failures worth retrying and any other exception for permanent ones.
        """
        raise NotImplementedError(f"{type(self).__name__}.build")

    # A chunked layer implements these three instead of build (see artifacts.layers.chunks).

    def plan_chunks(self, ctx: BuildContext, size: int) -> ChunkPlan:
        """Split this task into chunks of about ``size`` units each (at least one chunk).

        Contract: read sources and upstream through ``ctx``, write nothing; the same inputs
        and ``size`` give the same plan. The engine stores the first plan made for a key and
        every builder of that key uses it.
        """
        raise NotImplementedError(f"{type(self).__name__}.plan_chunks")

    def build_chunk(self, ctx: ChunkContext) -> None:
        """Write the outputs of chunk ``ctx.chunk`` into ``ctx``'s staging place. Same contract
        as :meth:`build`; a chunk that continues another reads it with ``ctx.previous()``."""
        raise NotImplementedError(f"{type(self).__name__}.build_chunk")

    def merge_chunks(self, ctx: BuildContext, chunks: list[ChunkReader]) -> None:
        """Write the artifact's declared outputs from the committed chunks, in plan order.

        Contract: the result does not depend on the chunk size (a chunked build equals an
        unchunked one), and memory stays bounded: stream the chunks, do not load them all.
        """
        raise NotImplementedError(f"{type(self).__name__}.merge_chunks")

    @classmethod
    def is_chunked(cls) -> bool:
        """Whether the layer's tasks run as chunks (it implements :meth:`plan_chunks`)."""
        return cls.plan_chunks is not Generator.plan_chunks


def validate_generator(cls: type[Generator], origin: str) -> type[Generator]:
    """Check a generator class's declarations; errors name ``origin`` (entry point or path)."""
    for attr in ("name", "version"):
        if not isinstance(getattr(cls, attr, None), str):
            raise LayerDefinitionError(
                f"generator {origin}", attr, "is not declared as a str class attribute", f"set {attr} = '...'"
            )
    check_layer_name(cls.name)
    if not (isinstance(cls.Params, type) and issubclass(cls.Params, BaseModel)):
        raise LayerDefinitionError(f"generator {origin}", "Params", "is not a pydantic model", "subclass artifacts.Params")
    if not isinstance(cls.resources, Resources):
        raise LayerDefinitionError(f"generator {origin}", "resources", "is not an artifacts.Resources", "write resources = Resources(cpus=..., gpus=...)")
    for up in cls.upstream:
        check_layer_name(up)
    for role in cls.models:
        check_role(role)
    if cls.is_chunked():
        for method in ("build_chunk", "merge_chunks"):
            if getattr(cls, method) is getattr(Generator, method):
                raise LayerDefinitionError(f"generator {origin}", method, "is missing: a layer with plan_chunks is chunked", f"implement {method}")
        if not (isinstance(cls.chunk_size, int) and cls.chunk_size > 0):
            raise LayerDefinitionError(f"generator {origin}", "chunk_size", "is not a positive int", "set chunk_size = units per chunk, e.g. 3000 frames")
    for selector, checker in cls.source_checks.items():
        if selector not in cls.sources:
            raise LayerDefinitionError(f"generator {origin}", selector, "has a source check but is not one of its sources", f"use one of {list(cls.sources)}")
        if not callable(checker):
            raise LayerDefinitionError(f"generator {origin}", selector, "has a source check that is not callable", "map it to a function(SourceCheck) -> None")
    for name, role in cls.contracts.items():
        if role not in cls.models:
            raise LayerDefinitionError(f"generator {origin}", name, f"follows role {role}, which the layer does not declare in models", "add the role or fix the contract")
    return cls


def resolve_params(cls: type[Generator], given: dict[str, Any]) -> tuple[Params, dict[str, JsonValue]]:
    """Validate ``given`` against the layer's Params; return the instance and the recipe part.

    The recipe part holds only the fields whose value differs from the field's default, so
    adding a parameter with a default that reproduces old behaviour keeps every key.
    """
    try:
        params = cls.Params.model_validate(given)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ConfigError(
            f"artifacts.toml params.{cls.name}.{field}", err.get("input"), err["msg"], "fix the parameter value"
        ) from exc
    dumped = params.model_dump(mode="json")
    recipe_part: dict[str, JsonValue] = {}
    for fname, finfo in cls.Params.model_fields.items():
        value = dumped[fname]
        if not finfo.is_required():
            default = finfo.get_default(call_default_factory=True, validated_data={})
            if value == TypeAdapter(finfo.annotation or Any).dump_python(default, mode="json"):
                continue
        recipe_part[fname] = value
    return params, recipe_part


def select_sources(selectors: tuple[str, ...], sources: dict[str, Source]) -> dict[str, Source] | str:
    """The game's sources that ``selectors`` pick, or the first selector matching none.

    A selector ``kind:K`` picks every source of kind K; any other selector is an fnmatch
    pattern over source names. Every selector must match at least one source.
    """
    picked: dict[str, Source] = {}
    for sel in selectors:
        hits = {n: s for n, s in sources.items() if selector_matches(sel, n, s.kind)}
        if not hits:
            return sel
        picked.update(hits)
    return picked
