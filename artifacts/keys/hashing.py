"""Streamed content digests of files and byte streams (xxh3-128).

Digests are written ``xxh3-128:<32 hex>`` so that a digest read from a file or a manifest says
which function produced it.
"""

from __future__ import annotations

import os
from typing import BinaryIO

import xxhash

ALGORITHM = "xxh3-128"
CHUNK = 4 * 1024 * 1024  # 4 MiB: large enough to amortise the call, small enough to stay in cache


def format_digest(hexdigest: str) -> str:
    """Tag a raw hex digest with the algorithm name."""
    return f"{ALGORITHM}:{hexdigest}"


def hash_stream(stream: BinaryIO, size_hint: int = CHUNK) -> str:
    """Digest of everything left in ``stream``, read in chunks into one reused buffer.

    ``size_hint`` (the expected size) keeps small files from allocating a full chunk.
    """
    h = xxhash.xxh3_128()
    buf = bytearray(max(1, min(CHUNK, size_hint + 1)))
    view = memoryview(buf)
    readinto = getattr(stream, "readinto", None)
    if readinto is None:  # some fsspec file objects only offer read()
        while chunk := stream.read(CHUNK):
            h.update(chunk)
        return format_digest(h.hexdigest())
    while n := readinto(buf):
        h.update(view[:n])
    return format_digest(h.hexdigest())


def hash_file(path: str | os.PathLike[str]) -> str:
    """Digest of a local file's content."""
    with open(path, "rb", buffering=0) as f:
        return hash_stream(f, os.fstat(f.fileno()).st_size)


def hash_bytes(data: bytes) -> str:
    """Digest of an in-memory byte string, in the same format as :func:`hash_file`."""
    return format_digest(xxhash.xxh3_128_hexdigest(data))
