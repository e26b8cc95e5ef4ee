"""The strategy API: what a strategy author subclasses and calls.

A strategy sees market data and its own order flow, keeps its indicators, and states
*intent* (``buy``, ``sell``, ``close``); the portfolio turns an intent into a quantity.
A strategy never sees cash and never sizes. Callbacks are plain sync methods, called one
message at a time by the strategy actor; none may block.

Writing one::

    class BreakoutParams(ConfigBase, frozen=True, kw_only=True):
        lookback: Annotated[int, msgspec.Meta(ge=1)] = 20

    class Breakout(Strategy[BreakoutParams]):
        Params = BreakoutParams

        def on_start(self) -> None:
            self.high = RollingHigh(self.params.lookback)

        def on_bar(self, bar: Bar) -> None:
            close = float(bar.close)
            if self.high.ready and close > self.high.value and self.position(bar.symbol) == 0:
                self.buy(bar.symbol, risk_pct="0.01", risk_per_share=2.5)
            self.high.update(float(bar.high))

Build all state in :meth:`Strategy.on_start`, not ``__init__`` (which a strategy must not
define): a strategy whose callback raises is replaced by a fresh instance and its
``on_start`` runs again, so ``on_start`` is the one place state comes from. Its position
view (:meth:`Strategy.position`) and its intent numbering survive the restart: they live
in the :class:`StrategyContext` the actor keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Final, Generic, TypeAlias, TypeVar, cast

from atrium.config.base import ConfigBase
from atrium.runtime.clocks import Clock
from atrium.runtime.messages import (
    Bar,
    Fill,
    OrderDenied,
    OrderIntent,
    OrderUpdate,
    PositionUpdate,
    Side,
    Tick,
)

__all__ = ("CONTEXT_ATTRIBUTES", "NoParams", "Number", "Strategy", "StrategyContext")

#: What the order helpers accept for a number. ``float`` is converted with
#: ``Decimal(repr(x))`` (the shortest decimal that reads back as the same float), never
#: ``Decimal(x)``, which would carry the float's binary noise into an order.
Number: TypeAlias = Decimal | int | str | float

ParamsT = TypeVar("ParamsT", bound=ConfigBase)

_ZERO: Final = Decimal(0)


class NoParams(ConfigBase, frozen=True, kw_only=True):
    """The ``Params`` of a strategy that takes none: any key in its table is an error."""


@dataclass(slots=True)
class StrategyContext:
    """What one strategy is handed; the actor keeps it across restarts of the strategy.

    A strategy reaches it only through the :class:`Strategy` methods. Build one directly
    to unit-test a strategy without the actor (``emit=list.append`` records intents).

    Parameters
    ----------
    name : str
        The strategy's name (its key under ``[strategies]``); intents carry it.
    params : ConfigBase
        The validated parameters, an instance of the strategy's ``Params``.
    symbols : tuple of str
        The symbols it receives data for and may trade.
    clock : Clock
        The actor's clock; intents are stamped with ``clock.now_ns()``.
    emit : callable
        Publishes an :class:`~runtime.messages.OrderIntent`.
    positions : dict, default {}
        The latest :class:`~runtime.messages.PositionUpdate` per symbol for this
        strategy, as the portfolio published it.
    intents_sent : int, default 0
        How many intents were built; the next id is ``f"{name}-{intents_sent + 1}"``.
    """

    name: str
    params: ConfigBase
    symbols: tuple[str, ...]
    clock: Clock
    emit: Callable[[OrderIntent], None]
    positions: dict[str, PositionUpdate] = field(default_factory=dict)
    intents_sent: int = 0

    def next_intent_id(self) -> str:
        """Deterministic, unique per strategy: ``<name>-1``, ``<name>-2``, ..."""
        self.intents_sent += 1
        return f"{self.name}-{self.intents_sent}"


#: What :meth:`Strategy.__init__` sets from the context; everything else a strategy holds
#: is its own state (what a snapshot keeps).
CONTEXT_ATTRIBUTES: Final = frozenset(
    {"_context", "_symbol_set", "name", "params", "symbols", "clock"}
)


class Strategy(Generic[ParamsT]):
    """Base class of every strategy.

    Subclasses set ``Params`` (a :class:`~config.base.ConfigBase` subclass; the loader
    validates the config's ``params`` table against it) and override the callbacks they
    need. Read-only attributes: ``name``, ``params`` (the validated ``Params``
    instance), ``symbols`` (tuple) and ``clock`` (``clock.now_ns()``).
    """

    #: The parameter schema; override in a subclass.
    Params: ClassVar[type[ConfigBase]] = NoParams

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            raise TypeError(
                f"{cls.__name__} must not define __init__: build its state in "
                "on_start(), which also runs when the strategy is restarted"
            )

    def __init__(self, context: StrategyContext) -> None:
        self._context = context
        self._symbol_set = frozenset(context.symbols)
        self.name = context.name
        self.params = cast(ParamsT, context.params)
        self.symbols = context.symbols
        self.clock = context.clock

    # -- callbacks (override what you need) ----------------------------------------------

    def on_start(self) -> None:
        """Build state (indicators); runs before the first message and after a restart."""

    def on_bar(self, bar: Bar) -> None:
        """A bar of one of ``symbols``."""

    def on_tick(self, tick: Tick) -> None:
        """A trade print of one of ``symbols``."""

    def on_fill(self, fill: Fill) -> None:
        """A fill of one of this strategy's orders.

        The portfolio's :class:`~runtime.messages.PositionUpdate` for it arrives after the
        fill, so inside ``on_fill`` :meth:`position` is still the one before it; react to
        the new position in :meth:`on_position`.
        """

    def on_position(self, update: PositionUpdate) -> None:
        """The portfolio's view of this strategy's position changed (already applied)."""

    def on_denied(self, denied: OrderDenied) -> None:
        """An intent or order of this strategy was refused (``denied.reason`` says why)."""

    def on_order_update(self, update: OrderUpdate) -> None:
        """A resting order of this strategy was accepted, or an order ended unfilled
        (rejected, cancelled, expired). A fill ends an order by itself: see
        :attr:`~runtime.messages.Fill.leaves_quantity` in :meth:`on_fill`."""

    # -- read-only views -----------------------------------------------------------------

    def position(self, symbol: str) -> Decimal:
        """This strategy's signed position in ``symbol`` (short < 0), per the portfolio."""
        update = self._context.positions.get(symbol)
        return _ZERO if update is None else update.quantity

    def entry_price(self, symbol: str) -> Decimal | None:
        """Average price of the open position in ``symbol``; ``None`` when flat."""
        update = self._context.positions.get(symbol)
        if update is None or update.quantity == _ZERO:
            return None
        return update.avg_price

    # -- intents ---------------------------------------------------------------------------

    def buy(
        self,
        symbol: str,
        qty: Number | None = None,
        *,
        risk_pct: Number | None = None,
        risk_per_share: Number | None = None,
        stop_price: Number | None = None,
        weight: Number | None = None,
        tag: str | None = None,
    ) -> OrderIntent:
        """Ask to buy ``symbol``; the portfolio decides how much.

        Give at most one way of sizing: ``qty`` (a fixed quantity), ``weight`` (target
        long fraction of equity), or a stop distance (``risk_per_share``, or
        ``stop_price``) optionally with ``risk_pct`` (fraction of equity to lose at the
        stop; ``None``: the portfolio's default). With none, the portfolio uses its
        default sizing mode. Returns the published intent.
        """
        return self._intent(
            "buy",
            "BUY",
            symbol,
            qty=qty,
            risk_pct=risk_pct,
            risk_per_share=risk_per_share,
            stop_price=stop_price,
            weight=weight,
            tag=tag,
        )

    def sell(
        self,
        symbol: str,
        qty: Number | None = None,
        *,
        risk_pct: Number | None = None,
        risk_per_share: Number | None = None,
        stop_price: Number | None = None,
        weight: Number | None = None,
        tag: str | None = None,
    ) -> OrderIntent:
        """Ask to sell ``symbol`` (or go short); the same arguments as :meth:`buy`."""
        return self._intent(
            "sell",
            "SELL",
            symbol,
            qty=qty,
            risk_pct=risk_pct,
            risk_per_share=risk_per_share,
            stop_price=stop_price,
            weight=weight,
            tag=tag,
        )

    def close(self, symbol: str, *, tag: str | None = None) -> OrderIntent | None:
        """Ask to flatten this strategy's position in ``symbol``.

        SELL when long, BUY when short; the quantity comes from the portfolio's ledger.
        When the position is flat nothing is sent and ``None`` is returned (an entry still
        in flight is not cancelled: it has no position yet).
        """
        self._check_symbol("close", symbol)
        quantity = self.position(symbol)
        if quantity == _ZERO:
            return None
        context = self._context
        intent = OrderIntent(
            ts=context.clock.now_ns(),
            intent_id=context.next_intent_id(),
            strategy=context.name,
            symbol=symbol,
            side="SELL" if quantity > _ZERO else "BUY",
            close=True,
            tag=tag,
        )
        context.emit(intent)
        return intent

    def _intent(
        self,
        method: str,
        side: Side,
        symbol: str,
        *,
        qty: Number | None,
        risk_pct: Number | None,
        risk_per_share: Number | None,
        stop_price: Number | None,
        weight: Number | None,
        tag: str | None,
    ) -> OrderIntent:
        self._check_symbol(method, symbol)
        _check_sizing(
            method,
            qty=qty,
            risk_pct=risk_pct,
            risk_per_share=risk_per_share,
            stop_price=stop_price,
            weight=weight,
        )
        context = self._context
        intent = OrderIntent(
            ts=context.clock.now_ns(),
            intent_id=context.next_intent_id(),
            strategy=context.name,
            symbol=symbol,
            side=side,
            quantity=_decimal(method, "qty", qty),
            weight=_decimal(method, "weight", weight),
            risk_pct=_decimal(method, "risk_pct", risk_pct),
            risk_per_share=_decimal(method, "risk_per_share", risk_per_share),
            stop_price=_decimal(method, "stop_price", stop_price),
            tag=tag,
        )
        context.emit(intent)
        return intent

    def _check_symbol(self, method: str, symbol: str) -> None:
        if symbol not in self._symbol_set:
            raise ValueError(
                f"{method}: symbol {symbol!r} is not one of strategy {self.name!r}'s symbols "
                f"({', '.join(self.symbols)}); add it to strategies.{self.name}.symbols"
            )


def _check_sizing(
    method: str,
    *,
    qty: Number | None,
    risk_pct: Number | None,
    risk_per_share: Number | None,
    stop_price: Number | None,
    weight: Number | None,
) -> None:
    """One way of sizing per intent: an ambiguous intent is a bug in the strategy."""
    if risk_per_share is not None and stop_price is not None:
        raise ValueError(f"{method}: give risk_per_share or stop_price, not both")
    given = [
        name
        for name, value in (
            ("qty", qty),
            ("weight", weight),
            ("risk_per_share", risk_per_share),
            ("stop_price", stop_price),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise ValueError(
            f"{method}: give one of qty, weight, risk_per_share/stop_price; got {' and '.join(given)}"
        )
    if risk_pct is not None and risk_per_share is None and stop_price is None:
        raise ValueError(f"{method}: risk_pct needs a stop distance (risk_per_share or stop_price)")


def _decimal(method: str, name: str, value: Number | None) -> Decimal | None:
    """Cross the money boundary; the intent itself checks the range of the result."""
    if value is None or isinstance(value, Decimal):
        return value
    # bool is an int subclass; buy("X", True) is a bug, not a quantity of 1.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(
            f"{method}: {name} must be a Decimal, int, str or float, got {type(value).__name__}"
        )
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{method}: {name}={value!r} is not a number") from None
