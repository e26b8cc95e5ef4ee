"""Journal: ordered rows with exact payload bytes, version checks, bad files left untouched."""

from __future__ import annotations

import os
import re
import sqlite3
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from journal_kit import write_through_writer

from atrium.runtime.codec import decode, encode
from atrium.runtime.journal import Journal, JournalError
from atrium.runtime.messages import Bar, Control

D = Decimal


def _bar(ts: int) -> Bar:
    return Bar(ts=ts, symbol="X", open=D(1), high=D(2), low=D(1), close=D(2))


async def _write(path: Path, messages: list[Bar | Control], batch_size: int = 4) -> Journal:
    return await write_through_writer(path, messages, batch_size=batch_size)


async def test_record_when_closed_then_every_message_written_in_order_with_exact_bytes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    messages: list[Bar | Control] = [_bar(ts) for ts in range(1, 40)]
    messages.append(Control(ts=40, command="halt"))
    journal = await _write(path, messages)
    assert journal.written == 40
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT seq, ts, kind, payload FROM events ORDER BY seq").fetchall()
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    assert [row[0] for row in rows] == list(range(1, 41))
    assert [row[2] for row in rows] == ["Bar"] * 39 + ["Control"]
    assert [row[3] for row in rows] == [encode(m) for m in messages]
    assert [decode(row[3]) for row in rows] == messages
    assert meta == {
        "journal_schema_version": "3",
        "message_schema_version": "2",
        "market_data": "rows",
    }


@pytest.mark.parametrize(("count", "batch_size"), [(1, 4), (200, 4096), (1013, 4096), (1013, 300)])
async def test_record_when_batches_span_whole_and_partial_statements_then_every_row_once(
    tmp_path: Path, count: int, batch_size: int
) -> None:
    # Rows go in 200 a statement plus one statement for the rest: 1013 = 5 x 200 + 13,
    # and a batch of 300 splits 200 + 100 each time.
    path = tmp_path / "j.sqlite"
    messages: list[Bar | Control] = [_bar(ts) for ts in range(1, count + 1)]
    journal = await _write(path, messages, batch_size=batch_size)
    assert journal.written == count
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT seq, ts, payload FROM events ORDER BY seq").fetchall()
    assert [(seq, ts) for seq, ts, _ in rows] == [(n, n) for n in range(1, count + 1)]
    assert [payload for _, _, payload in rows] == [encode(m) for m in messages]


# One statement; and BEGIN, a statement of 200 rows that lands, one that fails, ROLLBACK.
@pytest.mark.parametrize(("count", "taken"), [(10, 9), (300, 250)])
async def test_commit_when_a_row_of_the_batch_fails_then_none_of_the_batch_lands(
    tmp_path: Path, count: int, taken: int
) -> None:
    path = tmp_path / "j.sqlite"
    await _write(path, [_bar(1)])
    journal = Journal(path)
    await journal.open()
    with closing(sqlite3.connect(path)) as other, other:  # takes a seq the batch will use
        other.execute("INSERT INTO events VALUES (?, 0, 'Bar', x'00')", (taken,))
    for ts in range(2, count + 2):
        journal.record(_bar(ts))
    with pytest.raises(sqlite3.IntegrityError):
        await journal.commit()
    journal.record(_bar(count + 2))  # the failed batch left no transaction open behind it
    await journal.commit()
    with closing(sqlite3.connect(path)) as db:
        seqs = db.execute("SELECT seq FROM events ORDER BY seq").fetchall()
    await journal.close()
    assert seqs == [(1,), (taken,), (count + 2,)]


async def test_open_when_journal_exists_then_sequence_continues(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await _write(path, [_bar(1), _bar(2)])
    await _write(path, [_bar(3)])
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT seq, ts FROM events ORDER BY seq").fetchall() == [
            (1, 1),
            (2, 2),
            (3, 3),
        ]


