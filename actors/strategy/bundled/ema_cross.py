"""``ema_cross``: long while the fast EMA is above the slow one.

A cross up (fast moves above slow) buys; a cross down closes the long, and with
``allow_short`` also sells short (a cross up then closes the short before buying). A cross
is a change of sign of ``fast - slow`` between bars on which both EMAs are ready; the
first ready bar only records the sign, so the warm-up never fires a signal, and a bar
where the EMAs are equal changes nothing. Signals act on the position the portfolio
reports, so a denied exit is not mistaken for a flat book.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import msgspec

from atrium.actors.indicators import EMA
from atrium.actors.strategy.api import Strategy
from atrium.config.base import ConfigBase
from atrium.runtime.messages import Bar
from atrium.runtime.snapshots import state_type

__all__ = ("EmaCross", "EmaCrossParams")

_ZERO = Decimal(0)


class EmaCrossParams(ConfigBase, frozen=True, kw_only=True):
    """``[strategies.<name>.params]`` of :class:`EmaCross`.

    Parameters
    ----------
    fast : int, default 10
        Fast EMA period, >= 1 and < ``slow``.
    slow : int, default 30
        Slow EMA period, >= 2.
    allow_short : bool, default false
        Go short on a cross down (and cover on the next cross up) instead of only exiting.
    quantity : Decimal or None, default None
        Fixed quantity per entry, > 0. ``None``: the portfolio sizes the entry with its
        default sizing mode.
    """

    fast: Annotated[int, msgspec.Meta(ge=1)] = 10
    slow: Annotated[int, msgspec.Meta(ge=2)] = 30
    allow_short: bool = False
    quantity: Decimal | None = None

    def __post_init__(self) -> None:
        if self.fast >= self.slow:
            raise ValueError(f"fast: must be < slow, got fast={self.fast}, slow={self.slow}")
        # msgspec cannot bound a Decimal, so the range is checked here.
        if self.quantity is not None and not (self.quantity.is_finite() and self.quantity > 0):
            raise ValueError(f"quantity: expected a number > 0, got {self.quantity}")


@state_type
class _Crossing:
    """The two EMAs of one symbol and the sign of ``fast - slow`` at the last change."""

    __slots__ = ("fast", "sign", "slow")

    def __init__(self, fast: int, slow: int) -> None:
        self.fast = EMA(fast)
        self.slow = EMA(slow)
        self.sign = 0  # 0 until both EMAs are ready and differ


class EmaCross(Strategy[EmaCrossParams]):
    """Fast/slow EMA crossover, long only or long/short. See the module docstring."""

    Params = EmaCrossParams

    def on_start(self) -> None:
        params = self.params
        self._crossings = {symbol: _Crossing(params.fast, params.slow) for symbol in self.symbols}

    def on_bar(self, bar: Bar) -> None:
        crossing = self._crossings[bar.symbol]
        close = float(bar.close)
        fast = crossing.fast
        slow = crossing.slow
        fast.update(close)
        slow.update(close)
        if not slow.ready:  # fast < slow, so fast is ready too
            return
        diff = fast.value - slow.value
        if diff == 0.0:
            return
        sign = 1 if diff > 0.0 else -1
        previous = crossing.sign
        crossing.sign = sign
        if previous in (0, sign):  # warm-up just ended, or no change
            return
        symbol = bar.symbol
        position = self.position(symbol)
        quantity = self.params.quantity
        if sign > 0:
            if position < _ZERO:
                self.close(symbol, tag="cross_up")
            if position <= _ZERO:
                self.buy(symbol, quantity, tag="cross_up")
        else:
            if position > _ZERO:
                self.close(symbol, tag="cross_down")
            if self.params.allow_short and position >= _ZERO:
                self.sell(symbol, quantity, tag="cross_down")
