"""The figures a researcher reads a backtest by: against buy-and-hold, and trade by trade.

Computed once the run ended, from its equity curve (one equity per UTC day), the
buy-and-hold values (:mod:`.benchmark`) and ``trades.csv``:

* benchmark: its return, CAGR, Sharpe, max drawdown; the strategy's beta, alpha
  (annualised, as empyrical defines it) and correlation against it, from daily returns of
  the days both have;
* round trips per strategy and symbol (a position opened from flat and closed back to
  flat; a reversal closes one and opens the next): their count, win rate, profit factor,
  expectancy, average and largest win and loss (money: exact decimals, costs included),
  average holding time; time in market; Calmar (CAGR / max drawdown); the longest
  drawdown (peak to recovery, in days); monthly returns; a breakdown per strategy and
  per symbol.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any, Final

from atrium.runtime.reports.benchmark import BuyAndHold
from atrium.runtime.reports.stats import NS_PER_DAY, TRADING_DAYS, EquityCurve

__all__ = (
    "RoundTrip",
    "RoundTripTracker",
    "TradeTally",
    "analyse",
    "daily_returns",
    "longest_drawdown_days",
    "monthly_returns",
    "relative_figures",
    "tally_trades",
    "trade_figures",
)

_NS: Final = 1_000_000_000
_ZERO: Final = Decimal(0)
#: Averages of money are kept to the places the ledger keeps (a division has 28 digits).
_PLACES: Final = Decimal("0.0000000001")


def _money(total: Decimal, count: int) -> str:
    return str((total / count).quantize(_PLACES))


@dataclass(frozen=True)
class RoundTrip:
    """A position from flat back to flat; ``pnl`` is what its fills realized, costs in."""

    strategy: str
    symbol: str
    entry_ts: int
    exit_ts: int
    pnl: Decimal


def _ns(text: str) -> int:
    moment = datetime.fromisoformat(text)
    return int(moment.timestamp()) * _NS + moment.microsecond * 1000


class RoundTripTracker:
    """Turns ``trades.csv`` rows, taken in order, into round trips one at a time, so a run
    of millions of fills is read without holding it."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], tuple[Decimal, int, Decimal]] = {}

    def take(self, row: dict[str, str]) -> RoundTrip | None:
        """The round trip ``row`` closed, if it closed one."""
        key = (row["strategy"], row["symbol"])
        signed = Decimal(row["quantity"]) * (1 if row["side"] == "BUY" else -1)
        ts, pnl = _ns(row["time"]), Decimal(row["realized_pnl"] or "0")
        quantity, entry, gathered = self._held.get(key, (_ZERO, ts, _ZERO))
        after = quantity + signed
        if quantity == 0:
            entry, gathered = ts, _ZERO
        gathered += pnl
        trip = None
        if quantity != 0 and (after == 0 or (after > 0) != (quantity > 0)):
            trip = RoundTrip(key[0], key[1], entry, ts, gathered)
            entry, gathered = ts, _ZERO
        if after == 0:
            self._held.pop(key, None)
        else:
            self._held[key] = (after, entry, gathered)
        return trip

    def open_entries(self) -> list[int]:
        """When each position still open was opened."""
        return [entry for _, entry, _ in self._held.values()]


class _Coverage:
    """The union of holding spans, kept short: spans that end before every position still
    open began (and before now) cannot meet a later span and are folded into a total."""

    def __init__(self) -> None:
        self._folded = 0
        self._spans: list[tuple[int, int]] = []  # disjoint, in order

    def add(self, start: int, end: int) -> None:
        spans = self._spans
        while spans and spans[-1][1] >= start:
            low, high = spans.pop()
            start, end = min(start, low), max(end, high)
        spans.append((start, end))

    def fold(self, before: int) -> None:
        spans = self._spans
        done = 0
        while done < len(spans) and spans[done][1] <= before:
            self._folded += spans[done][1] - spans[done][0]
            done += 1
        del spans[:done]

    def total(self) -> int:
        return self._folded + sum(end - start for start, end in self._spans)


@dataclass
class _Group:
    trips: int = 0
    wins: int = 0
    net: Decimal = _ZERO


