"""Journal files for the journal reader and CLI tests: a known one, and ways to spoil one.

The known journal holds seven events in two sessions, hand-counted:

======  ==========================  ======  =========================================
seq     time (UTC)                  kind    what
======  ==========================  ======  =========================================
1       2024-01-02T09:01:00         Bar     AAA close 100.50 (session 1, replay 0.1.0)
2       09:01:00.25                 Tick    AAA 100.55 x 3
3       09:01:00.250000001          Order   o1 BUY 10 AAA
4       09:01:01                    Fill    f1 10 @ 100.56, commission 0.0125
                                            (snapshot after seq 4)
5       09:02:00                    Bar     AAA close 100.60 (session 2, live 0.2.0)
6       09:02:00.123456789          Tick    AAA 100.000000001 x 0.5
7       09:03:00                    Bar     AAA close 100.70 (snapshot after seq 7)
======  ==========================  ======  =========================================
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import anyio

from atrium.runtime.journal import Journal, MarketDataMode
from atrium.runtime.messages import Bar, Fill, Message, Order, Tick

D = Decimal

#: 2024-01-02T09:01:00Z in nanoseconds.
T0 = 1_704_186_060_000_000_000
SECOND = 1_000_000_000

SESSION_1 = [
    Bar(
        ts=T0,
        symbol="AAA",
        open=D("100.10"),
        high=D("101.00"),
        low=D("99.90"),
        close=D("100.50"),
        volume=D(1200),
    ),
    Tick(ts=T0 + 250_000_000, symbol="AAA", price=D("100.55"), size=D(3)),
    Order(
        ts=T0 + 250_000_001,
        order_id="o1",
        intent_id="i1",
        strategy="ema",
        symbol="AAA",
        side="BUY",
        quantity=D(10),
        reference_price=D("100.55"),
        reduces_position=False,
    ),
    Fill(
        leaves_quantity=D(0),
        ts=T0 + SECOND,
        fill_id="f1",
        order_id="o1",
        strategy="ema",
        symbol="AAA",
        side="BUY",
        quantity=D(10),
        price=D("100.56"),
        commission=D("0.0125"),
    ),
]
SESSION_2 = [
    Bar(
        ts=T0 + 60 * SECOND,
        symbol="AAA",
        open=D("100.50"),
        high=D("100.80"),
        low=D("100.40"),
        close=D("100.60"),
        volume=D(900),
    ),
    Tick(ts=T0 + 60 * SECOND + 123_456_789, symbol="AAA", price=D("100.000000001"), size=D("0.5")),
    Bar(
        ts=T0 + 120 * SECOND,
        symbol="AAA",
        open=D("100.60"),
        high=D("100.90"),
        low=D("100.55"),
        close=D("100.70"),
        volume=D(800),
    ),
]
KNOWN: list[Message] = [*SESSION_1, *SESSION_2]

#: When the two sessions started: 09:00:55 and 10:01:00.
STARTED = (T0 - 5 * SECOND, T0 + 3600 * SECOND)


def write_known(path: Path) -> Path:
    """The journal of the module docstring, written by :class:`Journal` itself."""

    async def write() -> None:
        journal = Journal(path)
        await journal.open()
        for mode, version, messages in (
            ("replay", "0.1.0", SESSION_1),
            ("live", "0.2.0", SESSION_2),
        ):
            await journal.begin_session(mode=mode, version=version, fingerprint="f")
            for message in messages:
                journal.record(message)
            journal.record_snapshot(messages[-1].ts, "f", b"state")
            await journal.commit()
        await journal.close()

    anyio.run(write)
    # Sessions carry the wall clock of their start; pin them to the table's times.
    with closing(sqlite3.connect(path)) as connection, connection:
        for session, started in enumerate(STARTED, start=1):
            connection.execute(
                "UPDATE sessions SET started_ns = ? WHERE session = ?", (started, session)
            )
    return path


def write_messages(
    path: Path, messages: Sequence[Message], market_data: MarketDataMode = "rows"
) -> Path:
    """A one-session journal of ``messages`` (none: an empty journal)."""

    async def write() -> None:
        journal = Journal(path, market_data=market_data)
        await journal.open()
        await journal.begin_session(mode="replay", version="0.1.0", fingerprint="f")
        for message in messages:
            journal.record(message)
        await journal.close()

    anyio.run(write)
    return path


def add_rows(path: Path, rows: Sequence[tuple[int, int, str, bytes]]) -> None:
    """Append raw ``(seq, ts, kind, payload)`` rows, bypassing the journal's encoder."""
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", rows)


def raw_database(path: Path, statements: Sequence[str]) -> Path:
    """An SQLite file made by ``statements`` (for files that are not quite journals)."""
    with closing(sqlite3.connect(path)) as connection, connection:
        for statement in statements:
            connection.execute(statement)
    return path


def overwrite_page(path: Path, page: int, fill: bytes = b"\xff") -> None:
    """Overwrite SQLite page ``page`` (1-based) with ``fill`` bytes: a corrupted page."""
    with closing(sqlite3.connect(path)) as connection:
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
    with path.open("r+b") as file:
        file.seek((page - 1) * page_size)
        file.write(fill * page_size)


def root_page(path: Path, table: str) -> int:
    with closing(sqlite3.connect(path)) as connection:
        (page,) = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()
    return int(page)


def digest(path: Path) -> str:
    """SHA-256 of the file's bytes, to show a command left them as they were."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def write_through_writer(
    path: Path,
    messages: Sequence[Message],
    *,
    batch_size: int = 4,
    market_data: MarketDataMode = "rows",
) -> Journal:
    """Record ``messages`` with the journal's writer task running, as a run does (waiting
    whenever its backlog is full), and close it."""
    journal = Journal(path, batch_size=batch_size, market_data=market_data)
    await journal.open()
    async with anyio.create_task_group() as tg:
        tg.start_soon(journal.run_writer)
        for message in messages:
            journal.record(message)
            if journal.blocked:
                await journal.wait_writable()
        await journal.close()
    return journal


def killed_copy(path: Path, into: Path) -> Path:
    """What a ``kill -9`` leaves of the journal at ``path`` now: its files as they are."""
    into.mkdir()
    for suffix in ("", "-wal", "-commits"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            shutil.copyfile(source, into / source.name)
    return into / path.name
