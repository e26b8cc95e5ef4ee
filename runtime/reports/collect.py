"""One pass over a replay journal: write ``trades.csv`` and ``equity.csv``, gather figures.

Everything here is read back from the journal (what was actually sent), not from actor
state, so the report is an independent account of the run. The files are written as the
journal is read and the figures are gathered in bounded memory (a chart series of at most
a few thousand points, one equity per day for the statistics, the first fills for the
page), so the report of a long replay costs no more memory than that of a short one.
"""

from __future__ import annotations

import csv
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Final

from runtime.codec import decode
from runtime.messages import (
    Bar,
    Fill,
    Message,
    Order,
    OrderDenied,
    OrderUpdate,
    PortfolioSnapshot,
    PositionUpdate,
    SizedOrder,
    Tick,
)
from runtime.reports.series import ChartSeries
from runtime.reports.stats import EquityCurve

__all__ = ("EQUITY_COLUMNS", "TRADES_SHOWN", "TRADE_COLUMNS", "RunRecord", "collect", "iso_time")

TRADE_COLUMNS: Final = (
    "time",
    "fill_id",
    "order_id",
    "strategy",
    "symbol",
    "side",
    "quantity",
    "price",
    "commission",
    "realized_pnl",
    "sizing_mode",
    "sizing_equity",
    "sizing_price",
    "atr",
    "stop_distance",
    "risk_pct",
    "weight",
    "raw_quantity",
    "binding_cap",
    "final_quantity",
    "tag",
)
EQUITY_COLUMNS: Final = ("time", "equity", "cash", "gross_exposure", "drawdown")
_CLOSED: Final = frozenset({"FILLED", "REJECTED", "CANCELLED", "EXPIRED"})
#: Fills kept for the report page (trades.csv has them all).
TRADES_SHOWN: Final = 500


def iso_time(ts_ns: int) -> str:
    """UTC ISO-8601 with microseconds trimmed when zero."""
    moment = datetime.fromtimestamp(ts_ns / 1e9, tz=UTC)
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class RunRecord:
    """What the reports need from one pass over the journal."""

    initial_equity: Decimal
    curve: EquityCurve
    equity: ChartSeries = field(default_factory=ChartSeries)
    #: Drawdown from the peak equity, in percent (0 or negative).
    drawdown: ChartSeries = field(default_factory=ChartSeries)
    exposure: ChartSeries = field(default_factory=ChartSeries)
    #: The first :data:`TRADES_SHOWN` rows of trades.csv (it has one row per fill).
    trades: list[dict[str, str]] = field(default_factory=list)
    bars: int = 0
    ticks: int = 0
    orders: int = 0
    fills: int = 0
    denials: Counter[str] = field(default_factory=Counter)
    wins: int = 0
    losses: int = 0
    final_equity: Decimal = Decimal(0)
    final_cash: Decimal = Decimal(0)


def _messages(journal: Path) -> Iterator[Message]:
    with closing(sqlite3.connect(journal)) as db:
        for (payload,) in db.execute("SELECT payload FROM events ORDER BY seq"):
            yield decode(payload)


