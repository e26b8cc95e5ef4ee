"""Read an Atrium journal without changing it: open, check its versions, stream its events.

Readers of a journal file go through here (``atrium journal``, the start-up check, the
reports' ``collect``, the journal market data feed), so a bad file is described the same
way everywhere: a :class:`~runtime.journal.JournalError` whose message starts with the
file as the user named it and says what is wrong with it. Recovery reads on a read-only
connection of its own, so that its refusals can say where the re-run stopped and what
to salvage.

The file is opened with SQLite's ``mode=ro``: nothing is created, written or checkpointed,
and the journal's bytes stay as they were. A journal is in WAL mode, and a WAL reader needs
the ``-wal`` and ``-shm`` files next to the journal:

* a journal the service still has open, or one whose process was killed, has them, and
  reading it sees every committed event (the killed writer's last transaction, if it never
  committed, is not there: that is what a crash means);
* a journal closed cleanly has neither, and SQLite creates an empty ``-wal`` and a ``-shm``
  for the reader and leaves them. That needs a writable directory; where the directory is
  read-only the journal cannot be read in place, and the error says to read a copy.
  (SQLite's ``immutable`` flag would avoid the files, but it also turns off locking, so
  a service appending meanwhile could hand the reader torn pages: never used here.)

Damage is found where SQLite reads it: a truncated file fails on the first read, a
corrupted page when a query reaches it. :func:`iter_events` names the last ``seq`` it
delivered before the damage. No integrity check runs when a journal is opened: it costs a
read of the whole file (``atrium journal stats`` runs one).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from atrium.runtime.journal import (
    JOURNAL_SCHEMA_VERSION,
    OLD_JOURNAL_SCHEMA_VERSIONS,
    JournalError,
)
from atrium.runtime.messages import MESSAGE_SCHEMA_VERSION

__all__ = (
    "SQLITE_MAGIC",
    "iter_events",
    "last_seq",
    "open_readonly",
    "path_of",
    "read_meta",
    "reading",
)

#: The 16 bytes every SQLite database file starts with.
SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_HEADER_SIZE: Final = 100

#: Errors of a read-only WAL reader that cannot create the ``-wal``/``-shm`` files.
_CANNOT_CREATE: Final = frozenset(
    {"attempt to write a readonly database", "unable to open database file"}
)


class _Connection(sqlite3.Connection):
    """A connection that knows the journal's file, so errors deep in a read can name it."""

    source: str
    path: Path


def open_readonly(path: Path, *, source: str | None = None) -> sqlite3.Connection:
    """Open a journal for reading, after checking it is an Atrium journal of this schema.

    Parameters
    ----------
    path : Path
        The journal file. It is never created, written or otherwise changed.
    source : str, optional
        The file as the user named it, for messages; default ``str(path)``.

    Returns
    -------
    sqlite3.Connection
        In autocommit mode: each query reads the newest committed state unless the caller
        opens a transaction (``BEGIN``) to read several queries from one snapshot.

    Raises
    ------
    JournalError
        When the file is missing, not an SQLite database, truncated or corrupted where the
        checks read it, not an Atrium journal, or written under other schema versions.
    """
    name = str(path) if source is None else source
    _check_file(path, name)
    connection = _connect(path, name)
    try:
        _check_tables(connection, name)
    except BaseException:
        connection.close()
        raise
    return connection


def _check_file(path: Path, name: str) -> None:
    """Refuse a file that cannot be a whole journal before SQLite opens it."""
    if not path.exists():
        raise JournalError(f"{name}: no such file")
    if not path.is_file():
        raise JournalError(f"{name}: not a file")
    try:
        with path.open("rb") as file:
            header = file.read(_HEADER_SIZE)
    except OSError as exc:
        raise JournalError(f"{name}: cannot read the file: {exc.strerror}") from None
    if not header:
        raise JournalError(f"{name}: not an Atrium journal: the file is empty")
    wal = _sidecar(path, "-wal")
    if header.startswith(SQLITE_MAGIC) and not (wal.is_file() and wal.stat().st_size):
        # With no WAL content no checkpoint can be growing the file, so it must be as long
        # as its header says; SQLite itself only notices a short file when a query needs
        # a missing page.
        truncated = _truncation(path, header)
        if truncated is not None:
            raise JournalError(f"{name}: the journal is truncated: {truncated}")


def _connect(path: Path, name: str) -> _Connection:
    """A read-only connection that knows its file (``name``, ``path``) for later errors."""
    try:
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro",
            uri=True,
            isolation_level=None,
            factory=_Connection,
        )
    except sqlite3.Error as exc:
        raise _error(name, path, exc) from None
    connection.source, connection.path = name, path
    return connection


def _check_tables(connection: sqlite3.Connection, name: str) -> None:
    """Both schema versions are ours and the events table is there."""
    read_meta(connection, name)
    with reading(connection):
        has_events = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'"
        ).fetchone()
    if has_events is None:
        raise JournalError(f"{name}: an Atrium journal without its events table (damaged)")


