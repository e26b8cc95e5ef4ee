"""The order state machine: legal paths, every illegal transition, fills and the book."""

from __future__ import annotations

import itertools
import re
from decimal import Decimal
from typing import get_args

import pytest

from atrium.actors.execution.orders import IllegalTransitionError, OrderBook, OrderState
from atrium.runtime.messages import Order, OrderStatus

D = Decimal

_LEGAL = {
    ("SUBMITTED", "ACCEPTED"),
    ("SUBMITTED", "REJECTED"),
    ("ACCEPTED", "PARTIALLY_FILLED"),
    ("ACCEPTED", "FILLED"),
    ("ACCEPTED", "CANCELLED"),
    ("ACCEPTED", "EXPIRED"),
    ("PARTIALLY_FILLED", "PARTIALLY_FILLED"),
    ("PARTIALLY_FILLED", "FILLED"),
    ("PARTIALLY_FILLED", "CANCELLED"),
    ("PARTIALLY_FILLED", "EXPIRED"),
}
_STATUSES: tuple[OrderStatus, ...] = get_args(OrderStatus)
_ILLEGAL = sorted(set(itertools.product(_STATUSES, _STATUSES)) - _LEGAL)


def _order(order_id: str = "o1", quantity: str = "100") -> Order:
    return Order(
        ts=5,
        order_id=order_id,
        intent_id="i1",
        strategy="s1",
        symbol="NVDA",
        side="BUY",
        quantity=D(quantity),
        reference_price=D(50),
        reduces_position=False,
    )


def _state_in(status: OrderStatus) -> OrderState:
    state = OrderState(_order())
    state.status = status
    if status == "PARTIALLY_FILLED":
        state.filled_quantity = D(40)
    return state


def test_lifecycle_when_accepted_and_filled_in_two_parts_then_avg_is_volume_weighted() -> None:
    state = OrderState(_order())
    state.transition("ACCEPTED")

    assert state.apply_fill(D(40), D("50.00")) == "PARTIALLY_FILLED"
    assert (state.filled_quantity, state.remaining_quantity) == (D(40), D(60))
    assert state.apply_fill(D(60), D("51.00")) == "FILLED"
    # (40 x 50 + 60 x 51) / 100 = 5060 / 100 = 50.60
    assert state.avg_fill_price == D("50.60")
    assert state.remaining_quantity == D(0)
    assert not state.is_open


def test_avg_fill_price_when_no_fill_then_none() -> None:
    assert OrderState(_order()).avg_fill_price is None


@pytest.mark.parametrize(("current", "requested"), _ILLEGAL)
def test_transition_when_not_in_table_then_raises_naming_both_states(
    current: OrderStatus, requested: OrderStatus
) -> None:
    state = _state_in(current)
    quantity = D(10) if requested == "PARTIALLY_FILLED" else state.remaining_quantity

    with pytest.raises(
        IllegalTransitionError,
        match=rf"^order 'o1': illegal transition {current} -> {requested}$",
    ):
        if requested in ("PARTIALLY_FILLED", "FILLED"):
            state.apply_fill(quantity, D(50))
        else:
            state.transition(requested)
    assert state.status == current


@pytest.mark.parametrize(("current", "requested"), sorted(_LEGAL))
def test_transition_when_in_table_then_status_moves(
    current: OrderStatus, requested: OrderStatus
) -> None:
    state = _state_in(current)
    if requested == "PARTIALLY_FILLED":
        state.apply_fill(D(10), D(50))
    elif requested == "FILLED":
        state.apply_fill(state.remaining_quantity, D(50))
    else:
        state.transition(requested)

    assert state.status == requested


@pytest.mark.parametrize("status", ["PARTIALLY_FILLED", "FILLED"])
def test_transition_when_fill_status_requested_directly_then_raises(status: OrderStatus) -> None:
    state = _state_in("ACCEPTED")

    with pytest.raises(
        ValueError,
        match=rf"^order 'o1': {status} is reached through apply_fill, not transition$",
    ):
        state.transition(status)


@pytest.mark.parametrize(
    ("quantity", "price", "message"),
    [
        ("101", "50", "order 'o1': fill quantity 101 exceeds remaining quantity 100"),
        ("0", "50", "order 'o1': fill quantity must be > 0, got 0"),
        ("10", "0", "order 'o1': fill price must be > 0, got 0"),
        ("10", "NaN", "order 'o1': fill price must be > 0, got NaN"),
    ],
)
def test_apply_fill_when_bad_numbers_then_raises_and_state_unchanged(
    quantity: str, price: str, message: str
) -> None:
    state = _state_in("ACCEPTED")

    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        state.apply_fill(D(quantity), D(price))
    assert (state.status, state.filled_quantity) == ("ACCEPTED", D(0))


def test_book_when_orders_added_and_retired_then_open_in_submission_order_and_ids_kept() -> None:
    book = OrderBook()
    first, second, third = (book.add(_order(i)) for i in ("b", "a", "c"))
    for state in (first, second, third):
        state.transition("ACCEPTED")
    second.transition("CANCELLED")
    book.retire(second)

    assert [s.order_id for s in book.open_states()] == ["b", "c"]
    assert len(book) == 2
    assert book.get_open("a") is None
    assert book.is_closed("a")
    assert book.knows("a") and book.knows("b")
    assert not book.knows("zz")


def test_book_when_id_added_twice_then_raises() -> None:
    book = OrderBook()
    book.add(_order())

    with pytest.raises(ValueError, match=r"^order 'o1' is already in the book$"):
        book.add(_order())


def test_book_when_retiring_open_order_then_raises() -> None:
    book = OrderBook()
    state = book.add(_order())
    state.transition("ACCEPTED")

    with pytest.raises(ValueError, match=r"^order 'o1' is still ACCEPTED; cannot retire it$"):
        book.retire(state)


def test_as_dict_when_partially_filled_then_plain_values() -> None:
    state = OrderState(_order())
    state.transition("ACCEPTED")
    state.apply_fill(D(25), D("50.5"))

    assert state.as_dict() == {
        "order_id": "o1",
        "intent_id": "i1",
        "strategy": "s1",
        "symbol": "NVDA",
        "side": "BUY",
        "order_type": "MARKET",
        "time_in_force": "GTC",
        "quantity": D(100),
        "limit_price": None,
        "trigger_price": None,
        "status": "PARTIALLY_FILLED",
        "filled_quantity": D(25),
        "remaining_quantity": D(75),
        "avg_fill_price": D("50.5"),
        "submitted_ts": 5,
    }
