"""The journal feed: a recorded run's Bar/Tick events back, in seq order, version-checked."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from market_data_kit import LOG, read

from atrium.actors.market_data.feeds import open_feed
from atrium.actors.market_data.rejections import Rejections
from atrium.config.market_data import FeedConfig
from atrium.runtime.codec import encode
from atrium.runtime.errors import FatalInputError
from atrium.runtime.messages import MESSAGE_SCHEMA_VERSION, Bar, Control, Fill, Message, Tick

D = Decimal


def _bar(ts: int, symbol: str, close: str = "10") -> Bar:
    return Bar(ts=ts, symbol=symbol, open=D(10), high=D(11), low=D(9), close=D(close), volume=D(5))


def _tick(ts: int, symbol: str, price: str = "10") -> Tick:
    return Tick(ts=ts, symbol=symbol, price=D(price), size=D(1))


FILL = Fill(
    leaves_quantity=D(0),
    ts=150,
    fill_id="f1",
    order_id="o1",
    strategy="s",
    symbol="AAA",
    side="BUY",
    quantity=D(1),
    price=D(10),
)

#: A Bar no Atrium wrote: high below open and close (Bar() itself would refuse it).
INCONSISTENT_BAR = msgspec.msgpack.encode(
    {
        "kind": "Bar",
        "ts": 200,
        "symbol": "AAA",
        "open": "10",
        "high": "9",
        "low": "8",
        "close": "10",
        "volume": "1",
    }
)


def _journal(
    path: Path,
    rows: Sequence[tuple[str, bytes] | Message],
    *,
    journal_version: str | None = "2",
    message_version: str | None = str(MESSAGE_SCHEMA_VERSION),
) -> str:
    """Write a journal as the brief's schema says: events(seq, ts, kind, payload), meta."""
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, "
            "kind TEXT NOT NULL, payload BLOB NOT NULL)"
        )
        connection.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        for key, value in (
            ("journal_schema_version", journal_version),
            ("message_schema_version", message_version),
        ):
            if value is not None:
                connection.execute("INSERT INTO meta VALUES (?, ?)", (key, value))
        for seq, row in enumerate(rows, start=1):
            if isinstance(row, Message):
                kind, payload, ts = type(row).__name__, encode(row), row.ts
            else:
                (kind, payload), ts = row, 0
            connection.execute("INSERT INTO events VALUES (?, ?, ?, ?)", (seq, ts, kind, payload))
    connection.close()
    return path.name


def test_journal_when_read_then_market_data_events_come_back_exactly_in_seq_order(
    tmp_path: Path,
) -> None:
    recorded: list[Message] = [
        _bar(100, "AAA"),
        _tick(120, "BBB"),
        FILL,
        _bar(200, "AAA", "10.5"),
        _bar(160, "BBB"),  # earlier than AAA's last bar: another symbol, so fine
        _tick(160, "BBB", "10.25"),  # same ts as BBB's last tick: fine for ticks
    ]
    path = _journal(tmp_path / "run.sqlite", recorded)

    records, rejections = read(path, base_dir=tmp_path, format="journal", policy="fail")

    assert records == [m for m in recorded if m is not FILL]
    assert [encode(r) for r in records] == [encode(m) for m in recorded if m is not FILL]
    assert rejections.counts() == {}


def test_journal_when_controls_asked_for_then_they_come_in_their_place_whatever_their_time(
    tmp_path: Path,
) -> None:
    # A live control carries wall time, far past the recorded market time around it.
    halt = Control(ts=10**18, command="halt", reason="drill")
    resume = Control(ts=10**18 + 1, command="resume")
    recorded: list[Message] = [_bar(100, "AAA"), halt, FILL, _bar(200, "AAA"), resume]
    name = _journal(tmp_path / "run.sqlite", recorded)
    config = FeedConfig(path=name)
    rejections = Rejections("fail", log=LOG)

    with_controls = open_feed(
        config, base_dir=str(tmp_path), rejections=rejections, log=LOG, controls=True
    )
    without = open_feed(config, base_dir=str(tmp_path), rejections=rejections, log=LOG)

    assert list(with_controls) == [m for m in recorded if m is not FILL]
    assert list(without) == [_bar(100, "AAA"), _bar(200, "AAA")]
    assert rejections.counts() == {}


