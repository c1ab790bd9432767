"""The content-addressed media store: prepared files named by their SHA-256, beside the queue.

A file is stored once as ``<root>/<sha256>.<ext>`` (``db/media/`` by default: :func:`default_root`), written
to a temporary name in the same directory, flushed and renamed, so a reader never sees half a file and two
processes storing the same bytes both succeed. Because the name is the hash, the daemon sends exactly the
bytes the preview showed, and a restart finds them again.

Reads stream: :class:`FileSlice` is a re-iterable body (sync and async iteration, one chunk in memory at a
time) for an upload, and :func:`segments` cuts a file into slices for chunked uploads (X's APPEND), so a
500 MB video never sits in memory.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from campaign.errors import MediaStoreError

#: Errors writing a stored file that are the store's (its disk), not the source's.
_STORE_FAULTS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})

#: Bytes read at a time when hashing, copying or streaming.
CHUNK = 256 * 1024
_NAME = re.compile(r"^[0-9a-f]{64}\.[a-z0-9]{1,5}$")


def default_root(db_path: str | os.PathLike[str]) -> Path:
    """The store beside a SQLite queue file: ``<db dir>/media``."""
    return Path(db_path).resolve().parent / "media"


@dataclass(frozen=True)
class StoredFile:
    """One stored file: its hash, size in bytes and path."""

    sha256: str
    size: int
    path: Path

    @property
    def name(self) -> str:
        return self.path.name


class MediaStore:
    """A directory of files named ``<sha256>.<ext>``. Safe for several processes; never rewrites a file."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str, ext: str) -> Path:
        name = f"{sha256}.{ext}"
        if not _NAME.match(name):
            raise ValueError(f"not a media store name: {name!r}")
        return self.root / name

    def get(self, sha256: str, ext: str) -> StoredFile | None:
        """The stored file with this hash, or None."""
        path = self.path_for(sha256, ext)
        try:
            return StoredFile(sha256, path.stat().st_size, path)
        except (FileNotFoundError, NotADirectoryError):  # NotADirectory: a file where the store belongs
            return None

    def put_bytes(self, data: bytes, ext: str) -> StoredFile:
        """Store ``data`` (idempotent: the same bytes give the same file, written once)."""
        sha = hashlib.sha256(data).hexdigest()
        found = self.get(sha, ext)
        if found is not None and found.size == len(data):  # a file of another size is damaged: replaced
            return found
        return self._commit(sha, ext, lambda out: out.write(data))

    def put_file(self, source: str | os.PathLike[str], ext: str) -> StoredFile:
        """Store a copy of ``source``, hashing while copying (streamed: the file is never read whole)."""
        sha = file_sha256(source)
        found = self.get(sha, ext)
        if found is not None and found.size == os.stat(source).st_size:  # another size: damaged, replaced
            return found

        def copy(out: BinaryIO) -> None:
            digest = hashlib.sha256()
            with open(source, "rb") as src:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha:  # the source changed while we copied it
                raise OSError(f"{os.fspath(source)} changed while being stored")

        return self._commit(sha, ext, copy)

    def _commit(self, sha: str, ext: str, write: Callable[[BinaryIO], object]) -> StoredFile:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-", suffix=f".{ext}")
        except OSError as exc:  # a file where the folder belongs, no permission, a read-only disk
            raise self.unwritable(exc) from None
        final = self.path_for(sha, ext)
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            # rename is atomic within a directory; a concurrent writer of the same bytes wins harmlessly.
            os.replace(tmp, final)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno in _STORE_FAULTS:
                raise self.unwritable(exc) from None
            raise
        return StoredFile(sha, final.stat().st_size, final)

    def unwritable(self, exc: OSError) -> MediaStoreError:
        """The one-line error for ``exc`` met while writing into the store (names the folder)."""
        reason = exc.strerror or str(exc)
        if isinstance(exc, FileExistsError | NotADirectoryError):
            reason = "a file is where its folder belongs"
        return MediaStoreError(f"media store {self.root}: cannot write ({reason})")

    def verify(self, stored: StoredFile) -> bool:
        """True when the file still has its size and hashes to its name (always hashed, whatever its size)."""
        return unchanged(stored.path, stored.size, stored.sha256, hash_limit=None) is None


#: Files up to this many bytes are hashed again before the daemon uploads them (every image, small videos);
#: larger ones are checked by size only. Hashing runs on the daemon's event loop: 500 MB took 0.5-0.8 s
#: here (650-1,100 MB/s with the file cached, slower from a cold disk), a stall of every other send in
#: flight on each attempt; 32 MiB costs ~50 ms at most. See docs/MEDIA.md ("The bytes are checked").
HASH_LIMIT = 32 * 1024 * 1024


def unchanged(
    path: str | os.PathLike[str], size: int, sha256: str, *, hash_limit: int | None = HASH_LIMIT
) -> str | None:
    """None when the stored file at ``path`` still is what was prepared, else why not ("missing", "N bytes,
    not M", "its SHA-256 differs"). The size is always compared (one ``stat``); the content is hashed
    (streamed) when ``size`` is at most ``hash_limit`` (None: always)."""
    try:
        found = os.stat(path)
    except OSError:
        return "missing"
    if not stat.S_ISREG(found.st_mode):
        return "not a regular file"
    if found.st_size != size:
        return f"{found.st_size} bytes, not {size}"
    if (hash_limit is None or size <= hash_limit) and file_sha256(path) != sha256:
        return "its SHA-256 differs"
    return None


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileSlice:
    """``length`` bytes of a file from ``offset``, streamed in chunks; iterate it again to re-read it.

    Iterating (sync or async) opens the file afresh each time, so a retried upload sends the same bytes and
    only one chunk is held in memory. ``length`` None means to the end of the file.
    """

    path: Path
    offset: int = 0
    length: int | None = None
    chunk_size: int = CHUNK

    @property
    def size(self) -> int:
        total = self.path.stat().st_size - self.offset
        return max(0, total if self.length is None else min(self.length, total))

    def __iter__(self) -> Iterator[bytes]:
        left = self.size
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            while left > 0:
                chunk = f.read(min(self.chunk_size, left))
                if not chunk:
                    raise OSError(f"{self.path} shrank while being read")
                left -= len(chunk)
                yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # Local file reads of one chunk are short; the event loop is not starved for long.
        for chunk in self:
            yield chunk

    def read_all(self) -> bytes:
        """The whole slice in memory (small parts only). Not named ``read``: httpx would take the slice for a
        file object and call ``read(n)``."""
        return b"".join(self)


def segments(path: str | os.PathLike[str], segment_size: int) -> list[FileSlice]:
    """``path`` cut into consecutive slices of ``segment_size`` bytes (the last may be shorter).

    An empty file gives no segments. X's APPEND takes segments of at most 5 MB (segment_index 0, 1, ...).
    """
    if segment_size <= 0:
        raise ValueError("segment_size must be positive")
    p = Path(path)
    total = p.stat().st_size
    return [
        FileSlice(p, offset, min(segment_size, total - offset)) for offset in range(0, total, segment_size)
    ]
