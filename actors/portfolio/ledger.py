"""The ledger: positions per (strategy, symbol), cash, PnL, marks and orders in flight.

Plain state and exact Decimal arithmetic, no event loop. Each position keeps its signed
``quantity`` and its signed ``cost`` (the price paid for the open quantity: ``qty *
avg_price``), not an average price: a reduce takes ``cost * closed / |qty|`` off the
cost and books the rest of the proceeds as realized PnL, so whatever that one division
rounds stays inside the position and the account always reconciles exactly. The share
taken off is rounded to 1e-12 (a full close takes the whole cost, unrounded): a
28-digit quotient would otherwise make the account totals themselves round::

    equity = cash + sum(qty * mark * multiplier) = initial_capital + realized_pnl + unrealized_pnl

Money is ``price * multiplier * quantity`` (``[instruments.<symbol>].multiplier``, 50
for an E-mini future): cash, cost, PnL, market value, exposure and margin all carry it,
while prices and quantities stay in the instrument's units. A symbol's ``scale`` is
``None`` for a multiplier of 1, so plain instruments pay no multiply.

Short sales credit their proceeds to cash and carry a negative market value, so opening
and closing a short at one price with no costs leaves equity where it was. Realized PnL
is net of the commissions the fills report.

Orders in flight are reserved here when sized and released on fill, denial, rejection,
cancel or expiry; the pending quantities feed the projected exposure the caps use.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from atrium.actors.portfolio.caps import Exposure
from atrium.runtime.messages import Side
from atrium.runtime.snapshots import state_type

__all__ = ("InFlight", "Ledger", "Position", "SymbolBook")

log = logging.getLogger("atrium.portfolio.ledger")

ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)
_COST_QUANTUM: Final = Decimal("1e-12")


@state_type
class SymbolBook:
    """One symbol: its mark, net filled quantity over all strategies, and what is in flight.

    ``projected`` (quantity) and ``projected_value``/``margin_value`` (money at the mark)
    are this book's worst case over its orders in flight; the ledger keeps their sums so
    the caps need not walk every symbol for each intent.
    """

    __slots__ = (
        "margin_value",
        "mark",
        "pending_buy",
        "pending_sell",
        "projected",
        "projected_value",
        "quantity",
        "scale",
        "symbol",
    )

    def __init__(self, symbol: str, scale: Decimal | None = None) -> None:
        self.symbol = symbol
        #: The contract multiplier, ``None`` when it is 1 (no multiply needed).
        self.scale = scale
        self.mark: Decimal | None = None
        self.quantity = ZERO
        self.pending_buy = ZERO
        self.pending_sell = ZERO
        self.projected = ZERO
        self.projected_value = ZERO
        self.margin_value = ZERO

    def exposure(self) -> Exposure:
        return Exposure(self.quantity, self.pending_buy, self.pending_sell)

    @property
    def multiplier(self) -> Decimal:
        return ONE if self.scale is None else self.scale

    def value(self, price: Decimal) -> Decimal:
        """Money per unit of quantity at ``price``: ``price * multiplier``."""
        return price if self.scale is None else price * self.scale


@state_type
class Position:
    """One strategy's position in one symbol; ``cost`` is money (multiplier included)."""

    __slots__ = (
        "commission",
        "cost",
        "pending_buy",
        "pending_sell",
        "quantity",
        "realized_pnl",
        "scale",
        "strategy",
        "symbol",
    )

    def __init__(self, strategy: str, symbol: str, scale: Decimal | None = None) -> None:
        self.strategy = strategy
        self.symbol = symbol
        self.scale = scale
        self.quantity = ZERO
        self.cost = ZERO
        self.realized_pnl = ZERO
        self.commission = ZERO
        self.pending_buy = ZERO
        self.pending_sell = ZERO

    @property
    def avg_price(self) -> Decimal:
        """Average entry price of the open quantity (0 when flat), in price units."""
        if not self.quantity:
            return ZERO
        if self.scale is None:
            return self.cost / self.quantity
        return self.cost / (self.quantity * self.scale)

    def exposure(self) -> Exposure:
        return Exposure(self.quantity, self.pending_buy, self.pending_sell)

    @property
    def has_pending(self) -> bool:
        return bool(self.pending_buy or self.pending_sell)


