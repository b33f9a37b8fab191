"""The plays annotation of a game (source ``plays``, kind ``annotation``), read play by play.

A CSV with a header holding at least ``play_id, start_time, end_time, angle, description``
(the ``plays`` table of seed 003; other columns, such as ``created_at``, are ignored):

- ``play_id``: 1-128 of ``A-Z a-z 0-9 . _ -`` starting with a letter or digit (a UUID fits);
  it names the clip files, so it must be unique within the game.
- ``start_time``, ``end_time``: seconds from the start of the game's videos, ``start < end``.
- ``angle``: ``broadcast``, ``tactical`` or ``both``.
- ``description``: what happens in the play, the text the model learns to produce.

Each row is validated on its own. A row that fails is a :class:`Reject` with a one-line
message (``thing 'value': problem; fix``) and the other rows go on; only a file that is not
such a CSV at all (unreadable, no header, a required column missing) fails the game.
"""

from __future__ import annotations

import csv
import io
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from artifacts.errors import SourceError

COLUMNS = ("play_id", "start_time", "end_time", "angle", "description")
ANGLE_CHOICES = ("broadcast", "tactical", "both")
PLAY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"

Angle = Literal["broadcast", "tactical"]


class Play(BaseModel):
    """One valid play. ``row`` is its line in the CSV (the header is line 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    row: int
    play_id: str = Field(pattern=PLAY_ID_PATTERN)
    start_time: float = Field(allow_inf_nan=False)
    end_time: float = Field(allow_inf_nan=False)
    angle: Literal["broadcast", "tactical", "both"]
    description: str

    @field_validator("description")
    @classmethod
    def _described(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("is empty")
        return v.strip()

    @model_validator(mode="after")
    def _ordered(self) -> Play:
        if not self.end_time > self.start_time:
            raise ValueError("end_time is not after start_time")
        return self

    def angles(self) -> tuple[Angle, ...]:
        """The clips this play asks for: ``both`` is broadcast then tactical."""
        return ("broadcast", "tactical") if self.angle == "both" else (self.angle,)


# Why a play (or an angle of it) is left out, in the words of the skipped-plays count of the
# manifest, and what to do; each reject also has its own one-line message.
INVALID = "its row is not a valid play"
REPEATED = "its play_id repeats an earlier row's"
NO_VIDEO = "the camera of its angle is not a video of the game"
OUTSIDE = "its window is outside the video"
NO_FRAME = "its window holds no frame of the video"
REASON_FIX = {
    INVALID: "fix the rows that rejects.parquet names (one message each, also printed by artifacts build)",
    REPEATED: "give every play its own play_id",
    NO_VIDEO: "register that camera's video (artifacts games add GAME --source CAMERA=... --replace) or set broadcast_camera / tactical_camera in [params.clips]",
    OUTSIDE: "fix the plays' times (rejects.parquet names each), or register the whole video",
    NO_FRAME: "widen the plays' windows",
}


class Reject(BaseModel):
    """A play, or one angle of it, left out: why, as one of the reasons above and as one line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    row: int
    play_id: str
    angle: str
    message: str
    reason: str

    @field_validator("reason")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in REASON_FIX:
            raise ValueError(f"is not one of the reasons {sorted(REASON_FIX)}")
        return v


def play_label(game: str, row: int, play_id: str) -> str:
    """How messages name a play: ``plays row 3 (play002) of game g1``."""
    return f"plays row {row} ({play_id or 'no play_id'}) of game {game}"


def reject_line(thing: str, value: object, problem: str, fix: str) -> str:
    """The one-line message format of every framework error: ``thing 'value': problem; fix``."""
    return f"{thing} {value!r}: {problem}; {fix}"


# Per field: what is wrong with it, and what to do, when pydantic refuses the value.
_FIELD_FIX = {
    "play_id": ("is not a valid play id", "use 1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit"),
    "start_time": ("is not a finite number of seconds", "fix the play's times"),
    "end_time": ("is not a finite number of seconds", "fix the play's times"),
    "angle": ("is not an angle", "set it to broadcast, tactical or both"),
    "description": ("is empty", "describe the play"),
}


def _row_message(game: str, row: int, raw: dict[str, str], exc: ValidationError) -> str:
    err = exc.errors()[0]
    label = play_label(game, row, raw.get("play_id", ""))
    field = str(err["loc"][0]) if err["loc"] else ""
    if field == "angle" and not raw.get("angle", "").strip():
        return reject_line(f"{label} angle", raw.get("angle", ""), "is missing", "set it to broadcast, tactical or both")
    if field in _FIELD_FIX:
        problem, fix = _FIELD_FIX[field]
        return reject_line(f"{label} {field}", raw.get(field, ""), problem, fix)
    # A model-level check: the times' order.
    return reject_line(f"{label} times", f"{raw.get('start_time')}-{raw.get('end_time')}", "end_time is not after start_time", "fix the play's times")


def parse_plays(text: str, game: str) -> tuple[list[Play], list[Reject]]:
    """The valid plays of a ``plays.csv`` text, in file order, and the rejected rows.

    A repeated ``play_id`` rejects the later row. Raises :class:`SourceError` only when the
    file as a whole is unusable (no header, a required column missing).
    """
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise SourceError(f"plays annotation of game {game}", ",".join(header), f"lacks column(s) {', '.join(missing)}",
                          f"export it with the columns {', '.join(COLUMNS)}")
    plays: list[Play] = []
    rejects: list[Reject] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(reader):
        row = n + 2
        values = {c: (raw.get(c) or "") for c in COLUMNS}
        try:
            play = Play.model_validate({
                "row": row, "play_id": values["play_id"].strip(), "start_time": values["start_time"].strip(),
                "end_time": values["end_time"].strip(), "angle": values["angle"].strip(), "description": values["description"],
            })
        except ValidationError as exc:
            rejects.append(Reject(row=row, play_id=values["play_id"], angle=values["angle"], message=_row_message(game, row, values, exc),
                                  reason=INVALID))
            continue
        if play.play_id in seen:
            rejects.append(Reject(row=row, play_id=play.play_id, angle=play.angle, message=reject_line(
                f"{play_label(game, row, play.play_id)} play_id", play.play_id, f"repeats the play_id of row {seen[play.play_id]}", "give every play its own id"),
                reason=REPEATED))
            continue
        seen[play.play_id] = row
        plays.append(play)
    return plays, rejects
