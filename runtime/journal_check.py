"""Check a journal before the service acts on it: a session to recover, or damage.

:func:`check_journal` runs at the start of ``atrium run``, before any actor, and refuses:

* an existing file that holds no Atrium session (emptied), unless ``--new-session``;
* a journal whose last session did not close cleanly and whose ``-wal`` file is gone:
  the events committed since the last checkpoint went with it;
* damage anywhere. :func:`find_damage` reads the whole file: SQLite's ``quick_check``,
  then every event in ``seq`` order, each decoded and checked against its ``kind``. It
  names the intact prefix (every event up to ``intact_through``) and the ``seq`` range
  past it that is lost, which is what ``atrium journal salvage`` keeps and drops.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import msgspec

from atrium.runtime.codec import decode, kind_of
from atrium.runtime.journal import MARKET_DATA_KEY, OPEN_SESSION_KEY, JournalError
from atrium.runtime.journal_blocks import Record, decode_block
from atrium.runtime.journal_market import last_record_seq
from atrium.runtime.journal_read import open_readonly

__all__ = ("Damage", "check_journal", "find_damage", "intact_events")

#: The ``kind`` of the marker :func:`_block_records` yields for a damaged block.
_BAD_BLOCK: Final = "\x00damaged block"


@dataclass(frozen=True)
class Damage:
    """Where a journal is damaged: events after ``intact_through`` are lost or suspect."""

    intact_through: int
    #: The largest ``seq`` the file still names (None: that cannot be read either).
    last_seq: int | None
    detail: str

    def lost(self) -> str:
        """The lost ``seq`` range, in words."""
        first = self.intact_through + 1
        if self.last_seq is None:
            return f"seq {first} onwards"
        if self.last_seq < first:
            return "no event (the damage is outside the events)"
        return f"seq {first} to {self.last_seq}"


def intact_events(
    connection: sqlite3.Connection, damage: list[Damage]
) -> Iterator[tuple[int, int, str, bytes]]:
    """Every record in ``seq`` order (blocks merged in) up to the first damaged one.

    The damaged one goes to ``damage``; a block that does not decode is damage at its
    first ``seq``, so the rows before it still count as intact.
    """
    reached = 0
    try:
        rows: Iterator[Record] = connection.execute(
            "SELECT seq, ts, kind, payload FROM events ORDER BY seq"
        )
        if _has_blocks(connection):
            rows = heapq.merge(rows, _block_records(connection), key=lambda row: row[0])
        for seq, ts, kind, payload in rows:
            if kind == _BAD_BLOCK:
                damage.append(Damage(reached, None, payload.decode()))
                return
            if seq != reached + 1:  # seq counts from 1 without a gap in a journal
                damage.append(Damage(reached, None, f"seq {seq} follows seq {reached}"))
                return
            problem = _decode_problem(str(kind), bytes(payload))
            if problem is not None:
                damage.append(Damage(reached, None, f"seq {seq} {problem}"))
                return
            reached = int(seq)
            yield reached, int(ts), str(kind), bytes(payload)
    except sqlite3.DatabaseError as exc:
        damage.append(Damage(reached, None, str(exc)))


def _has_blocks(connection: sqlite3.Connection) -> bool:
    row = connection.execute("SELECT value FROM meta WHERE key = ?", (MARKET_DATA_KEY,)).fetchone()
    return row is not None and row[0] == "blocks"


def _block_records(connection: sqlite3.Connection) -> Iterator[Record]:
    """The records of every block by ``seq``; a block that does not decode, as a marker."""
    query = "SELECT first_seq, block FROM market_data ORDER BY first_seq"
    for first_seq, block in connection.execute(query):
        try:
            records = decode_block(bytes(block))
        except msgspec.DecodeError as exc:
            detail = f"the market data block from seq {first_seq} does not decode ({exc})"
            yield int(first_seq), 0, _BAD_BLOCK, detail.encode()
            return
        yield from records


def find_damage(connection: sqlite3.Connection) -> Damage | None:
    """The first damage of the journal open on ``connection`` (None: it is intact)."""
    found: list[Damage] = []
    last = 0
    for seq, _, _, _ in intact_events(connection, found):
        last = seq
    try:
        problems = [str(row[0]) for row in connection.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        problems = [str(exc)]
    if problems == ["ok"]:
        problems = []
    if not found and not problems:
        return None
    detail = found[0].detail if found else f"quick_check: {problems[0]}"
    return Damage(last, _last_seq(connection), detail)


def _decode_problem(kind: str, payload: bytes) -> str | None:
    try:
        message = decode(payload)
    except msgspec.DecodeError as exc:
        return f"does not decode ({exc})"
    if kind_of(message) != kind:
        return f"holds a {kind_of(message)} where its row says {kind}"
    return None


def _last_seq(connection: sqlite3.Connection) -> int | None:
    try:
        seq = last_record_seq(connection)
    except JournalError:
        return None
    return seq or None


def check_journal(path: Path, *, new_session: bool = False) -> None:
    """Refuse to start on ``path`` unless it is new, or an intact session to recover.

    Parameters
    ----------
    path : Path
        ``[journal].path``; a path with no file is a new journal.
    new_session : bool
        ``atrium run --new-session``: an existing file without a session may be used.

    Raises
    ------
    JournalError
        Naming the file, what is wrong and what to do.
    """
    if not path.exists():
        return
    if path.is_file() and not path.stat().st_size:
        if new_session:
            return
        raise JournalError(
            f"{path}: the file is empty, so it holds no Atrium session to recover; if its "
            "session was lost, restore the journal (with its -wal file) from a backup, and "
            "if a new session on this path is meant, start with `atrium run --new-session`"
        )
    wal = path.with_name(path.name + "-wal")
    if not wal.exists():
        _refuse_lost_wal(path, wal)
    connection = open_readonly(path)
    try:
        damage = find_damage(connection)
        events = _last_seq(connection) if damage is None else None
    finally:
        connection.close()
    if damage is not None:
        raise JournalError(
            f"{path}: the journal is damaged ({damage.detail}): {damage.lost()} cannot be "
            f"used, events up to seq {damage.intact_through} are intact. Run `atrium journal "
            f"salvage {path} NEW.sqlite` to copy them to a new journal and start on that"
        )
    if new_session and events:
        raise JournalError(
            f"{path}: --new-session, but the journal holds a session (events up to seq "
            f"{events}); move it aside to start a new session, or start without --new-session "
            "to recover it"
        )


def _refuse_lost_wal(path: Path, wal: Path) -> None:
    """Refuse a journal marked open in its main file whose ``-wal`` is missing."""
    # No -wal means no writer has the file open, so reading it immutable is safe, and it
    # creates no -wal: a refused journal stays refused on the next start.
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            row = connection.execute(
                "SELECT value FROM meta WHERE key = ?", (OPEN_SESSION_KEY,)
            ).fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError:
        return  # not readable as a journal: open_readonly says why
    if row is not None:
        raise JournalError(
            f"{path}: session #{row[0]} did not stop cleanly and its write-ahead log {wal} "
            "is missing, so the events it committed since the last checkpoint are lost. Put "
            "the -wal file back beside the journal (a journal is copied with its -wal and "
            "-shm files), or move the journal aside and start a new session"
        )
