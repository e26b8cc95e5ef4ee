"""Buy-and-hold of the traded symbols: what the strategy is measured against.

A strategy's +39.5 % over NVDA 1999-2014 says little when holding NVDA made +1,120 %.
:class:`BuyAndHold` follows the market data of the symbols the strategies trade (or a
configured benchmark symbol) and values, at the end of each UTC day, the initial capital
put in equal parts into each symbol at its first price: ``initial × mean(last / first)``.
A symbol whose data starts later joins then with its share. Floats: a statistic, not
accounting; no costs, no dividends beyond what the prices carry.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Final

from atrium.config.schema import AtriumConfig
from atrium.runtime.messages import Bar, Message, Tick
from atrium.runtime.reports.series import ChartSeries

__all__ = ("BuyAndHold", "benchmark_symbols")

_NS_PER_DAY: Final = 86_400 * 1_000_000_000


class BuyAndHold:
    """Daily values of an equal-weight buy-and-hold of ``symbols``, from the run's messages.

    ``days`` holds the time of each day's last price and ``values`` the value then; the
    work per bar is two dict writes, the valuation runs once a day.
    """

    KINDS: ClassVar[frozenset[type[Message]]] = frozenset((Bar, Tick))

    def __init__(self, initial: float, symbols: frozenset[str]) -> None:
        self.initial = initial
        self.symbols = symbols
        # Prices as they came: converted to float once a day, not on every bar.
        self._first: dict[str, float] = {}
        self._last: dict[str, Decimal] = {}
        self._day_start = self._day_end = 0
        self._last_ts: int | None = None
        self.days: list[int] = []
        self.values: list[float] = []
        self.chart = ChartSeries()

    def add(self, message: Message) -> None:
        """Take a bar or tick; a symbol not followed is passed over."""
        if type(message) is Bar:
            price = message.close
        elif type(message) is Tick:
            price = message.price
        else:
            return
        symbol = message.symbol
        if symbol not in self.symbols:
            return
        ts = message.ts
        if not self._day_start <= ts < self._day_end:
            self._end_day()
            self._day_start = ts - ts % _NS_PER_DAY
            self._day_end = self._day_start + _NS_PER_DAY
        if symbol not in self._first:
            self._first[symbol] = float(price)
        self._last[symbol] = price
        self._last_ts = ts

    def finish(self) -> None:
        """Value the last day (call once the run ended)."""
        self._end_day()
        self._last_ts = None

    def _end_day(self) -> None:
        if self._last_ts is None:
            return
        first = self._first
        growth = sum(float(last) / first[symbol] for symbol, last in self._last.items())
        value = self.initial * growth / len(self._last)
        self.days.append(self._last_ts)
        self.values.append(value)
        self.chart.add(self._last_ts, value)


def benchmark_symbols(config: AtriumConfig) -> frozenset[str]:
    """``[replay].benchmark``, or else every symbol an enabled strategy trades."""
    if config.replay.benchmark:
        return frozenset(config.replay.benchmark)
    return frozenset(
        symbol for spec in config.strategies.values() if spec.enabled for symbol in spec.symbols
    )
