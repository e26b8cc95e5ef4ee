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
    "analyse",
    "breakdown",
    "daily_returns",
    "longest_drawdown_days",
    "monthly_returns",
    "relative_figures",
    "round_trips",
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


def round_trips(rows: list[dict[str, str]]) -> tuple[list[RoundTrip], list[int]]:
    """Round trips of ``trades.csv`` rows, and the entry times of positions still open."""
    held: dict[tuple[str, str], tuple[Decimal, int, Decimal]] = {}
    trips: list[RoundTrip] = []
    for row in rows:
        key = (row["strategy"], row["symbol"])
        signed = Decimal(row["quantity"]) * (1 if row["side"] == "BUY" else -1)
        ts, pnl = _ns(row["time"]), Decimal(row["realized_pnl"] or "0")
        quantity, entry, gathered = held.get(key, (_ZERO, ts, _ZERO))
        after = quantity + signed
        if quantity == 0:
            entry, gathered = ts, _ZERO
        gathered += pnl
        if quantity != 0 and (after == 0 or (after > 0) != (quantity > 0)):
            trips.append(RoundTrip(key[0], key[1], entry, ts, gathered))
            entry, gathered = ts, _ZERO
        if after == 0:
            held.pop(key, None)
        else:
            held[key] = (after, entry, gathered)
    return trips, [entry for _, entry, _ in held.values()]


def trade_figures(
    trips: list[RoundTrip], open_entries: list[int], first_ts: int, last_ts: int
) -> dict[str, Any]:
    """Count, win rate, profit factor, expectancy, wins and losses, holding, time in market."""
    wins = [trip.pnl for trip in trips if trip.pnl > 0]
    losses = [trip.pnl for trip in trips if trip.pnl <= 0]
    gross_win, gross_loss = sum(wins, _ZERO), -sum(losses, _ZERO)
    count = len(trips)
    spans = [(t.entry_ts, t.exit_ts) for t in trips]
    spans += [(entry, last_ts) for entry in open_entries]
    return {
        "round_trips": count,
        "open_positions": len(open_entries),
        "trade_win_rate": len(wins) / count if count else None,
        "profit_factor": float(gross_win / gross_loss) if gross_loss > 0 else None,
        "expectancy": _money(sum((t.pnl for t in trips), _ZERO), count) if count else None,
        "average_win": _money(gross_win, len(wins)) if wins else None,
        "average_loss": _money(-gross_loss, len(losses)) if losses else None,
        "largest_win": str(max(wins)) if wins else None,
        "largest_loss": str(min(losses)) if losses else None,
        "average_holding_days": (
            sum(t.exit_ts - t.entry_ts for t in trips) / count / NS_PER_DAY if count else None
        ),
        "time_in_market": _covered(spans) / (last_ts - first_ts) if last_ts > first_ts else None,
    }


def _covered(spans: list[tuple[int, int]]) -> int:
    """Nanoseconds covered by the union of ``spans`` (positions in several symbols overlap)."""
    total, reach = 0, None
    for start, end in sorted(spans):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def breakdown(trips: list[RoundTrip], field: str) -> dict[str, dict[str, Any]]:
    """Round trips, net PnL and win rate per strategy (``field="strategy"``) or symbol."""
    groups: dict[str, list[RoundTrip]] = {}
    for trip in trips:
        groups.setdefault(getattr(trip, field), []).append(trip)
    return {
        name: {
            "round_trips": len(group),
            "net_pnl": str(sum((t.pnl for t in group), _ZERO)),
            "win_rate": sum(t.pnl > 0 for t in group) / len(group),
        }
        for name, group in sorted(groups.items())
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
        rows = list(csv.DictReader(handle))
    trips, still_open = round_trips(rows)
    first, last = curve.first_ts or 0, curve.last_ts or 0
    stats = curve.performance(risk_free_rate)
    cagr, drawdown = stats["cagr"], stats["max_drawdown"]
    figures: dict[str, Any] = {}
    if benchmark is not None:
        figures |= benchmark_figures(curve, benchmark, risk_free_rate)
    figures |= trade_figures(trips, still_open, first, last)
    figures["calmar"] = (
        cagr / drawdown
        if isinstance(cagr, float) and isinstance(drawdown, float) and drawdown > 0
        else None
    )
    figures["longest_drawdown_days"] = longest_drawdown_days(
        curve.initial, curve.days, curve.closes
    )
    figures["monthly_returns"] = monthly_returns(curve.initial, curve.days, curve.closes)
    figures["by_strategy"] = breakdown(trips, "strategy")
    figures["by_symbol"] = breakdown(trips, "symbol")
    return figures
