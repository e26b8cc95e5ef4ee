"""Position sizing: pure functions from an intent and numbers to a quantity or a refusal.

Nothing here touches the event loop or the ledger; :class:`~actors.portfolio.actor.
PortfolioActor` gathers the numbers (:class:`~actors.portfolio.caps.CapInputs`) and calls
:func:`size_intent`. All arithmetic is :class:`~decimal.Decimal`, and every quantity is
found with :func:`~actors.portfolio.caps.floor_lots` (rounding *down* to the lot).

Sizing modes
------------
The intent's own way of sizing chooses the mode: ``quantity`` is ``fixed_qty``, ``weight``
is ``percent_equity``, a stop distance (``risk_per_share`` or ``stop_price``) or a
``risk_pct`` is ``fixed_risk_atr``. An intent that states none is sized by its
strategy's ``sizing_mode`` (default ``position_sizing_mode``). A stop distance given with
a ``quantity`` or ``weight`` does not change the mode: it only adds the risk cap.

``fixed_qty``
    The intent's ``quantity``, else the strategy's ``fixed_qty``, else
    ``default_fixed_qty``.
``fixed_risk_atr``
    The most units whose loss at the stop, with the estimated round-trip commission,
    fits ``equity * risk_pct``. ``risk_pct`` is the intent's, else the strategy's
    ``risk_per_trade_pct``, else ``max_risk_per_trade_pct``; the stop distance is the
    intent's ``risk_per_share``, else ``|price - stop_price|``, else
    ``atr_stop_multiplier * ATR``.
``percent_equity``
    ``weight`` is a target: the most units whose cost (slipped price plus commission)
    fits ``equity * weight``, long for BUY and short for SELL. The order is the target
    minus the strategy's expected position (filled plus in flight), so it may sell to
    trim a long or buy to cover a short.
``close=True``
    The strategy's filled position in the symbol less what its own orders in flight
    already close, at the exact quantity (no lot rounding, so nothing is left over).
    The intent's ``side`` is not used: the order side is the one that closes.

Caps
----
:mod:`~actors.portfolio.caps` then cuts the quantity: ``risk_per_trade`` first (only
when the order has a stop distance and does not reduce the strategy's own position:
the most units whose loss at the stop fits ``equity * min(risk_pct,
max_risk_per_trade_pct)``), then the exposure caps. A quantity below one lot after
that is refused, never rounded up.

Reason codes (``OrderDenied.reason``, ``source="portfolio"``)
-------------------------------------------------------------
``NO_MARKET_PRICE``
    No bar or tick has been seen for the symbol, so there is no price to size at.
``NO_EQUITY``
    Equity is zero or negative: only ``close`` intents and flatten are sized.
``INTENT_AMBIGUOUS``
    The intent sets both ``quantity`` and ``weight``: two different sizes asked for.
``WEIGHT_REQUIRED``
    An intent stating no way of sizing while its strategy's mode is ``percent_equity``.
``STOP_WRONG_SIDE``
    ``stop_price`` is not on the losing side of the price (BUY needs it below, SELL
    above).
``ATR_NOT_READY``
    ``fixed_risk_atr`` without ``risk_per_share``/``stop_price`` before the symbol's ATR
    has warmed up.
``STOP_DISTANCE_ZERO``
    The ATR is zero (flat bars), so the stop distance is zero and risk is undefined.
``NO_POSITION``
    ``close`` for a strategy that holds nothing in the symbol.
``ALREADY_CLOSING``
    ``close`` while the strategy's orders in flight already close the whole position.
``ALREADY_AT_TARGET``
    ``percent_equity`` target equal to the expected position: nothing to order.
``QUANTITY_BELOW_LOT``
    The quantity after the caps and lot rounding is below one lot; ``binding_cap``
    in the detail names the cap that bound it (``none`` when the sizing itself was
    below one lot).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from atrium.actors.portfolio.caps import CapInputs, CapName, apply_caps, exposure_caps, floor_lots
from atrium.config.portfolio import CommissionConfig, PortfolioConfig, SizingModeName
from atrium.runtime.messages import OrderIntent, Side

__all__ = (
    "Denial",
    "Sized",
    "StrategySettings",
    "intent_mode",
    "leg_commission",
    "max_quantity",
    "percent_equity_target",
    "resolve_strategy",
    "risk_quantity",
    "size_close",
    "size_intent",
    "stop_distance",
)

ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StrategySettings:
    """A strategy's effective sizing settings (its budget entry over the defaults)."""

    mode: SizingModeName
    capital_pct: Decimal
    fixed_qty: Decimal
    risk_per_trade_pct: Decimal


