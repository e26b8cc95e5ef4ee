"""Report collection: every fill in trades.csv, a bounded number kept for the page."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import anyio

from atrium.runtime.journal import Journal
from atrium.runtime.messages import Bar, Fill, Message, PositionUpdate
from atrium.runtime.reports.collect import TRADES_SHOWN, collect
from atrium.runtime.reports.html import write_report

D = Decimal
FILLS = TRADES_SHOWN + 100


def _journal(path: Path, messages: list[Message]) -> None:
    async def write() -> None:
        journal = Journal(path)
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
