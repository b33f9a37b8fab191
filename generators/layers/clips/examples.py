"""Training examples for video-model fine-tuning: one JSONL line per clip, as seed 003 shows.

Every line is an :class:`Example`, validated (``extra="forbid"`` at every level) before it is
written, and written by the model itself, so a file never holds a line the model refuses::

    {"contents": [
      {"role": "user", "parts": [{"fileData": {"fileUri": "gs://.../clips/p1_broadcast.mp4",
                                               "mimeType": "video/mp4"}},
                                 {"text": "Analyze this basketball play."}]},
      {"role": "model", "parts": [{"text": "<play description>"}]}]}

(one line in the file). The field names are those of the Vertex AI / Gemini tuning format.

Split: a play is in ``validation`` when ``xxh3_64("<game>/<play_id>") / 2**64`` is below
the validation fraction (0.2: an 80/20 split), else in ``training``. The rule depends only on
the play, not on its neighbours: adding or removing plays never moves another play from one
split to the other, so a validation example never becomes a training example in a later
version of the data; and both angles of a ``both`` play fall in the same split, so a
play is never trained on from one angle and validated on from the other. With few plays
per game the split is 80/20 only on average (the counts are in ``clips.parquet``).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MIME_TYPE = "video/mp4"
_URI = re.compile(r"^(/|[a-z][a-z0-9+.-]*://)\S+$")

Split = Literal["training", "validation"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileData(_Strict):
    # camelCase field names: they are the tuning format's keys, written as they are.
    fileUri: str
    mimeType: Literal["video/mp4"]

    @field_validator("fileUri")
    @classmethod
    def _absolute(cls, v: str) -> str:
        if not _URI.match(v):
            raise ValueError("must be an absolute path or a URL such as gs://bucket/clip.mp4")
        return v


class FilePart(_Strict):
    fileData: FileData


class TextPart(_Strict):
    text: str = Field(min_length=1)


class UserTurn(_Strict):
    role: Literal["user"]
    parts: tuple[FilePart, TextPart]


class ModelTurn(_Strict):
    role: Literal["model"]
    parts: tuple[TextPart]


class Example(_Strict):
    """One training example: the clip and the prompt, then the description to learn."""

    contents: tuple[UserTurn, ModelTurn]


def example(uri: str, prompt: str, description: str) -> Example:
    """The validated example for one clip (raises ``pydantic.ValidationError`` if malformed)."""
    return Example.model_validate({"contents": [
        {"role": "user", "parts": [{"fileData": {"fileUri": uri, "mimeType": MIME_TYPE}}, {"text": prompt}]},
        {"role": "model", "parts": [{"text": description}]},
    ]})


def jsonl_line(ex: Example) -> str:
    """The example as one line (compact JSON, no newline inside; non-ASCII kept as UTF-8)."""
    return ex.model_dump_json() + "\n"


def split_of(game: str, play_id: str, validation_fraction: float) -> Split:
    """``validation`` or ``training`` for a play; see the module docstring for the rule."""
    import xxhash

    u = xxhash.xxh3_64_intdigest(f"{game}/{play_id}".encode()) / 2**64
    return "validation" if u < validation_fraction else "training"
