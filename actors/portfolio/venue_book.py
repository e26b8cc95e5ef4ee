"""A live venue's balances in the ledger: cash from the venue, unattributed holdings booked.

The venue, not the journal, owns the account. At each reconciliation the portfolio
receives ``AccountBalances`` and makes the ledger agree with them:

- **Cash** becomes the venue's total balance of the quote currency. The difference is a
  deposit or withdrawal, not a gain or loss: ``initial_capital``, ``peak_equity`` and
  ``transfers`` (which risk's peak follows) move with it, so drawdown and PnL are unchanged.
- **Base assets.** Positions the journal attributes to strategies (by their fills) stay
  theirs. What the venue holds beyond (or short of) their sum goes to the
  :data:`UNATTRIBUTED` book (strategy ``venue``), entered at the ledger's mark (the venue's
  last price when there is none yet). It counts in equity and exposure like any position;
  no strategy trades it and a flatten leaves it alone (it was never Atrium's to trade).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from atrium.actors.portfolio.ledger import Ledger
from atrium.runtime.messages import AccountBalances

__all__ = ("UNATTRIBUTED", "BalanceAdjustment", "absorb_balances")

#: The book of venue holdings no strategy's fills account for.
UNATTRIBUTED: Final = "venue"
_ZERO: Final = Decimal(0)


@dataclass(frozen=True, slots=True)
class BalanceAdjustment:
    """One change the venue's balances made: ``cash`` (amount in the account currency) or
    ``position`` (quantity moved into the unattributed book of ``symbol``)."""

    kind: Literal["cash", "position"]
    symbol: str
    amount: Decimal


def absorb_balances(ledger: Ledger, balances: AccountBalances) -> list[BalanceAdjustment]:
    """Make ``ledger`` hold the venue's balances; returns what changed (empty: it agreed)."""
    equity_before, peak_before = ledger.equity, ledger.peak_equity
    adjustments: list[BalanceAdjustment] = []
    for holding in balances.holdings:
        held = sum(
            (p.quantity for (_, symbol), p in ledger.positions.items() if symbol == holding.symbol),
            _ZERO,
        )
        delta = holding.quantity - held
        if delta:
            price = ledger.mark_of(holding.symbol) or holding.price
            if price is None:
                raise ValueError(
                    f"AccountBalances: {holding.symbol} differs by {delta} {holding.asset} "
                    "from the strategies' positions but has neither a mark nor a venue price"
                )
            _move_in(ledger, holding.symbol, delta, price)
            adjustments.append(BalanceAdjustment("position", holding.symbol, delta))
    cash_delta = balances.cash - ledger.cash
    if cash_delta:
        ledger.cash += cash_delta
        ledger.initial_capital += cash_delta
        adjustments.append(BalanceAdjustment("cash", balances.currency, cash_delta))
    # A transfer, not performance: the peak moves with the equity it brought, and the
    # snapshot's ``transfers`` tells risk to move its own peak too.
    moved = ledger.equity - equity_before
    ledger.peak_equity = peak_before + moved
    ledger.transfers += moved
    return adjustments


def _move_in(ledger: Ledger, symbol: str, delta: Decimal, price: Decimal) -> None:
    """Book ``delta`` of ``symbol`` to the unattributed book at ``price``, paid for by no
    cash: the assets arrived (or left) at the venue, they were not bought."""
    ledger.apply_fill(
        UNATTRIBUTED,
        symbol,
        side="BUY" if delta > _ZERO else "SELL",
        quantity=abs(delta),
        price=price,
        commission=_ZERO,
    )
    # The cash apply_fill took, in money: per unit of price times any contract multiplier.
    paid = delta * ledger.book(symbol).value(price)
    ledger.cash += paid
    ledger.initial_capital += paid
