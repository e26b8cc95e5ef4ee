"""Where a journal puts Bar and Tick: one row each, blocks of many, or nowhere (references).

The same 2,500 bars with a control after every 1,000th go into a journal of each kind.
Every message takes a seq either way, so the control has the same seq in all three, and
reading blocks back merges them with the rows into exactly what the rows journal holds.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest
from journal_kit import write_through_writer

from atrium.runtime.codec import encode
from atrium.runtime.journal import Journal, JournalError, MarketDataMode
from atrium.runtime.journal_market import iter_records, last_record_seq
from atrium.runtime.journal_read import open_readonly
from atrium.runtime.messages import Bar, Control

D = Decimal
BARS = 2500


def _bar(ts: int) -> Bar:
    return Bar(ts=ts, symbol="X", open=D(1), high=D(2), low=D(1), close=D(2))


def _session() -> list[Bar | Control]:
    messages: list[Bar | Control] = []
    for ts in range(1, BARS + 1):
        messages.append(_bar(ts))
        if ts % 1000 == 0:
            messages.append(Control(ts=ts, command="halt"))
    return messages


async def _write(path: Path, mode: MarketDataMode, messages: list[Bar | Control]) -> Journal:
    return await write_through_writer(path, messages, batch_size=512, market_data=mode)


def _query(path: Path, query: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(query).fetchall()


def _records(path: Path) -> list[tuple[int, int, str, bytes]]:
    with closing(open_readonly(path)) as db:
        return list(iter_records(db, str(path)))


async def test_record_when_blocks_then_1024_bars_a_row_and_controls_as_events(
    tmp_path: Path,
) -> None:
    path = tmp_path / "blocks.sqlite"
    await _write(path, "blocks", _session())

    # Bar n is seq n up to 1000, then the control (1001), bar n is n + 1 up to 2000, then
    # the control (2002), then bar n is n + 2.
    assert _query(
        path, "SELECT first_seq, last_seq, first_ts, last_ts, records FROM market_data"
    ) == [
        (1, 1025, 1, 1024, 1024),
        (1026, 2050, 1025, 2048, 1024),
        (2051, 2502, 2049, 2500, 452),
    ]
    assert _query(path, "SELECT seq, kind FROM events ORDER BY seq") == [
        (1001, "Control"),
        (2002, "Control"),
    ]


async def test_read_when_blocks_then_exactly_the_rows_a_journal_of_rows_holds(
    tmp_path: Path,
) -> None:
    messages = _session()
    await _write(tmp_path / "rows.sqlite", "rows", messages)
    await _write(tmp_path / "blocks.sqlite", "blocks", messages)

    rows = _records(tmp_path / "rows.sqlite")
    assert len(rows) == BARS + 2
    assert [payload for *_, payload in rows] == [encode(m) for m in messages]
    assert _records(tmp_path / "blocks.sqlite") == rows
    with closing(open_readonly(tmp_path / "blocks.sqlite")) as db:
        assert last_record_seq(db) == BARS + 2
        after = list(iter_records(db, "b", after_seq=2000, kinds=["Control"]))
    assert [seq for seq, *_ in after] == [2002]


async def test_record_when_references_then_no_market_data_and_controls_keep_their_seq(
    tmp_path: Path,
) -> None:
    path = tmp_path / "refs.sqlite"
    journal = await _write(path, "references", _session())

    assert _query(path, "SELECT seq, kind FROM events ORDER BY seq") == [
        (1001, "Control"),
        (2002, "Control"),
    ]
    assert _query(path, "SELECT count(*) FROM market_data") == [(0,)]
    assert _query(path, "SELECT value FROM meta WHERE key = 'market_data'") == [("references",)]
    assert journal.next_seq == BARS + 3


async def test_open_when_schema_2_journal_of_rows_then_appended_to_as_schema_2(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, "
            "kind TEXT NOT NULL, payload BLOB NOT NULL)"
        )
        for table in ("snapshots", "sessions"):
            db.execute(f"CREATE TABLE {table} (seq INTEGER)")
        db.execute("INSERT INTO meta VALUES ('journal_schema_version', '2')")
        db.execute("INSERT INTO meta VALUES ('message_schema_version', '2')")
        db.execute("INSERT INTO events VALUES (1, 1, 'Bar', ?)", (encode(_bar(1)),))

    await _write(path, "rows", [_bar(2)])

    assert _query(path, "SELECT seq, kind FROM events") == [(1, "Bar"), (2, "Bar")]
    assert _query(path, "SELECT key, value FROM meta ORDER BY key") == [
        ("journal_schema_version", "2"),
        ("message_schema_version", "2"),
    ]


async def test_open_when_existing_journal_keeps_market_data_otherwise_then_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rows.sqlite"
    await _write(path, "rows", [_bar(1)])

    with pytest.raises(JournalError) as refused:
        await _write(path, "blocks", [_bar(2)])

    assert str(refused.value) == (
        f"{path}: its market data is kept as rows, this run would keep it as blocks; write "
        "to a new journal; the file was left untouched"
    )
