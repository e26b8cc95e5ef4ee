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

from runtime.messages import Bar, Tick

__all__ = ("aggregate_ticks",)


def aggregate_ticks(ticks: Iterable[Tick], interval_ns: int) -> Iterator[Bar]:
    """Yield the bars of ``ticks`` (one symbol, timestamps never decreasing)."""
    if interval_ns <= 0:
        raise ValueError(f"interval_ns={interval_ns!r} must be > 0")
    stream = iter(ticks)
    first = next(stream, None)
    if first is None:
        return
    symbol = first.symbol
    end = (first.ts // interval_ns + 1) * interval_ns
    open_ = high = low = close = first.price
    volume = first.size
    for tick in stream:
        price = tick.price
        if tick.ts >= end:
            yield Bar(
                ts=end, symbol=symbol, open=open_, high=high, low=low, close=close, volume=volume
            )
            end = (tick.ts // interval_ns + 1) * interval_ns
            open_ = high = low = close = price
            volume = tick.size
            continue
        if price > high:
            high = price
        elif price < low:
            low = price
        close = price
        volume += tick.size
    yield Bar(ts=end, symbol=symbol, open=open_, high=high, low=low, close=close, volume=volume)
