"""The risk actor driven without an event loop: messages in, published messages out."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from atrium.actors.risk import RiskActor
from atrium.actors.risk.state import NS_PER_DAY
from atrium.config.risk import RiskConfig, SymbolRiskConfig
from atrium.config.topology import default_actors
from atrium.runtime.actor import ActorContext
from atrium.runtime.clocks import SimClock
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.messages import (
    Bar,
    Control,
    ControlCommand,
    Message,
    Order,
    OrderDenied,
    OrderType,
    PortfolioSnapshot,
    Side,
    SizedOrder,
    SizingExplanation,
    SymbolPosition,
    Tick,
    TradingStateChanged,
)

D = Decimal
SECOND = 1_000_000_000
HOUR = 3_600 * SECOND
# 2024-01-02 14:30 UTC, and the same time the next day
DAY1 = (date(2024, 1, 2).toordinal() - date(1970, 1, 1).toordinal()) * NS_PER_DAY + 14 * HOUR
DAY2 = DAY1 + NS_PER_DAY


class Harness:
    """A risk actor on a SimClock whose bus records everything it publishes."""

    def __init__(self, config: RiskConfig | None = None, start_ns: int = DAY1) -> None:
        self.clock = SimClock(start_ns)
        self.registry = CollectorRegistry()
        self.published: list[Message] = []
        bus = Dispatcher()
        bus.add_tap(self.published.append)
        self.actor = RiskActor(
            ActorContext(
                name="risk",
                config=config if config is not None else RiskConfig(),
                clock=self.clock,
                dispatcher=bus,
                registry=self.registry,
            )
        )

    def take(self) -> list[Message]:
        taken = list(self.published)
        self.published.clear()
        return taken

    def bar(self, close: str, symbol: str = "NVDA") -> None:
        price = D(close)
        self.actor.handle(
            Bar(
                ts=self.clock.now_ns(),
                symbol=symbol,
                open=price,
                high=price,
                low=price,
                close=price,
            )
        )

    def control(self, command: ControlCommand, reason: str = "") -> None:
        self.actor.handle(Control(ts=self.clock.now_ns(), command=command, reason=reason))

    def snapshot(self, equity: str, peak: str = "0") -> None:
        value = D(equity)
        self.actor.handle(
            PortfolioSnapshot(
                ts=self.clock.now_ns(),
                equity=value,
                cash=value,
                gross_exposure=D(0),
                net_exposure=D(0),
                realized_pnl=D(0),
                unrealized_pnl=D(0),
                peak_equity=D(peak),
                drawdown=D(0),
            )
        )

    def sample(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


def _order(
    order_id: str = "o-1",
    *,
    quantity: str = "10",
    reference: str = "100",
    reduces: bool = False,
    side: Side = "BUY",
    order_type: OrderType = "MARKET",
    limit: str | None = None,
    symbol: str = "NVDA",
) -> SizedOrder:
    return SizedOrder(
        ts=1,
        order_id=order_id,
        intent_id=f"intent-{order_id}",
        strategy="momo",
        symbol=symbol,
        side=side,
        quantity=D(quantity),
        reference_price=D(reference),
        reduces_position=reduces,
        sizing=SizingExplanation(
            mode="fixed_qty",
            equity=D(100000),
            price=D(reference),
            raw_quantity=D(quantity),
            final_quantity=D(quantity),
        ),
        order_type=order_type,
        limit_price=None if limit is None else D(limit),
    )


def _denied(order: SizedOrder, ts: int, reason: str, detail: str) -> OrderDenied:
    return OrderDenied(
        ts=ts,
        intent_id=order.intent_id,
        strategy=order.strategy,
        symbol=order.symbol,
        side=order.side,
        reason=reason,
        source="risk",
        order_id=order.order_id,
        detail=detail,
    )


def _kinds(messages: list[Message]) -> list[str]:
    return [type(m).__name__ for m in messages]


# -- wiring ---------------------------------------------------------------------------


def test_handles_when_topology_default_then_every_subscribed_kind_has_a_handler() -> None:
    spec = default_actors()["risk"]
    assert spec.cls == "atrium.actors.risk:RiskActor"
    assert set(spec.subscribes) <= set(RiskActor.handles())


def test_construct_when_config_not_risk_config_then_type_error() -> None:
    context = ActorContext(name="risk", config={}, clock=SimClock(), dispatcher=Dispatcher())
    with pytest.raises(
        TypeError, match=r"^RiskActor needs the \[risk\] section as a RiskConfig, got dict$"
    ):
        RiskActor(context)


# -- approval -------------------------------------------------------------------------


def test_sized_order_when_all_checks_pass_then_order_with_same_fields_and_clock_ts() -> None:
    h = Harness()
    h.bar("100")
    h.clock.advance_to(DAY1 + 5)
    order = _order(side="SELL", order_type="LIMIT", limit="101", reduces=True)
    order = msgspec.structs.replace(order, tag="exit", time_in_force="DAY")

    h.actor.handle(order)

    assert h.take() == [
        Order(
            ts=DAY1 + 5,
            order_id="o-1",
            intent_id="intent-o-1",
            strategy="momo",
            symbol="NVDA",
            side="SELL",
            quantity=D(10),
            reference_price=D(100),
            reduces_position=True,
            order_type="LIMIT",
            limit_price=D(101),
            time_in_force="DAY",
            tag="exit",
        )
    ]
    assert h.sample("atrium_risk_orders_approved_total") == 1.0


def test_sized_order_when_denied_then_order_denied_and_counted_by_reason() -> None:
    h = Harness()
    h.bar("100")
    order = _order(reference="120")

    h.actor.handle(order)

    assert h.take() == [
        _denied(
            order,
            DAY1,
            "PRICE_BAND_EXCEEDED",
            "price_field=reference_price price=120 last_trade=100 band_pct=0.1 low=90.0 high=110.0",
        )
    ]
    assert h.sample("atrium_risk_denials_total", reason="PRICE_BAND_EXCEEDED") == 1.0
    assert h.sample("atrium_risk_denials_total", reason="TRADING_HALTED") == 0.0
    assert h.sample("atrium_risk_orders_approved_total") == 0.0


# -- market data ----------------------------------------------------------------------


def test_sized_order_when_no_trade_seen_for_symbol_then_no_last_trade() -> None:
    h = Harness()
    h.bar("100", symbol="AAPL")
    order = _order(symbol="NVDA")
    h.actor.handle(order)
    assert h.take() == [_denied(order, DAY1, "NO_LAST_TRADE", "symbol=NVDA")]


def test_sized_order_when_band_off_then_no_last_trade_needed() -> None:
    h = Harness(RiskConfig(price_band_pct=None))
    h.actor.handle(_order())
    assert _kinds(h.take()) == ["Order"]


def test_sized_order_when_tick_after_bar_then_tick_price_is_last_trade() -> None:
    h = Harness()
    h.bar("100")
    h.actor.handle(Tick(ts=DAY1, symbol="NVDA", price=D(120), size=D(5)))
    # 130 is inside 120 ± 12 but outside 100 ± 10
    h.actor.handle(_order(reference="130"))
    assert _kinds(h.take()) == ["Order"]


# -- notional -------------------------------------------------------------------------


def test_sized_order_when_over_global_cap_then_denied_unless_reducing() -> None:
    h = Harness(RiskConfig(max_order_notional=D(50000)))
    h.bar("100")
    entry = _order("o-1", quantity="501")
    exit_ = _order("o-2", quantity="501", reduces=True, side="SELL")

    h.actor.handle(entry)
    h.actor.handle(exit_)

    published = h.take()
    assert published[0] == _denied(
        entry,
        DAY1,
        "ORDER_NOTIONAL_EXCEEDED",
        "symbol=NVDA notional=50100 max_order_notional=50000 scope=global quantity=501 price=100",
    )
    # the exit of the same size passes: the cap is for entries, a flatten must go through
    assert _kinds(published) == ["OrderDenied", "Order"]


def test_sized_order_when_symbol_override_then_override_replaces_global_cap() -> None:
    config = RiskConfig(
        max_order_notional=D(100000),
        symbols={"NVDA": SymbolRiskConfig(max_order_notional=D(50000))},
        price_band_pct=None,
    )
    h = Harness(config)
    nvda = _order("o-1", quantity="600")  # 60000 > 50000
    aapl = _order("o-2", quantity="600", symbol="AAPL")  # 60000 <= 100000

    h.actor.handle(nvda)
    h.actor.handle(aapl)

    published = h.take()
    assert published[0] == _denied(
        nvda,
        DAY1,
        "ORDER_NOTIONAL_EXCEEDED",
        "symbol=NVDA notional=60000 max_order_notional=50000 scope=symbol quantity=600 price=100",
    )
    assert _kinds(published) == ["OrderDenied", "Order"]


def test_sized_order_when_symbol_override_without_global_cap_then_only_symbol_capped() -> None:
    config = RiskConfig(
        symbols={"NVDA": SymbolRiskConfig(max_order_notional=D(1000))}, price_band_pct=None
    )
    h = Harness(config)
    h.actor.handle(_order("o-1", quantity="11", symbol="NVDA"))  # 1100 > 1000
    h.actor.handle(_order("o-2", quantity="1000000", symbol="AAPL"))
    assert _kinds(h.take()) == ["OrderDenied", "Order"]


# -- order rate -----------------------------------------------------------------------


def test_sized_order_when_rate_exceeded_then_denied_until_window_passes() -> None:
    h = Harness(RiskConfig(max_order_rate=2, price_band_pct=None))
    h.actor.handle(_order("o-1"))  # t = 0
    h.clock.advance_to(DAY1 + SECOND // 2)
    h.actor.handle(_order("o-2"))  # t = 0.5 s
    h.clock.advance_to(DAY1 + 6 * SECOND // 10)
    third = _order("o-3")
    h.actor.handle(third)  # t = 0.6 s: two approvals in (−0.4 s, 0.6 s]
    h.clock.advance_to(DAY1 + SECOND)
    h.actor.handle(_order("o-4"))  # t = 1.0 s: the approval at 0 has left the window

    published = h.take()
    assert _kinds(published) == ["Order", "Order", "OrderDenied", "Order"]
    assert published[2] == _denied(
        third,
        DAY1 + 6 * SECOND // 10,
        "ORDER_RATE_EXCEEDED",
        "max_order_rate=2 window_ns=1000000000 retry_after_ns=400000000",
    )


def test_sized_order_when_denied_by_rate_or_other_check_then_budget_not_used() -> None:
    h = Harness(RiskConfig(max_order_rate=1, order_rate_window_seconds=0.5))
    h.bar("100")
    h.actor.handle(_order("o-1", reference="200"))  # band: denied, uses no budget
    h.actor.handle(_order("o-2"))  # approved at t = 0
    h.actor.handle(_order("o-3"))  # rate: denied, uses no budget
    h.clock.advance_to(DAY1 + SECOND // 2)
    h.actor.handle(_order("o-4"))  # 0.5 s after the only approval
    assert [(type(m).__name__, getattr(m, "reason", "")) for m in h.take()] == [
        ("OrderDenied", "PRICE_BAND_EXCEEDED"),
        ("Order", ""),
        ("OrderDenied", "ORDER_RATE_EXCEEDED"),
        ("Order", ""),
    ]


def test_sized_order_when_rate_off_then_many_orders_at_one_instant_pass() -> None:
    h = Harness(RiskConfig(max_order_rate=None, price_band_pct=None))
    for index in range(500):
        h.actor.handle(_order(f"o-{index}"))
    assert h.sample("atrium_risk_orders_approved_total") == 500.0


# -- check order ----------------------------------------------------------------------


def test_sized_order_when_several_checks_fail_then_first_in_documented_order_wins() -> None:
    h = Harness(RiskConfig(max_order_notional=D(1000), max_order_rate=1))
    h.bar("100")
    h.actor.handle(_order("o-0", quantity="1"))  # uses the whole rate budget
    h.take()
    # band, notional and rate all fail: band wins
    h.actor.handle(_order("o-1", reference="200", quantity="100"))
    # notional and rate fail: notional wins
    h.actor.handle(_order("o-2", quantity="100"))
    h.control("halt")
    # halted, band, notional and rate all fail: the state wins
    h.actor.handle(_order("o-3", reference="200", quantity="100"))
    reasons = [m.reason for m in h.take() if isinstance(m, OrderDenied)]
    assert reasons == ["PRICE_BAND_EXCEEDED", "ORDER_NOTIONAL_EXCEEDED", "TRADING_HALTED"]


def test_sized_order_when_reducing_order_outside_band_then_still_denied() -> None:
    h = Harness()
    h.bar("100")
    h.control("flatten")
    h.take()
    h.actor.handle(_order(reference="80", reduces=True, side="SELL"))
    assert [m.reason for m in h.take() if isinstance(m, OrderDenied)] == ["PRICE_BAND_EXCEEDED"]


# -- kill switch and control ----------------------------------------------------------


def test_control_when_halt_then_state_changed_and_very_next_order_denied() -> None:
    h = Harness()
    h.bar("100")
    h.control("halt", reason="manual")
    entry = _order("o-1")
    exit_ = _order("o-2", reduces=True, side="SELL")
    h.actor.handle(entry)
    h.actor.handle(exit_)

    assert h.take() == [
        TradingStateChanged(
            ts=DAY1, state="HALTED", previous="ACTIVE", reason="CONTROL_HALT source=operator"
        ),
        _denied(entry, DAY1, "TRADING_HALTED", "state=HALTED"),
        _denied(exit_, DAY1, "TRADING_HALTED", "state=HALTED"),
    ]
    assert h.actor.state == "HALTED"
    assert h.sample("atrium_trading_state", state="HALTED") == 1.0
    assert h.sample("atrium_trading_state", state="ACTIVE") == 0.0
    assert h.sample("atrium_risk_denials_total", reason="TRADING_HALTED") == 2.0


def test_control_when_resume_after_halt_then_orders_approved_again() -> None:
    h = Harness()
    h.bar("100")
    h.control("halt")
    h.control("resume")
    h.actor.handle(_order())
    assert _kinds(h.take()) == ["TradingStateChanged", "TradingStateChanged", "Order"]
    assert h.sample("atrium_trading_state", state="ACTIVE") == 1.0


@pytest.mark.parametrize("command", ["reduce_only", "flatten"])
def test_control_when_reduce_only_or_flatten_then_only_reducing_orders_pass(
    command: ControlCommand,
) -> None:
    h = Harness(RiskConfig(max_order_notional=D(100)))
    h.bar("100")
    h.control(command)
    entry = _order("o-1", quantity="1")
    # a closing order of 50000 passes: the notional cap is for entries
    exit_ = _order("o-2", quantity="500", reduces=True, side="SELL")
    h.actor.handle(entry)
    h.actor.handle(exit_)

    published = h.take()
    assert published[0] == TradingStateChanged(
        ts=DAY1,
        state="REDUCING",
        previous="ACTIVE",
        reason=f"CONTROL_{command.upper()} source=operator",
    )
    assert published[1] == _denied(
        entry, DAY1, "TRADING_REDUCE_ONLY", "state=REDUCING reduces_position=false"
    )
    assert _kinds(published[2:]) == ["Order"]
    assert h.sample("atrium_trading_state", state="REDUCING") == 1.0


def test_control_when_state_already_there_then_nothing_published() -> None:
    h = Harness()
    h.control("resume")
    h.control("halt")
    h.control("halt")
    assert _kinds(h.take()) == ["TradingStateChanged"]


def test_control_when_shutdown_then_no_state_change_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = Harness()
    with caplog.at_level(logging.INFO, logger="atrium.risk"):
        h.control("shutdown", reason="maintenance")
    assert h.take() == []
    assert h.actor.state == "ACTIVE"
    assert caplog.messages == [
        "shutdown requested by operator (maintenance); trading state stays ACTIVE"
    ]


async def test_on_start_when_initial_state_halted_then_announced_and_orders_denied() -> None:
    h = Harness(RiskConfig(initial_state="HALTED"))
    await h.actor.on_start()
    h.bar("100")
    h.actor.handle(_order())
    published = h.take()
    assert published[0] == TradingStateChanged(
        ts=DAY1, state="HALTED", previous="ACTIVE", reason="INITIAL_STATE source=config"
    )
    assert [m.reason for m in published[1:] if isinstance(m, OrderDenied)] == ["TRADING_HALTED"]
    assert h.sample("atrium_trading_state", state="HALTED") == 1.0


async def test_on_start_when_initial_state_active_then_nothing_published() -> None:
    h = Harness()
    await h.actor.on_start()
    assert h.take() == []
    assert h.sample("atrium_trading_state", state="ACTIVE") == 1.0


# -- loss limits ----------------------------------------------------------------------


def test_snapshot_when_drawdown_limit_reached_then_halted_and_gauge_set() -> None:
    h = Harness(RiskConfig(max_drawdown_pct=0.1))
    h.bar("100")
    h.snapshot("100000")
    h.snapshot("95000")
    assert h.take() == []
    assert h.sample("atrium_risk_drawdown_ratio") == 0.05
    h.snapshot("90000")
    h.actor.handle(_order())

    published = h.take()
    assert published[0] == TradingStateChanged(
        ts=DAY1,
        state="HALTED",
        previous="ACTIVE",
        reason="MAX_DRAWDOWN drawdown=0.100000 max_drawdown_pct=0.1 equity=90000 "
        "peak_equity=100000",
    )
    assert [m.reason for m in published[1:] if isinstance(m, OrderDenied)] == ["TRADING_HALTED"]
    assert h.sample("atrium_risk_drawdown_ratio") == 0.1


def test_bar_when_held_position_falls_between_snapshots_then_drawdown_halts() -> None:
    h = Harness(RiskConfig(max_drawdown_pct=0.1))
    h.actor.handle(
        PortfolioSnapshot(
            ts=DAY1, equity=D(100000), cash=D(50000), gross_exposure=D(50000),
            net_exposure=D(50000), realized_pnl=D(0), unrealized_pnl=D(0),
            peak_equity=D(100000), drawdown=D(0),
            positions=(SymbolPosition(symbol="NVDA", quantity=D(500), mark_price=D(100)),),
        )
    )  # fmt: skip
    h.bar("7", symbol="AMD")  # not held: equity unchanged
    h.bar("82")  # 500 x -18 = -9,000: drawdown 0.09
    assert h.take() == []
    assert h.sample("atrium_risk_drawdown_ratio") == 0.09
    h.bar("80")  # 500 x -20 = -10,000 from the peak: the limit, with no snapshot since

    assert h.take() == [
        TradingStateChanged(
            ts=DAY1,
            state="HALTED",
            previous="ACTIVE",
            reason="MAX_DRAWDOWN drawdown=0.100000 max_drawdown_pct=0.1 equity=90000 "
            "peak_equity=100000",
        )
    ]


def test_snapshot_when_profit_then_fall_within_limits_then_never_trips() -> None:
    h = Harness(RiskConfig(max_drawdown_pct=0.1, max_daily_loss_pct=0.05))
    # day start 100000; rally to 300000; 271000 is 9.67 % below the peak and a gain on the day
    for equity in ("100000", "200000", "300000", "271000"):
        h.snapshot(equity)
    assert h.take() == []
    assert h.actor.state == "ACTIVE"
    assert h.sample("atrium_risk_daily_loss_ratio") == 0.0


def test_snapshot_when_daily_loss_with_reduce_action_then_reducing() -> None:
    h = Harness(RiskConfig(max_daily_loss_pct=0.02, daily_loss_action="reduce"))
    h.snapshot("50000")
    h.snapshot("49000")  # (50000 − 49000) / 50000 = 0.02
    assert h.take() == [
        TradingStateChanged(
            ts=DAY1,
            state="REDUCING",
            previous="ACTIVE",
            reason="MAX_DAILY_LOSS daily_loss=0.020000 max_daily_loss_pct=0.02 equity=49000 "
            "day_start_equity=50000",
        )
    ]
    assert h.sample("atrium_risk_daily_loss_ratio") == 0.02


def test_sized_order_when_new_utc_day_after_daily_halt_then_reset_before_check() -> None:
    h = Harness(RiskConfig(max_daily_loss_pct=0.05))
    h.bar("100")
    h.snapshot("100000")
    h.snapshot("94000")
    h.actor.handle(_order("o-1"))
    h.clock.advance_to(DAY2 - 14 * HOUR - 1)  # 23:59:59.999999999 on day one
    h.actor.handle(_order("o-2"))
    h.clock.advance_to(DAY2 - 14 * HOUR)  # midnight UTC
    h.actor.handle(_order("o-3"))

    published = h.take()
    assert _kinds(published) == [
        "TradingStateChanged",
        "OrderDenied",
        "OrderDenied",
        "TradingStateChanged",
        "Order",
    ]
    assert published[3] == TradingStateChanged(
        ts=DAY2 - 14 * HOUR,
        state="ACTIVE",
        previous="HALTED",
        reason="DAILY_LOSS_RESET day=2024-01-03",
    )
    assert h.sample("atrium_risk_daily_loss_ratio") == 0.0


def test_sized_order_when_new_day_and_reset_disabled_then_still_halted() -> None:
    h = Harness(RiskConfig(max_daily_loss_pct=0.05, daily_loss_resets_next_day=False))
    h.bar("100")
    h.snapshot("100000")
    h.snapshot("94000")
    h.clock.advance_to(DAY2)
    h.actor.handle(_order())
    assert _kinds(h.take()) == ["TradingStateChanged", "OrderDenied"]
    h.control("resume")
    h.actor.handle(_order("o-2"))
    assert _kinds(h.take()) == ["TradingStateChanged", "Order"]


def test_control_when_resume_after_drawdown_halt_then_gauge_rebased_to_zero() -> None:
    h = Harness(RiskConfig(max_drawdown_pct=0.1))
    h.snapshot("100000")
    h.snapshot("88000")
    assert h.sample("atrium_risk_drawdown_ratio") == 0.12
    h.control("resume")
    assert h.sample("atrium_risk_drawdown_ratio") == 0.0
    assert h.actor.state == "ACTIVE"


def test_snapshot_when_venue_withdrawal_moved_transfers_then_no_drawdown_and_no_halt() -> None:
    h = Harness(RiskConfig(max_drawdown_pct=0.04))
    for equity, transfers in ((21000, 0), (20000, -1000)):  # 1000 withdrawn at a reconnect
        h.actor.handle(
            PortfolioSnapshot(
                ts=DAY1, equity=D(equity), cash=D(equity), gross_exposure=D(0),
                net_exposure=D(0), realized_pnl=D(0), unrealized_pnl=D(0),
                peak_equity=D(equity), drawdown=D(0), transfers=D(transfers),
            )
        )  # fmt: skip
    assert h.take() == []  # 1000 / 21000 = 4.76 % would have halted at 4 %
    assert h.sample("atrium_risk_drawdown_ratio") == 0.0
    assert h.actor.status()["peak_equity"] == "20000"