def test_journal_when_format_auto_then_recognised_by_its_sqlite_signature(tmp_path: Path) -> None:
    path = _journal(tmp_path / "aaa.db", [_bar(100, "AAA")])

    records, _ = read(path, base_dir=tmp_path)

    assert records == [_bar(100, "AAA")]


@pytest.mark.parametrize(
    ("rows", "reason", "problem"),
    [
        (
            [_bar(100, "AAA"), ("Bar", b"\x01\x02"), _bar(300, "AAA")],
            "UNPARSEABLE",
            "Bar payload does not decode: Expected `object`, got `int`",
        ),
        (
            [_bar(100, "AAA"), ("Bar", INCONSISTENT_BAR), _bar(300, "AAA")],
            "UNPARSEABLE",
            "Bar payload does not decode: Bar.high must be >= max(open, close); got high=9, "
            "open=10, close=10",
        ),
        (
            [_bar(100, "AAA"), ("Tick", encode(_bar(200, "AAA"))), _bar(300, "AAA")],
            "UNPARSEABLE",
            "row kind is Tick but the payload holds a Bar",
        ),
        (
            [_bar(100, "AAA"), _bar(100, "AAA"), _bar(300, "AAA")],
            "DUPLICATE_TIMESTAMP",
            "timestamp 1970-01-01T00:00:00.0000001Z repeats the previous record's",
        ),
        (
            [_bar(100, "AAA"), _bar(50, "AAA"), _bar(300, "AAA")],
            "OUT_OF_ORDER",
            "timestamp 1970-01-01T00:00:00.00000005Z is before the previous record's "
            "1970-01-01T00:00:00.0000001Z",
        ),
    ],
)
def test_journal_when_event_bad_then_skip_counts_and_fail_names_the_seq(
    tmp_path: Path, rows: list[tuple[str, bytes] | Message], reason: str, problem: str
) -> None:
    path = _journal(tmp_path / "run.sqlite", rows)

    records, rejections = read(path, base_dir=tmp_path, format="journal")
    assert records == [_bar(100, "AAA"), _bar(300, "AAA")]
    assert rejections.counts() == {reason: 1}

    with pytest.raises(FatalInputError, match=rf"^run\.sqlite:seq 2: {re.escape(problem)}$"):
        read(path, base_dir=tmp_path, format="journal", policy="fail")


@pytest.mark.parametrize(
    ("versions", "message"),
    [
        (
            {"journal_version": "4"},
            "run.sqlite: journal_schema_version is '4', this Atrium reads '3' or '2'; open it "
            "with the Atrium version that wrote it",
        ),
        (
            {"message_version": "0"},
            f"run.sqlite: message_schema_version is '0', this Atrium reads "
            f"'{MESSAGE_SCHEMA_VERSION}'; open it with the Atrium version that wrote it",
        ),
        (
            {"message_version": None},
            "run.sqlite: not an Atrium journal: meta has no message_schema_version",
        ),
    ],
)
def test_journal_when_versions_differ_then_refused_naming_both(
    tmp_path: Path, versions: dict[str, str | None], message: str
) -> None:
    path = _journal(tmp_path / "run.sqlite", [_bar(100, "AAA")], **versions)

    with pytest.raises(FatalInputError, match=rf"^{re.escape(message)}$"):
        read(path, base_dir=tmp_path, format="journal")


def test_journal_when_sqlite_without_meta_then_not_a_journal(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "other.sqlite")
    connection.execute("CREATE TABLE t (x)")
    connection.commit()
    connection.close()

    with pytest.raises(
        FatalInputError, match=r"^other\.sqlite: not an Atrium journal: no such table: meta$"
    ):
        read("other.sqlite", base_dir=tmp_path, format="journal")


def test_journal_when_file_is_csv_then_not_a_journal(tmp_path: Path) -> None:
    (tmp_path / "x.sqlite").write_text("Date,Open\n", encoding="utf-8")

    with pytest.raises(
        FatalInputError, match=r"^x\.sqlite: not an Atrium journal: file is not a database$"
    ):
        read("x.sqlite", base_dir=tmp_path, format="journal")


def test_journal_when_missing_then_fatal_and_no_file_created(tmp_path: Path) -> None:
    with pytest.raises(FatalInputError, match=r"^gone\.sqlite: cannot open feed: no such file$"):
        read("gone.sqlite", base_dir=tmp_path, format="journal")

    assert not (tmp_path / "gone.sqlite").exists()