def collect(journal: Path, out_dir: Path, initial_equity: Decimal) -> RunRecord:
    """Write ``trades.csv`` and ``equity.csv`` into ``out_dir``; return the gathered record."""
    record = RunRecord(
        initial_equity=initial_equity,
        curve=EquityCurve(float(initial_equity)),
        final_equity=initial_equity,
    )
    sizing: dict[str, SizedOrder] = {}
    awaiting_position: dict[tuple[str, str], list[dict[str, str]]] = {}
    realized: dict[tuple[str, str], Decimal] = {}
    held: dict[tuple[str, str], Decimal] = {}
    equity, cash, gross = initial_equity, initial_equity, Decimal(0)
    peak = initial_equity
    bar_ts: int | None = None
    with (
        (out_dir / "trades.csv").open("w", newline="", encoding="utf-8") as trades_file,
        (out_dir / "equity.csv").open("w", newline="", encoding="utf-8") as equity_file,
    ):
        trades = csv.DictWriter(trades_file, TRADE_COLUMNS, lineterminator="\n")
        trades.writeheader()
        curve = csv.writer(equity_file, lineterminator="\n")
        curve.writerow(EQUITY_COLUMNS)

        def close_bar(ts: int) -> None:
            nonlocal peak
            peak = max(peak, equity)
            drawdown = (peak - equity) / peak if peak > 0 else Decimal(0)
            curve.writerow((iso_time(ts), equity, cash, gross, f"{drawdown:.6f}"))
            value = float(equity)
            record.curve.add(ts, value)
            record.equity.add(ts, value)
            record.drawdown.add(ts, -100.0 * float(drawdown))
            record.exposure.add(ts, float(gross))

        def write_trade(row: dict[str, str]) -> None:
            trades.writerow(row)
            if len(record.trades) < TRADES_SHOWN:
                record.trades.append(row)

        for message in _messages(journal):
            kind = type(message)
            if kind is Bar or kind is Tick:
                if kind is Bar:
                    record.bars += 1
                else:
                    record.ticks += 1
                if message.ts != bar_ts:
                    if bar_ts is not None:
                        close_bar(bar_ts)
                    bar_ts = message.ts
            elif kind is PortfolioSnapshot:
                assert isinstance(message, PortfolioSnapshot)
                equity, cash, gross = message.equity, message.cash, message.gross_exposure
            elif kind is SizedOrder:
                assert isinstance(message, SizedOrder)
                sizing[message.order_id] = message
            elif kind is Order:
                record.orders += 1
            elif kind is OrderDenied:
                assert isinstance(message, OrderDenied)
                record.denials[message.reason] += 1
                if message.order_id is not None:
                    sizing.pop(message.order_id, None)
            elif kind is OrderUpdate:
                # Its fills came before it: a closed order's sizing is needed no more.
                assert isinstance(message, OrderUpdate)
                if message.status in _CLOSED:
                    sizing.pop(message.order_id, None)
            elif kind is Fill:
                assert isinstance(message, Fill)
                record.fills += 1
                row = _trade_row(message, sizing.get(message.order_id))
                awaiting_position.setdefault((message.strategy, message.symbol), []).append(row)
            elif kind is PositionUpdate:
                assert isinstance(message, PositionUpdate)
                key = (message.strategy, message.symbol)
                delta = message.realized_pnl - realized.get(key, Decimal(0))
                realized[key] = message.realized_pnl
                before = held.get(key, Decimal(0))
                held[key] = message.quantity
                rows = awaiting_position.pop(key, [])
                for index, row in enumerate(rows):
                    row["realized_pnl"] = str(delta) if index == len(rows) - 1 else "0"
                    write_trade(row)
                if rows and _reduces(before, message.quantity):
                    # A closing fill: win or loss by the PnL it realized, costs included.
                    record.wins += delta > 0
                    record.losses += delta <= 0
        if bar_ts is not None:
            close_bar(bar_ts)
        for rows in awaiting_position.values():
            for row in rows:
                write_trade(row)
    record.final_equity, record.final_cash = equity, cash
    return record


def _reduces(before: Decimal, after: Decimal) -> bool:
    """True when a position went towards flat (or through it)."""
    return before != 0 and (abs(after) < abs(before) or (after * before) < 0)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _trade_row(fill: Fill, order: SizedOrder | None) -> dict[str, str]:
    row = {
        "time": iso_time(fill.ts),
        "fill_id": fill.fill_id,
        "order_id": fill.order_id,
        "strategy": fill.strategy,
        "symbol": fill.symbol,
        "side": fill.side,
        "quantity": str(fill.quantity),
        "price": str(fill.price),
        "commission": str(fill.commission),
        "realized_pnl": "",
    }
    if order is not None:
        explanation = order.sizing
        row.update(
            sizing_mode=explanation.mode,
            sizing_equity=_text(explanation.equity),
            sizing_price=_text(explanation.price),
            atr=_text(explanation.atr),
            stop_distance=_text(explanation.stop_distance),
            risk_pct=_text(explanation.risk_pct),
            weight=_text(explanation.weight),
            raw_quantity=_text(explanation.raw_quantity),
            binding_cap=_text(explanation.binding_cap),
            final_quantity=_text(explanation.final_quantity),
            tag=_text(order.tag),
        )
    return row
