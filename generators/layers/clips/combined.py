"""``clips-combined``: the per-game JSONL of ``clips`` merged over a named set of games.

``combined_training.jsonl`` and ``combined_validation.jsonl`` hold every line of the games'
``training.jsonl`` and ``validation.jsonl``, games in id order, lines in their order. Each
line is validated again as an :class:`~generators.layers.clips.examples.Example` before it is
written: a per-game file that does not hold examples fails the combine, naming the game, file
and line. The URIs are the per-game ones (clips are not copied). The artifact is addressed by
the keys of the ``clips`` artifacts it merged (:mod:`artifacts.operations.combine`): ``artifacts combine
clips-combined SET`` again with unchanged games finds it and writes nothing.
"""

from __future__ import annotations

from contextlib import ExitStack

from artifacts.errors import BuildError
from artifacts.operations import CombineContext, Combiner

SPLITS = ("training", "validation")


class CombinedJsonl(Combiner):
    name = "clips-combined"
    version = "1"
    reads = "clips"
    outputs = tuple(f"combined_{s}.jsonl" for s in SPLITS)
    description = "the clips layer's training and validation JSONL of a set of games, merged"

    def combine(self, ctx: CombineContext) -> None:
        from pydantic import ValidationError

        from generators.layers.clips.examples import Example, jsonl_line

        with ExitStack() as stack:
            outs = {s: stack.enter_context(open(ctx.output_path(f"combined_{s}.jsonl"), "w", encoding="utf-8", newline="\n")) for s in SPLITS}
            for game in ctx.games:
                reader = ctx.input(game)
                for s in SPLITS:
                    with reader.open(f"{s}.jsonl") as f:
                        for n, raw in enumerate(f, start=1):
                            try:
                                ex = Example.model_validate_json(raw)
                            except ValidationError as exc:
                                raise BuildError(f"clips of game {game} {s}.jsonl line {n}", reader.key,
                                                 f"is not a valid example ({exc.errors()[0]['msg']})", f"rebuild clips for game {game}") from exc
                            outs[s].write(jsonl_line(ex))
