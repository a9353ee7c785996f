"""Where Prefect keeps things, searched for marker strings: every column of every table of its
database, and every file under its home, with base64, compression and pickles undone."""

from __future__ import annotations

import base64
import binascii
import bz2
import contextlib
import lzma
import pickletools
import re
import sqlite3
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

BASE64 = re.compile(rb"[A-Za-z0-9+/_-]{16,}={0,2}")
DEPTH = 4


def readings(blob: bytes, depth: int = DEPTH) -> Iterator[bytes]:
    """``blob`` and everything it decodes to: base64 (inside it too), zlib/bz2/lzma, pickle."""
    yield blob
    if depth == 0:
        return
    for decoded in _decodings(blob):
        yield from readings(decoded, depth - 1)


def _decodings(blob: bytes) -> Iterator[bytes]:
    for token in BASE64.findall(blob):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            with contextlib.suppress(binascii.Error, ValueError):
                yield decode(token + b"=" * (-len(token) % 4))
    for decompress in (zlib.decompress, bz2.decompress, lzma.decompress):
        with contextlib.suppress(Exception):  # not that format
            yield decompress(blob)
    yield from _pickled_values(blob)


def _pickled_values(blob: bytes) -> Iterator[bytes]:
    """The strings and bytes a pickle holds, read by walking its opcodes, never by unpickling:
    loading arbitrary bytes as a pickle may run code, and an opcode read from random bytes can
    ask for a memo of gigabytes (seen: a 27.5 GB allocation; the kernel may kill the worker)."""
    if not blob.startswith(b"\x80"):  # protocol 2 and later, all Prefect and cloudpickle write
        return
    with contextlib.suppress(Exception):  # not a pickle after all, or cut short
        for _, arg, _ in pickletools.genops(blob):
            if isinstance(arg, str):
                yield arg.encode()
            elif isinstance(arg, bytes | bytearray):
                yield bytes(arg)


def hits_in(blob: bytes, marker: bytes) -> bool:
    return any(marker.lower() in reading.lower() for reading in readings(blob))


def settled(path: Path, last_event: str, quiet: float, timeout: float = 60) -> None:
    """Wait until the SQLite database at ``path`` holds the event about ``last_event`` (a
    resource id, sent last) and has then stopped growing for ``quiet`` seconds: a server that
    writes what it receives in batches, and puts back a batch whose write failed, has written
    the last of them."""
    deadline, last, since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        with sqlite3.connect(path) as conn:
            arrived = conn.execute(
                "SELECT count(*) FROM events WHERE resource_id = ?", (last_event,)
            ).fetchone()[0]
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            counts = [conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables]
        if not arrived or counts != last:
            last, since = counts, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(min(quiet / 4, 0.25))
    raise TimeoutError(f"{path} was still being written after {timeout} s")


def database_hits(path: Path, marker: str) -> list[str]:
    """``table.column`` of every value in the SQLite database holding ``marker``."""
    found = []
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            columns = [c[0] for c in cursor.description]
            for row in cursor:
                found += [
                    f"{table}.{column}"
                    for column, value in zip(columns, row, strict=True)
                    if value is not None and hits_in(_bytes(value), marker.encode())
                ]
    return found


def folder_hits(folder: Path, marker: str) -> list[str]:
    """Files under ``folder`` holding ``marker`` (databases are searched by ``database_hits``)."""
    return [
        str(path)
        for path in folder.rglob("*")
        if path.is_file() and hits_in(path.read_bytes(), marker.encode())
    ]


def _bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
