"""Read a journal's market data wherever the journal keeps it: rows, blocks or nowhere.

``events`` rows and ``market_data`` blocks are merged by ``seq`` (:func:`iter_records`),
so a reader sees what a journal of one row per message would hold, whichever way the file
was written; so are the records a killed durable run committed to its commit log and
SQLite does not have yet (:mod:`atrium.runtime.journal_commits`). A journal that references its market data (a replay over files) holds none
of it: :func:`market_data_mode` says so, and :mod:`atrium.runtime.market_refs` reads the
references.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Final, cast, get_args

import msgspec

from atrium.runtime.journal import MARKET_DATA_KEY, JournalError, MarketDataMode
from atrium.runtime.journal_blocks import Record, decode_block
from atrium.runtime.journal_commits import pending_records
from atrium.runtime.journal_read import iter_events, path_of, read_meta, reading

__all__ = (
    "BlockSummary",
    "block_summary",
    "iter_records",
    "last_record_seq",
    "market_data_mode",
    "read_block",
)

_MODES: Final = get_args(MarketDataMode)


class BlockSummary(msgspec.Struct, frozen=True, gc=False):
    """The ``market_data`` blocks of a journal: how many, their records, the ``seq`` span."""

    blocks: int
    records: int
    first_seq: int | None
    last_seq: int | None


_MARKET_KINDS: Final = frozenset({"Bar", "Tick"})


def market_data_mode(connection: sqlite3.Connection, source: str) -> MarketDataMode:
    """Where the journal keeps its market data (a version 2 journal: ``rows``).

    Raises
    ------
    JournalError
        When ``meta`` names no mode this Atrium knows.
    """
    with reading(connection):
        mode = read_meta(connection, source).get(MARKET_DATA_KEY, "rows")
    if mode not in _MODES:
        raise JournalError(
            f"{source}: meta {MARKET_DATA_KEY} is {mode!r}, not one of {', '.join(_MODES)}"
        )
    return cast(MarketDataMode, mode)


def iter_records(
    connection: sqlite3.Connection,
    source: str,
    *,
    after_seq: int = 0,
    kinds: Sequence[str] | None = None,
) -> Iterator[Record]:
    """Stream ``(seq, ts, kind, payload)`` after ``after_seq`` from rows and blocks, by ``seq``.

    As :func:`~runtime.journal_read.iter_events`, with the records of the ``market_data``
    blocks merged in; a journal that references its market data yields only its events.

    Raises
    ------
    JournalError
        When SQLite finds damage, or a block does not decode.
    """
    tail = pending_records(path_of(connection), after_seq)
    events = iter_events(connection, after_seq=after_seq, kinds=kinds)
    wanted = _MARKET_KINDS if kinds is None else _MARKET_KINDS & set(kinds)
    if wanted and market_data_mode(connection, source) == "blocks":
        blocks = _block_records(connection, source, after_seq, wanted)
        events = heapq.merge(events, blocks, key=lambda record: record[0])
    if not tail:
        return events
    return _then_committed(events, tail, kinds)


def _then_committed(
    stored: Iterator[Record], tail: list[Record], kinds: Sequence[str] | None
) -> Iterator[Record]:
    """``stored``, then the commit log's records past the last of them (SQLite may have
    taken some of ``tail`` meanwhile, while a service writes)."""
    reached = 0
    for record in stored:
        reached = record[0]
        yield record
    for record in tail:
        if record[0] > reached and (kinds is None or record[2] in kinds):
            yield record


def _block_records(
    connection: sqlite3.Connection, source: str, after_seq: int, kinds: frozenset[str]
) -> Iterator[Record]:
    query = "SELECT first_seq, block FROM market_data WHERE last_seq > ? ORDER BY first_seq"
    with reading(connection):
        for first_seq, block in connection.execute(query, (after_seq,)):
            for record in read_block(block, first_seq, source):
                if record[0] > after_seq and record[2] in kinds:
                    yield record


def read_block(block: bytes, first_seq: int, source: str) -> list[Record]:
    """The records of the block that starts at ``first_seq``.

    Raises
    ------
    JournalError
        When the block does not decode (damage).
    """
    try:
        return decode_block(block)
    except msgspec.DecodeError as exc:
        raise JournalError(
            f"{source}: the market data block from seq {first_seq} does not decode ({exc}); "
            "the journal is damaged"
        ) from None


def _tables(connection: sqlite3.Connection) -> set[str]:
    return {str(row[0]) for row in connection.execute("SELECT name FROM sqlite_master")}


def block_summary(connection: sqlite3.Connection) -> BlockSummary:
    """What the ``market_data`` blocks hold (all zero in a journal without them)."""
    with reading(connection):
        if "market_data" not in _tables(connection):
            return BlockSummary(blocks=0, records=0, first_seq=None, last_seq=None)
        blocks, records, first, last = connection.execute(
            "SELECT count(*), COALESCE(sum(records), 0), min(first_seq), max(last_seq) "
            "FROM market_data"
        ).fetchone()
    return BlockSummary(blocks=blocks, records=records, first_seq=first, last_seq=last)


def last_record_seq(connection: sqlite3.Connection) -> int:
    """The largest ``seq`` in ``events`` or a block; 0 when the journal holds none."""
    with reading(connection):
        query = "SELECT COALESCE(MAX(seq), 0) FROM events"
        if "market_data" in _tables(connection):
            last_block = "SELECT last_seq FROM market_data ORDER BY first_seq DESC LIMIT 1"
            query = f"SELECT MAX(({query}), COALESCE(({last_block}), 0))"
        (seq,) = connection.execute(query).fetchone()
    return int(seq)
