"""Report collection: every fill in trades.csv, a bounded number kept for the page."""

from __future__ import annotations

import ast
import csv
import inspect
import re
import textwrap
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from journal_kit import write_messages

from atrium.runtime.errors import JournalError
from atrium.runtime.journal import MarketDataMode
from atrium.runtime.messages import (
    Bar,
    Fill,
    Message,
    PortfolioSnapshot,
    PositionUpdate,
    SymbolPosition,
)
from atrium.runtime.reports.collect import TRADES_SHOWN, RunCollector, collect, iso_time
from atrium.runtime.reports.html import write_report

D = Decimal
FILLS = TRADES_SHOWN + 100


def _session() -> list[Message]:
    messages: list[Message] = []
    for n in range(1, FILLS + 1):
        messages.append(Bar(ts=n, symbol="X", open=D(10), high=D(10), low=D(10), close=D(10)))
        side = "BUY" if n % 2 else "SELL"
        messages.append(
            Fill(
                leaves_quantity=D(0),
                ts=n,
                fill_id=f"o{n}-1",
                order_id=f"o{n}",
                strategy="s",
                symbol="X",
                side=side,
                quantity=D(1),
                price=D(10),
            )
        )
        held = D(n % 2)
        messages.append(
            PositionUpdate(
                ts=n, strategy="s", symbol="X", quantity=held, avg_price=D(10), realized_pnl=D(0)
            )
        )
    return messages


