"""Reading the files a campaign names (campaign file, release) safely: regular files only, with a size cap.

A path that names ``/dev/zero``, a FIFO or another device would otherwise hang the reader or exhaust memory;
:func:`read_regular` refuses it before reading, and refuses a file larger than the cap after reading at
most one byte past it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

#: Largest campaign file and release accepted (bytes): far above any real one, far below trouble.
MAX_TEXT_FILE = 4 * 1024 * 1024


class FileRefused(OSError):
    """The path exists but is not something we read: not a regular file, or over the size cap.

    ``strerror`` is a short reason fit for one error line.
    """


def read_regular(path: Path, *, limit: int = MAX_TEXT_FILE) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them.

    Raises :class:`FileRefused` for a FIFO, device, socket or directory and for a file over ``limit``;
    other ``OSError`` (not found, permission) as the OS reports them.
    """
    # O_NONBLOCK: opening a FIFO without a writer would otherwise block before fstat can refuse it.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "is a directory", str(path))
        if not stat.S_ISREG(mode):
            raise FileRefused(0, "not a regular file (a device, FIFO or socket)", str(path))
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise FileRefused(0, f"larger than {limit // (1024 * 1024)} MB", str(path))
        return b"".join(chunks)
    finally:
        os.close(fd)
