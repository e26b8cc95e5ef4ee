"""Incremental technical indicators: O(1) per update, float inside, warm-up flags.

This is the one pure module every actor may import (strategies keep their signals with
it; the portfolio may use :class:`WilderATR` for risk sizing). Indicators work in
``float`` because they are statistics, not money: a value that feeds an order crosses
the money boundary as ``Decimal(repr(value))``.

Every indicator exposes ``ready`` (``True`` once the warm-up is over) and ``value``
(``math.nan`` until ``ready``, so a half-warmed number is never mistaken for a real one:
any comparison with ``nan`` is false and ``Decimal(repr(nan))`` is refused by every
message). Inputs are expected to be finite: they come from validated ``Bar``/``Tick``
messages, and re-checking them here would cost every update on the hot path.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Final, final

from atrium.runtime.snapshots import state_type

__all__ = ("EMA", "MACD", "SMA", "RollingHigh", "RollingLow", "WilderATR")

_NAN: Final = math.nan


def _check_period(owner: str, name: str, period: object) -> int:
    # bool is an int subclass; SMA(True) is a typo, not a period of 1.
    if not isinstance(period, int) or isinstance(period, bool) or period < 1:
        raise ValueError(f"{owner} {name} must be an int >= 1, got {period!r}")
    return period


@state_type
@final
class SMA:
    """Simple moving average of the last ``period`` values.

    Keeps a running sum (add the new value, subtract the one leaving the window) and
    re-adds the window exactly with :func:`math.fsum` once every ``period`` updates, so
    rounding error from the running sum cannot build up over millions of updates while
    each update stays O(1) amortised.

    Parameters
    ----------
    period : int
        Window length, >= 1. Ready after ``period`` values.
    """

    __slots__ = ("_since_resum", "_sum", "_window", "period", "ready", "value")

    def __init__(self, period: int) -> None:
        self.period: Final = _check_period("SMA", "period", period)
        self._window: deque[float] = deque(maxlen=period)
        self._sum = 0.0
        self._since_resum = 0
        self.ready = False
        self.value = _NAN

    def update(self, x: float) -> None:
        """Add one value."""
        window = self._window
        if len(window) == self.period:
            self._sum += x - window[0]
        else:
            self._sum += x
        window.append(x)
        self._since_resum += 1
        if self._since_resum >= self.period:
            self._since_resum = 0
            self._sum = math.fsum(window)
        if len(window) == self.period:
            self.ready = True
            self.value = self._sum / self.period


@state_type
@final
class EMA:
    """Exponential moving average, ``alpha = 2 / (period + 1)``.

    Seeded with the simple mean of the first ``period`` values (the usual convention, so
    the first value does not depend on where the series happened to start), then
    ``ema += alpha * (x - ema)``.

    Parameters
    ----------
    period : int
        Smoothing length, >= 1. Ready after ``period`` values.
    """

    __slots__ = ("_alpha", "_count", "_seed_sum", "period", "ready", "value")

    def __init__(self, period: int) -> None:
        self.period: Final = _check_period("EMA", "period", period)
        self._alpha = 2.0 / (period + 1)
        self._count = 0
        self._seed_sum = 0.0
        self.ready = False
        self.value = _NAN

    def update(self, x: float) -> None:
        """Add one value."""
        if self.ready:
            self.value += self._alpha * (x - self.value)
            return
        self._count += 1
        self._seed_sum += x
        if self._count == self.period:
            self.ready = True
            self.value = self._seed_sum / self.period


@state_type
@final
class WilderATR:
    """Average true range with Wilder's smoothing.

    The true range is ``max(high, prev_close) - min(low, prev_close)``; the first bar has
    no previous close, so its true range is ``high - low``. The first ATR is the simple
    mean of the first ``period`` true ranges, then ``atr = (atr * (period - 1) + tr) /
    period``.

    Parameters
    ----------
    period : int, default 14
        Smoothing length, >= 1. Ready after ``period`` bars.
    """

    __slots__ = ("_count", "_prev_close", "_seed_sum", "period", "ready", "value")

    def __init__(self, period: int = 14) -> None:
        self.period: Final = _check_period("WilderATR", "period", period)
        self._prev_close = _NAN
        self._count = 0
        self._seed_sum = 0.0
        self.ready = False
        self.value = _NAN

    def update(self, high: float, low: float, close: float) -> None:
        """Add one bar."""
        prev = self._prev_close
        self._prev_close = close
        if self._count == 0:
            tr = high - low
        else:
            tr = (high if high > prev else prev) - (low if low < prev else prev)
        if self.ready:
            self.value = (self.value * (self.period - 1) + tr) / self.period
            return
        self._count += 1
        self._seed_sum += tr
        if self._count == self.period:
            self.ready = True
            self.value = self._seed_sum / self.period


@state_type
@final
class MACD:
    """Moving average convergence/divergence.

    ``macd = EMA(fast) - EMA(slow)`` once the slow EMA is ready; ``signal`` is the EMA
    (``signal`` periods, seeded the same way) of the macd line from that bar on; and
    ``histogram = macd - signal``. ``value`` is the macd line. Ready (all three defined)
    after ``slow + signal - 1`` values.

    Parameters
    ----------
    fast : int, default 12
        Fast EMA period, >= 1 and < ``slow``.
    slow : int, default 26
        Slow EMA period.
    signal : int, default 9
        Signal-line EMA period, >= 1.
    """

    __slots__ = ("_fast", "_signal", "_slow", "histogram", "macd", "ready", "signal", "value")

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        _check_period("MACD", "fast", fast)
        _check_period("MACD", "slow", slow)
        _check_period("MACD", "signal", signal)
        if fast >= slow:
            raise ValueError(f"MACD fast must be < slow, got fast={fast}, slow={slow}")
        self._fast = EMA(fast)
        self._slow = EMA(slow)
        self._signal = EMA(signal)
        self.ready = False
        self.value = _NAN
        self.macd = _NAN
        self.signal = _NAN
        self.histogram = _NAN

    def update(self, x: float) -> None:
        """Add one value."""
        fast = self._fast
        slow = self._slow
        fast.update(x)
        slow.update(x)
        if not slow.ready:
            return
        macd = fast.value - slow.value
        sig = self._signal
        sig.update(macd)
        if sig.ready:
            self.ready = True
            self.value = self.macd = macd
            self.signal = sig.value
            self.histogram = macd - sig.value


class _RollingExtreme:
    """Largest of the last ``period`` values of ``sign * x`` (the shared monotonic deque).

    A monotonic deque holds the candidates in decreasing order (a value that a newer,
    higher-or-equal value dominates can never be the extreme again, so it is dropped);
    each value enters and leaves once, so an update is O(1) amortised.
    """

    __slots__ = ("_count", "_indices", "_sign", "_values", "period", "ready", "value")

    def __init__(self, name: str, period: int, sign: float) -> None:
        self.period: Final = _check_period(name, "period", period)
        self._sign = sign
        # Two parallel deques rather than one of tuples: no allocation per update.
        self._values: deque[float] = deque()
        self._indices: deque[int] = deque()
        self._count = 0
        self.ready = False
        self.value = _NAN

    def update(self, x: float) -> None:
        """Add one value."""
        values = self._values
        indices = self._indices
        signed = self._sign * x
        while values and values[-1] <= signed:
            values.pop()
            indices.pop()
        values.append(signed)
        count = self._count
        indices.append(count)
        count += 1
        self._count = count
        if indices[0] <= count - 1 - self.period:
            values.popleft()
            indices.popleft()
        if count >= self.period:
            self.ready = True
            self.value = self._sign * values[0]


@state_type
@final
class RollingHigh(_RollingExtreme):
    """Highest of the last ``period`` values.

    Parameters
    ----------
    period : int
        Window length, >= 1. Ready after ``period`` values.
    """

    __slots__ = ()

    def __init__(self, period: int) -> None:
        super().__init__("RollingHigh", period, 1.0)


@state_type
@final
class RollingLow(_RollingExtreme):
    """Lowest of the last ``period`` values.

    Parameters
    ----------
    period : int
        Window length, >= 1. Ready after ``period`` values.
    """

    __slots__ = ()

    def __init__(self, period: int) -> None:
        super().__init__("RollingLow", period, -1.0)
