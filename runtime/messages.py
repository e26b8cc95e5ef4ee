"""The message catalogue: every message that crosses a channel or lands in the journal.

All messages are frozen, tagged msgspec Structs in one union (:data:`AnyMessage`), so a
journal row decodes back to exactly the message that was sent. Money and quantities are
:class:`~decimal.Decimal`; timestamps are integer nanoseconds from the actor's clock.

Values that can be wrong are validated at construction (and on decode, which runs the
same ``__post_init__``), so bad data is stopped at the boundary that produced it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Final, Literal, TypeAlias, get_args

import msgspec

__all__ = (
    "MESSAGE_SCHEMA_VERSION",
    "AccountBalances",
    "AnyMessage",
    "Bar",
    "CancelOrder",
    "Control",
    "ControlCommand",
    "DeadLetter",
    "Fill",
    "InstrumentRules",
    "Message",
    "Order",
    "OrderDenied",
    "OrderIntent",
    "OrderStatus",
    "OrderType",
    "OrderUpdate",
    "PortfolioSnapshot",
    "PositionUpdate",
    "Side",
    "SizedOrder",
    "SizingExplanation",
    "SizingMode",
    "SymbolPosition",
    "Tick",
    "TimeInForce",
    "TradingState",
    "TradingStateChanged",
    "VenueHolding",
    "VenueReport",
)

#: Bumped whenever a message changes incompatibly; the journal records it and refuses
#: to decode a journal written under another version.
MESSAGE_SCHEMA_VERSION: Final = 2

Side: TypeAlias = Literal["BUY", "SELL"]
OrderType: TypeAlias = Literal["MARKET", "LIMIT", "STOP"]
TimeInForce: TypeAlias = Literal["GTC", "DAY", "IOC"]
OrderStatus: TypeAlias = Literal[
    "SUBMITTED", "ACCEPTED", "PARTIALLY_FILLED", "FILLED", "REJECTED", "CANCELLED", "EXPIRED"
]
SizingMode: TypeAlias = Literal["fixed_qty", "fixed_risk_atr", "percent_equity"]
ControlCommand: TypeAlias = Literal["halt", "resume", "reduce_only", "flatten", "shutdown"]
TradingState: TypeAlias = Literal["ACTIVE", "REDUCING", "HALTED"]

_SIDES: Final = frozenset(get_args(Side))
_ORDER_TYPES: Final = frozenset(get_args(OrderType))
_TIME_IN_FORCE: Final = frozenset(get_args(TimeInForce))
_ORDER_STATUSES: Final = frozenset(get_args(OrderStatus))
_SIZING_MODES: Final = frozenset(get_args(SizingMode))
_CONTROL_COMMANDS: Final = frozenset(get_args(ControlCommand))
_TRADING_STATES: Final = frozenset(get_args(TradingState))
_ZERO: Final = Decimal(0)


# -- validation helpers (raise ValueError; msgspec turns it into ValidationError on decode)


def _name(cls_name: str, field: str) -> str:
    return f"{cls_name}.{field}"


def _check_positive(owner: str, field: str, value: Decimal) -> None:
    if not value.is_finite() or value <= _ZERO:
        raise ValueError(f"{_name(owner, field)} must be a finite number > 0, got {value}")


def _check_non_negative(owner: str, field: str, value: Decimal) -> None:
    if not value.is_finite() or value < _ZERO:
        raise ValueError(f"{_name(owner, field)} must be a finite number >= 0, got {value}")


def _check_optional_positive(owner: str, field: str, value: Decimal | None) -> None:
    if value is not None:
        _check_positive(owner, field, value)


def _check_member(owner: str, field: str, value: str, allowed: frozenset[str]) -> None:
    if value not in allowed:
        choices = ", ".join(sorted(allowed))
        raise ValueError(f"{_name(owner, field)} must be one of {choices}; got {value!r}")


def _check_text(owner: str, field: str, value: str) -> None:
    if not value:
        raise ValueError(f"{_name(owner, field)} must be a non-empty string")


class Message(msgspec.Struct, frozen=True, kw_only=True, tag=True, tag_field="kind", gc=False):
    """Base of every message. ``ts`` is the sender's clock time in nanoseconds."""

    ts: int


# -- market data -------------------------------------------------------------------------