async def test_open_when_schema_version_differs_then_error_and_file_untouched(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite"
    await _write(path, [_bar(1)])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'journal_schema_version'")
    before = path.read_bytes()
    with pytest.raises(
        JournalError,
        match=(
            rf"^{path}: journal schema \{{'journal_schema_version': '0', 'message_schema_version': '2'\}} "
            r"is not the supported .* the file was left untouched$"
        ),
    ):
        await Journal(path).open()
    assert path.read_bytes() == before


async def test_open_when_file_is_not_sqlite_then_error_names_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(
        JournalError,
        match=(
            rf"^{path}: not a usable Atrium journal \(file is not a database\); "
            r"the file was left untouched$"
        ),
    ):
        await Journal(path).open()
    assert path.read_bytes() == before


async def test_open_when_sqlite_file_of_another_program_then_refused_and_untouched(
    tmp_path: Path,
) -> None:
    path = tmp_path / "other.sqlite"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance TEXT)")
        db.execute("INSERT INTO accounts VALUES (1, '100.00')")
        db.commit()
    before = path.read_bytes()
    with pytest.raises(
        JournalError,
        match=(
            rf"^{path}: an SQLite database, but not an Atrium journal \(it has no meta table\); "
            r"the file was left untouched$"
        ),
    ):
        await Journal(path).open()
    assert path.read_bytes() == before
    assert sorted([p.name async for p in anyio.Path(tmp_path).iterdir()]) == ["other.sqlite"]


async def test_open_when_journal_truncated_then_error_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "cut.sqlite"
    await _write(path, [_bar(n) for n in range(1, 3001)])
    with path.open("r+b") as file:
        file.truncate(path.stat().st_size // 2)
    before = path.read_bytes()
    with pytest.raises(
        JournalError,
        match=(
            rf"^{path}: not a usable Atrium journal \(database disk image is malformed\); "
            r"the file was left untouched$"
        ),
    ):
        await Journal(path).open()
    assert path.read_bytes() == before


async def test_record_when_past_high_water_then_blocked_until_writer_catches_up(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "j.sqlite", batch_size=2)
    await journal.open()
    for ts in range(1, 17):  # high water = 8 batches of 2
        journal.record(_bar(ts))
    assert journal.blocked
    async with anyio.create_task_group() as tg:
        tg.start_soon(journal.run_writer)
        with anyio.fail_after(5):
            await journal.wait_writable()
        assert not journal.blocked
        await journal.close()
    assert journal.written == 16


async def test_open_when_directory_missing_then_error_names_it_and_nothing_created(
    tmp_path: Path,
) -> None:
    path = tmp_path / "absent" / "journal.sqlite"

    with pytest.raises(
        JournalError,
        match=rf"^{re.escape(str(path))}: cannot open the journal for writing: the directory "
        rf"{re.escape(str(path.parent))} does not exist; create it, or set \[journal\]\.path to "
        r"a writable directory$",
    ):
        await Journal(path).open()

    assert not path.parent.exists()


@pytest.mark.parametrize("existing", [False, True], ids=["new-file", "existing-journal"])
async def test_open_when_directory_read_only_then_error_names_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    path = tmp_path / "journal.sqlite"
    if existing:
        journal = Journal(path)
        await journal.open()
        await journal.close()
    # os.access as a non-root user sees it (root may write anywhere, so it is faked here).
    monkeypatch.setattr(os, "access", lambda target, mode: Path(target) != tmp_path)

    with pytest.raises(
        JournalError,
        match=rf"^{re.escape(str(path))}: cannot open the journal for writing: the directory "
        rf"{re.escape(str(tmp_path))} is not writable; make it writable, or set "
        r"\[journal\]\.path to a writable directory$",
    ):
        await Journal(path).open()


async def test_open_when_file_read_only_then_error_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    await journal.open()
    await journal.close()
    monkeypatch.setattr(os, "access", lambda target, mode: Path(target) != path)

    with pytest.raises(
        JournalError,
        match=rf"^{re.escape(str(path))}: cannot open the journal for writing: the file "
        rf"{re.escape(str(path))} is not readable and writable; fix its permissions, or set "
        r"\[journal\]\.path to a writable directory$",
    ):
        await Journal(path).open()