@dataclass(frozen=True, slots=True)
class Sized:
    """An accepted quantity and how it came about."""

    side: Side
    quantity: Decimal
    raw_quantity: Decimal
    mode: SizingModeName
    reduces_position: bool
    binding_cap: CapName | None = None
    risk_pct: Decimal | None = None
    stop_distance: Decimal | None = None
    weight: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Denial:
    """A refusal: an UPPER_SNAKE ``reason`` and ``key=value`` ``detail``."""

    reason: str
    detail: str


# -- settings ------------------------------------------------------------------------------


def resolve_strategy(config: PortfolioConfig, strategy: str) -> StrategySettings:
    """The settings of ``strategy``: its ``strategy_budgets`` entry over the defaults."""
    entry = config.strategy_budgets.get(strategy)
    if entry is None:
        return StrategySettings(
            mode=config.position_sizing_mode,
            capital_pct=config.max_risk_per_strategy_pct,
            fixed_qty=config.default_fixed_qty,
            risk_per_trade_pct=config.max_risk_per_trade_pct,
        )
    return StrategySettings(
        mode=entry.sizing_mode or config.position_sizing_mode,
        capital_pct=entry.capital_pct,
        fixed_qty=entry.fixed_qty if entry.fixed_qty is not None else config.default_fixed_qty,
        risk_per_trade_pct=(
            entry.risk_per_trade_pct
            if entry.risk_per_trade_pct is not None
            else config.max_risk_per_trade_pct
        ),
    )


def intent_mode(intent: OrderIntent, default: SizingModeName) -> SizingModeName | None:
    """The mode the intent asks for by what it states; ``None`` when it asks for two."""
    if intent.quantity is not None:
        return None if intent.weight is not None else "fixed_qty"
    if intent.weight is not None:
        return "percent_equity"
    if intent.risk_per_share is not None or intent.stop_price is not None:
        return "fixed_risk_atr"
    if intent.risk_pct is not None:
        return "fixed_risk_atr"
    return default


# -- arithmetic ----------------------------------------------------------------------------


def leg_commission(quantity: Decimal, price: Decimal, commission: CommissionConfig) -> Decimal:
    """Estimated commission of one order leg: ``max(minimum, qty * (per_share + pct * price))``."""
    if quantity <= ZERO:
        return ZERO
    variable = quantity * (commission.per_share + commission.pct_of_notional * price)
    return max(commission.minimum, variable)


def max_quantity(
    budget: Decimal,
    per_unit: Decimal,
    leg_rates: tuple[Decimal, ...],
    minimum: Decimal,
    lot: Decimal,
) -> Decimal:
    """Largest lot multiple ``q`` with ``q * per_unit + sum(max(minimum, q * r)) <= budget``.

    A sum of maxima is the maximum over every choice of term, so the cost is below the
    budget exactly when each of those linear forms is: one bound per choice of which legs
    pay the minimum, the smallest winning.
    """
    if minimum == ZERO:
        return floor_lots(budget, per_unit + sum(leg_rates, ZERO), lot)
    best: Decimal | None = None
    for mask in range(1 << len(leg_rates)):
        rate = per_unit
        fixed = ZERO
        for index, leg_rate in enumerate(leg_rates):
            if mask >> index & 1:
                fixed += minimum
            else:
                rate += leg_rate
        quantity = floor_lots(budget - fixed, rate, lot)
        best = quantity if best is None else min(best, quantity)
    assert best is not None  # range(1 << n) is never empty
    return best


def risk_quantity(
    budget: Decimal,
    price: Decimal,
    distance: Decimal,
    *,
    side: Side,
    commission: CommissionConfig,
    lot: Decimal,
    multiplier: Decimal = _ONE,
) -> Decimal:
    """Most units whose loss at the stop plus round-trip commission fits ``budget``.

    The entry leg is charged at ``price`` and the exit leg at the stop price, which is
    below the price for a long and above it for a short (never below zero). A unit
    loses ``distance * multiplier`` at the stop (ES: 20 points * 50 = 1,000 a contract)
    and pays the percentage commission on ``price * multiplier``.
    """
    stop_price = price - distance if side == "BUY" else price + distance
    stop_price = max(stop_price, ZERO)
    pct = commission.pct_of_notional * multiplier
    rates = (commission.per_share + pct * price, commission.per_share + pct * stop_price)
    return max_quantity(budget, distance * multiplier, rates, commission.minimum, lot)


