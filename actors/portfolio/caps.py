"""Exposure caps: the largest quantity each cap allows, and which one binds.

Exposure is projected over orders in flight: a book holding ``N`` filled with ``B``
bought and ``S`` sold in flight can end anywhere in ``[N - S, N + B]`` whichever of them
fill, so its exposure is ``max(|N + B|, |N - S|)`` at the mark. Reserving an order is
just adding it to ``B`` or ``S``, and two intents in the same instant see each other.

Each cap limits only the *increase* an order causes to what it measures, never the
level: an order that only reduces is never cut by an exposure cap, and a book already
over a cap (because prices moved) may still shrink. Every limit is found with
:func:`floor_lots`, exact integer division rounding *down* to the lot, so no cap is
overshot by a rounding step and rounding happens after every cap.

The caps, in binding-priority order (on a tie the earlier one is recorded):
``risk_per_trade`` (computed by :mod:`~actors.portfolio.sizing`), ``strategy_budget``
(the strategy's projected gross exposure against ``equity * capital_pct``),
``symbol_exposure`` (the symbol's projected net exposure against ``equity *
max_symbol_exposure_pct``), ``gross_exposure`` (against ``equity * max_exposure_pct *
max_leverage``) and ``margin`` (long notional ``/ max_leverage`` plus short notional
``* short_margin_pct`` against equity).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from atrium.runtime.messages import Side

__all__ = (
    "CapInputs",
    "CapName",
    "Exposure",
    "apply_caps",
    "exposure_caps",
    "floor_lots",
)

CapName = Literal[
    "risk_per_trade", "strategy_budget", "symbol_exposure", "gross_exposure", "margin"
]

ZERO: Final = Decimal(0)


@dataclass(frozen=True, slots=True)
class Exposure:
    """One book's quantities: filled ``position`` (signed) and unfilled orders in flight.

    Used for the symbol's net book and for one strategy's book in a symbol.
    """

    position: Decimal
    pending_buy: Decimal = ZERO
    pending_sell: Decimal = ZERO

    def projected(self) -> Decimal:
        """Largest absolute position reachable if any subset of the orders in flight fills."""
        return max(abs(self.position + self.pending_buy), abs(self.position - self.pending_sell))

    def extent(self, side: Side) -> Decimal:
        """How far the book reaches in ``side``'s direction (negative: the other way)."""
        if side == "BUY":
            return self.position + self.pending_buy
        return self.pending_sell - self.position

    def expected(self) -> Decimal:
        """The position once every order in flight has filled."""
        return self.position + self.pending_buy - self.pending_sell

    def reduces(self, side: Side, quantity: Decimal) -> bool:
        """True when ``quantity`` on ``side`` only shrinks the position, in flight included."""
        if side == "SELL":
            return self.position > ZERO and self.pending_sell + quantity <= self.position
        return self.position < ZERO and self.pending_buy + quantity <= -self.position


@dataclass(frozen=True, slots=True)
class CapInputs:
    """Everything the exposure caps need, in money at the symbol's mark.

    ``price`` is in the instrument's units; one unit of quantity is worth ``price *
    multiplier`` of money, which is what every exposure cap measures.

    ``*_used`` values are projected over orders in flight; ``*_book`` values are this
    symbol's share of them. Margin values are scaled by ``max_leverage`` so that long
    margin (``notional / max_leverage``) stays exact: scaled long margin is the
    notional, scaled short margin is ``notional * short_margin_factor``.
    """

    price: Decimal
    net: Exposure
    own: Exposure
    strategy_budget: Decimal
    strategy_used: Decimal
    symbol_limit: Decimal | None
    gross_limit: Decimal
    gross_used: Decimal
    margin_limit: Decimal
    margin_used: Decimal
    margin_book: Decimal
    short_margin_factor: Decimal
    #: The contract multiplier: one unit is worth ``price * multiplier``.
    multiplier: Decimal = Decimal(1)


def floor_lots(amount: Decimal, per_unit: Decimal, lot: Decimal) -> Decimal:
    """Largest multiple ``q`` of ``lot`` with ``q * per_unit <= amount`` (0 if none).

    ``//`` on Decimals is exact integer division, so unlike ``amount / per_unit`` it can
    never round a 599.99999… up to 600.
    """
    if amount <= ZERO:
        return ZERO
    return (amount // (per_unit * lot)) * lot


def _increase_limit(
    book: Decimal, used: Decimal, limit: Decimal, *, extent: Decimal, unit: Decimal, lot: Decimal
) -> Decimal:
    """Largest order for which the measured total grows by at most its headroom.

    ``book`` is this book's current contribution to ``used`` (never below ``extent *
    unit``); after the order it contributes ``max(book, (extent + q) * unit)``. The growth
    may not exceed ``max(0, limit - used)``, so a book already over the limit may still
    shrink or stay put but never grow.
    """
    headroom = max(limit - used, ZERO)
    return floor_lots(book + headroom - extent * unit, unit, lot)


def exposure_caps(side: Side, caps: CapInputs, lot: Decimal) -> list[tuple[CapName, Decimal]]:
    """The exposure caps as largest quantities, in binding-priority order."""
    price = caps.price * caps.multiplier  # money per unit, as the ledger measures
    own, net = caps.own, caps.net
    net_book = net.projected() * price
    net_extent = net.extent(side)
    limits: list[tuple[CapName, Decimal]] = []
    budget = _increase_limit(
        own.projected() * price,
        caps.strategy_used,
        caps.strategy_budget,
        extent=own.extent(side),
        unit=price,
        lot=lot,
    )
    limits.append(("strategy_budget", budget))
    if caps.symbol_limit is not None:
        symbol = _increase_limit(
            net_book, net_book, caps.symbol_limit, extent=net_extent, unit=price, lot=lot
        )
        limits.append(("symbol_exposure", symbol))
    gross = _increase_limit(
        net_book, caps.gross_used, caps.gross_limit, extent=net_extent, unit=price, lot=lot
    )
    limits.append(("gross_exposure", gross))
    margin = _increase_limit(
        caps.margin_book,
        caps.margin_used,
        caps.margin_limit,
        extent=net_extent,
        unit=price if side == "BUY" else price * caps.short_margin_factor,
        lot=lot,
    )
    limits.append(("margin", margin))
    return limits


def apply_caps(
    raw: Decimal, limits: list[tuple[CapName, Decimal]]
) -> tuple[Decimal, CapName | None]:
    """Cut ``raw`` to the smallest limit; the cap that bound it (first on a tie), if any."""
    quantity = raw
    binding: CapName | None = None
    for name, limit in limits:
        if limit < quantity:
            quantity, binding = limit, name
    return quantity, binding