class TradeTally:
    """Round-trip figures gathered a trip at a time: memory grows with the strategies and
    symbols, never with the number of trades."""

    def __init__(self) -> None:
        self.count = self.wins = self.losses = 0
        self.gross_win = self.gross_loss = self.net = _ZERO
        self.largest_win: Decimal | None = None
        self.largest_loss: Decimal | None = None
        self.held_ns = 0
        self.coverage = _Coverage()
        self.groups: dict[str, dict[str, _Group]] = {"strategy": {}, "symbol": {}}

    def add(self, trip: RoundTrip) -> None:
        pnl = trip.pnl
        self.count += 1
        self.net += pnl
        self.held_ns += trip.exit_ts - trip.entry_ts
        if pnl > 0:
            self.wins += 1
            self.gross_win += pnl
            self.largest_win = pnl if self.largest_win is None else max(self.largest_win, pnl)
        else:
            self.losses += 1
            self.gross_loss -= pnl
            self.largest_loss = pnl if self.largest_loss is None else min(self.largest_loss, pnl)
        self.coverage.add(trip.entry_ts, trip.exit_ts)
        for field, name in (("strategy", trip.strategy), ("symbol", trip.symbol)):
            group = self.groups[field].setdefault(name, _Group())
            group.trips += 1
            group.wins += pnl > 0
            group.net += pnl

    def breakdown(self, field: str) -> dict[str, dict[str, Any]]:
        """Round trips, net PnL and win rate per strategy (``field="strategy"``) or symbol."""
        return {
            name: {
                "round_trips": group.trips,
                "net_pnl": str(group.net),
                "win_rate": group.wins / group.trips,
            }
            for name, group in sorted(self.groups[field].items())
        }


def tally_trades(rows: Iterable[dict[str, str]]) -> tuple[TradeTally, list[int]]:
    """The tally of ``trades.csv`` rows (in order), and the entry times of positions still
    open at the end."""
    tracker, tally = RoundTripTracker(), TradeTally()
    for row in rows:
        trip = tracker.take(row)
        if trip is not None:
            tally.add(trip)
            opened = tracker.open_entries()
            tally.coverage.fold(min(opened, default=trip.exit_ts))
    return tally, tracker.open_entries()


def trade_figures(
    tally: TradeTally, open_entries: list[int], first_ts: int, last_ts: int
) -> dict[str, Any]:
    """Count, win rate, profit factor, expectancy, wins and losses, holding, time in market."""
    count = tally.count
    for entry in sorted(open_entries):
        tally.coverage.add(entry, last_ts)
    covered = tally.coverage.total()
    return {
        "round_trips": count,
        "open_positions": len(open_entries),
        "trade_win_rate": tally.wins / count if count else None,
        "profit_factor": (
            float(tally.gross_win / tally.gross_loss) if tally.gross_loss > 0 else None
        ),
        "expectancy": _money(tally.net, count) if count else None,
        "average_win": _money(tally.gross_win, tally.wins) if tally.wins else None,
        "average_loss": _money(-tally.gross_loss, tally.losses) if tally.losses else None,
        "largest_win": str(tally.largest_win) if tally.largest_win is not None else None,
        "largest_loss": str(tally.largest_loss) if tally.largest_loss is not None else None,
        "average_holding_days": tally.held_ns / count / NS_PER_DAY if count else None,
        "time_in_market": covered / (last_ts - first_ts) if last_ts > first_ts else None,
    }


def daily_returns(initial: float, closes: list[float]) -> list[float]:
    """Simple returns from each day's close to the next (the first from ``initial``)."""
    return [b / a - 1.0 for a, b in pairwise([initial, *closes]) if a > 0]


def relative_figures(
    strategy: list[float], benchmark: list[float], risk_free_rate: float
) -> dict[str, float | None]:
    """Beta, alpha (annualised as empyrical: ``(1 + mean daily alpha)^252 - 1``), correlation."""
    n = len(strategy)
    if n < 2 or n != len(benchmark):
        return {"beta": None, "alpha": None, "correlation": None}
    rf = risk_free_rate / TRADING_DAYS
    s_mean, b_mean = sum(strategy) / n, sum(benchmark) / n
    cov = sum((s - s_mean) * (b - b_mean) for s, b in zip(strategy, benchmark, strict=True))
    b_var = sum((b - b_mean) ** 2 for b in benchmark)
    s_var = sum((s - s_mean) ** 2 for s in strategy)
    beta = cov / b_var if b_var > 0 else None
    alpha = None
    if beta is not None:
        daily = sum(s - rf - beta * (b - rf) for s, b in zip(strategy, benchmark, strict=True))
        alpha = (1 + daily / n) ** TRADING_DAYS - 1
    correlation = cov / math.sqrt(b_var * s_var) if b_var > 0 and s_var > 0 else None
    return {"beta": beta, "alpha": alpha, "correlation": correlation}


