"""The token cache: per-clip token features in one raw file, described by a JSON header.

Format ``token-cache/1``, two files side by side:

- ``<name>.f16``: the tokens, little-endian float16, C order, shape ``[rows, tokens, hidden]``,
  no padding and no framing: row ``i`` starts at byte ``i * tokens * hidden * 2``. Rows with
  no clip (``missing``) hold zeros.
- ``<name>.json``: :class:`TokenCacheHeader`: format, data file name, shape, dtype, byte order,
  token grid ``(t, h, w)`` (``t * h * w == tokens``, tokens in row-major grid order), feature
  family, the missing rows, the xxh3-128 digest of the data file and the model that made it.

Why raw bytes and not zarr or .npy: a cached [3136, 768] clip is 4.8 MB that barely compresses;
read back in shuffled order, warm, zarr v3 with one chunk per clip manages ~400 clips/s here and
a memmap of the raw bytes several thousand (``bench/token_cache.py``). The header is separate
so that it can be read, and checked, without touching the data.

:class:`TokenCache` reads it: it checks the header against what the caller expects
(:class:`TokenExpectation`: family, grid, hidden size, dtype, rows) and fails with a one-line
diff when they disagree, then copies rows out of a memory map into a caller-provided buffer.
It pickles without its map, so it can be handed to DataLoader workers, each of which maps the
file again on first read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from artifacts.errors import ContractError, StoreError, UsageError
from artifacts.keys import hash_file

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from artifacts.layers import ArtifactReader

FORMAT: Literal["token-cache/1"] = "token-cache/1"
DTYPE: Literal["float16"] = "float16"
NUMPY_DTYPE = "<f2"
ITEMSIZE = 2


class TokenCacheHeader(BaseModel):
    """The JSON header of a token cache (see the module doc)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["token-cache/1"]
    data: str
    shape: tuple[int, int, int]
    dtype: Literal["float16"]
    byteorder: Literal["little"]
    grid: tuple[int, int, int]
    family: str
    missing: tuple[int, ...]
    digest: str
    model: dict[str, str] = {}

    @property
    def rows(self) -> int:
        return self.shape[0]

    @property
    def hidden_dim(self) -> int:
        return self.shape[2]

    @property
    def row_bytes(self) -> int:
        return self.shape[1] * self.shape[2] * ITEMSIZE


