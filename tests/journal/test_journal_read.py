"""The read-only journal opener: events back in seq order, bad files named and left alone."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from journal_kit import (
    KNOWN,
    add_rows,
    digest,
    overwrite_page,
    raw_database,
    root_page,
    write_known,
    write_messages,
)

from atrium.runtime.codec import decode, encode
from atrium.runtime.journal import Journal, JournalError
from atrium.runtime.journal_read import iter_events, last_seq, open_readonly, read_meta, reading
from atrium.runtime.messages import MESSAGE_SCHEMA_VERSION

EVENTS = (
    "CREATE TABLE events (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL, "
    "payload BLOB NOT NULL)"
)
META = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
JOURNAL_2 = "INSERT INTO meta VALUES ('journal_schema_version', '2')"
MESSAGES_1 = f"INSERT INTO meta VALUES ('message_schema_version', '{MESSAGE_SCHEMA_VERSION}')"


def test_open_readonly_when_known_journal_then_every_event_comes_back_exactly(
    tmp_path: Path,
) -> None:
    path = write_known(tmp_path / "run.sqlite")
    before = digest(path)

    with closing(open_readonly(path)) as connection:
        meta = read_meta(connection, "run.sqlite")
        rows = list(iter_events(connection))
        last = last_seq(connection)

    assert meta == {
        "journal_schema_version": "3",
        "message_schema_version": "2",
        "market_data": "rows",
    }
    assert [(seq, ts, kind) for seq, ts, kind, _ in rows] == [
        (seq, message.ts, type(message).__name__) for seq, message in enumerate(KNOWN, start=1)
    ]
    assert [payload for *_, payload in rows] == [encode(message) for message in KNOWN]
    assert [decode(payload) for *_, payload in rows] == KNOWN
    assert last == 7
    assert digest(path) == before


def test_iter_events_when_after_seq_and_kinds_then_only_those_in_seq_order(
    tmp_path: Path,
) -> None:
    path = write_known(tmp_path / "run.sqlite")

    with closing(open_readonly(path)) as connection:
        seqs = [row[0] for row in iter_events(connection, after_seq=2, kinds=("Bar", "Fill"))]
        none = list(iter_events(connection, after_seq=7))

    assert seqs == [4, 5, 7]
    assert none == []


def test_last_seq_when_journal_empty_then_zero(tmp_path: Path) -> None:
    path = write_messages(tmp_path / "empty.sqlite", [])

    with closing(open_readonly(path)) as connection:
        assert last_seq(connection) == 0
        assert list(iter_events(connection)) == []


def _missing(path: Path) -> None:
    pass


def _directory(path: Path) -> None:
    path.mkdir()


def _empty(path: Path) -> None:
    path.touch()


def _text(path: Path) -> None:
    path.write_text("Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,1.5\n", encoding="utf-8")


def _no_meta(path: Path) -> None:
    raw_database(path, [EVENTS])


def _no_message_version(path: Path) -> None:
    raw_database(path, [META, EVENTS, JOURNAL_2])


def _journal_version_4(path: Path) -> None:
    raw_database(
        path, [META, EVENTS, "INSERT INTO meta VALUES ('journal_schema_version', '4')", MESSAGES_1]
    )


def _message_version_0(path: Path) -> None:
    raw_database(
        path, [META, EVENTS, JOURNAL_2, "INSERT INTO meta VALUES ('message_schema_version', '0')"]
    )


def _no_events(path: Path) -> None:
    raw_database(path, [META, JOURNAL_2, MESSAGES_1])


@pytest.mark.parametrize(
    ("spoil", "problem"),
    [
        (_missing, "no such file"),
        (_directory, "not a file"),
        (_empty, "not an Atrium journal: the file is empty"),
        (_text, "not an Atrium journal: file is not a database"),
        (_no_meta, "not an Atrium journal: no such table: meta"),
        (_no_message_version, "not an Atrium journal: meta has no message_schema_version"),
        (
            _journal_version_4,
            "journal_schema_version is '4', this Atrium reads '3' or '2'; "
            "open it with the Atrium version that wrote it",
        ),
        (
            _message_version_0,
            f"message_schema_version is '0', this Atrium reads '{MESSAGE_SCHEMA_VERSION}'; "
            "open it with the Atrium version that wrote it",
        ),
        (_no_events, "an Atrium journal without its events table (damaged)"),
    ],
    ids=lambda value: value.__name__.lstrip("_") if callable(value) else "",
)
def test_open_readonly_when_not_a_journal_of_this_schema_then_named_and_untouched(
    tmp_path: Path, spoil: Callable[[Path], None], problem: str
) -> None:
    path = tmp_path / "bad.sqlite"
    spoil(path)
    before = sorted(os.listdir(tmp_path))
    content = digest(path) if path.is_file() else None

    with pytest.raises(JournalError, match=rf"^{re.escape(f'{path}: {problem}')}$"):
        open_readonly(path)

    assert (digest(path) if path.is_file() else None) == content
    assert sorted(os.listdir(tmp_path)) == before  # nothing created, nothing left beside it


def test_open_readonly_when_source_given_then_messages_name_it(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match=r"^feeds/run\.sqlite: no such file$"):
        open_readonly(tmp_path / "run.sqlite", source="feeds/run.sqlite")


def test_open_readonly_when_truncated_to_half_then_truncated_with_both_sizes(
    tmp_path: Path,
) -> None:
    path = write_known(tmp_path / "run.sqlite")
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.truncate(size // 2)
    before = digest(path)

    with pytest.raises(
        JournalError,
        match=rf"^{re.escape(str(path))}: the journal is truncated: the file has {size // 2} "
        rf"bytes, its header says {size}$",
    ):
        open_readonly(path)

    assert digest(path) == before


def test_open_readonly_when_cut_inside_a_page_then_truncated_mid_page(tmp_path: Path) -> None:
    path = write_known(tmp_path / "run.sqlite")
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.truncate(size - 100)

    with pytest.raises(
        JournalError,
        match=rf"^{re.escape(str(path))}: the journal is truncated: the file has {size - 100} "
        rf"bytes, its header says {size}$",
    ):
        open_readonly(path)


def test_iter_events_when_events_page_is_garbage_then_corrupted_after_seq_reached(
    tmp_path: Path,
) -> None:
    path = write_known(tmp_path / "run.sqlite")
    overwrite_page(path, root_page(path, "events"))
    before = digest(path)
    name = re.escape(str(path))

    with closing(open_readonly(path)) as connection:  # meta is intact: opens
        with pytest.raises(
            JournalError,
            match=rf"^{name}: the journal is corrupted after seq 3 "
            r"\(database disk image is malformed\)$",
        ):
            list(iter_events(connection, after_seq=3))
        with pytest.raises(
            JournalError,
            match=rf"^{name}: the journal is corrupted \(database disk image is malformed\)$",
        ):
            last_seq(connection)
        with (
            pytest.raises(JournalError, match=rf"^{name}: the journal is corrupted"),
            reading(connection),
        ):
            connection.execute("SELECT sum(length(payload)) FROM events").fetchone()

    assert digest(path) == before


def test_iter_events_when_garbage_in_the_middle_then_error_names_last_seq_delivered(
    tmp_path: Path,
) -> None:
    # Many small rows in a file with no other table growing: the middle pages are events.
    path = raw_database(tmp_path / "long.sqlite", [META, EVENTS, JOURNAL_2, MESSAGES_1])
    add_rows(path, [(seq, seq, "Bar", b"x" * 40) for seq in range(1, 3001)])
    pages = path.stat().st_size // 4096
    overwrite_page(path, pages * 3 // 4)
    delivered: list[int] = []

    with closing(open_readonly(path)) as connection, pytest.raises(JournalError) as caught:
        for seq, *_ in iter_events(connection):
            delivered.append(seq)

    assert 0 < len(delivered) < 3000
    assert delivered == list(range(1, len(delivered) + 1))
    assert str(caught.value) == (
        f"{path}: the journal is corrupted after seq {delivered[-1]} "
        "(database disk image is malformed)"
    )


async def test_open_readonly_when_service_still_writing_then_reads_every_committed_event(
    tmp_path: Path,
) -> None:
    path = tmp_path / "live.sqlite"
    journal = Journal(path)
    await journal.open()
    for message in KNOWN[:4]:
        journal.record(message)
    await journal.commit()
    try:
        assert path.with_name("live.sqlite-wal").stat().st_size > 0  # still in the WAL

        with closing(open_readonly(path)) as connection:
            seqs = [row[0] for row in iter_events(connection)]
        journal.record(KNOWN[4])
        await journal.commit()
        with closing(open_readonly(path)) as connection:
            last = last_seq(connection)
    finally:
        await journal.close()

    assert seqs == [1, 2, 3, 4]
    assert last == 5


@pytest.mark.parametrize("sidecars", [("-wal", "-shm"), ("-wal",)], ids=["with-shm", "no-shm"])
def test_open_readonly_when_writer_was_killed_then_committed_events_readable(
    tmp_path: Path, sidecars: tuple[str, ...]
) -> None:
    # A killed process leaves the journal, its WAL and (usually) its -shm as they were:
    # copying them while the writer still holds them open is that state.
    live = tmp_path / "live"
    live.mkdir()
    path = raw_database(live / "run.sqlite", [META, EVENTS, JOURNAL_2, MESSAGES_1])
    writer = sqlite3.connect(path)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.executemany(
            "INSERT INTO events VALUES (?, ?, ?, ?)",
            [
                (seq, message.ts, type(message).__name__, encode(message))
                for seq, message in enumerate(KNOWN, start=1)
            ],
        )
        writer.commit()
        writer.execute("INSERT INTO events VALUES (8, 0, 'Bar', x'00')")  # never committed
        killed = tmp_path / "killed"
        killed.mkdir()
        for suffix in ("", *sidecars):
            shutil.copyfile(live / f"run.sqlite{suffix}", killed / f"run.sqlite{suffix}")
    finally:
        writer.close()
    copy = killed / "run.sqlite"
    before = {name: digest(killed / name) for name in os.listdir(killed)}

    with closing(open_readonly(copy)) as connection:
        rows = list(iter_events(connection))

    assert [decode(payload) for *_, payload in rows] == KNOWN
    assert digest(copy) == before["run.sqlite"]
    assert digest(killed / "run.sqlite-wal") == before["run.sqlite-wal"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_open_readonly_when_closed_wal_journal_in_read_only_directory_then_says_copy_it(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = write_known(folder / "run.sqlite")
    folder.chmod(0o555)
    try:
        with pytest.raises(
            JournalError,
            match=rf"^{re.escape(str(path))}: cannot read this WAL journal in place: SQLite "
            r"needs run\.sqlite-wal and run\.sqlite-shm next to it and cannot create them "
            r"\(is the directory read-only\?\); copy the journal to a writable directory and "
            r"read the copy$",
        ):
            open_readonly(path)
    finally:
        folder.chmod(0o755)


def test_iter_events_when_killed_journal_cut_then_truncated_after_seq_reached(
    tmp_path: Path,
) -> None:
    # A checkpointed journal with newer events still in its WAL, the main file then cut:
    # the WAL keeps the up-front size check away (a checkpoint could be growing the
    # file), so SQLite finds the missing pages when a read reaches them, and the message
    # still says truncated.
    path = raw_database(tmp_path / "run.sqlite", [META, EVENTS, JOURNAL_2, MESSAGES_1])
    writer = sqlite3.connect(path)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        add = "INSERT INTO events VALUES (?, 0, 'Bar', ?)"
        writer.executemany(add, [(seq, b"x" * 40) for seq in range(1, 2001)])
        writer.commit()
        writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        writer.execute(add, (2001, b"x"))
        writer.commit()
        killed = tmp_path / "killed"
        killed.mkdir()
        for suffix in ("", "-wal", "-shm"):
            shutil.copyfile(f"{path}{suffix}", killed / f"run.sqlite{suffix}")
    finally:
        writer.close()
    copy = killed / "run.sqlite"
    size = copy.stat().st_size
    with copy.open("r+b") as file:
        file.truncate(size // 2)

    delivered = [0]

    with closing(open_readonly(copy)) as connection, pytest.raises(JournalError) as caught:
        for seq, *_ in iter_events(connection):
            delivered.append(seq)

    assert 0 < delivered[-1] < 2001
    assert str(caught.value) == (
        f"{copy}: the journal is truncated after seq {delivered[-1]}: the file has "
        f"{size // 2} bytes, its header says {size} (database disk image is malformed)"
    )


def test_open_readonly_when_cut_inside_the_header_then_truncated_before_sqlite_looks(
    tmp_path: Path,
) -> None:
    path = write_known(tmp_path / "run.sqlite")
    with path.open("r+b") as file:
        file.truncate(50)

    with pytest.raises(
        JournalError,
        match=rf"^{re.escape(str(path))}: the journal is truncated: the file has 50 bytes, "
        r"less than an SQLite header$",
    ):
        open_readonly(path)
