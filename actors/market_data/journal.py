"""Replay the market data of a recorded Atrium journal, exactly as the live run saw it.

Reads the ``Bar`` and ``Tick`` rows of the ``events`` table in ``seq`` order through one
streaming cursor (read-only: a journal is never changed by reading it). The ``meta``
table must carry the journal and message schema versions this Atrium writes; any other
journal is refused with a message naming both versions. Decoding runs each message's own
checks (positive prices, high and low around open and close), so a payload that fails
them is ``UNPARSEABLE``; on top, each symbol's bars must be strictly later than its
previous bar and ticks never earlier. The number after the file name in a message is the
row's ``seq``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import msgspec

from actors.market_data.validation import UNPARSEABLE, Problem, order_problem
from runtime.codec import decode
from runtime.errors import FatalInputError
from runtime.journal import JOURNAL_SCHEMA_VERSION
from runtime.messages import MESSAGE_SCHEMA_VERSION, Bar, Tick

__all__ = ("JournalFeed", "read_journal_meta")

_SELECT: Final = "SELECT seq, kind, payload FROM events WHERE kind IN ('Bar', 'Tick') ORDER BY seq"


def read_journal_meta(connection: sqlite3.Connection, source: str) -> dict[str, str]:
    """The ``meta`` table, after checking both schema versions.

    Raises
    ------
    FatalInputError
        When the file is not an Atrium journal or was written under other versions.
    """
    try:
        rows = connection.execute("SELECT key, value FROM meta").fetchall()
    except sqlite3.DatabaseError as exc:
        raise FatalInputError(f"{source}: not an Atrium journal: {exc}") from None
    meta = {str(key): str(value) for key, value in rows}
    expected = {
        "journal_schema_version": str(JOURNAL_SCHEMA_VERSION),
        "message_schema_version": str(MESSAGE_SCHEMA_VERSION),
    }
    for key, want in expected.items():
        got = meta.get(key)
        if got is None:
            raise FatalInputError(f"{source}: not an Atrium journal: meta has no {key}")
        if got != want:
            raise FatalInputError(
                f"{source}: {key} is {got!r}, this Atrium reads {want!r}; "
                "replay it with the Atrium version that wrote it"
            )
    return meta


class JournalFeed:
    """Streams the ``Bar``/``Tick`` events of a journal file.

    Parameters
    ----------
    path : Path
        The journal file.
    source : str
        The file as the user named it, for messages.
    name : str
        The feed's label in metrics and logs.
    reject : callable
        ``reject(seq, reason, problem)`` for an event that fails validation.
    """

    def __init__(
        self, path: Path, source: str, name: str, reject: Callable[[int, str, str], None]
    ) -> None:
        self.name = name
        self.symbols: tuple[str, ...] | None = None  # whatever the journal holds
        self._path = path
        self._source = source
        self._reject = reject
        self._seq = 0
        self._last_seq: int | None = None

    def progress(self) -> tuple[int, int | None]:
        """The ``seq`` read so far and the journal's last ``seq``."""
        return self._seq, self._last_seq

    def location(self) -> str:
        """``file:seq N`` of the event read last."""
        return f"{self._source}:seq {self._seq}"

    def __iter__(self) -> Iterator[Bar | Tick]:
        if not self._path.is_file():
            raise FatalInputError(f"{self._source}: cannot open feed: no such file")
        connection = sqlite3.connect(f"{self._path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            read_journal_meta(connection, self._source)
            (last_seq,) = connection.execute("SELECT max(seq) FROM events").fetchone()
            self._last_seq = 0 if last_seq is None else int(last_seq)
            yield from self._events(connection.execute(_SELECT))
            self._seq = self._last_seq
        except sqlite3.DatabaseError as exc:
            raise FatalInputError(f"{self._source}: cannot read journal: {exc}") from None
        finally:
            connection.close()

    def _events(self, cursor: sqlite3.Cursor) -> Iterator[Bar | Tick]:
        last: dict[tuple[type, str], int] = {}
        for seq, kind, payload in cursor:
            self._seq = seq
            message, problem = self._check(kind, payload, last)
            if problem is not None:
                self._reject(seq, *problem)
                continue
            assert message is not None
            last[type(message), message.symbol] = message.ts
            yield message

    def _check(
        self, kind: str, payload: bytes, last: dict[tuple[type, str], int]
    ) -> tuple[Bar | Tick | None, Problem | None]:
        try:
            message = decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return None, (UNPARSEABLE, f"{kind} payload does not decode: {exc}")
        if not isinstance(message, Bar | Tick) or type(message).__name__ != kind:
            found = type(message).__name__
            return None, (UNPARSEABLE, f"row kind is {kind} but the payload holds a {found}")
        previous = last.get((type(message), message.symbol))
        problem = order_problem(message.ts, previous, allow_equal=type(message) is Tick)
        return (None, problem) if problem is not None else (message, None)