class Bar(Message, frozen=True, kw_only=True, gc=False):
    """One OHLCV bar. ``ts`` is the bar's timestamp as the feed states it."""

    symbol: str
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = _ZERO

    def __post_init__(self) -> None:
        low, high, volume = self.low, self.high, self.volume
        try:  # the common case in one expression; the checks below say what is wrong
            if (
                self.symbol
                and _ZERO < low <= self.open <= high
                and low <= self.close <= high
                and high.is_finite()
                and volume >= _ZERO
                and volume.is_finite()
            ):
                return
        except InvalidOperation:  # a NaN compared
            pass
        _check_text("Bar", "symbol", self.symbol)
        _check_positive("Bar", "open", self.open)
        _check_positive("Bar", "high", self.high)
        _check_positive("Bar", "low", self.low)
        _check_positive("Bar", "close", self.close)
        _check_non_negative("Bar", "volume", self.volume)
        body_high = max(self.open, self.close)
        body_low = min(self.open, self.close)
        if self.high < body_high:
            raise ValueError(
                f"Bar.high must be >= max(open, close); got high={self.high}, "
                f"open={self.open}, close={self.close}"
            )
        if self.low > body_low:
            raise ValueError(
                f"Bar.low must be <= min(open, close); got low={self.low}, "
                f"open={self.open}, close={self.close}"
            )


class Tick(Message, frozen=True, kw_only=True, gc=False):
    """One trade print."""

    symbol: str
    price: Decimal
    size: Decimal

    def __post_init__(self) -> None:
        price, size = self.price, self.size
        try:  # the common case in one expression; the checks below say what is wrong
            if (
                self.symbol
                and price > _ZERO
                and price.is_finite()
                and size >= _ZERO
                and size.is_finite()
            ):
                return
        except InvalidOperation:  # a NaN compared
            pass
        _check_text("Tick", "symbol", self.symbol)
        _check_positive("Tick", "price", self.price)
        _check_non_negative("Tick", "size", self.size)


# -- order flow --------------------------------------------------------------------------


class OrderIntent(Message, frozen=True, kw_only=True, gc=False):
    """What a strategy wants; the portfolio decides how much.

    ``weight`` is a *target* fraction of equity for the position in the direction of
    ``side`` (BUY: long target, SELL: short target); the portfolio orders the difference.
    ``risk_pct`` is the fraction of equity the strategy is willing to lose at the stop;
    ``risk_per_share`` or ``stop_price`` give the stop distance. ``close`` asks the
    portfolio to flatten this strategy's position in ``symbol`` (quantity from the ledger).
    """

    intent_id: str
    strategy: str
    symbol: str
    side: Side
    quantity: Decimal | None = None
    weight: Decimal | None = None
    risk_pct: Decimal | None = None
    risk_per_share: Decimal | None = None
    stop_price: Decimal | None = None
    close: bool = False
    order_type: OrderType = "MARKET"
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = "GTC"
    tag: str | None = None

    def __post_init__(self) -> None:
        _check_text("OrderIntent", "intent_id", self.intent_id)
        _check_text("OrderIntent", "strategy", self.strategy)
        _check_text("OrderIntent", "symbol", self.symbol)
        _check_member("OrderIntent", "side", self.side, _SIDES)
        _check_member("OrderIntent", "order_type", self.order_type, _ORDER_TYPES)
        _check_member("OrderIntent", "time_in_force", self.time_in_force, _TIME_IN_FORCE)
        _check_optional_positive("OrderIntent", "quantity", self.quantity)
        _check_optional_positive("OrderIntent", "risk_per_share", self.risk_per_share)
        _check_optional_positive("OrderIntent", "stop_price", self.stop_price)
        _check_optional_positive("OrderIntent", "limit_price", self.limit_price)
        _check_optional_positive("OrderIntent", "trigger_price", self.trigger_price)
        if self.weight is not None:
            _check_non_negative("OrderIntent", "weight", self.weight)
        if self.risk_pct is not None and (
            not self.risk_pct.is_finite() or not _ZERO < self.risk_pct <= 1
        ):
            raise ValueError(f"OrderIntent.risk_pct must be in (0, 1], got {self.risk_pct}")
        _check_prices_for_type("OrderIntent", self.order_type, self.limit_price, self.trigger_price)


def _check_prices_for_type(
    owner: str, order_type: str, limit_price: Decimal | None, trigger_price: Decimal | None
) -> None:
    if order_type == "LIMIT" and limit_price is None:
        raise ValueError(f"{owner}.limit_price is required for a LIMIT order")
    if order_type == "STOP" and trigger_price is None:
        raise ValueError(f"{owner}.trigger_price is required for a STOP order")


