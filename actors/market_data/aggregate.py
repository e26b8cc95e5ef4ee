"""Aggregate a time-ordered tick stream of one symbol into time bars.

Intervals are ``[k * interval, (k + 1) * interval)`` from the Unix epoch (so one-minute
bars start on the minute in UTC) and a bar is stamped with the *end* of its interval: a
bar is only known once its interval is over, and that is when a replay may show it. A
bar is emitted when the first tick of a later interval arrives, or when the feed ends;
an interval without ticks gives no bar. Open is the first price, high and low the
extremes, close the last price, volume the sum of sizes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal

from atrium.runtime.messages import Bar, Tick
from atrium.runtime.snapshots import state_type

__all__ = ("BarBuilder", "aggregate_ticks")


@state_type
class BarBuilder:
    """Builds the time bars of one symbol's ticks as they arrive (live feeds use it)."""

    __slots__ = ("_close", "_end", "_high", "_low", "_open", "_symbol", "_volume", "interval_ns")

    def __init__(self, interval_ns: int) -> None:
        if interval_ns <= 0:
            raise ValueError(f"interval_ns={interval_ns!r} must be > 0")
        self.interval_ns = interval_ns
        self._end: int | None = None
        self._symbol = ""
        self._open = self._high = self._low = self._close = self._volume = Decimal(0)

    @property
    def end(self) -> int | None:
        """End of the interval in progress (None before the first tick and after a flush)."""
        return self._end

    def add(self, tick: Tick) -> Bar | None:
        """Take ``tick``; return the bar it completed (it opened a later interval), if any."""
        price = tick.price
        end = self._end
        if end is not None and tick.ts < end:
            if price > self._high:
                self._high = price
            elif price < self._low:
                self._low = price
            self._close = price
            self._volume += tick.size
            return None
        done = self.flush()
        self._end = (tick.ts // self.interval_ns + 1) * self.interval_ns
        self._symbol = tick.symbol
        self._open = self._high = self._low = self._close = price
        self._volume = tick.size
        return done

    def flush(self) -> Bar | None:
        """The bar in progress, stamped with the end of its interval (None when empty)."""
        if self._end is None:
            return None
        bar = Bar(
            ts=self._end,
            symbol=self._symbol,
            open=self._open,
            high=self._high,
            low=self._low,
            close=self._close,
            volume=self._volume,
        )
        self._end = None
        return bar


def aggregate_ticks(ticks: Iterable[Tick], interval_ns: int) -> Iterator[Bar]:
    """Yield the bars of ``ticks`` (one symbol, timestamps never decreasing)."""
    builder = BarBuilder(interval_ns)
    for tick in ticks:
        bar = builder.add(tick)
        if bar is not None:
            yield bar
    last = builder.flush()
    if last is not None:
        yield last
