"""Writing a document to a file only its owner can read."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from harbour.errors import InvalidInput


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, whole or not at all (temp file, then rename).

    Only a new file or a regular one is replaced: a FIFO, a device (``/dev/null``) or a terminal
    (``/dev/stdout``) would otherwise become a file holding the document.
    """
    folder = path.parent if str(path.parent) else Path(".")
    try:
        usable = folder.is_dir() and not path.is_dir()
    except OSError as exc:  # is_dir passes on some errors (a name too long for the system)
        raise InvalidInput([("--output", f"cannot be used ({exc.strerror})")]) from None
    if not usable:
        raise InvalidInput([("--output", "must be a file in an existing folder")])
    if not _new_or_regular(path):
        reason = "must be a new or regular file (not a pipe, device or terminal)"
        raise InvalidInput([("--output", reason)])
    temp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise InvalidInput([("--output", "could not be written")]) from None


def _new_or_regular(path: Path) -> bool:
    try:
        mode = os.stat(path).st_mode  # follows links: /dev/stdout names the terminal or pipe
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return stat.S_ISREG(mode)
