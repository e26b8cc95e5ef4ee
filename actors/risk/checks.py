"""Pre-trade checks: pure functions that return ``None`` (pass) or a refusal.

A refusal is ``(reason, detail)``: an UPPER_SNAKE code and ``key=value`` context. The
risk actor runs the checks in this order and the first refusal wins:

1. trading state, 2. price band, 3. order notional, 4. order rate.

The rate check runs last so that an order refused for any other reason does not use up
the rate budget.

Reason codes
------------
TRADING_HALTED
    The trading state is HALTED: no order passes (cancels never go through risk).
TRADING_REDUCE_ONLY
    The trading state is REDUCING and the order does not reduce a position.
NO_LAST_TRADE
    The price band is on and no trade (bar or tick) has been seen for the symbol, so
    there is nothing to check the order's prices against.
PRICE_BAND_EXCEEDED
    The reference price is outside ``last × (1 ± price_band_pct)``, or a LIMIT price is
    more aggressive than that band (a buy above the upper bound, a sell below the lower).
ORDER_NOTIONAL_EXCEEDED
    ``quantity × price × multiplier`` (``[instruments]``; 1 by default) is above ``max_order_notional`` (the symbol's override first).
    Orders that reduce a position are not subject to this cap.
ORDER_RATE_EXCEEDED
    ``max_order_rate`` orders were already approved within the sliding window.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Final, TypeAlias

from atrium.runtime.messages import SizedOrder, TradingState

__all__ = (
    "NO_LAST_TRADE",
    "ORDER_NOTIONAL_EXCEEDED",
    "ORDER_RATE_EXCEEDED",
    "PRICE_BAND_EXCEEDED",
    "REASON_CODES",
    "TRADING_HALTED",
    "TRADING_REDUCE_ONLY",
    "Refusal",
    "check_order_notional",
    "check_order_rate",
    "check_price_band",
    "check_trading_state",
    "notional_price",
)

#: ``(reason, detail)`` of a refused order.
Refusal: TypeAlias = tuple[str, str]

TRADING_HALTED: Final = "TRADING_HALTED"
TRADING_REDUCE_ONLY: Final = "TRADING_REDUCE_ONLY"
NO_LAST_TRADE: Final = "NO_LAST_TRADE"
PRICE_BAND_EXCEEDED: Final = "PRICE_BAND_EXCEEDED"
ORDER_NOTIONAL_EXCEEDED: Final = "ORDER_NOTIONAL_EXCEEDED"
ORDER_RATE_EXCEEDED: Final = "ORDER_RATE_EXCEEDED"

#: Every code this module can return, in check order.
REASON_CODES: Final = (
    TRADING_HALTED,
    TRADING_REDUCE_ONLY,
    NO_LAST_TRADE,
    PRICE_BAND_EXCEEDED,
    ORDER_NOTIONAL_EXCEEDED,
    ORDER_RATE_EXCEEDED,
)

# Built once: the state refusals are the same every time.
_HALTED: Final[Refusal] = (TRADING_HALTED, "state=HALTED")
_REDUCE_ONLY: Final[Refusal] = (TRADING_REDUCE_ONLY, "state=REDUCING reduces_position=false")


def check_trading_state(state: TradingState, reduces_position: bool) -> Refusal | None:
    """HALTED refuses everything; REDUCING refuses orders that do not reduce a position.

    ``reduces_position`` is the portfolio's verdict: it alone owns positions.
    """
    if state == "ACTIVE":
        return None
    if state == "HALTED":
        return _HALTED
    return None if reduces_position else _REDUCE_ONLY


def check_price_band(
    order: SizedOrder, last_trade: Decimal | None, band: Decimal
) -> Refusal | None:
    """Refuse an order whose prices are implausibly far from the last trade (fat finger).

    The reference price drives sizing and notional, so it must lie within
    ``last × (1 ± band)`` either way. A LIMIT price is only checked on its aggressive
    side, as exchange price banding does: a buy limit above the band would pay through
    the market, while a buy limit far below it merely rests (take-profits, bids).
    Stop trigger prices are not checked: a stop rests until the market reaches it.
    Bounds are inclusive.

    Parameters
    ----------
    order : SizedOrder
    last_trade : Decimal or None
        Last trade price of ``order.symbol``; ``None`` when none was seen.
    band : Decimal
        Allowed deviation as a fraction of ``last_trade``.
    """
    if last_trade is None:
        return NO_LAST_TRADE, f"symbol={order.symbol}"
    allowed = last_trade * band
    reference = order.reference_price
    if abs(reference - last_trade) > allowed:
        return PRICE_BAND_EXCEEDED, (
            f"price_field=reference_price price={reference:f} last_trade={last_trade:f} "
            f"band_pct={band:f} low={last_trade - allowed:f} high={last_trade + allowed:f}"
        )
    limit = order.limit_price
    if limit is None:
        return None
    if order.side == "BUY":
        if limit - last_trade > allowed:
            return PRICE_BAND_EXCEEDED, (
                f"price_field=limit_price side=BUY price={limit:f} last_trade={last_trade:f} "
                f"band_pct={band:f} high={last_trade + allowed:f}"
            )
    elif last_trade - limit > allowed:
        return PRICE_BAND_EXCEEDED, (
            f"price_field=limit_price side=SELL price={limit:f} last_trade={last_trade:f} "
            f"band_pct={band:f} low={last_trade - allowed:f}"
        )
    return None


def notional_price(order: SizedOrder) -> Decimal:
    """The price an order's notional is taken at: the larger of reference and limit price.

    A buy limit above the market may pay up to its limit; a sell limit above the market
    fills at no less than its limit. Either way the larger price bounds the notional.
    """
    limit = order.limit_price
    reference = order.reference_price
    return limit if limit is not None and limit > reference else reference


def check_order_notional(
    order: SizedOrder, cap: Decimal, scope: str, multiplier: Decimal | None = None
) -> Refusal | None:
    """Refuse an order whose ``quantity × notional_price × multiplier`` is above ``cap``.

    Equal passes. ``scope`` says where the cap came from (``global`` or ``symbol``) for
    the detail; ``multiplier`` is the contract's (``None``: 1, and not in the detail).
    """
    price = notional_price(order)
    notional = order.quantity * price
    if multiplier is not None:
        notional *= multiplier
    if notional <= cap:
        return None
    shown = f" multiplier={multiplier:f}" if multiplier is not None else ""
    return ORDER_NOTIONAL_EXCEEDED, (
        f"symbol={order.symbol} notional={notional:f} max_order_notional={cap:f} "
        f"scope={scope} quantity={order.quantity:f} price={price:f}{shown}"
    )


def check_order_rate(approved_ns: deque[int], now_ns: int, window_ns: int) -> Refusal | None:
    """Refuse when ``approved_ns.maxlen`` orders were approved within ``(now − window, now]``.

    ``approved_ns`` holds the approval times of the most recent approved orders, bounded
    by ``maxlen`` (the rate limit), oldest first; the caller appends ``now_ns`` when the
    order is approved. An approval exactly ``window_ns`` ago has left the window. O(1).
    """
    limit = approved_ns.maxlen
    if limit is None or len(approved_ns) < limit:
        return None
    oldest = approved_ns[0]
    if oldest <= now_ns - window_ns:
        return None
    return ORDER_RATE_EXCEEDED, (
        f"max_order_rate={limit} window_ns={window_ns} retry_after_ns={oldest + window_ns - now_ns}"
    )