@state_type
@dataclass(slots=True)
class InFlight:
    """An order the portfolio sized that has not fully filled or been released."""

    order_id: str
    intent_id: str
    strategy: str
    symbol: str
    side: Side
    remaining: Decimal
    reduces_position: bool


@state_type
class Ledger:
    """Account state of the portfolio. Mutated only by the portfolio actor's handlers.

    Parameters
    ----------
    initial_capital : Decimal
        Cash (and equity) on a fresh start.
    short_margin_factor : Decimal, default 1
        ``short_margin_pct * max_leverage``: margin is kept scaled by ``max_leverage``, so
        a long needs its notional and a short its notional times this (see
        :meth:`margin_projected`).
    multipliers : mapping of str to Decimal, default {}
        Contract multiplier per symbol (unlisted: 1).
    """

    def __init__(
        self,
        initial_capital: Decimal,
        *,
        short_margin_factor: Decimal = ONE,
        multipliers: Mapping[str, Decimal] | None = None,
    ) -> None:
        self.initial_capital = initial_capital
        self.short_margin_factor = short_margin_factor
        #: Only the multipliers that are not 1: the rest need no multiply.
        self.scales = {s: m for s, m in (multipliers or {}).items() if m != ONE}
        self.projected_value = ZERO
        self.margin_value = ZERO
        self.cash = initial_capital
        self.market_value = ZERO
        self.gross_value = ZERO
        self.total_cost = ZERO
        self.realized_pnl = ZERO
        self.peak_equity = initial_capital
        #: Equity moved in (+) or out (-) by a venue's deposits and withdrawals.
        self.transfers = ZERO
        self.books: dict[str, SymbolBook] = {}
        #: Books with a non-zero net position, in the order they (re)opened.
        self.open_books: dict[str, SymbolBook] = {}
        self.positions: dict[tuple[str, str], Position] = {}
        self.by_strategy: dict[str, dict[str, Position]] = {}
        self.in_flight: dict[str, InFlight] = {}
        self._by_intent: dict[str, str] = {}

    # -- account figures ---------------------------------------------------------------------

    @property
    def equity(self) -> Decimal:
        return self.cash + self.market_value

    @property
    def unrealized_pnl(self) -> Decimal:
        return self.market_value - self.total_cost

    @property
    def drawdown(self) -> Decimal:
        """Fall from the peak equity as a fraction of the peak (0 at a new high)."""
        peak = self.peak_equity
        if peak <= ZERO:
            return ZERO
        return (peak - self.equity) / peak

    # -- lookups ---------------------------------------------------------------------------

    def book(self, symbol: str) -> SymbolBook:
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = SymbolBook(symbol, self.scales.get(symbol))
        return book

    def position(self, strategy: str, symbol: str) -> Position:
        key = (strategy, symbol)
        position = self.positions.get(key)
        if position is None:
            position = self.positions[key] = Position(strategy, symbol, self.scales.get(symbol))
            self.by_strategy.setdefault(strategy, {})[symbol] = position
        return position

    def mark_of(self, symbol: str) -> Decimal | None:
        book = self.books.get(symbol)
        return book.mark if book is not None else None

    # -- marks -------------------------------------------------------------------------------

    def mark(self, symbol: str, price: Decimal) -> bool:
        """Record the latest price of ``symbol``; True when equity changed."""
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = SymbolBook(symbol, self.scales.get(symbol))
        old = book.mark
        if old == price:
            return False
        book.mark = price
        if book.projected:
            self._revalue(book)
        quantity = book.quantity
        if not quantity or old is None:
            return False
        move = price - old if book.scale is None else (price - old) * book.scale
        self.market_value += quantity * move
        self.gross_value += abs(quantity) * move
        self._update_peak()
        return True

    def _update_peak(self) -> None:
        self.peak_equity = max(self.peak_equity, self.equity)

    # -- fills -------------------------------------------------------------------------------

    def apply_fill(
        self,
        strategy: str,
        symbol: str,
        *,
        side: Side,
        quantity: Decimal,
        price: Decimal,
        commission: Decimal,
    ) -> Position:
        """Book a fill: cash, the strategy's position, realized PnL, the symbol's net."""
        book = self.book(symbol)
        if book.mark is None:
            # A fill before any market data (a venue may fill first): its price is the
            # best mark there is until the next bar or tick.
            book.mark = price
        mark = book.value(book.mark)
        price = book.value(price)  # money per unit from here on
        position = self.position(strategy, symbol)
        delta = quantity if side == "BUY" else -quantity

        self.cash -= delta * price + commission
        old_cost = position.cost
        old_realized = position.realized_pnl
        held = position.quantity
        if held == ZERO or (held > ZERO) == (delta > ZERO):
            position.quantity = held + delta
            position.cost = old_cost + delta * price
        else:
            closed = min(abs(delta), abs(held))
            signed_closed = closed if delta > ZERO else -closed
            if closed == abs(held):
                removed = old_cost
            else:
                removed = (old_cost * closed / abs(held)).quantize(_COST_QUANTUM)
            position.realized_pnl += -signed_closed * price - removed
            position.cost = old_cost - removed
            position.quantity = held + signed_closed
            opened = delta - signed_closed
            if opened:
                position.quantity += opened
                position.cost += opened * price
        position.realized_pnl -= commission
        position.commission += commission

        self.total_cost += position.cost - old_cost
        self.realized_pnl += position.realized_pnl - old_realized
        old_net = book.quantity
        book.quantity = old_net + delta
        if not book.quantity:
            del self.open_books[symbol]
        elif not old_net:
            self.open_books[symbol] = book
        self.market_value += delta * mark
        self.gross_value += (abs(book.quantity) - abs(old_net)) * mark
        self._revalue(book)
        self._update_peak()
        return position

    # -- orders in flight --------------------------------------------------------------------

    def reserve(self, order: InFlight) -> None:
        """Count ``order``'s quantity as in flight until it fills or is released."""
        if order.order_id in self.in_flight:
            raise ValueError(f"order_id {order.order_id!r} is already in flight")
        self.in_flight[order.order_id] = order
        self._by_intent[order.intent_id] = order.order_id
        self._adjust_pending(order, order.remaining)

    def release(self, order_id: str | None, intent_id: str = "") -> InFlight | None:
        """Drop what is left of an order (denied, rejected, cancelled, expired).

        Looked up by ``order_id``, else by ``intent_id`` (a denial may carry only that);
        returns ``None`` when nothing of it is in flight (already filled or released).
        """
        if order_id is None:
            order_id = self._by_intent.get(intent_id)
            if order_id is None:
                return None
        order = self.in_flight.get(order_id)
        if order is None:
            return None
        self._adjust_pending(order, -order.remaining)
        order.remaining = ZERO
        self._forget(order)
        return order

    def fill_in_flight(self, order_id: str, quantity: Decimal) -> InFlight | None:
        """Take ``quantity`` off an order in flight; ``None`` if it is not in flight."""
        order = self.in_flight.get(order_id)
        if order is None:
            return None
        taken = min(quantity, order.remaining)
        if quantity > order.remaining:
            log.error(
                "fill of %s for order %s exceeds its remaining %s; booked in full",
                quantity,
                order_id,
                order.remaining,
            )
        self._adjust_pending(order, -taken)
        order.remaining -= taken
        if order.remaining == ZERO:
            self._forget(order)
        return order

    def _forget(self, order: InFlight) -> None:
        del self.in_flight[order.order_id]
        if self._by_intent.get(order.intent_id) == order.order_id:
            del self._by_intent[order.intent_id]

    def _adjust_pending(self, order: InFlight, amount: Decimal) -> None:
        book = self.book(order.symbol)
        position = self.position(order.strategy, order.symbol)
        if order.side == "BUY":
            book.pending_buy += amount
            position.pending_buy += amount
        else:
            book.pending_sell += amount
            position.pending_sell += amount
        self._revalue(book)

    def _revalue(self, book: SymbolBook) -> None:
        """Recompute ``book``'s worst case at its mark and move the account sums with it."""
        quantity, buy, sell = book.quantity, book.pending_buy, book.pending_sell
        long_end = quantity + buy
        short_end = sell - quantity
        book.projected = max(abs(long_end), abs(short_end))
        mark = book.mark
        if mark is None:
            # Only an order in flight can exist without a mark, and sizing needs one.
            raise RuntimeError(f"symbol {book.symbol!r} holds a position but has no mark")
        mark = book.value(mark)
        projected_value = book.projected * mark
        margin_value = max(
            max(long_end, ZERO) * mark, max(short_end, ZERO) * mark * self.short_margin_factor
        )
        self.projected_value += projected_value - book.projected_value
        self.margin_value += margin_value - book.margin_value
        book.projected_value = projected_value
        book.margin_value = margin_value

    # -- exposure ----------------------------------------------------------------------------

    def strategy_gross(self, strategy: str) -> Decimal:
        """The strategy's filled gross exposure at the marks."""
        total = ZERO
        for symbol, position in self.by_strategy.get(strategy, {}).items():
            if position.quantity:
                total += abs(position.quantity) * self._mark(symbol)
        return total

    def strategy_net(self, strategy: str) -> Decimal:
        total = ZERO
        for symbol, position in self.by_strategy.get(strategy, {}).items():
            if position.quantity:
                total += position.quantity * self._mark(symbol)
        return total

    def strategy_projected(self, strategy: str) -> Decimal:
        """The strategy's gross exposure if the worst subset of its orders in flight fills."""
        total = ZERO
        for symbol, position in self.by_strategy.get(strategy, {}).items():
            if position.quantity or position.has_pending:
                total += position.exposure().projected() * self._mark(symbol)
        return total

    def strategy_unrealized(self, strategy: str) -> Decimal:
        total = ZERO
        for symbol, position in self.by_strategy.get(strategy, {}).items():
            if position.quantity:
                total += position.quantity * self._mark(symbol) - position.cost
        return total

    def strategy_realized(self, strategy: str) -> Decimal:
        return sum(
            (position.realized_pnl for position in self.by_strategy.get(strategy, {}).values()),
            ZERO,
        )

    def gross_projected(self) -> Decimal:
        """Gross exposure over symbols, each at its worst case over the orders in flight."""
        return self.projected_value

    def margin_projected(self) -> Decimal:
        """Margin of every symbol in its worst case, scaled by ``max_leverage``.

        Scaled long margin is the long notional; scaled short margin is the short
        notional times ``short_margin_factor``; each symbol counts the larger of its two
        ends. The cap compares it with ``equity * max_leverage``.
        """
        return self.margin_value

    def open_positions(self) -> int:
        return sum(1 for position in self.positions.values() if position.quantity)

    def _mark(self, symbol: str) -> Decimal:
        """Money per unit of ``symbol`` at its mark (multiplier included)."""
        book = self.books[symbol]
        return book.value(self._book_mark(book))

    @staticmethod
    def _book_mark(book: SymbolBook) -> Decimal:
        mark = book.mark
        # A position or an order exists only once a price was seen (sizing needs a mark,
        # a fill sets one), so a missing mark here is a bug, not a market condition.
        if mark is None:
            raise RuntimeError(f"symbol {book.symbol!r} holds a position but has no mark")
        return mark