def test_collect_when_more_fills_than_shown_then_csv_has_all_and_page_says_so(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.sqlite"
    write_messages(journal, _session())
    record = collect(journal, tmp_path, D(100_000))
    with (tmp_path / "trades.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == FILLS
    assert record.fills == FILLS
    assert [row["fill_id"] for row in record.trades] == [f"o{n}-1" for n in range(1, 501)]
    assert record.equity.count == FILLS  # one equity point per bar
    write_report(tmp_path / "report.html", record, {}, 1.0)
    page = (tmp_path / "report.html").read_text()
    assert f"First {TRADES_SHOWN} of {FILLS} fills; all are in trades.csv." in page
    assert page.count("<tr><td>") == TRADES_SHOWN


def _bar(ts: int, close: str) -> Bar:
    price = Decimal(close)
    return Bar(
        ts=ts, symbol="SYM", open=price, high=price, low=price, close=price, volume=Decimal(1)
    )


def test_equity_rows_when_account_moves_then_flat_then_values_worked_by_hand(
    tmp_path: Path,
) -> None:
    minute = 60_000_000_000
    with RunCollector(tmp_path, Decimal(100_000)) as collector:
        collector.add(_bar(0, "10"))
        collector.add(_bar(minute, "11"))  # a bar is recorded before the fills it causes
        # Bought 100 at 10 (the mark before): cash 99,000, equity 100,000, gross 1,000.
        collector.add(
            PortfolioSnapshot(
                ts=minute,
                equity=Decimal(100_000),
                cash=Decimal(99_000),
                gross_exposure=Decimal(1_000),
                net_exposure=Decimal(1_000),
                realized_pnl=Decimal(0),
                unrealized_pnl=Decimal(0),
                peak_equity=Decimal(100_000),
                drawdown=Decimal(0),
                positions=(
                    SymbolPosition(symbol="SYM", quantity=Decimal(100), mark_price=Decimal(10)),
                ),
            )
        )
        collector.add(_bar(2 * minute, "9"))  # -200: 99,900, 200 / 100,100 below the peak
        collector.add(_bar(3 * minute + 1_000, "9"))  # unchanged: the row before again
    rows = (tmp_path / "equity.csv").read_text().splitlines()
    assert rows == [
        "time,equity,cash,gross_exposure,drawdown",
        "1970-01-01T00:00:00Z,100000,100000,0,0.000000",
        # marked at 11: +100, equity 100,100, the new peak
        "1970-01-01T00:01:00Z,100100,99000,1100,0.000000",
        "1970-01-01T00:02:00Z,99900,99000,900,0.001998",
        "1970-01-01T00:03:00.000001Z,99900,99000,900,0.001998",
    ]


@given(st.integers(min_value=-2_208_988_800 * 10**9, max_value=7_258_118_399 * 10**9))
def test_iso_time_when_compared_with_datetime_then_equal(ts: int) -> None:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts // 1000)
    fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
    assert iso_time(ts) == moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def test_collector_kinds_when_compared_with_its_match_cases_then_equal() -> None:
    """The replay taps the collector for ``KINDS`` only: a case missing there is never hit.

    Bars are taken before the match, by ``type(message) is Bar``: that counts as a case.
    """
    source = inspect.getsource(RunCollector.add)
    tree = ast.parse(textwrap.dedent(source))
    matched = {
        node.cls.id
        for node in ast.walk(tree)
        if isinstance(node, ast.MatchClass) and isinstance(node.cls, ast.Name)
    }
    checked = {
        node.comparators[0].id
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and isinstance(node.ops[0], ast.Is)
        and isinstance(node.comparators[0], ast.Name)
    }
    assert checked == {"Bar"}
    assert matched | checked == {kind.__name__ for kind in RunCollector.KINDS}


def test_collect_when_file_is_no_journal_then_journal_error_and_file_left_alone(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "missing.sqlite"

    with pytest.raises(JournalError, match=f"^{re.escape(str(missing))}: no such file$"):
        collect(missing, tmp_path, D(100_000))
    assert not missing.exists()


def test_collect_when_bars_in_blocks_then_same_files_as_from_rows(tmp_path: Path) -> None:
    rows, blocks = tmp_path / "rows", tmp_path / "blocks"
    runs: tuple[tuple[Path, MarketDataMode], ...] = ((rows, "rows"), (blocks, "blocks"))
    for out, mode in runs:
        out.mkdir()
        write_messages(out / "journal.sqlite", _session(), market_data=mode)
        record = collect(out / "journal.sqlite", out, D(100_000))
        assert (record.bars, record.fills) == (FILLS, FILLS)

    for name in ("trades.csv", "equity.csv"):
        assert (blocks / name).read_bytes() == (rows / name).read_bytes()
    assert (rows / "equity.csv").read_text().count("\n") == FILLS + 1


def test_collect_when_market_data_referenced_then_refused_and_nothing_written(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.sqlite"
    write_messages(journal, _session(), market_data="references")
    out = tmp_path / "out"
    out.mkdir()

    with pytest.raises(JournalError) as refused:
        collect(journal, out, D(100_000))

    assert str(refused.value) == (
        f"{journal}: its market data is referenced, not recorded in it, and the reports need "
        f"every bar; replay it (`atrium replay --feed {journal}` writes the reports), or "
        "record it with --record-market-data"
    )
    assert list(out.iterdir()) == []


def test_equity_rows_when_bars_cross_midnight_past_a_write_block_then_every_row_timed(
    tmp_path: Path,
) -> None:
    """Rows are written in blocks of 1024 and the date is kept per day: 3000 bars two
    minutes apart cross midnight
    five times (a leap day among them), and each row keeps its time."""
    start = int(datetime(2024, 2, 28, 23, 0, tzinfo=UTC).timestamp()) * 10**9
    step = 120 * 10**9
    with RunCollector(tmp_path, D(100)) as collector:
        for n in range(3000):
            collector.add(
                Bar(ts=start + n * step, symbol="X", open=D(1), high=D(1), low=D(1), close=D(1))
            )
            if n == 1999:  # a time with microseconds: shown, then the next bar's not
                collector.add(
                    Bar(
                        ts=start + n * step + 1_500_000_123,
                        symbol="X",
                        open=D(1),
                        high=D(1),
                        low=D(1),
                        close=D(1),
                    )
                )

    lines = (tmp_path / "equity.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 3001
    assert lines[1] == "2024-02-28T23:00:00Z,100,100,0,0.000000"
    assert lines[31] == "2024-02-29T00:00:00Z,100,100,0,0.000000"
    assert lines[2000] == "2024-03-02T17:38:00Z,100,100,0,0.000000"
    assert lines[2001] == "2024-03-02T17:38:01.500000Z,100,100,0,0.000000"
    assert lines[2002] == "2024-03-02T17:40:00Z,100,100,0,0.000000"
    assert lines[-1] == "2024-03-04T02:58:00Z,100,100,0,0.000000"
