"""Parquet and Arrow IPC feeds: the same records, checks and row-numbered errors as CSV.

The done-criterion of the format: the NVDA file replayed from its CSV and from its
Parquet (and Arrow) conversion makes byte-identical trades.csv and equity.csv.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from market_data_kit import DATA, ns, read, write

from atrium.actors.market_data.convert import convert
from atrium.runtime.cli import main
from atrium.runtime.errors import FatalInputError
from atrium.runtime.messages import Bar, Tick

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "config" / "example.toml"
NVDA_CSV = ROOT / "config" / "data" / "nvda-1999-2014.csv"
D = Decimal


def _table(tmp_path: Path, name: str, **columns: list[object]) -> str:
    pq.write_table(pa.table(columns), tmp_path / name)
    return name


def test_replay_when_nvda_from_csv_parquet_and_arrow_then_identical_fills(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    parquet, arrow = tmp_path / "nvda.parquet", tmp_path / "nvda.arrow"
    assert main(["data", "convert", str(NVDA_CSV), "--out", str(parquet)]) == 0
    assert main(["data", "convert", str(NVDA_CSV), "--out", str(arrow)]) == 0
    outputs = {}
    for feed in (NVDA_CSV, parquet, arrow):
        out = tmp_path / f"out-{feed.suffix[1:]}"
        args = ["replay", "--config", str(EXAMPLE), "--feed", str(feed), "--out", str(out)]
        with caplog.at_level(logging.WARNING):
            assert main([*args, "--no-progress"]) == 0
        outputs[feed.suffix] = [(out / name).read_bytes() for name in ("trades.csv", "equity.csv")]
    assert outputs[".parquet"] == outputs[".csv"] == outputs[".arrow"]
    trades = outputs[".csv"][0].decode().splitlines()
    assert len(trades) == 301  # the header and 300 fills
    assert trades[1].startswith(
        "1999-04-09T00:00:00Z,O-00000001-1,O-00000001,momentum,NVDA,BUY,4129,"
    )
    assert not any("feeds no strategy" in r.getMessage() for r in caplog.records)


def test_parquet_when_converted_then_values_keep_their_text_and_symbol(tmp_path: Path) -> None:
    if not (DATA / "nvda-1999-2014.txt").exists():
        pytest.skip("shared data not present")
    out = tmp_path / "prices.parquet"  # a name that says no symbol: the file keeps it
    rows, rejected = convert([str(DATA / "nvda-1999-2014.txt")], out)
    assert (rows, rejected) == (4012, {})
    records, rejections = read("prices.parquet", base_dir=tmp_path)
    assert rejections.counts() == {}
    assert records[0] == Bar(
        ts=ns("1999-01-22"),
        symbol="NVDA",
        open=D("1.750000"),
        high=D("1.953125"),
        low=D("1.552083"),
        close=D("1.640625"),
        volume=D("67867200"),
    )
    assert str(records[0].open) == "1.750000"  # exponent kept: the same Decimal as from CSV


def test_parquet_when_bad_rows_then_skipped_with_row_numbers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    name = _table(
        tmp_path,
        "abc.parquet",
        timestamp=[ns("2020-01-01"), ns("2020-01-02"), ns("2020-01-02"), ns("2020-01-03")],
        open=["10", "10", "10", "x"],
        high=["11", "9", "11", "11"],
        low=["9", "9", "9", "9"],
        close=["10.5", "9.5", "10.5", "10"],
        volume=["100", "100", "100", "100"],
    )
    with caplog.at_level(logging.WARNING):
        records, rejections = read(name, base_dir=tmp_path)
    assert [r.ts for r in records] == [ns("2020-01-01"), ns("2020-01-02")]
    assert rejections.counts() == {"HIGH_LOW_INCONSISTENT": 1, "UNPARSEABLE": 1}
    messages = [r.getMessage() for r in caplog.records]
    assert "abc.parquet:row 2: high 9 is below max(open, close) 10 (HIGH_LOW_INCONSISTENT)" in (
        m.removesuffix("; row skipped") for m in messages
    )
    assert any(m.startswith("abc.parquet:row 4: open is missing or not a number") for m in messages)


def test_parquet_when_duplicate_time_and_policy_fail_then_stops_with_row(tmp_path: Path) -> None:
    name = _table(
        tmp_path,
        "abc.parquet",
        timestamp=pa.array([ns("2020-01-01"), ns("2020-01-01")], pa.timestamp("ns", tz="UTC")),
        open=[D("10.0"), D("10.0")],
        high=[D("11.0"), D("11.0")],
        low=[D("9.0"), D("9.0")],
        close=[D("10.5"), D("10.5")],
        volume=[100, 100],
    )
    with pytest.raises(
        FatalInputError, match=r"^abc.parquet:row 2: timestamp 2020-01-01T00:00:00Z repeats"
    ):
        read(name, base_dir=tmp_path, policy="fail")


def test_arrow_when_ticks_with_symbol_column_then_ticks_of_each_symbol(tmp_path: Path) -> None:
    table = pa.table(
        {
            "ts": pa.array([1, 1, 2], pa.int64()),
            "symbol": ["AAA", "BBB", "AAA"],
            "price": [1.5, 20.25, 1.75],
            "size": [10, 5, 3],
        }
    )
    with pa.ipc.new_file(str(tmp_path / "t.arrow"), table.schema) as writer:
        writer.write_table(table)
    records, rejections = read("t.arrow", base_dir=tmp_path)
    assert rejections.counts() == {}
    assert records == [
        Tick(ts=1, symbol="AAA", price=D("1.5"), size=D(10)),
        Tick(ts=1, symbol="BBB", price=D("20.25"), size=D(5)),
        Tick(ts=2, symbol="AAA", price=D("1.75"), size=D(3)),
    ]


def test_convert_when_two_csvs_then_merged_by_time_with_symbol_column(tmp_path: Path) -> None:
    header = "Date,Open,High,Low,Close,Volume"
    a = write(tmp_path, "aaa.csv", header, "2020-01-01,1,2,1,2,10", "2020-01-03,2,3,2,3,10")
    b = write(tmp_path, "bbb.csv", header, "2020-01-02,5,6,5,6,20")
    out = tmp_path / "both.parquet"
    assert convert([str(tmp_path / a), str(tmp_path / b)], out) == (3, {})
    records, _ = read("both.parquet", base_dir=tmp_path)
    assert [(r.symbol, r.ts) for r in records] == [
        ("AAA", ns("2020-01-01")),
        ("BBB", ns("2020-01-02")),
        ("AAA", ns("2020-01-03")),
    ]


def test_parquet_when_column_missing_then_stops_naming_it(tmp_path: Path) -> None:
    name = _table(tmp_path, "abc.parquet", timestamp=[1], open=["1"], high=["1"], low=["1"])
    with pytest.raises(FatalInputError, match=r"abc.parquet: no close column among"):
        read(name, base_dir=tmp_path)


def test_convert_when_out_not_parquet_or_arrow_then_usage_error(tmp_path: Path) -> None:
    assert main(["data", "convert", str(NVDA_CSV), "--out", str(tmp_path / "x.csv")]) == 2


def test_replay_when_journal_of_a_parquet_run_then_file_reread_and_same_fills(
    tmp_path: Path,
) -> None:
    """The journal references the Parquet file (size, SHA-256, rows) and reads it again."""
    parquet = tmp_path / "nvda.parquet"
    assert main(["data", "convert", str(NVDA_CSV), "--out", str(parquet)]) == 0
    first, second = tmp_path / "first", tmp_path / "second"
    base = ["replay", "--config", str(EXAMPLE), "--no-progress"]
    assert main([*base, "--feed", str(parquet), "--out", str(first)]) == 0
    assert main([*base, "--feed", str(first / "journal.sqlite"), "--out", str(second)]) == 0
    assert (second / "trades.csv").read_bytes() == (first / "trades.csv").read_bytes()