def monthly_returns(initial: float, days: list[int], closes: list[float]) -> dict[str, list[Any]]:
    """Return of each calendar month (UTC), by year: 12 entries, ``None`` for months without data."""
    ends: dict[tuple[int, int], float] = {}
    for day, close in zip(days, closes, strict=True):
        moment = datetime.fromtimestamp(day // _NS, tz=UTC)
        ends[(moment.year, moment.month)] = close
    table: dict[str, list[Any]] = {}
    previous = initial
    for (year, month), close in ends.items():
        table.setdefault(str(year), [None] * 12)[month - 1] = close / previous - 1.0
        previous = close
    return table


def longest_drawdown_days(initial: float, days: list[int], closes: list[float]) -> float:
    """Longest time from a peak to the first close back at it (or the run's end), in days."""
    peak, peak_day, longest = initial, days[0] if days else 0, 0
    for day, close in zip(days, closes, strict=True):
        if close >= peak:
            longest = max(longest, day - peak_day)
            peak, peak_day = close, day
    if days:
        longest = max(longest, days[-1] - peak_day)
    return longest / NS_PER_DAY


def benchmark_figures(
    curve: EquityCurve, benchmark: BuyAndHold, risk_free_rate: float
) -> dict[str, Any]:
    """Buy-and-hold's own figures, and the strategy's beta, alpha, correlation against it."""
    held = EquityCurve(benchmark.initial)
    for ts, value in zip(benchmark.days, benchmark.values, strict=True):
        held.add(ts, value)
    stats = held.performance(risk_free_rate)
    mine = dict(zip(curve.days, curve.closes, strict=True))
    theirs = {
        ts - ts % NS_PER_DAY: value
        for ts, value in zip(benchmark.days, benchmark.values, strict=True)
    }
    common = sorted(mine.keys() & theirs.keys())
    figures: dict[str, Any] = {
        "benchmark": ",".join(sorted(benchmark.symbols)),
        "benchmark_return": stats["total_return"] if benchmark.days else None,
        "benchmark_cagr": stats["cagr"],
        "benchmark_sharpe": stats["sharpe"],
        "benchmark_max_drawdown": stats["max_drawdown"] if benchmark.days else None,
    }
    figures |= relative_figures(
        daily_returns(curve.initial, [mine[day] for day in common]),
        daily_returns(benchmark.initial, [theirs[day] for day in common]),
        risk_free_rate,
    )
    return figures


def analyse(
    trades_csv: Path, curve: EquityCurve, benchmark: BuyAndHold | None, risk_free_rate: float
) -> dict[str, Any]:
    """Every figure of this module, as summary entries (``None`` where undefined)."""
    with trades_csv.open(newline="", encoding="utf-8") as handle:
        tally, still_open = tally_trades(csv.DictReader(handle))
    first, last = curve.first_ts or 0, curve.last_ts or 0
    stats = curve.performance(risk_free_rate)
    cagr, drawdown = stats["cagr"], stats["max_drawdown"]
    figures: dict[str, Any] = {}
    if benchmark is not None:
        figures |= benchmark_figures(curve, benchmark, risk_free_rate)
    figures |= trade_figures(tally, still_open, first, last)
    figures["calmar"] = (
        cagr / drawdown
        if isinstance(cagr, float) and isinstance(drawdown, float) and drawdown > 0
        else None
    )
    figures["longest_drawdown_days"] = longest_drawdown_days(
        curve.initial, curve.days, curve.closes
    )
    figures["monthly_returns"] = monthly_returns(curve.initial, curve.days, curve.closes)
    figures["by_strategy"] = tally.breakdown("strategy")
    figures["by_symbol"] = tally.breakdown("symbol")
    return figures
