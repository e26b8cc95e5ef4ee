"""``momentum_atr``: follow the MACD trend, risk a multiple of ATR, exit at the stop.

Entry: when the MACD histogram turns positive (from <= 0 to > 0) and the strategy is
flat, it buys with ``risk_per_share = atr_stop_multiplier * ATR`` (Wilder ATR, Decimal at
the boundary) and ``risk_pct``, so the portfolio sizes the position by the money lost at
the stop. With ``allow_short`` a histogram turning negative sells short the same way.
Entries fire on the turn, not on every bar of a trend, so a stopped-out trade is not
re-entered until the trend turns again; the first bar on which MACD and ATR are both
ready only records the histogram, so the warm-up never fires an entry.

Stop: once the portfolio reports the position open, the stop is the entry price (the
position's average price) minus ``risk_per_share`` for a long and plus it for a short,
so the stop is always on the losing side of the position. With ``trail_stop`` it then
follows the close (``close - risk`` for a long, only ever upwards; mirrored for a short)
using the current ATR.

Exit: ``close`` when a bar closes through the stop (long: close <= stop; short: close >=
stop) or the trend turns against the position (histogram < 0 for a long, > 0 for a
short). Stops are checked on bar closes: the strategy states market intents only.

Position comes from the portfolio's ``PositionUpdate``s, never from the strategy's own
intents: an entry or exit in flight is remembered only so it is not sent twice, and a
denial or a rejected/cancelled/expired order clears it.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Annotated, Final

import msgspec

from atrium.actors.indicators import MACD, WilderATR
from atrium.actors.strategy.api import Strategy
from atrium.config.base import ConfigBase
from atrium.runtime.messages import Bar, OrderDenied, OrderUpdate, PositionUpdate
from atrium.runtime.snapshots import state_type

__all__ = ("MomentumAtr", "MomentumAtrParams")

_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
_DEAD_ORDER: Final = frozenset({"REJECTED", "CANCELLED", "EXPIRED"})

Period = Annotated[int, msgspec.Meta(ge=1)]


class MomentumAtrParams(ConfigBase, frozen=True, kw_only=True):
    """``[strategies.<name>.params]`` of :class:`MomentumAtr`.

    Parameters
    ----------
    fast : int, default 12
        MACD fast EMA period, >= 1 and < ``slow``.
    slow : int, default 26
        MACD slow EMA period, >= 1.
    signal : int, default 9
        MACD signal EMA period, >= 1.
    atr_period : int, default 14
        Wilder ATR period, >= 1.
    atr_stop_multiplier : float, default 2.0
        Stop distance in ATRs (``risk_per_share = atr_stop_multiplier * ATR``), > 0.
    risk_pct : Decimal or None, default None
        Fraction of equity to lose at the stop, in (0, 1]. ``None``: the portfolio's
        default.
    allow_short : bool, default false
        Also sell short when the histogram turns negative.
    trail_stop : bool, default false
        Trail the stop behind the close by ``atr_stop_multiplier * ATR``.
    """

    fast: Period = 12
    slow: Period = 26
    signal: Period = 9
    atr_period: Period = 14
    atr_stop_multiplier: Annotated[float, msgspec.Meta(gt=0)] = 2.0
    risk_pct: Decimal | None = None
    allow_short: bool = False
    trail_stop: bool = False

    def __post_init__(self) -> None:
        if self.fast >= self.slow:
            raise ValueError(f"fast: must be < slow, got fast={self.fast}, slow={self.slow}")
        # msgspec cannot bound a Decimal, so the range is checked here.
        if self.risk_pct is not None and not (
            self.risk_pct.is_finite() and _ZERO < self.risk_pct <= _ONE
        ):
            raise ValueError(f"risk_pct: expected a number in (0, 1], got {self.risk_pct}")


@state_type
class _Book:
    """Indicators and trade state of one symbol."""

    __slots__ = ("atr", "entry_risk", "exiting", "histogram", "macd", "pending", "stop")

    def __init__(self, params: MomentumAtrParams) -> None:
        self.macd = MACD(params.fast, params.slow, params.signal)
        self.atr = WilderATR(params.atr_period)
        # Last histogram seen; nan until both indicators are ready, so the first ready
        # bar only records the trend (every comparison with nan is false).
        self.histogram = math.nan
        self.entry_risk: float | None = None  # risk_per_share of the entry in flight
        self.pending = False  # an entry intent is in flight
        self.exiting = False  # a close intent is in flight
        self.stop: float | None = None


class MomentumAtr(Strategy[MomentumAtrParams]):
    """MACD trend with a Wilder-ATR stop. See the module docstring."""

    Params = MomentumAtrParams

    def on_start(self) -> None:
        self._books = {symbol: _Book(self.params) for symbol in self.symbols}

    def stop_price(self, symbol: str) -> float | None:
        """The current stop of the open position in ``symbol``; ``None`` when none is set."""
        return self._books[symbol].stop

    def on_bar(self, bar: Bar) -> None:
        symbol = bar.symbol
        book = self._books[symbol]
        close = float(bar.close)
        book.atr.update(float(bar.high), float(bar.low), close)
        macd = book.macd
        macd.update(close)
        if not (macd.ready and book.atr.ready):
            return
        previous = book.histogram
        histogram = book.histogram = macd.histogram
        risk = self.params.atr_stop_multiplier * book.atr.value
        position = self.position(symbol)
        if position > _ZERO:
            self._manage_long(symbol, book, close, histogram, risk)
        elif position < _ZERO:
            self._manage_short(symbol, book, close, histogram, risk)
        elif not book.pending:
            if histogram > 0.0 >= previous:
                self._enter(symbol, book, risk, buy=True)
            elif self.params.allow_short and histogram < 0.0 <= previous:
                self._enter(symbol, book, risk, buy=False)

    def _enter(self, symbol: str, book: _Book, risk: float, *, buy: bool) -> None:
        book.pending = True
        book.entry_risk = risk
        risk_per_share = Decimal(repr(risk))
        if buy:
            self.buy(
                symbol, risk_pct=self.params.risk_pct, risk_per_share=risk_per_share, tag="entry"
            )
        else:
            self.sell(
                symbol, risk_pct=self.params.risk_pct, risk_per_share=risk_per_share, tag="entry"
            )

    def _manage_long(
        self, symbol: str, book: _Book, close: float, histogram: float, risk: float
    ) -> None:
        stop = book.stop
        if stop is None:  # opened before a restart: rebuild the stop from the entry price
            stop = book.stop = self._initial_stop(symbol, risk, long=True)
        elif self.params.trail_stop and close - risk > stop:
            stop = book.stop = close - risk
        if book.exiting:
            return
        if close <= stop:
            book.exiting = True
            self.close(symbol, tag="stop")
        elif histogram < 0.0:
            book.exiting = True
            self.close(symbol, tag="trend")

    def _manage_short(
        self, symbol: str, book: _Book, close: float, histogram: float, risk: float
    ) -> None:
        stop = book.stop
        if stop is None:
            stop = book.stop = self._initial_stop(symbol, risk, long=False)
        elif self.params.trail_stop and close + risk < stop:
            stop = book.stop = close + risk
        if book.exiting:
            return
        if close >= stop:
            book.exiting = True
            self.close(symbol, tag="stop")
        elif histogram > 0.0:
            book.exiting = True
            self.close(symbol, tag="trend")

    def _initial_stop(self, symbol: str, risk: float, *, long: bool) -> float:
        entry = self.entry_price(symbol)
        assert entry is not None  # only called with a position open
        reference = float(entry)
        return reference - risk if long else reference + risk

    # -- order flow --------------------------------------------------------------------------

    def on_position(self, update: PositionUpdate) -> None:
        book = self._books.get(update.symbol)
        if book is None:
            return
        if update.quantity == _ZERO:
            book.stop = None
            book.exiting = False
            book.pending = False
            book.entry_risk = None
            return
        if book.pending and book.entry_risk is not None:
            # The entry filled: the stop sits risk_per_share from the actual entry price,
            # below a long and above a short.
            entry = float(update.avg_price)
            risk = book.entry_risk
            book.stop = entry - risk if update.quantity > _ZERO else entry + risk
            book.pending = False
            book.entry_risk = None

    def on_denied(self, denied: OrderDenied) -> None:
        self._forget_in_flight(denied.symbol)

    def on_order_update(self, update: OrderUpdate) -> None:
        if update.status in _DEAD_ORDER:
            self._forget_in_flight(update.symbol)

    def _forget_in_flight(self, symbol: str) -> None:
        book = self._books.get(symbol)
        if book is not None:
            book.pending = False
            book.entry_risk = None
            book.exiting = False
