"""The order state machine and the book of orders the execution actor owns.

Legal transitions (anything else raises :class:`IllegalTransitionError`, a bug in the
venue or the actor, never a trading outcome)::

    SUBMITTED        -> ACCEPTED | REJECTED
    ACCEPTED         -> PARTIALLY_FILLED | FILLED | CANCELLED | EXPIRED
    PARTIALLY_FILLED -> PARTIALLY_FILLED | FILLED | CANCELLED | EXPIRED
    FILLED, REJECTED, CANCELLED, EXPIRED: terminal
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from atrium.actors.execution.closed_ids import ClosedIds
from atrium.runtime.messages import Order, OrderStatus
from atrium.runtime.snapshots import state_type

__all__ = ("IllegalTransitionError", "OrderBook", "OrderState")

_ZERO: Final = Decimal(0)

_NEXT: Final[dict[str, frozenset[str]]] = {
    "SUBMITTED": frozenset({"ACCEPTED", "REJECTED"}),
    "ACCEPTED": frozenset({"PARTIALLY_FILLED", "FILLED", "CANCELLED", "EXPIRED"}),
    "PARTIALLY_FILLED": frozenset({"PARTIALLY_FILLED", "FILLED", "CANCELLED", "EXPIRED"}),
    "FILLED": frozenset(),
    "REJECTED": frozenset(),
    "CANCELLED": frozenset(),
    "EXPIRED": frozenset(),
}
_OPEN: Final = frozenset({"SUBMITTED", "ACCEPTED", "PARTIALLY_FILLED"})


class IllegalTransitionError(ValueError):
    """Raised when an order is asked to move to a state its current state cannot reach."""

    def __init__(self, order_id: str, current: str, requested: str) -> None:
        super().__init__(f"order {order_id!r}: illegal transition {current} -> {requested}")
        self.order_id = order_id
        self.current = current
        self.requested = requested


@state_type
class OrderState:
    """One order's lifecycle: status, filled quantity and fill notional (exact Decimals)."""

    __slots__ = ("fill_count", "fill_notional", "filled_quantity", "order", "status")

    def __init__(self, order: Order) -> None:
        self.order = order
        self.status: OrderStatus = "SUBMITTED"
        self.filled_quantity = _ZERO
        self.fill_notional = _ZERO
        self.fill_count = 0

    @property
    def order_id(self) -> str:
        return self.order.order_id

    @property
    def remaining_quantity(self) -> Decimal:
        return self.order.quantity - self.filled_quantity

    @property
    def avg_fill_price(self) -> Decimal | None:
        """Volume-weighted fill price (Decimal context precision); None before a fill.

        Informational: accounting uses the ``Fill`` prices, which are exact.
        """
        if self.fill_count == 0:
            return None
        return self.fill_notional / self.filled_quantity

    @property
    def is_open(self) -> bool:
        return self.status in _OPEN

    def transition(self, status: OrderStatus) -> None:
        """Move to ``status``; fills go through :meth:`apply_fill` instead."""
        if status in ("PARTIALLY_FILLED", "FILLED"):
            raise ValueError(
                f"order {self.order_id!r}: {status} is reached through apply_fill, not transition"
            )
        self._check(status)
        self.status = status

    def apply_fill(self, quantity: Decimal, price: Decimal) -> OrderStatus:
        """Record a fill and return the new status (PARTIALLY_FILLED or FILLED)."""
        if not quantity.is_finite() or quantity <= _ZERO:
            raise ValueError(f"order {self.order_id!r}: fill quantity must be > 0, got {quantity}")
        if not price.is_finite() or price <= _ZERO:
            raise ValueError(f"order {self.order_id!r}: fill price must be > 0, got {price}")
        remaining = self.remaining_quantity
        if quantity > remaining:
            raise ValueError(
                f"order {self.order_id!r}: fill quantity {quantity} exceeds remaining "
                f"quantity {remaining}"
            )
        status: OrderStatus = "FILLED" if quantity == remaining else "PARTIALLY_FILLED"
        self._check(status)
        self.status = status
        self.filled_quantity += quantity
        self.fill_notional += quantity * price
        self.fill_count += 1
        return status

    def as_dict(self) -> dict[str, Any]:
        """A plain dict for operators and the HTTP API (Decimals stay Decimals)."""
        order = self.order
        return {
            "order_id": order.order_id,
            "intent_id": order.intent_id,
            "strategy": order.strategy,
            "symbol": order.symbol,
            "side": order.side,
            "order_type": order.order_type,
            "time_in_force": order.time_in_force,
            "quantity": order.quantity,
            "limit_price": order.limit_price,
            "trigger_price": order.trigger_price,
            "status": self.status,
            "filled_quantity": self.filled_quantity,
            "remaining_quantity": self.remaining_quantity,
            "avg_fill_price": self.avg_fill_price,
            "submitted_ts": order.ts,
        }

    def _check(self, status: str) -> None:
        if status not in _NEXT[self.status]:
            raise IllegalTransitionError(self.order_id, self.status, status)


@state_type
class OrderBook:
    """Open orders in submission order, plus the ids of every closed one.

    Closed orders keep only their id, in a :class:`ClosedIds`: enough to refuse a
    duplicate ``order_id`` and to tell "unknown" from "already closed", in memory that
    stays flat over a long replay.
    """

    __slots__ = ("_closed", "_open")

    def __init__(self) -> None:
        self._open: dict[str, OrderState] = {}
        self._closed = ClosedIds()

    def add(self, order: Order) -> OrderState:
        """Start tracking a new order in SUBMITTED."""
        order_id = order.order_id
        if self.knows(order_id):
            raise ValueError(f"order {order_id!r} is already in the book")
        state = OrderState(order)
        self._open[order_id] = state
        return state

    def knows(self, order_id: str) -> bool:
        return order_id in self._open or order_id in self._closed

    def is_closed(self, order_id: str) -> bool:
        return order_id in self._closed

    def get_open(self, order_id: str) -> OrderState | None:
        return self._open.get(order_id)

    def retire(self, state: OrderState) -> None:
        """Drop a terminal order from the open set (its id is remembered)."""
        if state.is_open:
            raise ValueError(f"order {state.order_id!r} is still {state.status}; cannot retire it")
        del self._open[state.order_id]
        self._closed.add(state.order_id)

    def open_states(self) -> list[OrderState]:
        """Open orders in submission order (a copy: safe to change the book while iterating)."""
        return list(self._open.values())

    def __len__(self) -> int:
        return len(self._open)
