"""A replay journal references the files its market data came from, or copies it in blocks.

Over the bundled NVDA file (4,012 daily bars, 1999-01-22 to 2014-12-31): the reference row
has the file's real size and SHA-256, the events hold no bar, and a replay of the journal
reproduces the run's order flow and trades byte for byte, from the files (references) or
from the journal alone (``--record-market-data``). A referenced file that changed stops
the replay with one line naming it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import anyio
import pytest

from atrium.runtime.cli import main
from atrium.runtime.journal import Journal
from atrium.runtime.journal_market import iter_records
from atrium.runtime.journal_read import open_readonly

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.toml"
NVDA = ROOT / "config" / "data" / "nvda-1999-2014.csv"
NVDA_BARS = 4012
FIRST_TS = 916_963_200_000_000_000  # 1999-01-22T00:00:00Z
LAST_TS = 1_419_984_000_000_000_000  # 2014-12-31T00:00:00Z
ORDER_FLOW = "SELECT seq, kind, payload FROM events ORDER BY seq"


def _replay(out: Path, *extra: str, config: Path = EXAMPLE) -> int:
    return main(["replay", "--config", str(config), "--out", str(out), "--no-progress", *extra])


def _rows(journal: Path, query: str, *args: object) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(journal)) as db:
        return db.execute(query, args).fetchall()


@pytest.fixture(scope="module")
def referenced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("referenced")
    assert _replay(out) == 0
    return out


@pytest.fixture(scope="module")
def copied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("copied")
    assert _replay(out, "--record-market-data") == 0
    return out


def test_replay_when_feed_is_a_csv_file_then_journal_references_it_with_its_size_and_sha256(
    referenced: Path,
) -> None:
    journal = referenced / "journal.sqlite"
    data = NVDA.read_bytes()
    assert _rows(journal, "SELECT * FROM market_data_refs") == [
        (
            0,
            "nvda-1999-2014.csv",
            "data/nvda-1999-2014.csv",
            str(NVDA),
            len(data),
            hashlib.sha256(data).hexdigest(),
            NVDA_BARS,
            FIRST_TS,
            LAST_TS,
        )
    ]
    assert _rows(journal, "SELECT value FROM meta WHERE key = 'market_data'") == [("references",)]
    assert _rows(journal, "SELECT count(*) FROM events WHERE kind IN ('Bar', 'Tick')") == [(0,)]
    assert _rows(journal, "SELECT count(*) FROM market_data") == [(0,)]


def test_replay_when_journal_references_files_then_order_flow_and_trades_byte_identical(
    referenced: Path, tmp_path: Path
) -> None:
    assert _replay(tmp_path, "--feed", str(referenced / "journal.sqlite")) == 0

    assert (tmp_path / "trades.csv").read_bytes() == (referenced / "trades.csv").read_bytes()
    assert (tmp_path / "equity.csv").read_bytes() == (referenced / "equity.csv").read_bytes()
    again, first = tmp_path / "journal.sqlite", referenced / "journal.sqlite"
    assert _rows(again, ORDER_FLOW) == _rows(first, ORDER_FLOW)
    # The same file again, the same records: named by its resolved path this time.
    same = "SELECT feed, name, resolved, size, sha256, records, first_ts, last_ts"
    assert _rows(again, f"{same} FROM market_data_refs") == _rows(
        first, f"{same} FROM market_data_refs"
    )
    assert _rows(again, "SELECT path FROM market_data_refs") == [(str(NVDA),)]


def test_replay_when_record_market_data_then_blocks_of_1024_bars_and_no_bar_rows(
    copied: Path, referenced: Path
) -> None:
    journal = copied / "journal.sqlite"
    assert _rows(journal, "SELECT records FROM market_data ORDER BY first_seq") == [
        (1024,),
        (1024,),
        (1024,),
        (NVDA_BARS - 3 * 1024,),
    ]
    assert _rows(journal, "SELECT count(*) FROM events WHERE kind IN ('Bar', 'Tick')") == [(0,)]
    assert _rows(journal, "SELECT count(*) FROM market_data_refs") == [(0,)]
    # The same run either way: the order flow is the referencing run's, seq for seq.
    assert _rows(journal, ORDER_FLOW) == _rows(referenced / "journal.sqlite", ORDER_FLOW)
    with closing(open_readonly(journal)) as db:
        records = list(iter_records(db, str(journal), kinds=["Bar"]))
    assert len(records) == NVDA_BARS
    assert (records[0][1], records[-1][1]) == (FIRST_TS, LAST_TS)
    # Every message took a seq: the bars fill exactly the seq the events leave out.
    events = [seq for seq, *_ in _rows(journal, ORDER_FLOW)]
    assert sorted(events + [seq for seq, *_ in records]) == list(
        range(1, len(events) + NVDA_BARS + 1)
    )


def test_replay_when_journal_holds_blocks_then_byte_identical_without_the_csv(
    copied: Path, tmp_path: Path
) -> None:
    # The copy needs no file: replay it with the data directory out of reach.
    journal = tmp_path / "copy.sqlite"
    shutil.copy(copied / "journal.sqlite", journal)
    config = tmp_path / "config.toml"
    config.write_text(EXAMPLE.read_text().replace("data/nvda-1999-2014.csv", "data/gone.csv"))
    out = tmp_path / "out"

    assert _replay(out, "--feed", str(journal), config=config) == 0

    assert (out / "trades.csv").read_bytes() == (copied / "trades.csv").read_bytes()
    assert _rows(out / "journal.sqlite", ORDER_FLOW) == _rows(journal, ORDER_FLOW)
    blocks = "SELECT first_seq, last_seq, records, block FROM market_data ORDER BY first_seq"
    assert _rows(out / "journal.sqlite", blocks) == _rows(journal, blocks)


def test_replay_when_referenced_file_changed_one_byte_then_one_line_naming_it_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "nvda-copy.csv"
    shutil.copy(NVDA, data)
    assert _replay(tmp_path / "first", "--feed", str(data)) == 0
    journal = tmp_path / "first" / "journal.sqlite"
    recorded = hashlib.sha256(data.read_bytes()).hexdigest()
    changed = bytearray(data.read_bytes())
    changed[-3] = ord("8")  # ...,4157500 becomes ...,4157800: same size
    data.write_bytes(bytes(changed))
    now = hashlib.sha256(changed).hexdigest()
    capsys.readouterr()

    assert _replay(tmp_path / "second", "--feed", str(journal)) == 1

    assert capsys.readouterr().err == (
        f"atrium: error: {journal}: the referenced feed file {data} has changed: "
        f"SHA-256 {now}, the journal recorded {recorded}\n"
    )
    assert not (tmp_path / "second").exists()


def test_replay_when_referenced_file_missing_or_resized_then_one_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "nvda-copy.csv"
    shutil.copy(NVDA, data)
    assert _replay(tmp_path / "first", "--feed", str(data)) == 0
    journal = tmp_path / "first" / "journal.sqlite"
    with data.open("a") as file:
        file.write("\n")
    capsys.readouterr()

    assert _replay(tmp_path / "second", "--feed", str(journal)) == 1
    assert capsys.readouterr().err == (
        f"atrium: error: {journal}: the referenced feed file {data} has changed: "
        f"{NVDA.stat().st_size + 1} bytes, the journal recorded {NVDA.stat().st_size}\n"
    )

    data.unlink()
    assert _replay(tmp_path / "second", "--feed", str(journal)) == 1
    assert capsys.readouterr().err == (
        f"atrium: error: {journal}: the referenced feed file {data} is missing; put it back, "
        "or replay a journal recorded with --record-market-data\n"
    )


def test_replay_when_run_stopped_after_100_bars_then_its_journal_replays_exactly_100(
    tmp_path: Path,
) -> None:
    # max_records stands for an interrupted run: the journal records what was sent.
    config = tmp_path / "short.toml"
    text = EXAMPLE.read_text().replace("[market_data]\n", "[market_data]\nmax_records = 100\n")
    config.write_text(text.replace('"data/', f'"{NVDA.parent}/'))
    assert _replay(tmp_path / "first", config=config) == 0
    journal = tmp_path / "first" / "journal.sqlite"
    (records, last_ts) = _rows(journal, "SELECT records, last_ts FROM market_data_refs")[0]
    assert (records, last_ts) == (100, 929_404_800_000_000_000)  # 1999-06-15, the 100th bar

    assert _replay(tmp_path / "second", "--feed", str(journal)) == 0

    summary = json.loads((tmp_path / "second" / "summary.json").read_text())
    assert summary["bars"] == 100
    assert summary["last_timestamp"] == "1999-06-15T00:00:00Z"
    second = tmp_path / "second" / "journal.sqlite"
    assert _rows(second, ORDER_FLOW) == _rows(journal, ORDER_FLOW)


def test_replay_when_referencing_journal_is_one_of_two_feeds_then_usage_error(
    referenced: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = referenced / "journal.sqlite"
    code = _replay(tmp_path, "--feed", str(journal), "--feed", str(NVDA))
    assert code == 2
    assert capsys.readouterr().err == (
        f"atrium: error: {journal}: its market data is referenced, not recorded in it; "
        "replay it as the only feed\n"
    )


def _old_journal(path: Path, records: list[tuple[int, int, str, bytes]]) -> None:
    """A schema 2 journal as the previous Atrium wrote it: every message an event row."""

    async def write() -> None:
        journal = Journal(path)
        await journal.open()
        await journal.close()

    anyio.run(write)
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DROP TABLE market_data")
        db.execute("DROP TABLE market_data_refs")
        db.execute("DELETE FROM meta WHERE key = 'market_data'")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'journal_schema_version'")
        db.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", records)


def test_replay_when_old_journal_has_a_row_per_bar_then_same_trades(
    copied: Path, tmp_path: Path
) -> None:
    with closing(open_readonly(copied / "journal.sqlite")) as db:
        records = list(iter_records(db, "copy"))
    old = tmp_path / "old.sqlite"
    _old_journal(old, records)
    assert _rows(old, "SELECT count(*) FROM events WHERE kind = 'Bar'") == [(NVDA_BARS,)]

    assert _replay(tmp_path / "out", "--feed", str(old)) == 0

    assert (tmp_path / "out" / "trades.csv").read_bytes() == (copied / "trades.csv").read_bytes()
    assert _rows(tmp_path / "out" / "journal.sqlite", ORDER_FLOW) == _rows(
        copied / "journal.sqlite", ORDER_FLOW
    )


def test_replay_when_feed_is_synthetic_then_referenced_by_its_settings_and_reproduced(
    tmp_path: Path,
) -> None:
    config = tmp_path / "synthetic.toml"
    feed = 'path = "data/nvda-1999-2014.csv"   # relative to this file\nsymbol = "NVDA"\n'
    synthetic = (
        'format = "synthetic"\n'
        'synthetic = { seed = 7, symbols = ["NVDA"], count = 300, bar_seconds = 86400 }\n'
    )
    assert feed in EXAMPLE.read_text()
    config.write_text(EXAMPLE.read_text().replace(feed, synthetic))
    assert _replay(tmp_path / "first", config=config) == 0
    journal = tmp_path / "first" / "journal.sqlite"
    start = 1_704_153_600_000_000_000  # 2024-01-02, the generator's default start
    assert _rows(journal, "SELECT * FROM market_data_refs") == [
        (0, "synthetic", "", "", None, None, 300, start, start + 299 * 86_400 * 10**9)
    ]

    assert _replay(tmp_path / "second", "--feed", str(journal)) == 0

    second = tmp_path / "second"
    trades = (tmp_path / "first" / "trades.csv").read_bytes()
    assert trades.count(b"\n") == 17  # the header and 16 fills
    assert (second / "trades.csv").read_bytes() == trades
    assert _rows(second / "journal.sqlite", ORDER_FLOW) == _rows(journal, ORDER_FLOW)
