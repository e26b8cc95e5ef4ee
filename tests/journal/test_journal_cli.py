"""``atrium journal stats|tail|export`` on a hand-counted journal, and on bad ones."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from journal_kit import (
    KNOWN,
    STARTED,
    T0,
    add_rows,
    digest,
    overwrite_page,
    raw_database,
    root_page,
    write_known,
    write_messages,
)

from atrium.runtime.cli import main
from atrium.runtime.codec import MESSAGE_TYPES, encode
from atrium.runtime.messages import AnyMessage, Bar, Fill

#: Output files of a run of ``atrium``: status, stdout, stderr.
Run = tuple[int, str, str]


class Line(msgspec.Struct, forbid_unknown_fields=True):
    """One row of ``tail``/``export --format jsonl``, decoded back to the message."""

    seq: int
    ts: int
    time: str
    kind: str
    message: AnyMessage


@pytest.fixture
def known(tmp_path: Path) -> Path:
    return write_known(tmp_path / "run.sqlite")


def atrium(capsys: pytest.CaptureFixture[str], journal: Path, *argv: str) -> Run:
    """Run ``atrium journal ...``; the journal's bytes must be the same afterwards."""
    before = digest(journal) if journal.is_file() else None
    status = main(["journal", *argv])
    captured = capsys.readouterr()
    assert (digest(journal) if journal.is_file() else None) == before
    return status, captured.out, captured.err


# -- stats ------------------------------------------------------------------------------