class SizingExplanation(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """How the portfolio arrived at a quantity: every input and the cap that bound it."""

    mode: SizingMode
    equity: Decimal
    price: Decimal
    raw_quantity: Decimal
    final_quantity: Decimal
    binding_cap: str | None = None
    risk_pct: Decimal | None = None
    atr: Decimal | None = None
    stop_distance: Decimal | None = None
    weight: Decimal | None = None

    def __post_init__(self) -> None:
        _check_member("SizingExplanation", "mode", self.mode, _SIZING_MODES)


class SizedOrder(Message, frozen=True, kw_only=True, gc=False):
    """An intent turned into a quantity by the portfolio, on its way to risk."""

    order_id: str
    intent_id: str
    strategy: str
    symbol: str
    side: Side
    quantity: Decimal
    reference_price: Decimal
    reduces_position: bool
    sizing: SizingExplanation
    order_type: OrderType = "MARKET"
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = "GTC"
    tag: str | None = None

    def __post_init__(self) -> None:
        _check_text("SizedOrder", "order_id", self.order_id)
        _check_member("SizedOrder", "side", self.side, _SIDES)
        _check_member("SizedOrder", "order_type", self.order_type, _ORDER_TYPES)
        _check_positive("SizedOrder", "quantity", self.quantity)
        _check_positive("SizedOrder", "reference_price", self.reference_price)
        _check_prices_for_type("SizedOrder", self.order_type, self.limit_price, self.trigger_price)


class Order(Message, frozen=True, kw_only=True, gc=False):
    """An order approved by risk, owned by execution from here on."""

    order_id: str
    intent_id: str
    strategy: str
    symbol: str
    side: Side
    quantity: Decimal
    reference_price: Decimal
    reduces_position: bool
    order_type: OrderType = "MARKET"
    limit_price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce = "GTC"
    tag: str | None = None

    def __post_init__(self) -> None:
        _check_text("Order", "order_id", self.order_id)
        _check_member("Order", "side", self.side, _SIDES)
        _check_member("Order", "order_type", self.order_type, _ORDER_TYPES)
        _check_member("Order", "time_in_force", self.time_in_force, _TIME_IN_FORCE)
        _check_positive("Order", "quantity", self.quantity)
        _check_positive("Order", "reference_price", self.reference_price)
        _check_optional_positive("Order", "limit_price", self.limit_price)
        _check_optional_positive("Order", "trigger_price", self.trigger_price)
        _check_prices_for_type("Order", self.order_type, self.limit_price, self.trigger_price)


class CancelOrder(Message, frozen=True, kw_only=True, gc=False):
    """Ask execution to cancel an open order. Cancels pass every trading state."""

    order_id: str
    strategy: str
    reason: str = ""


class OrderDenied(Message, frozen=True, kw_only=True, gc=False):
    """An intent or order refused by the portfolio, risk or execution.

    ``reason`` is an UPPER_SNAKE code (see docs/denials.md); ``detail`` holds
    ``key=value`` context for a human.
    """

    intent_id: str
    strategy: str
    symbol: str
    side: Side
    reason: str
    source: str
    order_id: str | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        _check_member("OrderDenied", "side", self.side, _SIDES)
        if (
            not self.reason
            or not self.reason.replace("_", "").isalnum()
            or not self.reason.isupper()
        ):
            raise ValueError(f"OrderDenied.reason must be an UPPER_SNAKE code, got {self.reason!r}")


class OrderUpdate(Message, frozen=True, kw_only=True, gc=False):
    """A transition of an order's state that someone acts on: ACCEPTED for an order that
    rests at the venue (limit, stop), and REJECTED, CANCELLED, EXPIRED. Fills say the
    rest themselves (:attr:`Fill.leaves_quantity`)."""

    order_id: str
    strategy: str
    symbol: str
    status: OrderStatus
    filled_quantity: Decimal
    remaining_quantity: Decimal
    avg_fill_price: Decimal | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        _check_member("OrderUpdate", "status", self.status, _ORDER_STATUSES)
        _check_non_negative("OrderUpdate", "filled_quantity", self.filled_quantity)
        _check_non_negative("OrderUpdate", "remaining_quantity", self.remaining_quantity)


class Fill(Message, frozen=True, kw_only=True, gc=False):
    """An execution: ``quantity`` at ``price`` with ``commission`` paid.

    ``leaves_quantity`` is what is left of the order after it: 0 means the order is
    filled (no ``OrderUpdate`` says so again).
    """

    fill_id: str
    order_id: str
    strategy: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    leaves_quantity: Decimal
    commission: Decimal = _ZERO

    def __post_init__(self) -> None:
        _check_text("Fill", "fill_id", self.fill_id)
        _check_member("Fill", "side", self.side, _SIDES)
        _check_positive("Fill", "quantity", self.quantity)
        _check_positive("Fill", "price", self.price)
        _check_non_negative("Fill", "leaves_quantity", self.leaves_quantity)
        _check_non_negative("Fill", "commission", self.commission)


# -- portfolio state ---------------------------------------------------------------------


class PositionUpdate(Message, frozen=True, kw_only=True, gc=False):
    """A strategy's position in a symbol after a fill (``quantity`` signed: short < 0)."""

    strategy: str
    symbol: str
    quantity: Decimal
    avg_price: Decimal
    realized_pnl: Decimal


class SymbolPosition(msgspec.Struct, frozen=True, kw_only=True, gc=False, omit_defaults=True):
    """Net position in one symbol, as carried inside a :class:`PortfolioSnapshot`.

    ``multiplier`` is the contract multiplier, so whoever revalues the position between
    snapshots moves equity by ``quantity * multiplier * price move``. A multiplier of 1
    is left out of the encoding, so journals of plain instruments are unchanged.
    """

    symbol: str
    quantity: Decimal
    mark_price: Decimal
    multiplier: Decimal = Decimal(1)


class PortfolioSnapshot(Message, frozen=True, kw_only=True, gc=False):
    """The portfolio's account after a change, for risk and for operators.

    ``transfers`` is the equity moved in (+) or out (-) by deposits and withdrawals found
    at a live venue since the start: not performance, so risk moves its peak with it.
    """

    equity: Decimal
    cash: Decimal
    gross_exposure: Decimal
    net_exposure: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    peak_equity: Decimal
    drawdown: Decimal
    positions: tuple[SymbolPosition, ...] = ()
    transfers: Decimal = _ZERO


# -- control -----------------------------------------------------------------------------


class Control(Message, frozen=True, kw_only=True, gc=False):
    """An operator or limit command: the kill switch and friends."""

    command: ControlCommand
    reason: str = ""
    source: str = "operator"

    def __post_init__(self) -> None:
        _check_member("Control", "command", self.command, _CONTROL_COMMANDS)


class TradingStateChanged(Message, frozen=True, kw_only=True, gc=False):
    """Risk moved between ACTIVE, REDUCING and HALTED."""

    state: TradingState
    previous: TradingState
    reason: str

    def __post_init__(self) -> None:
        _check_member("TradingStateChanged", "state", self.state, _TRADING_STATES)
        _check_member("TradingStateChanged", "previous", self.previous, _TRADING_STATES)


class InstrumentRules(Message, frozen=True, kw_only=True, gc=False):
    """A venue's trading rules for one symbol, as it published them at connect.

    Risk denies an order that cannot meet them instead of sending it to be rejected.
    ``None`` means the venue sets no such rule.
    """

    symbol: str
    quantity_step: Decimal | None = None
    min_quantity: Decimal | None = None
    price_tick: Decimal | None = None
    min_notional: Decimal | None = None

    def __post_init__(self) -> None:
        _check_text("InstrumentRules", "symbol", self.symbol)
        _check_optional_positive("InstrumentRules", "quantity_step", self.quantity_step)
        _check_optional_positive("InstrumentRules", "price_tick", self.price_tick)


class VenueReport(Message, frozen=True, kw_only=True, gc=False):
    """What a live venue reported, journaled as an input so recovery re-runs it in order.

    ``events`` holds the adapter's venue events (msgpack, see
    :mod:`atrium.actors.execution.adapter`); ``source`` is ``poll`` for what the session
    saw and ``reconciliation`` for an adjustment made when the journal and the venue
    disagreed on start or on reconnect.
    """

    events: bytes
    source: Literal["poll", "reconciliation"] = "poll"


class VenueHolding(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A venue's balance of one traded symbol's base asset (``asset``), inside
    :class:`AccountBalances`. ``price`` is the venue's last price in the account currency,
    fetched when the balance is not zero (``None`` otherwise: nothing to value)."""

    symbol: str
    asset: str
    quantity: Decimal
    price: Decimal | None = None

    def __post_init__(self) -> None:
        _check_text("VenueHolding", "symbol", self.symbol)
        _check_optional_positive("VenueHolding", "price", self.price)


class AccountBalances(Message, frozen=True, kw_only=True, gc=False):
    """A live venue's balances, read at each reconciliation (start and reconnect).

    The venue owns the account: the portfolio takes its cash from ``cash`` (the total
    balance of ``currency``, the traded symbols' quote currency) and books any base
    balance its strategies do not hold to the unattributed ``venue`` book, so no position
    at the venue goes unknown. Published by execution from a journaled ``VenueReport``, so
    recovery re-runs it identically.
    """

    currency: str
    cash: Decimal
    holdings: tuple[VenueHolding, ...] = ()

    def __post_init__(self) -> None:
        _check_text("AccountBalances", "currency", self.currency)
        if not self.cash.is_finite():
            raise ValueError(f"AccountBalances.cash must be a finite number, got {self.cash}")


class DeadLetter(Message, frozen=True, kw_only=True, gc=False):
    """A message whose handler raised: kept (encoded) with the error, never retried."""

    actor: str
    message_kind: str
    payload: bytes
    error: str


AnyMessage: TypeAlias = (
    Bar
    | Tick
    | OrderIntent
    | SizedOrder
    | Order
    | CancelOrder
    | OrderDenied
    | OrderUpdate
    | Fill
    | PositionUpdate
    | PortfolioSnapshot
    | Control
    | TradingStateChanged
    | DeadLetter
    | InstrumentRules
    | VenueReport
    | AccountBalances
)
