"""A replay's ``trades.csv`` and ``equity.csv``, and the figures of its report.

Everything here comes from the messages the run published (what was actually sent), not
from actor state, so the report is an independent account of the run. A replay hands
them over as they are published; a journal can be read back into the same collector
(:func:`collect`: market data in rows or blocks; a journal that references its files is
refused, see there). The
files are written as messages come and the figures are gathered in bounded memory (a
chart series of at most a few thousand points, one equity per day for the statistics,
the first fills for the page), so the report of a long replay costs no more memory than
that of a short one.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import ClassVar, Final

from atrium.runtime.codec import decode
from atrium.runtime.errors import JournalError
from atrium.runtime.journal_market import iter_records, market_data_mode
from atrium.runtime.journal_read import open_readonly
from atrium.runtime.messages import (
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
from atrium.runtime.reports.series import ChartSeries
from atrium.runtime.reports.stats import EquityCurve
from atrium.runtime.valuation import MarkedAccount

__all__ = (
    "EQUITY_COLUMNS",
    "TRADES_SHOWN",
    "TRADE_COLUMNS",
    "RunCollector",
    "RunRecord",
    "collect",
    "iso_time",
)

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
_NS_PER_DAY: Final = 86_400 * 1_000_000_000
_EPOCH: Final = date(1970, 1, 1)
_NO_DRAWDOWN: Final = Decimal(0)
#: "THH:MM:" for each minute of a day, and "SS" for each second of a minute.
_CLOCK: Final = tuple(f"T{hour:02d}:{minute:02d}:" for hour in range(24) for minute in range(60))
_SECONDS: Final = tuple(f"{second:02d}" for second in range(60))
_CLOSED: Final = frozenset({"FILLED", "REJECTED", "CANCELLED", "EXPIRED"})
#: Fills kept for the report page (trades.csv has them all).
TRADES_SHOWN: Final = 500
#: Equity rows gathered before they are written.
_ROWS_PER_WRITE: Final = 1024


def iso_time(ts_ns: int) -> str:
    """UTC ISO-8601 with microseconds (truncated) shown only when not zero."""
    return _DayClock().text(ts_ns)


class _DayClock:
    """Formats times as :func:`iso_time` does, keeping the current day's date text.

    It runs for every row of equity.csv, where formatting the clock field by field cost
    more than the row itself: the date is formatted once a day, ``HH:MM:`` and ``SS`` come
    from tables, and a time within the day costs two divisions.
    """

    __slots__ = ("_day", "_start")

    def __init__(self) -> None:
        self._start = 0
        self._day = ""

    def text(self, ts_ns: int) -> str:
        offset = ts_ns - self._start
        if not (self._day and 0 <= offset < _NS_PER_DAY):
            days, offset = divmod(ts_ns, _NS_PER_DAY)
            self._start = ts_ns - offset
            self._day = (_EPOCH + timedelta(days=days)).isoformat()
        seconds, nanos = divmod(offset, 1_000_000_000)
        minute, second = divmod(seconds, 60)
        text = self._day + _CLOCK[minute] + _SECONDS[second]
        micros = nanos // 1000
        return f"{text}.{micros:06d}Z" if micros else text + "Z"


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


def collect(
    journal: Path,
    out_dir: Path,
    initial_equity: Decimal,
    *,
    also: Callable[[Message], None] | None = None,
) -> RunRecord:
    """Rebuild ``trades.csv`` and ``equity.csv`` from a journal; return the record.

    ``also`` sees every message too (the buy-and-hold benchmark follows the bars).

    Raises
    ------
    JournalError
        When the journal cannot be read, or references its market data instead of
        holding it (then nothing is written).
    """
    source = str(journal)
    with closing(open_readonly(journal)) as db:
        if market_data_mode(db, source) == "references":
            # The equity curve is marked at every bar, and reading the files back takes
            # the market data actor's parsers, which the runtime does not import.
            raise JournalError(
                f"{source}: its market data is referenced, not recorded in it, and the "
                "reports need every bar; replay it (`atrium replay --feed "
                f"{source}` writes the reports), or record it with --record-market-data"
            )
        with RunCollector(out_dir, initial_equity) as collector:
            for _, _, _, payload in iter_records(db, source):
                message = decode(payload)
                collector.add(message)
                if also is not None:
                    also(message)
    return collector.record


class RunCollector:
    """Writes the report files as the run publishes, and gathers the figures.

    A replay adds :meth:`add` as a tap, so the reports come from what was sent, in the
    order it was sent, without reading the journal back; :func:`collect` feeds it from a
    journal instead. Memory stays bounded whatever the run's length.
    """

    #: The kinds :meth:`add` reads (a tap for these only spares a call per other message).
    KINDS: ClassVar[frozenset[type[Message]]] = frozenset(
        (
            Bar,
            Tick,
            PortfolioSnapshot,
            SizedOrder,
            Order,
            OrderDenied,
            OrderUpdate,
            Fill,
            PositionUpdate,
        )
    )

    def __init__(self, out_dir: Path, initial_equity: Decimal) -> None:
        self.record = RunRecord(
            initial_equity=initial_equity,
            curve=EquityCurve(float(initial_equity)),
            final_equity=initial_equity,
        )
        self._sizing: dict[str, SizedOrder] = {}
        self._awaiting_position: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._realized: dict[tuple[str, str], Decimal] = {}
        self._held: dict[tuple[str, str], Decimal] = {}
        self._account = MarkedAccount(initial_equity)
        # Closes of the bar being gathered, applied when it is written (after its fills).
        self._closes: dict[str, Decimal] = {}
        self._peak = initial_equity
        self._bar_ts: int | None = None
        self._trades_file = (out_dir / "trades.csv").open("w", newline="", encoding="utf-8")
        self._equity_file = (out_dir / "equity.csv").open("w", newline="", encoding="utf-8")
        self._trades = csv.DictWriter(self._trades_file, TRADE_COLUMNS, lineterminator="\n")
        self._trades.writeheader()
        # Rows are plain numbers and an ISO time (no quoting needed): written directly.
        self._equity_file.write(",".join(EQUITY_COLUMNS) + "\n")
        # Whether the account changed since the last equity row, and that row's values.
        self._changed = True
        self._row_tail = ""
        self._points = (0.0, 0.0, 0.0)
        self._clock = _DayClock()
        # Equity rows not yet written: one write per block costs less than one per bar.
        self._rows: list[str] = []

    def __enter__(self) -> RunCollector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def add(self, message: Message) -> None:
        """Take the next message of the run."""
        if type(message) is Bar:  # most messages are bars: no match for them
            self.record.bars += 1
            self._price(message.ts, message.symbol, message.close)
            return
        match message:
            case Tick():
                self.record.ticks += 1
                self._price(message.ts, message.symbol, message.price)
            case PortfolioSnapshot():
                self._account.apply(message)
                self._changed = True
            case SizedOrder():
                self._sizing[message.order_id] = message
            case Order():
                self.record.orders += 1
            case OrderDenied():
                self.record.denials[message.reason] += 1
                if message.order_id is not None:
                    self._sizing.pop(message.order_id, None)
            case OrderUpdate():
                # Its fills came before it: an order ended unfilled needs no sizing more.
                if message.status in _CLOSED:
                    self._sizing.pop(message.order_id, None)
            case Fill():
                self.record.fills += 1
                row = _trade_row(message, self._sizing.get(message.order_id))
                if not message.leaves_quantity:  # the order is done: its sizing too
                    self._sizing.pop(message.order_id, None)
                key = (message.strategy, message.symbol)
                self._awaiting_position.setdefault(key, []).append(row)
            case PositionUpdate():
                self._position(message)

    def close(self) -> None:
        """Write what is still open (the last bar, fills without a position) and close."""
        if self._trades_file.closed:
            return
        if self._bar_ts is not None:
            self._close_bar(self._bar_ts)
            self._bar_ts = None
        self._equity_file.writelines(self._rows)
        for rows in self._awaiting_position.values():
            for row in rows:
                self._write_trade(row)
        self._awaiting_position.clear()
        self.record.final_equity = self._account.equity
        self.record.final_cash = self._account.cash
        self._trades_file.close()
        self._equity_file.close()

    def _position(self, message: PositionUpdate) -> None:
        key = (message.strategy, message.symbol)
        delta = message.realized_pnl - self._realized.get(key, Decimal(0))
        self._realized[key] = message.realized_pnl
        before = self._held.get(key, Decimal(0))
        self._held[key] = message.quantity
        rows = self._awaiting_position.pop(key, [])
        for index, row in enumerate(rows):
            row["realized_pnl"] = str(delta) if index == len(rows) - 1 else "0"
            self._write_trade(row)
        if rows and _reduces(before, message.quantity):
            # A closing fill: win or loss by the PnL it realized, costs included.
            self.record.wins += delta > 0
            self.record.losses += delta <= 0

    def _price(self, ts: int, symbol: str, price: Decimal) -> None:
        """Note the price of a bar or tick; a new time writes the row of the one before."""
        if ts != self._bar_ts:
            if self._bar_ts is not None:
                self._close_bar(self._bar_ts)
            self._bar_ts = ts
        self._closes[symbol] = price

    def _close_bar(self, ts: int) -> None:
        """Write the equity row of the bar at ``ts``; values are formatted again only when
        the account moved (a flat account repeats the row before)."""
        account = self._account
        changed = self._changed
        closes = self._closes
        for symbol, close in closes.items():
            if account.mark(symbol, close):
                changed = True
        closes.clear()
        if changed:
            self._changed = False
            self._revalue()
        rows = self._rows
        rows.append(self._clock.text(ts) + self._row_tail)
        if len(rows) >= _ROWS_PER_WRITE:
            self._equity_file.writelines(rows)
            rows.clear()
        value, drawdown_pct, exposure = self._points
        record = self.record
        record.curve.add(ts, value)
        record.equity.add(ts, value)
        record.drawdown.add(ts, drawdown_pct)
        record.exposure.add(ts, exposure)

    def _revalue(self) -> None:
        """Format the row values and chart points of an account that moved.

        Floats are parsed from the texts the row holds anyway: ``float(Decimal)`` goes
        through the same text, so the values are the same at less cost.
        """
        account = self._account
        equity = account.equity
        self._peak = max(self._peak, equity)
        peak = self._peak
        drawdown = (peak - equity) / peak if peak > 0 and equity != peak else _NO_DRAWDOWN
        equity_text, gross_text = str(equity), str(account.gross)
        # Joined, not an f-string: a Decimal in an f-string goes through format(), slower
        # than str() for the same text.
        self._row_tail = ",".join(
            ("", equity_text, str(account.cash), gross_text, f"{drawdown:.6f}\n")
        )
        self._points = (
            float(equity_text),
            -100.0 * float(str(drawdown)),
            float(gross_text),
        )

    def _write_trade(self, row: dict[str, str]) -> None:
        self._trades.writerow(row)
        if len(self.record.trades) < TRADES_SHOWN:
            self.record.trades.append(row)


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