def read_meta(connection: sqlite3.Connection, source: str) -> dict[str, str]:
    """The ``meta`` table, after checking both schema versions are ones this Atrium reads.

    A journal of an older schema (:data:`~runtime.journal.OLD_JOURNAL_SCHEMA_VERSIONS`)
    is read too: it holds its market data as rows, which every reader takes.

    Raises
    ------
    JournalError
        When the file is not an Atrium journal or was written under other versions.
    """
    try:
        rows = connection.execute("SELECT key, value FROM meta").fetchall()
    except sqlite3.OperationalError as exc:
        if str(exc) != "no such table: meta":
            raise _error(source, path_of(connection), exc) from None
        raise JournalError(f"{source}: not an Atrium journal: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise _error(source, path_of(connection), exc) from None
    meta = {str(key): str(value) for key, value in rows}
    expected = {
        "journal_schema_version": str(JOURNAL_SCHEMA_VERSION),
        "message_schema_version": str(MESSAGE_SCHEMA_VERSION),
    }
    for key, want in expected.items():
        got = meta.get(key)
        if got is None:
            raise JournalError(f"{source}: not an Atrium journal: meta has no {key}")
        readable = [want]
        if key == "journal_schema_version":
            readable += OLD_JOURNAL_SCHEMA_VERSIONS
        if got not in readable:
            raise JournalError(
                f"{source}: {key} is {got!r}, this Atrium reads "
                f"{' or '.join(map(repr, readable))}; open it with the Atrium version that wrote it"
            )
    return meta


def iter_events(
    connection: sqlite3.Connection, *, after_seq: int = 0, kinds: Sequence[str] | None = None
) -> Iterator[tuple[int, int, str, bytes]]:
    """Stream ``(seq, ts, kind, payload)`` of the events after ``after_seq``, in ``seq`` order.

    One cursor walks the table in ``seq`` order and filters ``kinds`` as it goes, so memory
    stays constant however long the journal is (a query through the ``kind`` index would
    have SQLite sort every matching row before returning the first). The rows come from
    one snapshot: events committed after the first row was read are not included.

    Parameters
    ----------
    connection : sqlite3.Connection
        From :func:`open_readonly`.
    after_seq : int
        Only events with a larger ``seq``; 0 for all.
    kinds : sequence of str, optional
        Only events of these kinds (class names such as ``"Bar"``); ``None`` for all.

    Raises
    ------
    JournalError
        When SQLite finds damage, naming the last ``seq`` delivered before it.
    """
    query = "SELECT seq, ts, kind, payload FROM events WHERE seq > ?"
    parameters: list[object] = [after_seq]
    if kinds is not None:
        # The unary + keeps SQLite off the kind index: see the docstring.
        query += f" AND +kind IN ({', '.join('?' * len(kinds))})"
        parameters.extend(kinds)
    reached = after_seq
    try:
        for seq, ts, kind, payload in connection.execute(f"{query} ORDER BY seq", parameters):
            reached = seq
            yield seq, ts, kind, payload
    except sqlite3.DatabaseError as exc:
        raise _error(_source_of(connection), path_of(connection), exc, reached) from None


def last_seq(connection: sqlite3.Connection) -> int:
    """The largest ``seq`` in the journal; 0 when it holds no event.

    Raises
    ------
    JournalError
        When SQLite finds damage on the way.
    """
    with reading(connection):
        (seq,) = connection.execute("SELECT max(seq) FROM events").fetchone()
    return 0 if seq is None else int(seq)


@contextmanager
def reading(connection: sqlite3.Connection) -> Iterator[None]:
    """``with reading(connection):`` turns an SQLite error inside into a :class:`JournalError`.

    For the queries a caller runs itself on a connection from :func:`open_readonly`, so
    their errors name the file and the damage exactly as this module's own do.
    """
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise _error(_source_of(connection), path_of(connection), exc) from None


def _source_of(connection: sqlite3.Connection) -> str:
    source = getattr(connection, "source", None)
    return str(path_of(connection)) if source is None else str(source)


def path_of(connection: sqlite3.Connection) -> Path:
    """The journal file ``connection`` reads."""
    path = getattr(connection, "path", None)
    if isinstance(path, Path):
        return path
    # A connection opened elsewhere: SQLite knows its file.
    for _, schema, filename in connection.execute("PRAGMA database_list"):
        if schema == "main":
            return Path(filename)
    return Path()


def _error(
    source: str, path: Path, exc: sqlite3.Error, after_seq: int | None = None
) -> JournalError:
    """Describe what SQLite's ``exc`` means for the journal at ``path``."""
    text = str(exc)
    where = "" if after_seq is None else f" after seq {after_seq}"
    header = _header(path)
    wal_mode = header[18:20] == b"\x02\x02"
    if text in _CANNOT_CREATE and wal_mode and not _sidecar(path, "-shm").is_file():
        return JournalError(
            f"{source}: cannot read this WAL journal in place: SQLite needs "
            f"{path.name}-wal and {path.name}-shm next to it and cannot create them "
            "(is the directory read-only?); copy the journal to a writable directory "
            "and read the copy"
        )
    if text == "file is not a database" and not header.startswith(SQLITE_MAGIC):
        return JournalError(f"{source}: not an Atrium journal: {text}")
    if not isinstance(exc, sqlite3.DatabaseError) or isinstance(exc, sqlite3.OperationalError):
        return JournalError(f"{source}: cannot read the journal{where}: {text}")
    truncated = _truncation(path, header)
    if truncated is not None:
        return JournalError(f"{source}: the journal is truncated{where}: {truncated} ({text})")
    return JournalError(f"{source}: the journal is corrupted{where} ({text})")


def _header(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(_HEADER_SIZE)
    except OSError:
        return b""


def _truncation(path: Path, header: bytes) -> str | None:
    """How the file is shorter than its SQLite header says it is, if it is."""
    try:
        size = path.stat().st_size
    except OSError:
        return None
    if len(header) < _HEADER_SIZE:
        return f"the file has {size} bytes, less than an SQLite header"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size  # how the header spells 64 KiB
    pages = int.from_bytes(header[28:32], "big")
    # The page count is valid only when it was written with the current change counter.
    expected = page_size * pages if header[24:28] == header[92:96] else 0
    if size < expected:
        return f"the file has {size} bytes, its header says {expected}"
    if not expected and page_size and size % page_size:  # no valid count: pages must be whole
        return f"the file has {size} bytes, not a whole number of {page_size}-byte pages"
    return None


def _sidecar(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)
