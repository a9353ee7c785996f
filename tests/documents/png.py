"""Just enough PNG reading (8-bit RGB/RGBA, not interlaced) to look at a Chromium screenshot."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


def read_png(path: Path, max_rows: int | None = None) -> tuple[int, int, list[bytes], int]:
    """(width, height, rows of raw pixel bytes, bytes per pixel); only the top ``max_rows``."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        header = chunk if kind == b"IHDR" else header
        idat += chunk if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0
    bpp = 3 if colour == 2 else 4
    height = min(height, max_rows or height)
    return width, height, _unfilter(zlib.decompress(idat), width, height, bpp), bpp


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> list[bytes]:
    stride, rows, prev = width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        if kind == 0:
            rows.append(bytes(line))
            prev = line
            continue
        if kind == 2:
            line = bytearray((v + u) & 0xFF for v, u in zip(line, prev, strict=True))
            rows.append(bytes(line))
            prev = line
            continue
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            line[x] = (line[x] + _predict(kind, a, b, c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return rows


def _predict(kind: int, a: int, b: int, c: int) -> int:
    if kind == 0:
        return 0
    if kind == 1:
        return a
    if kind == 2:
        return b
    if kind == 3:
        return (a + b) // 2
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def pixel(rows: list[bytes], bpp: int, x: int, y: int) -> tuple[int, int, int]:
    r, g, b = rows[y][x * bpp : x * bpp + 3]
    return r, g, b
