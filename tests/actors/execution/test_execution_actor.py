"""The execution actor without an event loop: messages in, recorded messages out."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from atrium.actors.execution import ExecutionActor
from atrium.actors.execution.adapter import (
    EventSink,
    OrderStatusReport,
    VenueAccepted,
    VenueCancelled,
    VenueConnectionChanged,
    VenueFilled,
    encode_events,
)
from atrium.actors.execution.orders import IllegalTransitionError, OrderBook
from atrium.actors.execution.paper import PaperVenue
from atrium.config.execution import CcxtVenueConfig, ExecutionConfig
from atrium.config.schema import AtriumConfig
from atrium.config.topology import ActorSpecConfig, TopologyConfig, default_actors
from atrium.runtime.actor import Actor, ActorContext
from atrium.runtime.clocks import SimClock
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.errors import SnapshotError
from atrium.runtime.messages import (
    Bar,
    CancelOrder,
    Control,
    Fill,
    Message,
    Order,
    OrderUpdate,
    Tick,
    TradingStateChanged,
    VenueReport,
)
from atrium.runtime.snapshots import decode_states, encode_states
from atrium.runtime.topology import build_pipeline

D = Decimal
DAY = 86_400 * 1_000_000_000
T0 = 19_723 * DAY  # 2024-01-01T00:00Z
T1 = T0 + DAY
T2 = T0 + 2 * DAY


class Harness:
    """An actor on a SimClock whose published messages are recorded in order."""

    def __init__(self, **settings: Any) -> None:
        self.clock = SimClock(T0)
        self.registry = CollectorRegistry()
        bus = Dispatcher()
        self.out: list[Message] = []
        bus.add_tap(self.out.append)
        self.actor = ExecutionActor(
            ActorContext(
                name="execution",
                config=ExecutionConfig(**settings),
                clock=self.clock,
                dispatcher=bus,
                registry=self.registry,
                mode="replay",
            )
        )

    def send(self, message: Message) -> list[Message]:
        """Handle ``message`` at its timestamp; return what it published."""
        if message.ts > self.clock.now_ns():
            self.clock.advance_to(message.ts)
        start = len(self.out)
        self.actor.handle(message)
        return self.out[start:]

    def metric(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


def _order(
    order_id: str = "o1",
    *,
    ts: int = T0,
    side: str = "BUY",
    quantity: str = "100",
    strategy: str = "s1",
    **fields: Any,
) -> Order:
    return Order(
        ts=ts,
        order_id=order_id,
        intent_id=f"i-{order_id}",
        strategy=strategy,
        symbol="NVDA",
        side=side,  # type: ignore[arg-type]
        quantity=D(quantity),
        reference_price=D(50),
        reduces_position=False,
        **fields,
    )


def _bar(ts: int, open_: str, high: str, low: str, close: str, volume: str = "1000") -> Bar:
    return Bar(
        ts=ts,
        symbol="NVDA",
        open=D(open_),
        high=D(high),
        low=D(low),
        close=D(close),
        volume=D(volume),
    )


def _update(
    status: str,
    filled: str,
    remaining: str,
    avg: str | None = None,
    reason: str = "",
    *,
    ts: int = T0,
    order_id: str = "o1",
    strategy: str = "s1",
) -> OrderUpdate:
    return OrderUpdate(
        ts=ts,
        order_id=order_id,
        strategy=strategy,
        symbol="NVDA",
        status=status,  # type: ignore[arg-type]
        filled_quantity=D(filled),
        remaining_quantity=D(remaining),
        avg_fill_price=None if avg is None else D(avg),
        reason=reason,
    )


def _fill(
    n: int, quantity: str, price: str, commission: str = "0", *, ts: int = T1, leaves: str = "0"
) -> Fill:
    return Fill(
        leaves_quantity=D(leaves),
        ts=ts,
        fill_id=f"o1-{n}",
        order_id="o1",
        strategy="s1",
        symbol="NVDA",
        side="BUY",
        quantity=D(quantity),
        price=D(price),
        commission=D(commission),
    )


def _statuses(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.order_id, m.status) for m in messages if isinstance(m, OrderUpdate)]


# -- order flow ----------------------------------------------------------------------------


def test_order_when_market_received_then_nothing_published_until_it_fills() -> None:
    h = Harness()

    assert h.send(_order()) == []
    assert [o["status"] for o in h.actor.open_orders()] == ["ACCEPTED"]
    assert h.metric("atrium_orders_total", status="SUBMITTED") == 1
    assert h.metric("atrium_orders_total", status="ACCEPTED") == 1


def test_order_when_limit_received_then_accepted_update_for_a_resting_order() -> None:
    h = Harness()

    assert h.send(_order(order_type="LIMIT", limit_price=D(45))) == [
        _update("ACCEPTED", "0", "100")
    ]


def test_order_when_next_bar_opens_then_one_fill_with_costs_and_nothing_left() -> None:
    # BUY 100 @ open 50.00, 10 bps slippage -> 50.05; 0.005/share = 0.50 < minimum 1.00.
    h = Harness(slippage_bps=D(10), commission_per_share=D("0.005"), commission_min=D("1.00"))
    h.send(_order())

    assert h.send(_bar(T1, "50.00", "51", "49", "50.5")) == [_fill(1, "100", "50.05", "1")]
    assert h.actor.open_orders() == []
    assert h.metric("atrium_orders_total", status="FILLED") == 1


def test_order_when_bar_is_decision_bar_then_nothing_fills() -> None:
    h = Harness()
    h.send(_order(ts=T0))

    assert h.send(_bar(T0, "50", "51", "49", "50")) == []
    assert [o["order_id"] for o in h.actor.open_orders()] == ["o1"]


def test_order_when_current_close_then_fill_published_inside_order_handling() -> None:
    h = Harness(market_fill="current_close")
    h.send(_bar(T0, "50", "51", "49", "50.75"))

    assert h.send(_order()) == [_fill(1, "100", "50.75", ts=T0)]


def test_order_when_participation_cap_then_numbered_fills_with_what_is_left() -> None:
    # 0.1 x 1000 = 100 per bar: 250 = 100 @ 50 + 100 @ 51 + 50 @ 52.
    # Average after two fills: (5000 + 5100) / 200 = 50.5; after three: 12700 / 250 = 50.8.
    h = Harness(max_volume_participation=D("0.1"))
    h.send(_order(quantity="250"))

    assert h.send(_bar(T1, "50", "51", "49", "50")) == [_fill(1, "100", "50", ts=T1, leaves="150")]
    assert h.send(_bar(T2, "51", "52", "50", "51")) == [_fill(2, "100", "51", ts=T2, leaves="50")]
    (state,) = h.actor.open_orders()
    assert (state["filled_quantity"], state["avg_fill_price"]) == (D(200), D("50.5"))
    t3 = T2 + DAY
    assert h.send(_bar(t3, "52", "53", "51", "52")) == [_fill(3, "50", "52", ts=t3)]
    assert h.actor.open_orders() == []


def test_order_when_venue_rejects_then_rejected_update_with_reason() -> None:
    h = Harness()

    assert h.send(_order(quantity="10.5")) == [
        _update(
            "REJECTED", "0", "10.5", reason="QUANTITY_NOT_LOT_MULTIPLE: quantity=10.5 lot_size=1"
        ),
    ]
    assert h.actor.open_orders() == []


def test_order_when_id_already_seen_then_ignored_without_messages() -> None:
    h = Harness()
    h.send(_order())
    h.send(_bar(T1, "50", "51", "49", "50"))

    assert h.send(_order()) == []
    assert h.send(_bar(T2, "50", "51", "49", "50")) == []  # o1 does not trade twice
    assert h.send(_order("o2", ts=T2)) == []
    assert [o["order_id"] for o in h.actor.open_orders()] == ["o2"]
    assert h.metric("atrium_execution_ignored_requests_total", reason="DUPLICATE_ORDER_ID") == 1


def test_order_when_day_order_outlives_day_then_expired_update() -> None:
    h = Harness()
    h.send(_order(order_type="LIMIT", limit_price=D(45), time_in_force="DAY"))
    h.send(_bar(T1, "50", "51", "49", "50"))

    assert h.send(_bar(T2, "50", "51", "44", "50")) == [
        _update(
            "EXPIRED",
            "0",
            "100",
            reason="DAY_EXPIRED: day=2024-01-02 filled=0 remaining=100",
            ts=T2,
        )
    ]


def test_order_when_ioc_limit_untouched_then_cancelled_update() -> None:
    h = Harness()
    h.send(_order(order_type="LIMIT", limit_price=D(45), time_in_force="IOC"))

    assert h.send(_bar(T1, "50", "51", "49", "50")) == [
        _update("CANCELLED", "0", "100", reason="IOC_REMAINDER: filled=0 remaining=100", ts=T1)
    ]


def test_tick_when_order_open_then_fills_at_tick_price() -> None:
    h = Harness()
    h.send(_order())

    published = h.send(Tick(ts=T0 + 1, symbol="NVDA", price=D("50.01"), size=D(500)))
    assert published == [_fill(1, "100", "50.01", ts=T0 + 1)]


def test_bar_when_no_open_orders_then_nothing_published() -> None:
    h = Harness()

    assert h.send(_bar(T1, "50", "51", "49", "50")) == []


# -- cancels -------------------------------------------------------------------------------


def test_cancel_when_order_open_then_cancelled_with_filled_and_remaining() -> None:
    h = Harness(max_volume_participation=D("0.1"))
    h.send(_order(quantity="250"))
    h.send(_bar(T1, "50", "51", "49", "50"))

    assert h.send(CancelOrder(ts=T1 + 1, order_id="o1", strategy="s1", reason="signal gone")) == [
        _update(
            "CANCELLED",
            "100",
            "150",
            "50",
            reason="CANCEL_REQUESTED: strategy=s1 note='signal gone'",
            ts=T1 + 1,
        )
    ]
    assert h.send(_bar(T2, "50", "51", "49", "50")) == []


@pytest.mark.parametrize(
    ("order_id", "strategy", "reason"),
    [
        ("nope", "s1", "UNKNOWN_ORDER"),
        ("o1", "s1", "ORDER_NOT_OPEN"),
        ("o2", "other", "STRATEGY_MISMATCH"),
    ],
)
def test_cancel_when_order_not_cancellable_then_nothing_published_and_counted(
    order_id: str, strategy: str, reason: str
) -> None:
    h = Harness()
    h.send(_order("o1"))
    h.send(_bar(T1, "50", "51", "49", "50"))  # o1 fills
    h.send(_order("o2", ts=T1, order_type="LIMIT", limit_price=D(40)))

    assert h.send(CancelOrder(ts=T1, order_id=order_id, strategy=strategy)) == []
    assert h.metric("atrium_execution_ignored_requests_total", reason=reason) == 1
    assert [o["order_id"] for o in h.actor.open_orders()] == ["o2"]


# -- halt, flatten, trading state ----------------------------------------------------------


def _two_open_orders(h: Harness) -> None:
    h.send(_order("o1", order_type="LIMIT", limit_price=D(40)))
    h.send(_order("o2", side="SELL", order_type="STOP", trigger_price=D(30)))


def test_control_when_halt_then_open_orders_cancelled_in_submission_order() -> None:
    h = Harness()
    _two_open_orders(h)

    published = h.send(Control(ts=T0 + 5, command="halt", reason="manual", source="operator"))
    reason = "HALTED: command=halt source=operator note='manual'"
    assert published == [
        _update("CANCELLED", "0", "100", reason=reason, ts=T0 + 5, order_id="o1"),
        _update("CANCELLED", "0", "100", reason=reason, ts=T0 + 5, order_id="o2"),
    ]
    assert h.actor.open_orders() == []


def test_order_when_halted_then_rejected_until_resume() -> None:
    h = Harness()
    h.send(Control(ts=T0, command="halt"))

    assert h.send(_order("o1")) == [
        _update("REJECTED", "0", "100", reason="TRADING_HALTED: state=HALTED"),
    ]
    h.send(Control(ts=T0, command="resume"))
    assert h.send(_order("o2")) == []
    assert [o["order_id"] for o in h.actor.open_orders()] == ["o2"]


def test_trading_state_when_halted_then_cancels_and_rejects_until_active() -> None:
    h = Harness()
    _two_open_orders(h)

    published = h.send(
        TradingStateChanged(ts=T0, state="HALTED", previous="ACTIVE", reason="drawdown 21%")
    )
    assert _statuses(published) == [("o1", "CANCELLED"), ("o2", "CANCELLED")]
    assert published[0].reason == "HALTED: state=HALTED previous=ACTIVE note='drawdown 21%'"  # type: ignore[attr-defined]
    assert _statuses(h.send(_order("o3"))) == [("o3", "REJECTED")]

    h.send(TradingStateChanged(ts=T0, state="REDUCING", previous="HALTED", reason="flatten"))
    assert h.send(_order("o4")) == []
    assert [o["order_id"] for o in h.actor.open_orders()] == ["o4"]


def test_control_when_flatten_then_cancels_open_orders_and_keeps_accepting() -> None:
    h = Harness()
    _two_open_orders(h)

    published = h.send(Control(ts=T0, command="flatten", source="operator"))
    assert _statuses(published) == [("o1", "CANCELLED"), ("o2", "CANCELLED")]
    assert published[0].reason == "FLATTEN: source=operator"  # type: ignore[attr-defined]
    assert h.send(_order("o3")) == []
    assert [o["order_id"] for o in h.actor.open_orders()] == ["o3"]


@pytest.mark.parametrize("command", ["reduce_only", "shutdown", "resume"])
def test_control_when_other_command_then_no_action(command: str) -> None:
    h = Harness()
    _two_open_orders(h)

    assert h.send(Control(ts=T0, command=command)) == []  # type: ignore[arg-type]
    assert [o["order_id"] for o in h.actor.open_orders()] == ["o1", "o2"]


def test_trading_state_when_reducing_then_open_orders_kept() -> None:
    h = Harness()
    _two_open_orders(h)

    assert h.send(TradingStateChanged(ts=T0, state="REDUCING", previous="ACTIVE", reason="x")) == []
    assert len(h.actor.open_orders()) == 2


# -- views and metrics ---------------------------------------------------------------------


def test_open_orders_when_partially_filled_then_plain_dicts_and_venue_report() -> None:
    h = Harness(max_volume_participation=D("0.1"))
    h.send(_order(quantity="150"))
    h.send(_bar(T1, "50", "51", "49", "50"))

    assert h.actor.open_orders() == [
        {
            "order_id": "o1",
            "intent_id": "i-o1",
            "strategy": "s1",
            "symbol": "NVDA",
            "side": "BUY",
            "order_type": "MARKET",
            "time_in_force": "GTC",
            "quantity": D(150),
            "limit_price": None,
            "trigger_price": None,
            "status": "PARTIALLY_FILLED",
            "filled_quantity": D(100),
            "remaining_quantity": D(50),
            "avg_fill_price": D(50),
            "submitted_ts": T0,
        }
    ]
    assert h.actor.order_status_report() == [
        {
            "order_id": "o1",
            "symbol": "NVDA",
            "side": "BUY",
            "quantity": D(150),
            "filled_quantity": D(100),
            "remaining_quantity": D(50),
            "status": "PARTIALLY_FILLED",
        }
    ]


def test_metrics_when_orders_fill_and_cancel_then_counted_by_status() -> None:
    # o1 fills 100 @ 50.05 (commission 1.00); o2 is cancelled; o3 is rejected.
    h = Harness(slippage_bps=D(10), commission_min=D(1))
    h.send(_order("o1"))
    h.send(_order("o2", order_type="LIMIT", limit_price=D(40)))
    h.send(_order("o3", quantity="0.5"))
    assert h.metric("atrium_open_orders") == 2
    h.send(_bar(T1, "50.00", "51", "49", "50"))
    h.send(CancelOrder(ts=T1, order_id="o2", strategy="s1"))

    counts = {
        s: h.metric("atrium_orders_total", status=s)
        for s in ("SUBMITTED", "ACCEPTED", "REJECTED", "PARTIALLY_FILLED", "FILLED", "CANCELLED")
    }
    assert counts == {
        "SUBMITTED": 3,
        "ACCEPTED": 2,
        "REJECTED": 1,
        "PARTIALLY_FILLED": 0,
        "FILLED": 1,
        "CANCELLED": 1,
    }
    assert h.metric("atrium_orders_total", status="EXPIRED") == 0
    assert h.metric("atrium_fills_total") == 1
    assert h.metric("atrium_fill_notional_total") == pytest.approx(5005.0)
    assert h.metric("atrium_fill_commission_total") == pytest.approx(1.0)
    assert h.metric("atrium_open_orders") == 0


async def test_lifecycle_when_started_and_stopped_then_venue_connected_gauge_follows() -> None:
    h = Harness()
    await h.actor.on_start()
    assert h.metric("atrium_venue_connected") == 1
    await h.actor.on_stop()
    assert h.metric("atrium_venue_connected") == 0


# -- venue adapters ------------------------------------------------------------------------


class ScriptedVenue:
    """A live-style adapter whose events the test emits by hand (no market data hooks)."""

    created: list[ScriptedVenue] = []  # noqa: RUF012 - the test reads the instance back

    def __init__(self, config: ExecutionConfig, sink: EventSink) -> None:
        self.config = config
        self.sink = sink
        self.submitted: list[str] = []
        self.cancelled: list[tuple[str, str]] = []
        ScriptedVenue.created.append(self)

    async def connect(self) -> None:
        self.sink(VenueConnectionChanged(connected=True, detail="scripted"))

    async def reconnect(self) -> None:
        self.sink(VenueConnectionChanged(connected=True, detail="scripted again"))

    async def close(self) -> None:
        self.sink(VenueConnectionChanged(connected=False))

    def submit(self, order: Order) -> None:
        self.submitted.append(order.order_id)

    def cancel(self, order_id: str, reason: str) -> None:
        self.cancelled.append((order_id, reason))

    def order_status(self) -> list[OrderStatusReport]:
        return []


def _scripted() -> tuple[Harness, ScriptedVenue]:
    ScriptedVenue.created.clear()
    h = Harness(venue=f"{__name__}:ScriptedVenue", venue_options={"account": "A1"})
    return h, ScriptedVenue.created[-1]


def test_adapter_when_configured_then_built_with_config_and_driven_by_events() -> None:
    h, venue = _scripted()
    assert venue.config.venue_options == {"account": "A1"}

    assert h.send(_order()) == []
    assert venue.submitted == ["o1"]
    assert h.send(_bar(T1, "50", "51", "49", "50")) == []  # a live venue matches itself
    venue.sink(VenueAccepted(order_id="o1"))
    venue.sink(
        VenueFilled(
            order_id="o1", quantity=D(40), price=D("50.1"), commission=D("0.2"), venue_fill_id="X9"
        )
    )
    h.send(CancelOrder(ts=T1, order_id="o1", strategy="s1"))
    assert venue.cancelled == [("o1", "CANCEL_REQUESTED: strategy=s1")]
    venue.sink(VenueCancelled(order_id="o1", reason="CANCEL_REQUESTED: strategy=s1"))

    # A market order: its acceptance is no message; the cancel of its rest is.
    assert _statuses(h.out) == [("o1", "CANCELLED")]
    fills = [m for m in h.out if isinstance(m, Fill)]
    assert [(f.fill_id, f.quantity, f.price, f.commission, f.leaves_quantity) for f in fills] == [
        ("o1-1", D(40), D("50.1"), D("0.2"), D(60))
    ]
    assert h.out[-1] == _update(
        "CANCELLED", "40", "60", "50.1", reason="CANCEL_REQUESTED: strategy=s1", ts=T1
    )


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            VenueAccepted(order_id="ghost"),
            "venue reported ACCEPTED for order 'ghost', which is unknown",
        ),
        (
            VenueFilled(
                order_id="o1", quantity=D(1), price=D(50), commission=D(0), venue_fill_id="x"
            ),
            "venue reported a fill for order 'o1', which is already closed",
        ),
    ],
)
def test_adapter_when_event_for_order_not_open_then_raises(event: Any, message: str) -> None:
    h, venue = _scripted()
    h.send(_order())
    venue.sink(VenueAccepted(order_id="o1"))
    venue.sink(VenueCancelled(order_id="o1", reason="x"))

    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        venue.sink(event)


def test_adapter_when_fill_before_acceptance_then_illegal_transition() -> None:
    h, venue = _scripted()
    h.send(_order())

    with pytest.raises(
        IllegalTransitionError, match=r"^order 'o1': illegal transition SUBMITTED -> FILLED$"
    ):
        venue.sink(
            VenueFilled(
                order_id="o1", quantity=D(100), price=D(50), commission=D(0), venue_fill_id="x"
            )
        )


@pytest.mark.parametrize(
    ("venue", "message"),
    [
        (
            "builtins:slice",
            "execution.venue: 'builtins:slice' returned slice, which lacks the VenueAdapter "
            "methods (connect, reconnect, close, submit, cancel, order_status)",
        ),
        (
            "atrium.actors.execution.paper:NoSuchVenue",
            "execution.venue: module 'atrium.actors.execution.paper' has no attribute 'NoSuchVenue'",
        ),
        ("math:pi", "execution.venue: 'math:pi' is not callable"),
    ],
)
def test_adapter_when_venue_not_an_adapter_then_raises_naming_key(venue: str, message: str) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        Harness(venue=venue)


def test_adapter_when_paper_named_by_path_then_trades_like_paper() -> None:
    h = Harness(venue="atrium.actors.execution.paper:PaperVenue")
    h.send(_order())

    assert h.send(_bar(T1, "50", "51", "49", "50"))[0] == _fill(1, "100", "50")


def test_actor_when_config_is_not_execution_config_then_type_error() -> None:
    bus = Dispatcher()
    with pytest.raises(
        TypeError, match=r"^execution actor needs an ExecutionConfig section, got dict$"
    ):
        ExecutionActor(ActorContext(name="execution", config={}, clock=SimClock(), dispatcher=bus))


def test_topology_when_default_execution_spec_then_pipeline_builds_with_its_subscriptions() -> None:
    spec = default_actors()["execution"]
    config = AtriumConfig(topology=TopologyConfig(actors={"execution": spec}))

    pipeline = build_pipeline(config, clock=SimClock(), mode="replay")

    assert pipeline.slots["execution"].cls is ExecutionActor
    assert set(spec.subscribes) <= set(ExecutionActor.handles())


class FeedSource(Actor):
    """Replays an order and two bars, settling the pipeline after each (as replay does)."""

    async def run(self) -> None:
        clock = self.clock
        assert isinstance(clock, SimClock)
        for message in (
            _order(ts=T0),
            _bar(T1, "50.00", "51", "49", "50"),
            _bar(T2, "51", "52", "50", "51"),
        ):
            clock.advance_to(message.ts)
            await self.send(message)
            await self.settled()


async def test_pipeline_when_replayed_through_supervisor_then_same_messages_as_unit() -> None:
    actors = {
        "feed": ActorSpecConfig(cls=f"{__name__}:FeedSource", subscribes=[]),
        "execution": default_actors()["execution"],
    }
    config = AtriumConfig(
        topology=TopologyConfig(actors=actors),
        execution=ExecutionConfig(slippage_bps=D(10), commission_min=D(1)),
    )
    pipeline = build_pipeline(config, clock=SimClock(T0), mode="replay")
    out: list[Message] = []
    pipeline.dispatcher.add_tap(out.append)

    await pipeline.supervisor.run(stop_when_sources_finish=True)

    produced = [m for m in out if isinstance(m, OrderUpdate | Fill)]
    assert produced == [_fill(1, "100", "50.05", "1")]


def test_metrics_when_actor_rebuilt_on_same_registry_then_collectors_reused() -> None:
    h = Harness()
    h.send(_order())
    context = h.actor.context

    ExecutionActor(context).handle(_order("o2"))

    assert h.metric("atrium_orders_total", status="SUBMITTED") == 2


# -- recovery ------------------------------------------------------------------------------


def test_recovery_problem_when_paper_venue_then_none_and_when_adapter_then_refusal() -> None:
    h, _ = _scripted()
    assert Harness().actor.recovery_problem() is None
    assert h.actor.recovery_problem() == (
        f"execution.venue '{__name__}:ScriptedVenue' is not the paper venue; recovering its "
        "orders from the journal is not supported (the re-run would send them again)"
    )


def _paper_with_open_order() -> Harness:
    h = Harness(max_volume_participation=D("0.1"))
    h.send(_order("o1"))
    h.send(_bar(T0 + 60, "50", "50", "50", "50", volume="100"))  # fills 10 of 100
    return h


def test_reconcile_when_book_and_paper_venue_agree_then_no_discrepancy() -> None:
    h = _paper_with_open_order()
    assert h.actor.open_orders()[0]["filled_quantity"] == D(10)
    assert h.actor.reconcile() == []


def test_reconcile_when_venue_lost_the_order_then_named() -> None:
    h = _paper_with_open_order()
    venue = h.actor._venue
    assert isinstance(venue, PaperVenue)
    venue.restore_state({"last": {}, "used": {}, "working": {}, "by_id": {}})
    assert h.actor.reconcile() == ["order o1 is open in the journal, not at the venue"]


def test_reconcile_when_venue_filled_more_then_both_quantities_named() -> None:
    h = _paper_with_open_order()
    venue = h.actor._venue
    assert isinstance(venue, PaperVenue)
    state = venue.snapshot_state()
    state["by_id"]["o1"].filled = D(25)
    venue.restore_state(state)
    assert h.actor.reconcile() == ["order o1 has 10 filled in the journal, 25 at the venue"]


def test_reconcile_when_venue_has_an_order_the_journal_lacks_then_named() -> None:
    h = _paper_with_open_order()
    state = h.actor.snapshot_state()
    h.actor.restore_state({**state, "book": OrderBook()})
    assert h.actor.reconcile() == ["order o1 is open at the venue, unknown to the journal"]


def _ccxt_harness(**ccxt: Any) -> Harness:
    return Harness(venue="ccxt", ccxt=CcxtVenueConfig(exchange="binance", **ccxt))


def _report(*events: Any, source: str = "poll") -> Message:
    return VenueReport(ts=T0, events=encode_events(list(events)), source=source)  # type: ignore[arg-type]


def _bnb_fill(order_id: str) -> VenueFilled:
    return VenueFilled(
        order_id=order_id, quantity=D(40), price=D(50), commission=D(0),
        venue_fill_id="NVDA:7", fee_currency="BNB", unvalued_fee=D("0.0005"),
    )  # fmt: skip


def test_venue_report_when_fee_unvalued_then_commission_zero_and_fee_counted_apart() -> None:
    h = _ccxt_harness()
    h.send(_order("o1"))
    out = h.send(_report(VenueAccepted(order_id="o1"), _bnb_fill("o1")))
    fills = [m for m in out if isinstance(m, Fill)]
    assert [(f.quantity, f.price, f.commission) for f in fills] == [(D(40), D(50), D(0))]
    assert h.metric("atrium_unvalued_fees_total", currency="BNB") == 0.0005
    assert _statuses(h.send(_order("o2"))) == []  # not halted: book_separately


def test_venue_report_when_fee_unvalued_and_halt_configured_then_new_orders_rejected() -> None:
    h = _ccxt_harness(unvalued_fee="halt")
    h.send(_order("o1"))
    h.send(_report(VenueAccepted(order_id="o1"), _bnb_fill("o1")))
    out = h.send(_order("o2"))
    assert [(m.status, m.reason) for m in out if isinstance(m, OrderUpdate)] == [
        ("REJECTED", "TRADING_HALTED: state=HALTED")
    ]


def test_venue_report_when_reconciliation_then_adjustments_counted_and_listed() -> None:
    h = _ccxt_harness()
    h.send(_order("o1", quantity="40"))
    fill = _bnb_fill("o1")
    h.send(_report(VenueAccepted(order_id="o1"), fill, source="reconciliation"))
    assert h.metric("atrium_reconciliation_adjustments_total", kind="fill_booked") == 1.0
    assert h.actor.reconciliation_adjustments() == [
        {"kind": "order_acknowledged", "order_id": "o1", "detail": ""},
        {"kind": "fill_booked", "order_id": "o1", "detail": "NVDA:7"},
    ]
    assert h.actor.open_orders() == []


@pytest.mark.parametrize(("on_disconnect", "rejected"), [("halt", True), ("continue", False)])
def test_venue_report_when_session_down_then_halted_only_if_configured(
    on_disconnect: str, rejected: bool
) -> None:
    h = _ccxt_harness(on_disconnect=on_disconnect)
    h.send(_report(VenueConnectionChanged(connected=False, detail="rate_limit")))
    assert h.metric("atrium_venue_connected") == 0.0
    out = h.send(_order("o1"))
    statuses = [(m.status, m.reason) for m in out if isinstance(m, OrderUpdate)]
    assert statuses == ([("REJECTED", "TRADING_HALTED: state=HALTED")] if rejected else [])


def test_venue_report_when_session_down_and_reduce_only_then_only_reducing_orders_pass() -> None:
    h = _ccxt_harness(on_disconnect="reduce_only")
    h.send(_report(VenueConnectionChanged(connected=False, detail="network")))
    opening = h.send(_order("o1", side="BUY", quantity="10"))
    assert [(m.status, m.reason) for m in opening if isinstance(m, OrderUpdate)] == [
        ("REJECTED", "VENUE_DOWN_REDUCE_ONLY: reduces_position=false")
    ]
    closing = msgspec.structs.replace(
        _order("o2", side="SELL", quantity="10"), reduces_position=True
    )
    assert [m for m in h.send(closing) if isinstance(m, OrderUpdate)] == []  # sent to the venue
    assert [o["order_id"] for o in h.actor.open_orders()] == ["o2"]
    h.send(_report(VenueConnectionChanged(connected=True, detail="reconciled")))
    assert [m for m in h.send(_order("o3")) if isinstance(m, OrderUpdate)] == []  # lifted
    assert [o["order_id"] for o in h.actor.open_orders()] == ["o2", "o3"]


def test_snapshot_when_ccxt_venue_then_book_reduce_only_and_applied_orders_restored() -> None:
    h = _ccxt_harness(on_disconnect="reduce_only")
    h.send(_order("o1"))
    h.send(_order("o2", quantity="10"))
    fill = VenueFilled(
        order_id="o1", quantity=D(40), price=D(50), commission=D(0), venue_fill_id="NVDA:1"
    )
    h.send(_report(VenueAccepted(order_id="o1")))
    h.send(_report(fill, source="reconciliation"))
    h.send(_report(VenueConnectionChanged(connected=False, detail="network")))
    state = decode_states(encode_states({"execution": h.actor.snapshot_state()}))["execution"]
    assert state["venue"]["orders"] == [
        {"order": _order("o1"), "acked": True, "booked": D(40), "cancel_reason": "",
         "trade_ids": ["NVDA:1"]},
        {"order": _order("o2", quantity="10"), "acked": False, "booked": D(0),
         "cancel_reason": "", "trade_ids": []},
    ]  # fmt: skip
    restored = _ccxt_harness(on_disconnect="reduce_only")
    restored.actor.restore_state(state)
    assert restored.actor.open_orders() == h.actor.open_orders()
    assert restored.actor.snapshot_state()["venue"] == state["venue"]
    assert restored.actor.reconciliation_adjustments() == [
        {"kind": "fill_booked", "order_id": "o1", "detail": "NVDA:1"}
    ]
    out = restored.send(_order("o3"))  # still down: reduce-only holds
    assert [(m.status, m.reason) for m in out if isinstance(m, OrderUpdate)] == [
        ("REJECTED", "VENUE_DOWN_REDUCE_ONLY: reduces_position=false")
    ]


def test_snapshot_when_custom_venue_then_snapshot_error_turns_snapshots_off() -> None:
    h = Harness(venue=f"{__name__}:ScriptedVenue")
    with pytest.raises(SnapshotError, match="venue ScriptedVenue is not snapshotted"):
        h.actor.snapshot_state()