def percent_equity_target(
    equity: Decimal,
    weight: Decimal,
    price: Decimal,
    *,
    slippage_pct: Decimal,
    commission: CommissionConfig,
    lot: Decimal,
    multiplier: Decimal = _ONE,
) -> Decimal:
    """Units (unsigned) whose slipped cost plus commission fits ``equity * weight``.

    A unit costs ``price * multiplier`` (one ES contract at 4,000: 200,000).
    """
    slipped = price * (_ONE + slippage_pct) * multiplier
    rate = commission.per_share + commission.pct_of_notional * slipped
    return max_quantity(equity * weight, slipped, (rate,), commission.minimum, lot)


def stop_distance(
    intent: OrderIntent,
    price: Decimal,
    atr: Decimal | None,
    multiplier: Decimal,
    *,
    use_atr: bool,
) -> Decimal | Denial | None:
    """The intent's stop distance, a :class:`Denial`, or ``None`` when it has none."""
    if intent.risk_per_share is not None:
        return intent.risk_per_share
    if intent.stop_price is not None:
        stop = intent.stop_price
        if (intent.side == "BUY" and stop >= price) or (intent.side == "SELL" and stop <= price):
            return Denial("STOP_WRONG_SIDE", f"side={intent.side} price={price} stop_price={stop}")
        return abs(price - stop)
    if not use_atr:
        return None
    if atr is None:
        return Denial("ATR_NOT_READY", "mode=fixed_risk_atr risk_per_share=none stop_price=none")
    distance = multiplier * atr
    if distance <= ZERO:
        return Denial("STOP_DISTANCE_ZERO", f"atr={atr} atr_stop_multiplier={multiplier}")
    return distance


def _below_lot(raw: Decimal, lot: Decimal, binding: CapName | None, limit_detail: str) -> Denial:
    return Denial(
        "QUANTITY_BELOW_LOT",
        f"binding_cap={binding or 'none'} raw_quantity={raw} lot_size={lot}{limit_detail}",
    )


# -- sizing ----------------------------------------------------------------------------------


def size_close(caps: CapInputs, lot: Decimal) -> Sized | Denial:
    """Size a ``close`` intent: the strategy's position less what is already closing."""
    own = caps.own
    position = own.position
    if position == ZERO:
        return Denial("NO_POSITION", "position=0")
    side: Side = "SELL" if position > ZERO else "BUY"
    closing = own.pending_sell if position > ZERO else own.pending_buy
    raw = abs(position) - closing
    if raw <= ZERO:
        return Denial("ALREADY_CLOSING", f"position={position} closing_in_flight={closing}")
    # Own-reducing by construction, so the budget cannot bind; the net caps can when
    # another strategy holds the opposite side and closing this one grows the net book.
    quantity, binding = apply_caps(raw, exposure_caps(side, caps, lot))
    if quantity <= ZERO:
        return _below_lot(raw, lot, binding, "")
    return Sized(
        side=side,
        quantity=quantity,
        raw_quantity=raw,
        mode="fixed_qty",
        reduces_position=caps.net.reduces(side, quantity) and own.reduces(side, quantity),
        binding_cap=binding,
    )


def size_intent(
    intent: OrderIntent,
    settings: StrategySettings,
    config: PortfolioConfig,
    *,
    equity: Decimal,
    atr: Decimal | None,
    caps: CapInputs,
) -> Sized | Denial:
    """Turn ``intent`` into a quantity (or a refusal) at the mark ``caps.price``."""
    lot = config.symbol(intent.symbol).lot_size
    if intent.close:
        return size_close(caps, lot)
    if equity <= ZERO:
        return Denial("NO_EQUITY", f"equity={equity}")
    mode = intent_mode(intent, settings.mode)
    if mode is None:
        return Denial("INTENT_AMBIGUOUS", f"quantity={intent.quantity} weight={intent.weight}")
    distance = stop_distance(
        intent, caps.price, atr, config.atr_stop_multiplier, use_atr=mode == "fixed_risk_atr"
    )
    if isinstance(distance, Denial):
        return distance
    risk_pct = intent.risk_pct if intent.risk_pct is not None else settings.risk_per_trade_pct
    order = _uncapped_order(
        mode,
        intent,
        settings,
        config,
        equity=equity,
        distance=distance,
        risk_pct=risk_pct,
        caps=caps,
        lot=lot,
    )
    if isinstance(order, Denial):
        return order
    return _capped(
        order,
        mode,
        intent,
        config,
        equity=equity,
        distance=distance,
        risk_pct=risk_pct,
        caps=caps,
        lot=lot,
    )


