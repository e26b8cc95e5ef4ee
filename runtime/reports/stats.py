"""Performance statistics of an equity curve. Floats: statistics, not accounting.

Returns are daily (the last equity of each UTC day), annualised with sqrt(252).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Final

__all__ = ("PerformanceStats", "daily_closes", "max_drawdown", "performance")

TRADING_DAYS: Final = 252
NS_PER_DAY: Final = 86_400 * 10**9
NS_PER_YEAR: Final = int(365.25 * NS_PER_DAY)


def daily_closes(points: Sequence[tuple[int, float]]) -> list[float]:
    """Last equity of each UTC day, in time order (``points`` are ``(ts_ns, equity)``)."""
    closes: list[float] = []
    current_day: int | None = None
    for ts, equity in points:
        day = ts // NS_PER_DAY
        if day == current_day:
            closes[-1] = equity
        else:
            closes.append(equity)
            current_day = day
    return closes


class PerformanceStats(dict[str, float | None]):
    """Named figures; ``None`` where a figure is undefined (e.g. volatility of one day)."""


def performance(
    points: Sequence[tuple[int, float]], initial_equity: float, risk_free_rate: float = 0.0
) -> PerformanceStats:
    """Return, CAGR, volatility, Sharpe, Sortino and max drawdown of an equity curve."""
    stats = PerformanceStats()
    final = points[-1][1] if points else initial_equity
    stats["total_return"] = final / initial_equity - 1.0
    span_ns = points[-1][0] - points[0][0] if len(points) > 1 else 0
    years = span_ns / NS_PER_YEAR
    stats["cagr"] = (
        (final / initial_equity) ** (1.0 / years) - 1.0 if years > 0 and final > 0 else None
    )
    closes = [initial_equity, *daily_closes(points)]
    returns = [b / a - 1.0 for a, b in pairwise(closes) if a > 0]
    daily_rf = risk_free_rate / TRADING_DAYS
    excess = [r - daily_rf for r in returns]
    if len(returns) >= 2:
        mean = sum(excess) / len(excess)
        variance = sum((r - sum(returns) / len(returns)) ** 2 for r in returns) / (len(returns) - 1)
        volatility = math.sqrt(variance)
        downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in excess) / len(excess))
        stats["volatility"] = volatility * math.sqrt(TRADING_DAYS)
        stats["sharpe"] = mean / volatility * math.sqrt(TRADING_DAYS) if volatility > 0 else None
        stats["sortino"] = mean / downside * math.sqrt(TRADING_DAYS) if downside > 0 else None
    else:
        stats["volatility"] = stats["sharpe"] = stats["sortino"] = None
    stats["max_drawdown"] = max_drawdown([initial_equity, *(equity for _, equity in points)])
    return stats


def max_drawdown(equity: Sequence[float]) -> float:
    """Largest fall from a running peak, as a fraction of that peak (0.25 = 25 %)."""
    peak = -math.inf
    worst = 0.0
    for value in equity:
        peak = max(peak, value)
        if peak > 0:
            worst = max(worst, (peak - value) / peak)
    return worst
