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
    A LIMIT or STOP price is not a whole multiple of the venue's price tick.
NOTIONAL_BELOW_MINIMUM
    ``quantity × price`` (the limit price, else the reference price) is below the venue's
    minimum notional.
"""

from __future__ import annotations

from typing import Final

from atrium.actors.risk.checks import Refusal
from atrium.runtime.messages import InstrumentRules, SizedOrder

__all__ = ("INSTRUMENT_REASON_CODES", "check_instrument_rules")

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
    tick = rules.price_tick
    for name, price in (("limit_price", order.limit_price), ("trigger_price", order.trigger_price)):
        if tick is not None and price is not None and price % tick != 0:
            return "PRICE_NOT_ON_TICK", f"{name}={price} price_tick={tick}"
    price = order.limit_price if order.limit_price is not None else order.reference_price
    notional = quantity * price
    if rules.min_notional is not None and notional < rules.min_notional:
        return "NOTIONAL_BELOW_MINIMUM", f"notional={notional} min_notional={rules.min_notional}"
    return None
