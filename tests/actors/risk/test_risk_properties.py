"""Invariants of the risk gate, checked over generated orders and equity paths."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from atrium.actors.risk import RiskActor
from atrium.actors.risk.state import LossLimit, TradingStateMachine
from atrium.config.risk import RiskConfig
from atrium.runtime.actor import ActorContext
from atrium.runtime.clocks import SimClock
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.messages import (
    Bar,
    Message,
    Order,
    OrderDenied,
    OrderType,
    SizedOrder,
    SizingExplanation,
    TradingState,
)

D = Decimal
BOUNDED = settings(max_examples=60, deadline=None)

_prices = st.decimals(min_value=D("0.01"), max_value=D("10000"), places=2)
_quantities = st.decimals(min_value=D(1), max_value=D(100000), places=0)


@st.composite
def _orders(draw: st.DrawFn) -> SizedOrder:
    reference = draw(_prices)
    quantity = draw(_quantities)
    order_type: OrderType = draw(st.sampled_from(("MARKET", "LIMIT")))
    return SizedOrder(
        ts=0,
        order_id=f"o-{draw(st.integers(0, 10**6))}",
        intent_id="i",
        strategy="s",
        symbol=draw(st.sampled_from(["NVDA", "AAPL"])),
        side=draw(st.sampled_from(["BUY", "SELL"])),
        quantity=quantity,
        reference_price=reference,
        reduces_position=draw(st.booleans()),
        sizing=SizingExplanation(
            mode="fixed_qty",
            equity=D(1),
            price=reference,
            raw_quantity=quantity,
            final_quantity=quantity,
        ),
        order_type=order_type,
        limit_price=draw(_prices) if order_type == "LIMIT" else None,
    )


def _run(state: TradingState, orders: list[SizedOrder], marks: list[D]) -> list[Message]:
    published: list[Message] = []
    bus = Dispatcher()
    bus.add_tap(published.append)
    actor = RiskActor(
        ActorContext(
            name="risk",
            # every other check off, so the state alone decides
            config=RiskConfig(initial_state=state, max_order_rate=None, price_band_pct=None),
            clock=SimClock(),
            dispatcher=bus,
            registry=CollectorRegistry(),
        )
    )
    for mark, order in zip(marks, orders, strict=True):
        actor.handle(Bar(ts=0, symbol=order.symbol, open=mark, high=mark, low=mark, close=mark))
        actor.handle(order)
    return published


@BOUNDED
@given(st.data())
def test_halted_when_any_orders_then_none_approved(data: st.DataObject) -> None:
    orders = data.draw(st.lists(_orders(), min_size=1, max_size=15))
    marks = data.draw(st.lists(_prices, min_size=len(orders), max_size=len(orders)))
    published = _run("HALTED", orders, marks)
    assert not any(isinstance(m, Order) for m in published)
    assert [m.reason for m in published if isinstance(m, OrderDenied)] == ["TRADING_HALTED"] * len(
        orders
    )


@BOUNDED
@given(st.data())
def test_reducing_when_any_orders_then_exactly_the_reducing_ones_approved(
    data: st.DataObject,
) -> None:
    orders = data.draw(st.lists(_orders(), min_size=1, max_size=15))
    marks = data.draw(st.lists(_prices, min_size=len(orders), max_size=len(orders)))
    published = _run("REDUCING", orders, marks)
    approved = [m.order_id for m in published if isinstance(m, Order)]
    assert approved == [o.order_id for o in orders if o.reduces_position]
    assert all(m.reduces_position for m in published if isinstance(m, Order))


_equities = st.decimals(min_value=D(1), max_value=D(10**9), places=2)


@BOUNDED
@given(st.lists(_equities, min_size=1, max_size=30))
def test_loss_limits_when_equity_never_falls_then_never_trip(equities: list[D]) -> None:
    machine = TradingStateMachine(
        initial_state="ACTIVE",
        drawdown=LossLimit(limit=D("0.001"), action="halt"),
        daily_loss=LossLimit(limit=D("0.001"), action="halt"),
        daily_loss_resets_next_day=True,
    )
    for equity in sorted(equities):
        assert machine.on_equity(equity, D(0), 0) == ()
    assert machine.state == "ACTIVE"


@BOUNDED
@given(
    st.lists(_equities, min_size=1, max_size=30),
    st.decimals(min_value=D("0.01"), max_value=D("0.5"), places=2),
)
def test_drawdown_limit_when_any_path_then_trips_exactly_when_fall_from_peak_reaches_limit(
    equities: list[D], limit: D
) -> None:
    machine = TradingStateMachine(
        initial_state="ACTIVE",
        drawdown=LossLimit(limit=limit, action="reduce"),
        daily_loss=None,
        daily_loss_resets_next_day=True,
    )
    peak = equities[0]
    tripped = False
    for equity in equities:
        peak = max(peak, equity)
        tripped = tripped or (peak - equity) / peak >= limit
        machine.on_equity(equity, D(0), 0)
        assert machine.state == ("REDUCING" if tripped else "ACTIVE")
