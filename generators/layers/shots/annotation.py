"""The shots annotation of a game (``shots.csv``, a source of kind ``annotation``).

One row per shot: ``frame, time_s, shooter_id, shooter_team, shooter_jersey, made, x_ft, y_ft``
and, per camera, ``<camera>_px, <camera>_py, <camera>_visible``: the shot origin (the shooter's
foot-point at release) in that camera's pixels and whether it lies inside the frame. Layers
read it through :func:`parse_shots`; ground truth beyond this annotation never reaches them.
"""

from __future__ import annotations

import csv
import io

from pydantic import BaseModel, ConfigDict, ValidationError

from artifacts.errors import SourceError

REQUIRED = ("frame", "shooter_id", "shooter_team", "shooter_jersey", "x_ft", "y_ft")


class ShotOrigin(BaseModel):
    """Where a shot starts in one camera's pixels."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    px: float
    py: float
    visible: bool


class Shot(BaseModel):
    """One annotated shot. ``index`` is its row number (0-based) in the annotation."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    index: int
    frame: int
    shooter_id: int
    shooter_team: int
    shooter_jersey: int
    made: bool
    x_ft: float
    y_ft: float
    origins: dict[str, ShotOrigin]


def parse_shots(text: str, where: str) -> list[Shot]:
    """Every shot of a ``shots.csv`` text; ``where`` names it in errors (game and source).

    Raises :class:`SourceError` naming the row and column for a missing column or a value that
    does not parse: a malformed annotation fails its game, it is never skipped.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise SourceError(f"shots annotation {where}", ",".join(header), f"lacks column(s) {', '.join(missing)}", "re-export it with the documented columns")
    cameras = sorted(c[: -len("_px")] for c in header if c.endswith("_px") and f"{c[:-3]}_py" in header)
    shots: list[Shot] = []
    for i, row in enumerate(reader):
        try:
            origins = {
                cam: ShotOrigin(px=float(row[f"{cam}_px"]), py=float(row[f"{cam}_py"]), visible=row.get(f"{cam}_visible", "1") == "1")
                for cam in cameras
            }
            shots.append(Shot(index=i, frame=int(row["frame"]), shooter_id=int(row["shooter_id"]), shooter_team=int(row["shooter_team"]),
                              shooter_jersey=int(row["shooter_jersey"]), made=row.get("made", "0") == "1", x_ft=float(row["x_ft"]),
                              y_ft=float(row["y_ft"]), origins=origins))
        except (ValueError, TypeError, ValidationError) as e:
            raise SourceError(f"shots annotation {where} row {i + 2}", dict(row), f"does not parse ({str(e).splitlines()[0]})", "fix the row") from e
    return shots
