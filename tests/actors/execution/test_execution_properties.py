"""Invariants of the execution actor over random orders and bars (Hypothesis)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from atrium.actors.execution import ExecutionActor
from atrium.config.execution import ExecutionConfig
from atrium.runtime.actor import ActorContext
from atrium.runtime.clocks import SimClock
from atrium.runtime.codec import encode
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.messages import Bar, Fill, Message, Order, OrderUpdate

D = Decimal
DAY = 86_400 * 1_000_000_000
T0 = 19_723 * DAY

_ENDS = frozenset({"REJECTED", "CANCELLED", "EXPIRED"})

_cents = st.integers(min_value=4_000, max_value=6_000).map(lambda c: D(c).scaleb(-2))


@st.composite
def _bars(draw: st.DrawFn) -> list[Bar]:
    count = draw(st.integers(min_value=1, max_value=8))
    bars = []
    for index in range(count):
        open_, close, a, b = (draw(_cents) for _ in range(4))
        high = max(open_, close, a, b)
        low = min(open_, close, a, b)
        volume = D(draw(st.integers(min_value=0, max_value=3_000)))
        bars.append(
            Bar(
                ts=T0 + (index + 1) * DAY // 4,  # four bars a day: DAY orders expire
                symbol="NVDA",
                open=open_,
                high=high,
                low=low,
                close=close,
                volume=volume,
            )
        )
    return bars


@st.composite
def _orders(draw: st.DrawFn, bar_count: int) -> list[tuple[int, bool, Order]]:
    """Orders with the index of the bar they were decided on (-1: before any bar) and
    whether they reach execution before that bar does (a live mailbox may deliver so)."""
    placed = []
    for number in range(draw(st.integers(min_value=1, max_value=5))):
        order_type = draw(st.sampled_from(["MARKET", "LIMIT", "STOP"]))
        price = draw(_cents)
        placed.append(
            (
                draw(st.integers(min_value=-1, max_value=bar_count - 1)),
                draw(st.booleans()),
                dict(
                    order_id=f"o{number}",
                    side=draw(st.sampled_from(["BUY", "SELL"])),
                    quantity=D(draw(st.integers(min_value=1, max_value=400))),
                    order_type=order_type,
                    limit_price=price if order_type == "LIMIT" else None,
                    trigger_price=price if order_type == "STOP" else None,
                    time_in_force=draw(st.sampled_from(["GTC", "DAY", "IOC"])),
                ),
            )
        )
    return [(after, first, _order(after, fields)) for after, first, fields in placed]


def _order(after: int, fields: dict[str, Any]) -> Order:
    return Order(
        ts=T0 + (after + 1) * DAY // 4,
        intent_id="i",
        strategy="s",
        symbol="NVDA",
        reference_price=D(50),
        reduces_position=False,
        **fields,
    )


@dataclass(frozen=True)
class _Run:
    out: list[Message]
    fill_bar: dict[str, list[Bar | None]]


def _run(config: ExecutionConfig, bars: list[Bar], orders: list[tuple[int, bool, Order]]) -> _Run:
    clock = SimClock(T0)
    bus = Dispatcher()
    out: list[Message] = []
    bus.add_tap(out.append)
    actor = ExecutionActor(
        ActorContext(
            name="execution",
            config=config,
            clock=clock,
            dispatcher=bus,
            registry=CollectorRegistry(),
        )
    )
    fill_bar: dict[str, list[Bar | None]] = defaultdict(list)

    def deliver(message: Message, bar: Bar | None) -> None:
        clock.advance_to(max(message.ts, clock.now_ns()))
        start = len(out)
        actor.handle(message)
        for published in out[start:]:
            if isinstance(published, Fill):
                fill_bar[published.order_id].append(bar)

    for index in range(-1, len(bars)):
        ahead = [o for after, first, o in orders if after == index and (first or index < 0)]
        behind = [o for after, first, o in orders if after == index and not first and index >= 0]
        for order in ahead:
            deliver(order, None)
        if index >= 0:
            deliver(bars[index], bars[index])
        for order in behind:
            deliver(order, None)  # None: an immediate current_close fill
    return _Run(out, fill_bar)


_configs = st.builds(
    ExecutionConfig,
    market_fill=st.sampled_from(["next_open", "current_close"]),
    slippage_bps=st.sampled_from([D(0), D(5), D("12.5")]),
    commission_per_share=st.sampled_from([D(0), D("0.005")]),
    commission_bps=st.sampled_from([D(0), D(3)]),
    commission_min=st.sampled_from([D(0), D(1)]),
    max_volume_participation=st.sampled_from([None, D("0.1"), D("0.25")]),
)


@settings(max_examples=100, deadline=None)
@given(config=_configs, data=st.data())
def test_invariants_when_random_orders_and_bars_then_book_and_fills_consistent(
    config: ExecutionConfig, data: st.DataObject
) -> None:
    bars = data.draw(_bars())
    orders = data.draw(_orders(len(bars)))
    run = _run(config, bars, orders)
    by_id = {order.order_id: order for _, _, order in orders}
    slip = config.slippage_bps.scaleb(-4)

    updates: dict[str, list[OrderUpdate]] = defaultdict(list)
    fills: dict[str, list[Fill]] = defaultdict(list)
    for message in run.out:
        if isinstance(message, OrderUpdate):
            updates[message.order_id].append(message)
        elif isinstance(message, Fill):
            fills[message.order_id].append(message)

    for order_id, order in by_id.items():
        history = updates[order_id]
        statuses = [u.status for u in history]
        own = fills[order_id]
        # Published: ACCEPTED for a resting (non-market) order, then its fills, and an
        # update only when it ends without filling whole.
        resting = order.order_type != "MARKET"
        ends = [u for u in history if u.status in _ENDS]
        assert statuses in (
            ["ACCEPTED"] * resting + [u.status for u in ends],
            [u.status for u in ends],  # rejected at once: never accepted
        )
        assert len(ends) <= 1
        assert all(u.filled_quantity + u.remaining_quantity == order.quantity for u in history)
        assert [f.fill_id for f in own] == [f"{order_id}-{n}" for n in range(1, len(own) + 1)]
        filled = D(0)
        for fill in own:
            filled += fill.quantity
            assert fill.leaves_quantity == order.quantity - filled
        if ends:
            assert ends[0].filled_quantity == filled and ends[0].remaining_quantity > 0
            assert run.out.index(ends[0]) > max((run.out.index(f) for f in own), default=-1)
        raw = sum(
            (
                config.commission_per_share * f.quantity
                + config.commission_bps.scaleb(-4) * f.quantity * f.price
                for f in own
            ),
            D(0),
        )
        paid = sum((f.commission for f in own), D(0))
        assert paid == (max(config.commission_min, raw) if own else D(0))
        for fill, bar in zip(own, run.fill_bar[order_id], strict=True):
            if bar is None:  # the immediate current_close fill
                assert config.market_fill == "current_close"
                assert order.order_type == "MARKET"
                continue
            assert bar.ts > order.ts  # never on the bar it was decided on
            assert bar.low * (1 - slip) <= fill.price <= bar.high * (1 + slip)
            if order.limit_price is not None:
                if order.side == "BUY":
                    assert fill.price <= order.limit_price
                else:
                    assert fill.price >= order.limit_price

    if config.max_volume_participation is not None:
        per_bar: dict[int, Decimal] = defaultdict(lambda: D(0))
        for order_id, own in fills.items():
            for fill, bar in zip(own, run.fill_bar[order_id], strict=True):
                per_bar[bar.ts if bar is not None else -1] += fill.quantity
        for bar in bars:
            assert per_bar[bar.ts] <= config.max_volume_participation * bar.volume

    again = _run(config, bars, orders)
    assert [encode(m) for m in again.out] == [encode(m) for m in run.out]
