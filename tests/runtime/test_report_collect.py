"""Report collection: every fill in trades.csv, a bounded number kept for the page."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import anyio
import pytest

from atrium.runtime.errors import JournalError
from atrium.runtime.journal import Journal, MarketDataMode
from atrium.runtime.messages import Bar, Fill, Message, PositionUpdate
from atrium.runtime.reports.collect import TRADES_SHOWN, collect
from atrium.runtime.reports.html import write_report

D = Decimal
FILLS = TRADES_SHOWN + 100


def _journal(path: Path, messages: list[Message], market_data: MarketDataMode = "rows") -> None:
    async def write() -> None:
        journal = Journal(path, market_data=market_data)
        await journal.open()
        for message in messages:
            journal.record(message)
        await journal.close()

    anyio.run(write)


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
    _journal(journal, _session())
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


def test_collect_when_bars_in_blocks_then_same_files_as_from_rows(tmp_path: Path) -> None:
    rows, blocks = tmp_path / "rows", tmp_path / "blocks"
    runs: tuple[tuple[Path, MarketDataMode], ...] = ((rows, "rows"), (blocks, "blocks"))
    for out, mode in runs:
        out.mkdir()
        _journal(out / "journal.sqlite", _session(), market_data=mode)
        record = collect(out / "journal.sqlite", out, D(100_000))
        assert (record.bars, record.fills) == (FILLS, FILLS)

    for name in ("trades.csv", "equity.csv"):
        assert (blocks / name).read_bytes() == (rows / name).read_bytes()
    assert (rows / "equity.csv").read_text().count("\n") == FILLS + 1


def test_collect_when_market_data_referenced_then_refused_and_nothing_written(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.sqlite"
    _journal(journal, _session(), market_data="references")
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
