"""The commit log: where a durable journal's commit lands before SQLite has the rows.

A commit must make what was recorded survive the process (or, at ``power``, the machine)
before any actor acts on it. An SQLite transaction does that in 25 to 50 µs (B-tree
pages, the index, the WAL frame headers, its locks); appending the same records to a
plain file costs one ``write()``, a few µs. So a durable journal appends each commit
here, ``<journal>-commits`` beside the SQLite file, and its writer task copies the rows
into SQLite in large batches off the loop thread, as a journal that is not durable
does. The log holds only what SQLite may not have yet: it is emptied once SQLite holds
everything in it, so it stays a few flush intervals long.

Format: frames, one per commit, each ``length`` (4 bytes, little endian), ``crc32`` of the
body (4 bytes) and the body, a msgpack array of ``[seq, ts, kind, payload]`` records (a
journal row's columns). A frame whose length runs past the end of the file or whose CRC
does not match ends the log: the ``write()`` it came from never returned, so nobody
acted on it (:func:`read_commits`).

On the next open, :meth:`atrium.runtime.journal.Journal.open` moves the records SQLite
lacks into it before anything reads the journal; a read-only reader merges them
(:func:`pending_records`).
"""

from __future__ import annotations

import errno
import os
import struct
import zlib
from pathlib import Path
from typing import Final

import msgspec

from atrium.runtime.errors import JournalError
from atrium.runtime.journal_blocks import Record

__all__ = ("CommitLog", "commits_path", "pending_records", "read_commits")

_HEADER: Final = struct.Struct("<II")
_encode: Final = msgspec.msgpack.Encoder().encode
_decoder: Final = msgspec.msgpack.Decoder(list[tuple[int, int, str, bytes]])


def commits_path(journal: Path) -> Path:
    """The commit log of the journal at ``journal``."""
    return journal.with_name(journal.name + "-commits")


class CommitLog:
    """Appends commits to ``path``; ``sync`` flushes each to the disk (``power``)."""

    def __init__(self, path: Path, *, sync: bool) -> None:
        self.path = path
        self._sync = sync
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        #: Bytes in the log (what :meth:`empty` gives back).
        self.size = os.fstat(self._fd).st_size

    def append(self, records: list[Record]) -> None:
        """Write ``records`` as one frame; returns once they survive the process (or disk).

        Raises
        ------
        OSError
            When the write fails (a full disk, an I/O error); the frame may be partly
            written, which a reader takes for a torn end.
        """
        body = _encode(records)
        frame = _HEADER.pack(len(body), zlib.crc32(body)) + body
        written = os.write(self._fd, frame)
        if written != len(frame):  # the disk filled during the write
            raise OSError(errno.ENOSPC, f"wrote {written} of {len(frame)} bytes")
        if self._sync:
            os.fdatasync(self._fd)
        self.size += len(frame)

    def empty(self) -> None:
        """Drop everything: SQLite holds it all (and, with ``sync``, on the disk)."""
        if self.size:
            os.ftruncate(self._fd, 0)
            self.size = 0

    def close(self, *, remove: bool) -> None:
        """Close the file; ``remove`` it when SQLite holds everything it had."""
        os.close(self._fd)
        if remove:
            self.path.unlink(missing_ok=True)


def read_commits(path: Path) -> list[Record]:
    """Every record of the log at ``path`` up to its first torn or damaged frame.

    A missing file is an empty log.

    Raises
    ------
    JournalError
        When the file cannot be read.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise JournalError(f"{path}: cannot read the commit log: {exc.strerror}") from None
    records: list[Record] = []
    offset, end = 0, len(data)
    while offset + _HEADER.size <= end:
        length, crc = _HEADER.unpack_from(data, offset)
        body = data[offset + _HEADER.size : offset + _HEADER.size + length]
        if len(body) < length or zlib.crc32(body) != crc:
            break
        try:
            records.extend(_decoder.decode(body))
        except msgspec.DecodeError:
            break
        offset += _HEADER.size + length
    return records


def pending_records(journal: Path, after_seq: int) -> list[Record]:
    """The records of ``journal``'s commit log with a ``seq`` above ``after_seq``."""
    return [record for record in read_commits(commits_path(journal)) if record[0] > after_seq]
