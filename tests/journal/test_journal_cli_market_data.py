"""``atrium journal`` on journals that keep market data in blocks, or reference it.

The known journal's seven events (see ``journal_kit``) are written once as rows and once
with the bars and ticks in a block: ``tail`` and ``export`` must print the same bytes for
both, and ``stats`` says where the market data is.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import anyio
import pytest
from journal_kit import KNOWN, T0, digest, write_messages

from atrium.runtime.cli import main
from atrium.runtime.journal import Journal
from atrium.runtime.journal_market import iter_records


def _run(capsys: pytest.CaptureFixture[str], journal: Path, *argv: str) -> str:
    before = digest(journal)
    assert main(["journal", *argv]) == 0
    assert digest(journal) == before
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


@pytest.fixture
def rows(tmp_path: Path) -> Path:
    return write_messages(tmp_path / "rows.sqlite", KNOWN)


@pytest.fixture
def blocks(tmp_path: Path) -> Path:
    return write_messages(tmp_path / "blocks.sqlite", KNOWN, market_data="blocks")


@pytest.mark.parametrize(
    "argv",
    [
        ("export", "--format", "jsonl"),
        ("export", "--format", "csv", "--since-seq", "2"),
        ("export", "--format", "csv", "--kind", "Bar", "--kind", "Fill"),
        ("tail", "-n", "3"),
        ("tail", "-n", "2", "--kind", "Tick"),
        ("tail", "-n", "2", "--kind", "Order"),
    ],
)
def test_export_and_tail_when_market_data_in_blocks_then_same_bytes_as_rows(
    rows: Path, blocks: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    action, *options = argv
    from_rows = _run(capsys, rows, action, str(rows), *options)
    from_blocks = _run(capsys, blocks, action, str(blocks), *options)

    assert from_blocks == from_rows
    assert from_rows.count("\n") >= 1


def test_tail_when_last_events_all_in_blocks_then_seqs_5_to_7(
    blocks: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(capsys, blocks, "tail", str(blocks), "-n", "3")
    assert [line.split(",")[0] for line in out.splitlines()] == [
        '{"seq":5',
        '{"seq":6',
        '{"seq":7',
    ]


def test_stats_when_blocks_then_market_data_line_counts_them(
    blocks: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(capsys, blocks, "stats", str(blocks))

    # Seven messages, five of them bars and ticks: seq 1, 2, 5, 6, 7 in one block.
    assert "events        2 (seq 3 to 4)\n" in out
    assert out.endswith("market data   blocks: 1 (5 records, seq 1 to 7)\n")


def test_stats_when_references_then_each_file_with_size_sha256_and_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "refs.sqlite"

    async def write() -> None:
        journal = Journal(path, market_data="references")
        await journal.open()
        for message in KNOWN:
            journal.record(message)
        await journal.write_references(
            "{}",
            [(0, "a.csv", "data/a.csv", "/d/a.csv", 1234, "ab" * 32, 5, T0, T0 + 120 * 10**9)],
        )
        await journal.close()

    anyio.run(write)

    out = _run(capsys, path, "stats", str(path))

    assert out.endswith(
        "market data   references (the files a replay read; their records are not here)\n"
        f"              #0 a.csv: /d/a.csv, 1234 bytes, sha256 {'ab' * 32}; 5 records, "
        "2024-01-02T09:01:00.000000000Z to 2024-01-02T09:03:00.000000000Z\n"
    )


def _records(path: Path) -> list[tuple[int, int, str, bytes]]:
    with closing(sqlite3.connect(path)) as db:
        return list(iter_records(db, str(path)))


def test_salvage_when_market_data_in_blocks_then_every_record_copied_into_blocks(
    blocks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "salvaged.sqlite"

    assert main(["journal", "salvage", str(blocks), str(out)]) == 0

    assert capsys.readouterr().out.splitlines()[1:] == [
        "copied    7 events (seq 1 to 7), 1 sessions; snapshots are not copied (recovery "
        "re-runs the journal from its first event)",
        "lost      nothing: no damage found",
    ]
    assert _records(out) == _records(blocks)
    with closing(sqlite3.connect(out)) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'market_data'").fetchone() == (
            "blocks",
        )
        # The 5 bars and ticks of KNOWN in one block; Order and Fill stay rows.
        assert db.execute("SELECT count(*), sum(records) FROM market_data").fetchone() == (1, 5)
        assert db.execute("SELECT count(*) FROM events").fetchone() == (2,)


def test_salvage_when_a_block_does_not_decode_then_rows_before_it_copied_and_loss_by_kind(
    blocks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with closing(sqlite3.connect(blocks)) as db:
        db.execute("UPDATE market_data SET block = x'c1'")
        db.commit()
    out = tmp_path / "salvaged.sqlite"

    assert main(["journal", "salvage", str(blocks), str(out)]) == 0

    report = capsys.readouterr().out.splitlines()
    assert report[1].startswith("copied    0 events (none: the first event is damaged)")
    assert report[2].startswith("damage    the market data block from seq 1 does not decode (")
    assert report[3] == "lost      seq 1 to 7 (7 events: Fill 1, Order 1, market data 5)"
    assert _records(out) == []


def test_salvage_when_market_data_referenced_then_refused_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_messages(tmp_path / "refs.sqlite", KNOWN, market_data="references")
    out = tmp_path / "salvaged.sqlite"

    assert main(["journal", "salvage", str(path), str(out)]) == 1

    assert capsys.readouterr().err == (
        f"atrium: error: {path}: a replay journal (its market data is kept as references); "
        "salvage copies a service journal's events: run the replay again instead\n"
    )
    assert not out.exists()