class TokenExpectation(BaseModel):
    """What a consumer needs of a token cache; ``None`` fields are not checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    family: str | None = None
    grid: tuple[int, int, int] | None = None
    hidden_dim: int | None = None
    dtype: str | None = DTYPE
    rows: int | None = None

    def diff(self, header: TokenCacheHeader) -> list[str]:
        """``name: cache has X, expected Y`` for each disagreement, in a fixed order."""
        found: dict[str, Any] = {"family": header.family, "grid": list(header.grid), "hidden_dim": header.hidden_dim, "dtype": header.dtype, "rows": header.rows}
        out = []
        for name in ("family", "grid", "hidden_dim", "dtype", "rows"):
            want = getattr(self, name)
            if want is None:
                continue
            want = list(want) if isinstance(want, tuple) else want
            if found[name] != want:
                out.append(f"{name}: cache has {found[name]!r}, expected {want!r}")
        return out


def header_path(path: str | os.PathLike[str], name: str = "tokens") -> Path:
    """The header of a cache given as its header file or as the directory holding ``<name>.json``."""
    p = Path(path)
    return p / f"{name}.json" if p.is_dir() else p


class TokenCacheWriter:
    """Writes a cache of ``rows`` rows of ``[t*h*w, hidden]`` tokens into ``directory``.

    Every row must be either written or declared missing in :meth:`close`, which refuses
    anything else: a row is never left out silently.
    """

    def __init__(self, directory: Path, rows: int, grid: tuple[int, int, int], hidden_dim: int, family: str,
                 model: dict[str, str] | None = None, name: str = "tokens") -> None:
        import numpy as np

        t, h, w = grid
        self.shape = (rows, t * h * w, hidden_dim)
        self.grid = grid
        self.family = family
        self.model = dict(model or {})
        self.name = name
        self.data_path = directory / f"{name}.f16"
        self.header_path = directory / f"{name}.json"
        self._written = np.zeros(rows, bool)
        self._map: np.memmap[Any, np.dtype[np.float16]] | None = None
        if rows and self.shape[1] * hidden_dim:
            self._map = np.memmap(self.data_path, dtype=NUMPY_DTYPE, mode="w+", shape=self.shape)  # zero-filled
        else:
            self.data_path.write_bytes(b"")

    def write(self, row: int, tokens: NDArray[Any]) -> None:
        """Store ``tokens`` (``[tokens, hidden]``, cast to float16) as row ``row``."""
        if tokens.shape != self.shape[1:]:
            raise ValueError(f"tokens of shape {tokens.shape} for row {row}: the cache holds {self.shape[1:]}")
        if self._map is None or not 0 <= row < self.shape[0]:
            raise IndexError(f"row {row} of a cache of {self.shape[0]} rows")
        self._map[row] = tokens
        self._written[row] = True

    def close(self, missing: Sequence[int]) -> TokenCacheHeader:
        """Flush, hash and write the header; ``missing`` must be exactly the rows never written."""
        import numpy as np

        unwritten = np.flatnonzero(~self._written).tolist()
        if sorted(missing) != unwritten:
            raise ValueError(f"token cache {self.data_path}: rows {unwritten} were not written but {sorted(missing)} are declared missing")
        if self._map is not None:
            self._map.flush()
            self._map = None
        header = TokenCacheHeader(format=FORMAT, data=self.data_path.name, shape=self.shape, dtype=DTYPE, byteorder="little", grid=self.grid,
                                  family=self.family, missing=tuple(unwritten), digest=hash_file(self.data_path), model=self.model)
        self.header_path.write_text(json.dumps(header.model_dump(mode="json"), indent=1, sort_keys=True) + "\n")
        return header


class TokenCache:
    """A token cache opened for reading, its header checked against ``expect``.

    Raises :class:`ContractError` (the one-line diff) when the header disagrees with
    ``expect``, and :class:`StoreError` when the header is malformed or the data file's size
    does not match it. Reading copies rows from a memory map of the data file.
    """

    def __init__(self, path: str | os.PathLike[str], expect: TokenExpectation | None = None, name: str = "tokens") -> None:
        self.path = header_path(path, name)
        self.header = read_header(self.path)
        self.data_path = self.path.with_name(self.header.data)
        self.expect = expect
        if expect is not None:
            diff = expect.diff(self.header)
            if diff:
                raise ContractError(f"token cache {self.path}", None, f"disagrees with what the reader expects ({'; '.join(diff)})",
                                    "rebuild the features with the expected model, or expect what the cache records")
        try:
            size = os.stat(self.data_path).st_size
        except FileNotFoundError:
            raise StoreError(f"token cache {self.path}", self.header.data, "has no data file beside it", "rebuild the artifact") from None
        want = self.header.rows * self.header.row_bytes
        if size != want:
            raise StoreError(f"token cache data {self.data_path}", size, f"holds that many bytes but its header describes {want}", "rebuild the artifact")
        self._map: np.memmap[Any, np.dtype[np.float16]] | None = None
        self._missing: NDArray[np.bool_] | None = None

    def __len__(self) -> int:
        return self.header.rows

    @property
    def row_shape(self) -> tuple[int, int]:
        return (self.header.shape[1], self.header.shape[2])

    def __getstate__(self) -> dict[str, Any]:
        # The map is per process: a DataLoader worker maps the file again on first read.
        return {**self.__dict__, "_map": None}

    def _mapped(self) -> np.memmap[Any, np.dtype[np.float16]]:
        import numpy as np

        if self._map is None:
            self._map = np.memmap(self.data_path, dtype=NUMPY_DTYPE, mode="r", shape=self.header.shape)
            self._missing = np.zeros(self.header.rows, bool)
            self._missing[list(self.header.missing)] = True
        return self._map

    def empty(self, n: int) -> NDArray[np.float16]:
        """A buffer for ``n`` rows, to pass to :meth:`read` again and again."""
        import numpy as np

        return np.empty((n, *self.row_shape), np.float16)

    def read(self, rows: Sequence[int] | NDArray[np.integer[Any]], out: NDArray[np.float16] | None = None) -> NDArray[np.float16]:
        """Rows ``rows`` (in that order) copied into ``out[:len(rows)]`` (or a new array); returns that part.

        A row listed as missing (a shot with no clip) raises :class:`UsageError`.
        """
        import numpy as np

        m = self._mapped()
        idx = np.asarray(rows, dtype=np.int64)
        n = len(idx)
        if out is None:
            out = self.empty(n)
        elif out.dtype != np.float16 or out.shape[0] < n or tuple(out.shape[1:]) != self.row_shape or not out.flags.c_contiguous:
            raise ValueError(f"buffer of shape {out.shape} {out.dtype}: expected C-contiguous float16 [>= {n}, {self.row_shape[0]}, {self.row_shape[1]}]")
        if n and (idx.min() < 0 or idx.max() >= self.header.rows):
            bad = int(idx[(idx < 0) | (idx >= self.header.rows)][0])
            raise UsageError(f"token cache {self.path} row", bad, f"is out of range (the cache has {self.header.rows} rows)", "read rows 0 .. rows-1")
        assert self._missing is not None
        if self._missing[idx].any():
            bad = int(idx[self._missing[idx]][0])
            raise UsageError(f"token cache {self.path} row", bad, "has no tokens (its shot has no clip, see the header's missing rows)", "leave that row out")
        for i, r in enumerate(idx):  # row by row from the map: faster here than fancy indexing or np.take
            out[i] = m[r]
        return out[:n]

    def verify(self) -> None:
        """Re-hash the data file against the header's digest (reads the whole file)."""
        actual = hash_file(self.data_path)
        if actual != self.header.digest:
            raise StoreError(f"token cache data {self.data_path}", actual, f"does not match the digest its header records ({self.header.digest})", "rebuild the artifact")


def read_header(path: Path) -> TokenCacheHeader:
    """The header at ``path``, or a :class:`StoreError` naming what is wrong with it."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise StoreError("token cache header", str(path), "does not exist", "pass the tokens.json of a videomae-features artifact") from None
    except (OSError, ValueError) as e:
        raise StoreError("token cache header", str(path), f"cannot be read as JSON ({e})", "rebuild the artifact") from e
    try:
        header = TokenCacheHeader.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "header"
        raise StoreError("token cache header", str(path), f"is malformed at {where} ({err['msg']})", "rebuild the artifact") from e
    t, h, w = header.grid
    if t * h * w != header.shape[1]:
        raise StoreError("token cache header", str(path), f"has grid {list(header.grid)} of {t * h * w} tokens but rows of {header.shape[1]}", "rebuild the artifact")
    return header


def artifact_tokens(artifact: ArtifactReader, expect: TokenExpectation | None = None) -> TokenCache:
    """The token cache of a ``videomae-features`` artifact (``tokens.json`` in a local store)."""
    if not artifact.store.local:
        raise StoreError(f"token cache of artifact {artifact.key}", artifact.store.url, "is memory-mapped, so it is read from a local store only",
                         "copy the artifact to a local store first")
    return TokenCache(artifact.location("tokens.json"), expect)