def test_stats_when_known_journal_then_hand_counted_figures(
    known: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = atrium(capsys, known, "stats", str(known), "--json")

    assert (status, err) == (0, "")
    assert msgspec.json.decode(out) == {
        "file": str(known),
        "size_bytes": known.stat().st_size,
        "wal_bytes": 0,
        "journal_schema_version": "3",
        "message_schema_version": "2",
        "integrity": "ok",
        "events": 7,
        "first_seq": 1,
        "last_seq": 7,
        "first_ts": T0,
        "last_ts": T0 + 120_000_000_000,
        "first_time": "2024-01-02T09:01:00.000000000Z",
        "last_time": "2024-01-02T09:03:00.000000000Z",
        "kinds": {"Bar": 3, "Fill": 1, "Order": 1, "Tick": 2},
        "sessions": [
            {
                "session": 1,
                "started_ns": STARTED[0],
                "started": "2024-01-02T09:00:55.000000000Z",
                "first_seq": 1,
                "mode": "replay",
                "version": "0.1.0",
            },
            {
                "session": 2,
                "started_ns": STARTED[1],
                "started": "2024-01-02T10:01:00.000000000Z",
                "first_seq": 5,
                "mode": "live",
                "version": "0.2.0",
            },
        ],
        "snapshots": {"count": 2, "latest_seq": 7},
        "market_data": {
            "mode": "rows",
            "blocks": {"blocks": 0, "records": 0, "first_seq": None, "last_seq": None},
            "references": [],
        },
    }


def test_stats_when_text_then_aligned_label_value_lines(
    known: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = atrium(capsys, known, "stats", str(known))

    size = known.stat().st_size
    assert status == 0
    assert out == (
        f"file          {known}\n"
        f"size          {size} bytes (-wal file: 0 bytes)\n"
        "schema        journal 3, messages 2\n"
        "integrity     ok\n"
        "events        7 (seq 1 to 7)\n"
        "first         2024-01-02T09:01:00.000000000Z (ts 1704186060000000000)\n"
        "last          2024-01-02T09:03:00.000000000Z (ts 1704186180000000000)\n"
        "kinds         Bar    3\n"
        "              Fill   1\n"
        "              Order  1\n"
        "              Tick   2\n"
        "sessions      #1  started 2024-01-02T09:00:55.000000000Z  first seq 1  mode replay"
        "  version 0.1.0\n"
        "              #2  started 2024-01-02T10:01:00.000000000Z  first seq 5  mode live"
        "    version 0.2.0\n"
        "snapshots     2 (latest after seq 7)\n"
        "market data   rows (Bar and Tick are events)\n"
    )


def test_stats_when_journal_empty_then_no_seq_or_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_messages(tmp_path / "empty.sqlite", [])

    status, out, _ = atrium(capsys, path, "stats", str(path), "--json")

    stats = msgspec.json.decode(out)
    assert status == 0
    assert {key: stats[key] for key in ("events", "first_seq", "last_time", "kinds")} == {
        "events": 0,
        "first_seq": None,
        "last_time": None,
        "kinds": {},
    }
    assert stats["snapshots"] == {"count": 0, "latest_seq": None}


# -- tail -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "seqs"),
    [
        ((), [1, 2, 3, 4, 5, 6, 7]),  # default 10, seven there
        (("-n", "3"), [5, 6, 7]),
        (("-n", "2", "--kind", "Bar"), [5, 7]),
        (("--kind", "Fill", "--kind", "Order", "-n", "5"), [3, 4]),
        (("-n", "1", "--kind", "CancelOrder"), []),
    ],
)
def test_tail_when_n_and_kinds_then_last_n_of_those_oldest_first(
    known: Path, capsys: pytest.CaptureFixture[str], options: tuple[str, ...], seqs: list[int]
) -> None:
    status, out, err = atrium(capsys, known, "tail", str(known), *options)

    lines = [msgspec.json.decode(line, type=Line) for line in out.splitlines()]
    assert (status, err) == (0, "")
    assert [line.seq for line in lines] == seqs
    assert [line.message for line in lines] == [KNOWN[seq - 1] for seq in seqs]


def test_tail_when_event_printed_then_every_field_and_exact_decimal_strings(
    known: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = atrium(capsys, known, "tail", str(known), "-n", "2")

    assert out.splitlines() == [
        '{"seq":6,"ts":1704186120123456789,"time":"2024-01-02T09:02:00.123456789Z",'
        '"kind":"Tick","message":{"kind":"Tick","ts":1704186120123456789,"symbol":"AAA",'
        '"price":"100.000000001","size":"0.5"}}',
        '{"seq":7,"ts":1704186180000000000,"time":"2024-01-02T09:03:00.000000000Z",'
        '"kind":"Bar","message":{"kind":"Bar","ts":1704186180000000000,"symbol":"AAA",'
        '"open":"100.60","high":"100.90","low":"100.55","close":"100.70","volume":"800"}}',
    ]


# -- export -----------------------------------------------------------------------------


def test_export_when_jsonl_then_every_message_round_trips_byte_for_byte(
    known: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = atrium(capsys, known, "export", str(known), "--format", "jsonl")

    lines = [msgspec.json.decode(line, type=Line) for line in out.splitlines()]
    assert (status, err) == (0, "")
    assert [(line.seq, line.ts, line.kind) for line in lines] == [
        (seq, message.ts, type(message).__name__) for seq, message in enumerate(KNOWN, start=1)
    ]
    # msgpack holds each Decimal's exact digits: equal bytes mean "100.10" stayed "100.10".
    assert [encode(line.message) for line in lines] == [encode(message) for message in KNOWN]


def test_export_when_csv_then_header_rows_and_messages_round_trip(
    known: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = atrium(capsys, known, "export", str(known), "--format", "csv")

    header, *rows = list(csv.reader(io.StringIO(out, newline="")))
    assert status == 0
    assert header == ["seq", "ts", "time", "kind", "message"]
    assert [row[:4] for row in rows[:2]] == [
        ["1", str(T0), "2024-01-02T09:01:00.000000000Z", "Bar"],
        ["2", str(T0 + 250_000_000), "2024-01-02T09:01:00.250000000Z", "Tick"],
    ]
    messages = [msgspec.json.decode(row[4], type=AnyMessage) for row in rows]
    assert [encode(message) for message in messages] == [encode(message) for message in KNOWN]
    assert msgspec.json.decode(rows[3][4])["commission"] == "0.0125"
    fill = messages[3]
    assert isinstance(fill, Fill) and fill.commission == Decimal("0.0125")


def test_export_when_kinds_and_since_seq_then_only_those_after_it(
    known: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = atrium(
        capsys,
        known,
        "export",
        str(known),
        "--format",
        "jsonl",
        "--kind",
        "Fill",
        "--kind",
        "Tick",
        "--since-seq",
        "2",
    )

    assert [msgspec.json.decode(line, type=Line).seq for line in out.splitlines()] == [4, 6]


def test_export_when_out_given_then_file_holds_what_stdout_would(
    known: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "export" / "run.csv"
    out.parent.mkdir()
    _, printed, _ = atrium(capsys, known, "export", str(known), "--format", "csv")

    status, stdout, err = atrium(
        capsys, known, "export", str(known), "--format", "csv", "--out", str(out)
    )

    assert (status, stdout, err) == (0, "", "")
    assert out.read_text(encoding="utf-8") == printed
    assert os.listdir(out.parent) == ["run.csv"]  # no partial file left behind


@pytest.mark.parametrize(
    "target",
    [
        lambda journal: journal,
        lambda journal: journal.parent / "sub" / ".." / journal.name,
        lambda journal: journal.with_name(journal.name + "-wal"),
        lambda journal: journal.with_name(journal.name + "-shm"),
        lambda journal: journal.with_name("link.sqlite"),
    ],
    ids=["itself", "other-spelling", "wal", "shm", "symlink"],
)
def test_export_when_out_is_the_journal_then_refused_and_journal_untouched(
    known: Path, capsys: pytest.CaptureFixture[str], target: Callable[[Path], Path]
) -> None:
    (known.parent / "sub").mkdir()
    (known.parent / "link.sqlite").symlink_to(known)
    out = target(known)
    files = sorted(os.listdir(known.parent))

    status, stdout, err = atrium(
        capsys, known, "export", str(known), "--format", "csv", "--out", str(out)
    )

    assert (status, stdout) == (1, "")
    assert err == (
        f"atrium: error: {out}: refusing to export onto the journal being read ({known}) "
        "or its -wal/-shm file; choose another --out\n"
    )
    assert sorted(os.listdir(known.parent)) == files


def test_export_when_out_directory_missing_then_cannot_write(
    known: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = known.parent / "missing" / "run.csv"

    status, _, err = atrium(
        capsys, known, "export", str(known), "--format", "csv", "--out", str(out)
    )

    assert status == 1
    assert err == f"atrium: error: {out}: cannot write: No such file or directory\n"


# -- payloads that do not decode --------------------------------------------------------


def _bar(ts: int) -> Bar:
    one = Decimal(1)
    return Bar(ts=ts, symbol="AAA", open=one, high=one, low=one, close=one)


#: A Bar stored under kind Tick: it decodes, but not to what the row says.
STRAY_BAR = _bar(T0 + 180_000_000_000)


def _with_bad_payloads(known: Path) -> None:
    add_rows(
        known,
        [(8, STRAY_BAR.ts, "Bar", b"\x01\x02"), (9, STRAY_BAR.ts, "Tick", encode(STRAY_BAR))],
    )


def test_tail_when_payloads_do_not_decode_then_error_rows_counted_and_exit_zero(
    known: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _with_bad_payloads(known)

    status, out, err = atrium(capsys, known, "tail", str(known), "-n", "3")

    rows = [msgspec.json.decode(line) for line in out.splitlines()]
    assert status == 0
    assert rows[0]["seq"] == 7 and "message" in rows[0]
    assert rows[1:] == [
        {
            "seq": 8,
            "ts": T0 + 180_000_000_000,
            "time": "2024-01-02T09:04:00.000000000Z",
            "kind": "Bar",
            "error": "Expected `object`, got `int`",
            "payload_hex": "0102",
        },
        {
            "seq": 9,
            "ts": T0 + 180_000_000_000,
            "time": "2024-01-02T09:04:00.000000000Z",
            "kind": "Tick",
            "error": "row kind is Tick but the payload holds a Bar",
            "payload_hex": encode(STRAY_BAR).hex(),
        },
    ]
    assert err == (
        'atrium: 2 of 3 events did not decode; their rows carry "error" and "payload_hex" '
        'instead of "message"\n'
    )


def test_export_csv_when_payload_does_not_decode_then_message_column_holds_the_error(
    known: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _with_bad_payloads(known)

    status, out, err = atrium(
        capsys, known, "export", str(known), "--format", "csv", "--since-seq", "7"
    )

    rows = list(csv.reader(io.StringIO(out, newline="")))[1:]
    assert status == 0
    assert [row[0] for row in rows] == ["8", "9"]
    assert msgspec.json.decode(rows[0][4]) == {
        "error": "Expected `object`, got `int`",
        "payload_hex": "0102",
    }
    assert err.startswith("atrium: 2 of 2 events did not decode;")


# -- bad journals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [("stats",), ("tail",), ("export", "--format", "jsonl")],
    ids=["stats", "tail", "export"],
)
def test_command_when_journal_missing_then_error_and_no_file_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    path = tmp_path / "gone.sqlite"
    command, *options = argv

    status, out, err = atrium(capsys, path, command, str(path), *options)

    assert (status, out) == (1, "")
    assert err == f"atrium: error: {path}: no such file\n"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("argv", "printed", "problem"),
    [
        (("stats",), "", "the journal is corrupted (database disk image is malformed)"),
        (("tail",), "", "the journal is corrupted (database disk image is malformed)"),
        (
            ("export", "--format", "csv"),
            "seq,ts,time,kind,message\n",  # everything before the damage: the header
            "the journal is corrupted after seq 0 (database disk image is malformed)",
        ),
    ],
    ids=["stats", "tail", "export"],
)
def test_command_when_events_page_is_garbage_then_corrupted_error(
    known: Path,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    printed: str,
    problem: str,
) -> None:
    overwrite_page(known, root_page(known, "events"))
    command, *options = argv

    status, out, err = atrium(capsys, known, command, str(known), *options)

    assert (status, out) == (1, printed)
    assert err == f"atrium: error: {known}: {problem}\n"


def test_stats_when_only_the_kind_index_is_damaged_then_quick_check_names_the_page(
    known: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = root_page(known, "events_kind")
    overwrite_page(known, page)

    status, _, err = atrium(capsys, known, "stats", str(known))

    assert status == 1
    assert err == (
        f"atrium: error: {known}: the journal is corrupted "
        f"(quick_check: Page {page}: btreeInitPage() returns error code 11)\n"
    )


def test_stats_when_journal_has_no_sessions_table_then_damaged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = raw_database(
        tmp_path / "old.sqlite",
        [
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, "
            "kind TEXT NOT NULL, payload BLOB NOT NULL)",
            "INSERT INTO meta VALUES ('journal_schema_version', '2'), "
            "('message_schema_version', '2')",
        ],
    )

    status, _, err = atrium(capsys, path, "stats", str(path))

    assert status == 1
    assert err == (
        f"atrium: error: {path}: an Atrium journal without its sessions table (damaged)\n"
    )


def test_export_when_page_damaged_midway_then_stdout_ends_at_the_seq_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_messages(tmp_path / "long.sqlite", [])
    add_rows(path, [(seq, T0 + seq, "Bar", encode(_bar(T0 + seq))) for seq in range(1, 1501)])
    overwrite_page(path, path.stat().st_size // 4096 * 3 // 4)

    status, out, err = atrium(capsys, path, "export", str(path), "--format", "jsonl")

    seqs = [msgspec.json.decode(line)["seq"] for line in out.splitlines()]
    assert status == 1
    assert 0 < len(seqs) < 1500
    assert seqs == list(range(1, len(seqs) + 1))
    assert re.fullmatch(
        rf"atrium: error: {re.escape(str(path))}: the journal is corrupted after seq "
        rf"{seqs[-1]} \(database disk image is malformed\)\n",
        err,
    )


# -- usage ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("tail", "--kind", "Fills"),
            f"argument --kind: 'Fills' is not a message kind (kinds: "
            f"{', '.join(sorted(MESSAGE_TYPES))})",
        ),
        (("tail", "-n", "0"), "argument -n: expected an integer > 0, got 0"),
        (
            ("export", "--format", "csv", "--since-seq", "-1"),
            "argument --since-seq: expected an integer >= 0, got -1",
        ),
        (("export", "--format", "xml"), "argument --format: invalid choice: 'xml'"),
    ],
    ids=["kind", "n", "since-seq", "format"],
)
def test_command_when_option_invalid_then_usage_error_names_it(
    known: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    command, *options = argv

    with pytest.raises(SystemExit) as exited:
        main(["journal", command, str(known), *options])

    assert exited.value.code == 2
    assert f"error: {message}" in capsys.readouterr().err
