"""Risk with ``[instruments]``: notional is quantity x price x multiplier; prices on the tick."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import CollectorRegistry

from atrium.actors.risk import RiskActor
from atrium.actors.risk.checks import check_order_notional
from atrium.actors.risk.instruments import check_instrument_rules, check_price_tick
from atrium.config.instruments import InstrumentConfig
from atrium.config.risk import RiskConfig
from atrium.runtime.actor import ActorContext
from atrium.runtime.clocks import SimClock
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.messages import (
    Bar,
    InstrumentRules,
    Message,
    Order,
    OrderDenied,
    OrderType,
    SizedOrder,
    SizingExplanation,
)

D = Decimal
ES = {"ES": InstrumentConfig(multiplier=D(50), tick_size=D("0.25"))}


def _order(
    quantity: str,
    *,
    order_type: OrderType = "MARKET",
    limit: str | None = None,
    trigger: str | None = None,
) -> SizedOrder:
    return SizedOrder(
        ts=0,
        order_id="o-1",
        intent_id="i-1",
        strategy="s",
        symbol="ES",
        side="BUY",
        quantity=D(quantity),
        reference_price=D("4000.00"),
        reduces_position=False,
        sizing=SizingExplanation(
            mode="fixed_qty",
            equity=D(100000),
            price=D(4000),
            raw_quantity=D(quantity),
            final_quantity=D(quantity),
        ),
        order_type=order_type,
        limit_price=None if limit is None else D(limit),
        trigger_price=None if trigger is None else D(trigger),
    )


def _risk(config: RiskConfig) -> tuple[RiskActor, list[Message]]:
    published: list[Message] = []
    bus = Dispatcher()
    bus.add_tap(published.append)
    actor = RiskActor(
        ActorContext(
            name="risk",
            config=config,
            clock=SimClock(1_000),
            dispatcher=bus,
            registry=CollectorRegistry(),
        )
    )
    price = D(4000)
    actor.handle(Bar(ts=1, symbol="ES", open=price, high=price, low=price, close=price))
    return actor, published


def test_notional_when_multiplier_then_quantity_times_price_times_fifty() -> None:
    # 2 x 4,000 x 50 = 400,000 > 300,000; 1 contract (200,000) passes. Without the
    # multiplier 2 x 4,000 = 8,000 would pass.
    assert check_order_notional(_order("1"), D(300000), "global", D(50)) is None
    assert check_order_notional(_order("2"), D(300000), "global", D(50)) == (
        "ORDER_NOTIONAL_EXCEEDED",
        "symbol=ES notional=400000.00 max_order_notional=300000 scope=global quantity=2 "
        "price=4000.00 multiplier=50",
    )


def test_tick_when_limit_or_stop_off_grid_then_price_not_on_tick() -> None:
    tick = D("0.25")
    assert check_price_tick(_order("1", order_type="LIMIT", limit="4000.25"), tick, "x") is None
    assert check_price_tick(
        _order("1", order_type="LIMIT", limit="4000.10"), tick, "tick_size"
    ) == (
        "PRICE_NOT_ON_TICK",
        "limit_price=4000.10 tick_size=0.25",
    )
    assert check_price_tick(
        _order("1", order_type="STOP", trigger="4001.3"), tick, "tick_size"
    ) == (
        "PRICE_NOT_ON_TICK",
        "trigger_price=4001.3 tick_size=0.25",
    )
    # The venue's rules keep their own key in the detail.
    rules = InstrumentRules(ts=0, symbol="ES", price_tick=tick)
    assert check_instrument_rules(_order("1", order_type="LIMIT", limit="4000.1"), rules) == (
        "PRICE_NOT_ON_TICK",
        "limit_price=4000.1 price_tick=0.25",
    )


def test_risk_actor_when_es_config_then_tick_and_notional_checked_in_contracts() -> None:
    actor, published = _risk(RiskConfig(max_order_notional=D(300000), instruments=ES))
    actor.handle(_order("1", order_type="LIMIT", limit="4000.10"))
    actor.handle(_order("2"))
    actor.handle(_order("1", order_type="LIMIT", limit="4000.25"))
    denied = [(m.reason, m.detail) for m in published if isinstance(m, OrderDenied)]
    assert denied == [
        ("PRICE_NOT_ON_TICK", "limit_price=4000.10 tick_size=0.25"),
        (
            "ORDER_NOTIONAL_EXCEEDED",
            "symbol=ES notional=400000.00 max_order_notional=300000 scope=global quantity=2 "
            "price=4000.00 multiplier=50",
        ),
    ]
    approved = [m for m in published if isinstance(m, Order)]
    assert [(o.quantity, o.limit_price) for o in approved] == [(D(1), D("4000.25"))]


def test_risk_actor_when_no_instruments_then_notional_detail_unchanged() -> None:
    actor, published = _risk(RiskConfig(max_order_notional=D(5000)))
    actor.handle(_order("2"))
    (denial,) = [m for m in published if isinstance(m, OrderDenied)]
    assert denial.detail == (
        "symbol=ES notional=8000.00 max_order_notional=5000 scope=global quantity=2 price=4000.00"
    )
