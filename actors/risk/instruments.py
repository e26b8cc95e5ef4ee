"""The venue's instrument rules as a pre-trade check: deny what the venue would reject.

A pure function, like :mod:`~atrium.actors.risk.checks`: ``None`` passes, a refusal is
``(reason, detail)``. It runs right after the trading-state check, so an order the venue
cannot take never reaches execution.

Reason codes
------------
QUANTITY_BELOW_MINIMUM
    The quantity is below the venue's minimum order quantity.
QUANTITY_NOT_STEP_MULTIPLE
    The quantity is not a whole multiple of the venue's quantity step (lot size).
PRICE_NOT_ON_TICK
    A LIMIT or STOP price is not a whole multiple of the venue's price tick, or of the
    ``[instruments.<symbol>].tick_size`` in the config (``tick_size=`` in the detail;
    checked even before the venue has published its rules).
NOTIONAL_BELOW_MINIMUM
    ``quantity × price`` (the limit price, else the reference price) is below the venue's
    minimum notional.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from atrium.actors.risk.checks import Refusal
from atrium.runtime.messages import InstrumentRules, SizedOrder

__all__ = ("INSTRUMENT_REASON_CODES", "check_instrument_rules", "check_price_tick")

INSTRUMENT_REASON_CODES: Final = (
    "QUANTITY_BELOW_MINIMUM",
    "QUANTITY_NOT_STEP_MULTIPLE",
    "PRICE_NOT_ON_TICK",
    "NOTIONAL_BELOW_MINIMUM",
)


def check_instrument_rules(order: SizedOrder, rules: InstrumentRules) -> Refusal | None:
    """The first of the venue's rules ``order`` breaks, or None."""
    quantity = order.quantity
    if rules.min_quantity is not None and quantity < rules.min_quantity:
        return "QUANTITY_BELOW_MINIMUM", f"quantity={quantity} min_quantity={rules.min_quantity}"
    step = rules.quantity_step
    if step is not None and quantity % step != 0:
        return "QUANTITY_NOT_STEP_MULTIPLE", f"quantity={quantity} quantity_step={step}"
    if rules.price_tick is not None:
        refusal = check_price_tick(order, rules.price_tick, "price_tick")
        if refusal is not None:
            return refusal
    price = order.limit_price if order.limit_price is not None else order.reference_price
    notional = quantity * price
    if rules.min_notional is not None and notional < rules.min_notional:
        return "NOTIONAL_BELOW_MINIMUM", f"notional={notional} min_notional={rules.min_notional}"
    return None


def check_price_tick(order: SizedOrder, tick: Decimal, key: str) -> Refusal | None:
    """``PRICE_NOT_ON_TICK`` when a LIMIT or STOP price is off the ``tick`` grid.

    ``key`` names where the tick came from in the detail (``price_tick`` from the venue,
    ``tick_size`` from ``[instruments]``). The reference price is a mark, not an order
    price, so it is not checked.
    """
    for name, price in (("limit_price", order.limit_price), ("trigger_price", order.trigger_price)):
        if price is not None and price % tick != 0:
            return "PRICE_NOT_ON_TICK", f"{name}={price} {key}={tick}"
    return None
