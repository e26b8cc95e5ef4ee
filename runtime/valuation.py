"""An account as its last snapshot left it, revalued at every later price.

The portfolio publishes a :class:`~runtime.messages.PortfolioSnapshot` when the account
changes (a fill), not on every bar. Whoever follows equity between snapshots (risk's
drawdown and daily-loss limits, the replay's equity curve) moves it with the marks the
same way the portfolio's ledger does: by quantity times the contract multiplier times
the price move.
"""

from __future__ import annotations

from decimal import Decimal

from atrium.runtime.messages import PortfolioSnapshot
from atrium.runtime.snapshots import state_type

__all__ = ("MarkedAccount",)


@state_type
class MarkedAccount:
    """Equity, cash and gross exposure: the last snapshot's, moved by later prices."""

    __slots__ = ("_held", "cash", "equity", "gross")

    def __init__(self, cash: Decimal) -> None:
        self.cash = cash
        self.equity = cash
        self.gross = Decimal(0)
        # Per symbol held: [quantity * multiplier, the price the values above are marked at].
        self._held: dict[str, list[Decimal]] = {}

    def apply(self, snapshot: PortfolioSnapshot) -> None:
        """Take the account as ``snapshot`` states it."""
        self.cash = snapshot.cash
        self.equity = snapshot.equity
        self.gross = snapshot.gross_exposure
        # The quantity is held times the multiplier, so a price move costs one multiply.
        self._held = {
            position.symbol: [position.quantity * position.multiplier, position.mark_price]
            for position in snapshot.positions
            if position.quantity
        }

    def mark(self, symbol: str, price: Decimal) -> bool:
        """Move the values to ``price`` for ``symbol``; True when equity changed."""
        held = self._held.get(symbol)
        if held is None:
            return False
        quantity, old = held
        if price == old:
            return False
        held[1] = price
        move = price - old
        self.equity += quantity * move
        self.gross += abs(quantity) * move
        return True