def _uncapped_order(
    mode: SizingModeName,
    intent: OrderIntent,
    settings: StrategySettings,
    config: PortfolioConfig,
    *,
    equity: Decimal,
    distance: Decimal | None,
    risk_pct: Decimal,
    caps: CapInputs,
    lot: Decimal,
) -> tuple[Side, Decimal] | Denial:
    """The side and quantity ``mode`` asks for, before any cap cuts it."""
    if mode == "fixed_qty":
        wanted = intent.quantity if intent.quantity is not None else settings.fixed_qty
        return intent.side, floor_lots(wanted, _ONE, lot)
    if mode == "fixed_risk_atr":
        assert distance is not None  # stop_distance denies instead when use_atr
        raw = risk_quantity(
            equity * risk_pct,
            caps.price,
            distance,
            side=intent.side,
            commission=config.commission,
            lot=lot,
            multiplier=caps.multiplier,
        )
        return intent.side, raw
    return _percent_equity_order(intent, config, equity=equity, caps=caps, lot=lot)


def _percent_equity_order(
    intent: OrderIntent,
    config: PortfolioConfig,
    *,
    equity: Decimal,
    caps: CapInputs,
    lot: Decimal,
) -> tuple[Side, Decimal] | Denial:
    """The order that moves the strategy's expected position to its ``weight`` target."""
    if intent.weight is None:
        return Denial("WEIGHT_REQUIRED", "mode=percent_equity")
    target = percent_equity_target(
        equity,
        intent.weight,
        caps.price,
        slippage_pct=config.slippage_pct,
        commission=config.commission,
        lot=lot,
        multiplier=caps.multiplier,
    )
    signed_target = target if intent.side == "BUY" else -target
    difference = signed_target - caps.own.expected()
    if difference == ZERO:
        return Denial("ALREADY_AT_TARGET", f"target={signed_target}")
    side: Side = "BUY" if difference > ZERO else "SELL"
    return side, floor_lots(abs(difference), _ONE, lot)


def _capped(
    order: tuple[Side, Decimal],
    mode: SizingModeName,
    intent: OrderIntent,
    config: PortfolioConfig,
    *,
    equity: Decimal,
    distance: Decimal | None,
    risk_pct: Decimal,
    caps: CapInputs,
    lot: Decimal,
) -> Sized | Denial:
    """``order`` cut by every cap that applies; a quantity below one lot is refused."""
    side, raw = order
    allowed_risk = min(risk_pct, config.max_risk_per_trade_pct)
    limits = _order_limits(
        side,
        raw,
        config,
        equity=equity,
        distance=distance,
        risk_pct=allowed_risk,
        caps=caps,
        lot=lot,
    )
    quantity, binding = apply_caps(raw, limits)
    if quantity <= ZERO:
        bound = dict(limits).get(binding) if binding is not None else None
        return _below_lot(raw, lot, binding, f" limit={bound}" if bound is not None else "")
    return Sized(
        side=side,
        quantity=quantity,
        raw_quantity=raw,
        mode=mode,
        reduces_position=caps.net.reduces(side, quantity) and caps.own.reduces(side, quantity),
        binding_cap=binding,
        risk_pct=risk_pct if distance is not None else None,
        stop_distance=distance,
        weight=intent.weight,
    )


def _order_limits(
    side: Side,
    raw: Decimal,
    config: PortfolioConfig,
    *,
    equity: Decimal,
    distance: Decimal | None,
    risk_pct: Decimal,
    caps: CapInputs,
    lot: Decimal,
) -> list[tuple[CapName, Decimal]]:
    """The caps on the order, in the order they bind: the risk budget, then exposure.

    The risk budget caps only an order with a stop that does not reduce the strategy's
    own position.
    """
    limits: list[tuple[CapName, Decimal]] = []
    if distance is not None and not caps.own.reduces(side, raw):
        risk_cap = risk_quantity(
            equity * risk_pct,
            caps.price,
            distance,
            side=side,
            commission=config.commission,
            lot=lot,
            multiplier=caps.multiplier,
        )
        limits.append(("risk_per_trade", risk_cap))
    limits.extend(exposure_caps(side, caps, lot))
    return limits
