"""Performance statistics of an equity curve. Floats: statistics, not accounting.

Returns are daily (the last equity of each UTC day), annualised with sqrt(252). Under one
day of data nothing is annualised: CAGR, volatility, Sharpe and Sortino are ``None`` and
``annualised_note`` says why (a few hours' return raised to the power of a year is noise).
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Final

__all__ = ("EquityCurve", "PerformanceStats")

TRADING_DAYS: Final = 252
NS_PER_DAY: Final = 86_400 * 10**9
NS_PER_YEAR: Final = int(365.25 * NS_PER_DAY)
_UNDER_A_DAY: Final = "under one day of data"


class PerformanceStats(dict[str, float | str | None]):
    """Named figures; ``None`` where a figure is undefined (e.g. volatility of one day).

    ``annualised_note`` is ``None``, or why the annualised figures are ``None``.
    """


class EquityCurve:
    """What the statistics need of an equity curve, gathered one point at a time.

    It keeps one float per UTC day however many points arrive, so a replay of ten
    million bars computes its statistics in the memory of a few thousand days.
    """

    __slots__ = (
        "_day_end",
        "_day_start",
        "_peak",
        "closes",
        "days",
        "final",
        "first_ts",
        "initial",
        "last_ts",
        "max_drawdown",
    )

    def __init__(self, initial_equity: float) -> None:
        self.initial = initial_equity
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        self.final = initial_equity
        #: The last equity of each UTC day, in time order.
        self.closes: list[float] = []
        #: The start (UTC midnight, ns) of the day of each close.
        self.days: list[int] = []
        # The UTC day of the last close, as [start, end) in ns (empty before the first).
        self._day_start = self._day_end = 0
        self._peak = initial_equity
        #: Largest fall from a running peak (the initial equity included), as a fraction.
        self.max_drawdown = 0.0

    def add(self, ts: int, equity: float) -> None:
        """Take the equity at ``ts`` (nanoseconds, in time order).

        It runs for every bar: the day is compared by bounds, not found by a division.
        """
        self.last_ts = ts
        self.final = equity
        if self._day_start <= ts < self._day_end:
            self.closes[-1] = equity
        else:
            if self.first_ts is None:
                self.first_ts = ts
            self.closes.append(equity)
            self._day_start = ts - ts % NS_PER_DAY
            self.days.append(self._day_start)
            self._day_end = self._day_start + NS_PER_DAY
        peak = self._peak
        if equity > peak:
            self._peak = equity
        elif peak > 0:
            drawdown = (peak - equity) / peak
            self.max_drawdown = max(self.max_drawdown, drawdown)

    def performance(self, risk_free_rate: float = 0.0) -> PerformanceStats:
        """Return, CAGR, volatility, Sharpe, Sortino and max drawdown of the curve."""
        initial, final = self.initial, self.final
        stats = PerformanceStats()
        stats["total_return"] = final / initial - 1.0
        span_ns = (
            self.last_ts - self.first_ts
            if self.last_ts is not None and self.first_ts is not None
            else 0
        )
        if self.first_ts is None or span_ns < NS_PER_DAY:
            stats["annualised_note"] = "no data" if self.first_ts is None else _UNDER_A_DAY
            stats["cagr"] = stats["volatility"] = stats["sharpe"] = stats["sortino"] = None
            stats["max_drawdown"] = self.max_drawdown
            return stats
        stats["annualised_note"] = None
        years = span_ns / NS_PER_YEAR
        stats["cagr"] = (
            (final / initial) ** (1.0 / years) - 1.0 if years > 0 and final > 0 else None
        )
        closes = [initial, *self.closes]
        returns = [b / a - 1.0 for a, b in pairwise(closes) if a > 0]
        daily_rf = risk_free_rate / TRADING_DAYS
        excess = [r - daily_rf for r in returns]
        if len(returns) >= 2:
            mean = sum(excess) / len(excess)
            average = sum(returns) / len(returns)
            variance = sum((r - average) ** 2 for r in returns) / (len(returns) - 1)
            volatility = math.sqrt(variance)
            downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in excess) / len(excess))
            stats["volatility"] = volatility * math.sqrt(TRADING_DAYS)
            stats["sharpe"] = (
                mean / volatility * math.sqrt(TRADING_DAYS) if volatility > 0 else None
            )
            stats["sortino"] = mean / downside * math.sqrt(TRADING_DAYS) if downside > 0 else None
        else:
            stats["volatility"] = stats["sharpe"] = stats["sortino"] = None
        stats["max_drawdown"] = self.max_drawdown
        return stats
