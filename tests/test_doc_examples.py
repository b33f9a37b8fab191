"""The examples of the docs that users copy are run, as written, against a real workspace."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
from conftest import REPO, Ws

from artifacts import api


def python_block(doc: str, heading: str) -> str:
    """The first ```python block after ``heading`` in ``docs/<doc>``."""
    text = (REPO / "docs" / doc).read_text()
    after = text[text.index(heading):]
    m = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert m, f"no python block after {heading!r} in {doc}"
    return m.group(1)


def test_the_chunked_layer_example_builds_the_same_counts_whatever_the_chunk_size(make_ws, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    code = python_block("writing-a-layer.md", "## Chunked layers: long tasks")
    (tmp_path / "doc_example_layer.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    ws: Ws = make_ws("doc-chunked", games=0)
    cfg = ws.root / "artifacts.toml"
    cfg.write_text(re.sub(r"^layers = .*$", 'layers = ["doc_example_layer:ByteCounts"]', cfg.read_text(), flags=re.MULTILINE)
                   + "\n[chunk_size]\nbyte-counts = 100\n")
    video = bytes(range(256)) * 3 + b"\x07" * 50
    ws.add_game("g0", video=video, cams=2)
    engine = ws.engine()
    assert api.build(engine, ["byte-counts"]).ok()
    key = engine.plan_keys(["byte-counts"]).key("byte-counts", "g0") or ""
    manifest = engine.store.manifest("byte-counts", "g0", key)
    assert manifest is not None and manifest.chunks == 2 * 9  # 818 bytes a camera in chunks of 100
    table = pq.read_table(api.artifact(engine, "byte-counts", "g0").location("counts.parquet")).to_pylist()
    expected = Counter(video)  # both cameras hold the same bytes
    for cam in ("cam0", "cam1"):
        got = {r["value"]: r["count"] for r in table if r["source"] == cam}
        assert got == {v: expected.get(v, 0) for v in range(256)}
    # the whole game as one chunk per camera: the same artifact content, the same key
    cfg.write_text(cfg.read_text().replace("byte-counts = 100", "byte-counts = 1000000"))
    engine = ws.engine()
    engine.store.remove_artifact(manifest)
    assert api.build(engine, ["byte-counts"]).ok()
    again = engine.store.manifest("byte-counts", "g0", key)
    assert again is not None and again.chunks == 2
    assert pq.read_table(api.artifact(engine, "byte-counts", "g0").location("counts.parquet")).to_pylist() == table
    assert json.loads(again.model_dump_json())["key"] == key
