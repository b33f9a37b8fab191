"""The game catalog: registration, digests, bulk listings, refresh."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Ws

from artifacts.errors import UsageError
from artifacts.keys import check_game_id, hash_file
from artifacts.workspace import SourceSpec, read_listing


@pytest.mark.parametrize("good", ["g1", "0021500575", "CLE-DAL_2016.01.12", "a" * 128])
def test_valid_game_ids(good: str) -> None:
    assert check_game_id(good) == good


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "a\\b", ".x", "-x", "a..b", "a b", "a" * 129, "é"])
def test_invalid_game_ids(bad: str) -> None:
    with pytest.raises(UsageError):
        check_game_id(bad)


def test_registration_records_streamed_digest(ws: Ws) -> None:
    src = ws.engine().catalog.sources()["g0"]
    assert src["cam0"].digest == hash_file(ws.root / "sources" / "g0" / "cam0.bin")
    assert src["shots"].kind == "annotation" and src["cam0"].kind == "video"


def test_registering_twice_needs_replace(ws: Ws) -> None:
    e = ws.engine()
    spec = [SourceSpec("cam0", str(ws.root / "sources" / "g0" / "cam0.bin"))]
    with pytest.raises(UsageError, match="already registered"):
        e.catalog.add_games([("g0", spec)])
    e.catalog.add_games([("g0", spec)], replace_existing=True)


def test_bulk_listing_csv_and_parquet(tmp_path: Path, ws: Ws) -> None:
    vids = tmp_path / "vids"
    vids.mkdir()
    for i in range(3):
        (vids / f"v{i}.mp4").write_bytes(bytes([i]) * 1000)
    csv = tmp_path / "games.csv"
    csv.write_text("game,name,url,kind\nb1,cam0,vids/v0.mp4,video\nb1,cam1,vids/v1.mp4,video\nb2,cam0,vids/v2.mp4,video\n")
    entries = read_listing(csv)
    assert [(g, [s.name for s in specs]) for g, specs in entries] == [("b1", ["cam0", "cam1"]), ("b2", ["cam0"])]
    assert entries[0][1][0].url == str(vids / "v0.mp4")  # relative to the listing
    r = ws.cli("games", "add", "--from", str(csv))
    assert r.returncode == 0, r.stderr
    pq.write_table(pa.table({"game": ["p1"], "name": ["cam0"], "url": [str(vids / "v0.mp4")]}), tmp_path / "g.parquet")
    assert ws.cli("games", "add", "--from", str(tmp_path / "g.parquet")).returncode == 0
    games = ws.engine().catalog.games()
    assert {"b1", "b2", "p1"} <= set(games)


def test_listing_with_a_bad_row_registers_nothing(tmp_path: Path, ws: Ws) -> None:
    (tmp_path / "v.mp4").write_bytes(b"x" * 10)
    csv = tmp_path / "games.csv"
    csv.write_text(f"game,name,url\nok1,cam0,{tmp_path / 'v.mp4'}\n../evil,cam0,{tmp_path / 'v.mp4'}\n")
    r = ws.cli("games", "add", "--from", str(csv))
    assert r.returncode == 2 and "'../evil'" in r.stderr
    assert "ok1" not in ws.engine().catalog.games()


def test_listing_lacking_columns(tmp_path: Path) -> None:
    csv = tmp_path / "games.csv"
    csv.write_text("game,url\na,b\n")
    with pytest.raises(UsageError, match=r"lacks columns \['name'\]"):
        read_listing(csv)


def test_csv_listing_keeps_numeric_looking_game_ids_as_text(tmp_path: Path) -> None:
    csv = tmp_path / "games.csv"
    csv.write_text("game,name,url\n0021500575,cam0,/v.mp4\n")
    [(game, specs)] = read_listing(csv)
    assert game == "0021500575" and specs[0].name == "cam0"
