"""The portfolio actor through ``handle()``: what it publishes for each message it receives."""

from __future__ import annotations

import json
import logging

import pytest
from portfolio_kit import D, Harness

import atrium.actors.portfolio
from atrium.actors.portfolio import PortfolioActor
from atrium.config.portfolio import PortfolioConfig, StrategyBudgetConfig
from atrium.runtime import ActorContext, Dispatcher, SimClock
from atrium.runtime.messages import (
    AccountBalances,
    Control,
    ControlCommand,
    Fill,
    OrderDenied,
    OrderStatus,
    PortfolioSnapshot,
    PositionUpdate,
    SizedOrder,
    SymbolPosition,
    VenueHolding,
)

WHOLE = {"s1": StrategyBudgetConfig(capital_pct=D(1)), "s2": StrategyBudgetConfig(capital_pct=D(1))}


def test_package_when_imported_then_exports_only_the_actor() -> None:
    assert atrium.actors.portfolio.__all__ == ("PortfolioActor",)
    assert atrium.actors.portfolio.PortfolioActor is PortfolioActor
    assert set(PortfolioActor.handles()) == {
        "Bar",
        "Tick",
        "OrderIntent",
        "OrderDenied",
        "OrderUpdate",
        "Fill",
        "Control",
        "AccountBalances",
    }


def test_construct_when_config_is_not_portfolio_config_then_type_error() -> None:
    context = ActorContext(name="portfolio", config=None, clock=SimClock(), dispatcher=Dispatcher())
    with pytest.raises(
        TypeError,
        match=r"^PortfolioActor needs the \[portfolio\] section \(PortfolioConfig\) as its "
        r"config, got NoneType; check topology\.actors\.portfolio\.section$",
    ):
        PortfolioActor(context)


# -- intents -----------------------------------------------------------------------------------


def test_intent_when_symbol_never_priced_then_no_market_price_denial() -> None:
    harness = Harness()
    denial = harness.denied("X", "BUY", quantity=5)
    assert denial == OrderDenied(
        ts=1000,
        intent_id="i1",
        strategy="s1",
        symbol="X",
        side="BUY",
        reason="NO_MARKET_PRICE",
        source="portfolio",
        detail="symbol=X",
    )


def test_intent_when_sized_then_order_carries_intent_fields_and_sequential_ids() -> None:
    harness = Harness(order_id_prefix="P7-")
    harness.bar("X", 20)
    harness.tick("X", "20.5")  # the last mark is the reference price
    first = harness.sized(
        "X",
        "BUY",
        quantity=3,
        order_type="LIMIT",
        limit_price=D(20),
        time_in_force="DAY",
        tag="entry",
    )
    second = harness.sized("X", "SELL", quantity=1)
    assert (first.order_id, second.order_id) == ("P7-00000001", "P7-00000002")
    assert (first.intent_id, first.strategy, first.symbol, first.side) == ("i1", "s1", "X", "BUY")
    assert (first.quantity, first.reference_price) == (D(3), D("20.5"))
    assert (first.order_type, first.limit_price, first.time_in_force, first.tag) == (
        "LIMIT",
        D(20),
        "DAY",
        "entry",
    )
    assert first.sizing.mode == "fixed_qty"
    assert (first.sizing.equity, first.sizing.price) == (D(100000), D("20.5"))
    assert (first.sizing.raw_quantity, first.sizing.final_quantity) == (D(3), D(3))
    assert first.reduces_position is False


def test_intents_when_same_instant_then_reservation_stops_the_second_breaching() -> None:
    # Gross cap 100,000 * 0.8 * 1.0 = 80,000 at 1,000 a share: 80 shares in all.
    harness = Harness(max_leverage=D(1), strategy_budgets=WHOLE)
    harness.bar("X", 1000)
    first = harness.sized("X", "BUY", quantity=50)
    second = harness.sized("X", "BUY", "s2", quantity=50)
    third = harness.denied("X", "BUY", quantity=50)
    assert first.quantity == D(50)
    assert (second.quantity, second.sizing.binding_cap) == (D(30), "gross_exposure")
    assert (third.reason, third.detail) == (
        "QUANTITY_BELOW_LOT",
        "binding_cap=gross_exposure raw_quantity=50 lot_size=1 limit=0",
    )


def test_release_when_risk_denies_then_reserved_exposure_available_again() -> None:
    harness = Harness(max_leverage=D(1), strategy_budgets=WHOLE)
    harness.bar("X", 1000)
    harness.sized("X", "BUY", quantity=50)
    second = harness.sized("X", "BUY", quantity=50)
    harness.risk_denies(second)
    again = harness.sized("X", "BUY", quantity=50)
    assert again.quantity == D(30)
    harness.risk_denies(again, with_order_id=False)  # found by intent id
    assert harness.actor.limits()["reserved_exposure"] == "50000"


@pytest.mark.parametrize("status", ["REJECTED", "CANCELLED", "EXPIRED"])
def test_release_when_order_ends_unfilled_then_remaining_released(status: OrderStatus) -> None:
    harness = Harness(max_leverage=D(1), strategy_budgets=WHOLE)
    harness.bar("X", 1000)
    order = harness.sized("X", "BUY", quantity=50)
    harness.fill(order, quantity=20)
    harness.update(order, status, filled=20)
    limits = harness.actor.limits()
    assert (limits["filled_exposure"], limits["reserved_exposure"]) == ("20000", "0")
    assert harness.sized("X", "BUY", quantity=100).quantity == D(60)


def test_update_when_not_terminal_then_reservation_kept() -> None:
    harness = Harness(max_leverage=D(1), strategy_budgets=WHOLE)
    harness.bar("X", 1000)
    order = harness.sized("X", "BUY", quantity=50)
    harness.update(order, "ACCEPTED")
    harness.update(order, "FILLED", filled=50)  # the fills, not the update, release
    assert harness.actor.limits()["reserved_exposure"] == "50000"


def test_denial_when_from_portfolio_itself_then_ignored() -> None:
    harness = Harness(max_leverage=D(1), strategy_budgets=WHOLE)
    harness.bar("X", 1000)
    order = harness.sized("X", "BUY", quantity=50)
    harness.actor.handle(
        OrderDenied(
            ts=1,
            intent_id=order.intent_id,
            strategy="s1",
            symbol="X",
            side="BUY",
            reason="X",
            source="portfolio",
            order_id=order.order_id,
        )
    )
    assert harness.actor.limits()["reserved_exposure"] == "50000"


# -- fills ---------------------------------------------------------------------------------------


def test_fill_when_booked_then_position_update_then_snapshot() -> None:
    harness = Harness(strategy_budgets=WHOLE)
    harness.bar("X", 40)
    order = harness.sized("X", "BUY", quantity=100)
    harness.take()
    harness.fill(order, price="40.10", commission=2)
    update, snapshot = harness.take()
    assert update == PositionUpdate(
        ts=1000, strategy="s1", symbol="X", quantity=D(100), avg_price=D("40.1"), realized_pnl=D(-2)
    )
    # Cash 100,000 - 4,010 - 2; marked at 40: 3,990 long: equity 99,988.
    assert snapshot == PortfolioSnapshot(
        ts=1000,
        equity=D(99988),
        cash=D(95988),
        gross_exposure=D(4000),
        net_exposure=D(4000),
        realized_pnl=D(-2),
        unrealized_pnl=D(-10),
        peak_equity=D(100000),
        drawdown=D(12) / D(100000),
        positions=(SymbolPosition(symbol="X", quantity=D(100), mark_price=D(40)),),
    )
    assert harness.actor.limits()["reserved_exposure"] == "0"


def test_fill_when_order_unknown_then_booked_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    harness = Harness()
    with caplog.at_level(logging.WARNING, logger="atrium.portfolio"):
        harness.hold("X", 10, 5)
    assert harness.actor.ledger.positions["s1", "X"].quantity == D(10)
    assert [record.getMessage() for record in caplog.records] == [
        "fill setup-1 for order setup-1 that is not in flight; booked anyway"
    ]


# -- marks ---------------------------------------------------------------------------------------


def test_bar_when_flat_then_no_snapshot() -> None:
    harness = Harness()
    harness.bar("X", 10)
    harness.bar("X", 11)
    harness.tick("X", 12)
    assert harness.out == []


def test_bar_when_holding_then_no_snapshot_and_the_next_fill_shows_the_marks() -> None:
    harness = Harness()
    harness.hold("X", 10, 100)
    harness.hold("Y", -5, 50)
    harness.take()
    harness.bar("X", 103)
    harness.tick("Y", 48)
    assert harness.out == []  # marks move equity; who follows it revalues the last snapshot
    harness.hold("Z", 1, 7)
    (snapshot,) = harness.of(PortfolioSnapshot)
    assert snapshot.equity == D(100040)  # 100,000 + 10 x 3 + 5 x 2; the fill at 7 costs nothing
    assert snapshot.positions == (
        SymbolPosition(symbol="X", quantity=D(10), mark_price=D(103)),
        SymbolPosition(symbol="Y", quantity=D(-5), mark_price=D(48)),
        SymbolPosition(symbol="Z", quantity=D(1), mark_price=D(7)),
    )
    assert (snapshot.gross_exposure, snapshot.net_exposure) == (D(1277), D(797))


def test_fills_when_several_in_one_input_then_one_snapshot_after_them() -> None:
    harness = Harness()
    harness.bar("X", 100)
    for n in (1, 2, 3):
        harness.actor.handle(
            Fill(
                leaves_quantity=D(0),
                ts=1, fill_id=f"f{n}", order_id=f"o{n}", strategy="s1", symbol="X",
                side="BUY", quantity=D(10), price=D(100),
            )
        )  # fmt: skip
    assert harness.of(PortfolioSnapshot) == []
    harness.dispatcher.run_after_settle()
    (snapshot,) = harness.of(PortfolioSnapshot)
    assert snapshot.positions == (SymbolPosition(symbol="X", quantity=D(30), mark_price=D(100)),)
    assert [type(m).__name__ for m in harness.out] == ["PositionUpdate"] * 3 + ["PortfolioSnapshot"]


def test_snapshot_when_equity_falls_then_peak_kept_and_drawdown_fraction() -> None:
    harness = Harness()
    harness.hold("X", 1000, 100)
    harness.bar("X", 110)  # equity 110,000
    harness.bar("X", 99)  # equity 99,000
    harness.hold("Y", 1, 5)  # a fill: the snapshot after it
    snapshot = harness.snapshot()
    assert (snapshot.peak_equity, snapshot.equity) == (D(110000), D(99000))
    assert snapshot.drawdown == D(11000) / D(110000)


# -- control -------------------------------------------------------------------------------------


def test_flatten_when_positions_then_reduce_only_market_closes_for_each() -> None:
    harness = Harness()
    harness.hold("X", 10, 100, strategy="a")
    harness.hold("X", -4, 100, strategy="b")
    harness.hold("Y", 7, 20, strategy="a")
    harness.hold("Z", 3, 5, strategy="a")
    harness.hold("Z", -3, 5, strategy="a")  # flat again: nothing to close
    harness.take()
    harness.actor.handle(Control(ts=5, command="flatten"))
    closes = harness.take()
    orders = [order for order in closes if isinstance(order, SizedOrder)]
    assert len(orders) == len(closes)
    assert [(o.strategy, o.symbol, o.side, o.quantity) for o in orders] == [
        ("a", "X", "SELL", D(10)),
        ("b", "X", "BUY", D(4)),
        ("a", "Y", "SELL", D(7)),
    ]
    for order in orders:
        assert (order.reduces_position, order.order_type, order.tag) == (True, "MARKET", "flatten")
        assert order.intent_id == f"flatten:{order.order_id}"


def test_flatten_when_order_in_flight_then_close_waits_for_it_to_resolve() -> None:
    harness = Harness(strategy_budgets=WHOLE)
    harness.hold("X", 10, 100)
    pending = harness.sized("X", "SELL", quantity=4)
    harness.take()
    harness.actor.handle(Control(ts=5, command="flatten"))
    assert harness.out == []  # a close now could flip the position if ``pending`` fills
    harness.fill(pending, quantity=1)
    assert not harness.of(SizedOrder)
    harness.update(pending, "CANCELLED", filled=1)  # execution cancels on flatten
    close = harness.last(SizedOrder)
    assert (close.side, close.quantity, close.reduces_position) == ("SELL", D(9), True)


def test_flatten_when_in_flight_order_fills_completely_then_close_follows_the_fill() -> None:
    harness = Harness(strategy_budgets=WHOLE)
    harness.hold("X", 10, 100)
    pending = harness.sized("X", "SELL", quantity=4)
    harness.actor.handle(Control(ts=5, command="flatten"))
    harness.take()
    harness.fill(pending)
    close = harness.last(SizedOrder)
    assert (close.side, close.quantity) == ("SELL", D(6))


def test_flatten_when_resumed_before_orders_resolve_then_no_close() -> None:
    harness = Harness(strategy_budgets=WHOLE)
    harness.hold("X", 10, 100)
    pending = harness.sized("X", "SELL", quantity=4)
    harness.actor.handle(Control(ts=5, command="flatten"))
    harness.actor.handle(Control(ts=6, command="resume"))
    harness.take()
    harness.update(pending, "CANCELLED")
    assert not harness.of(SizedOrder)


@pytest.mark.parametrize("command", ["halt", "reduce_only", "shutdown", "resume"])
def test_control_when_not_flatten_then_nothing_published(command: ControlCommand) -> None:
    harness = Harness()
    harness.hold("X", 10, 100)
    harness.take()
    harness.actor.handle(Control(ts=5, command=command))
    assert harness.out == []


# -- reduces_position ----------------------------------------------------------------------------


def test_reduces_position_when_other_strategy_holds_the_long_then_false() -> None:
    # b opening a short against a's long shrinks the net book but opens b's own
    # position: not reduce-only (risk must not let it through in REDUCING).
    harness = Harness(strategy_budgets=WHOLE)
    harness.hold("X", 10, 100, strategy="a")
    assert harness.sized("X", "SELL", "b", quantity=5).reduces_position is False
    assert harness.sized("X", "SELL", "a", quantity=5).reduces_position is True
    # a's in-flight 5 counts: selling 6 more would go through zero.
    assert harness.sized("X", "SELL", "a", quantity=6).reduces_position is False


# -- views and metrics ---------------------------------------------------------------------------


def test_limits_when_serialised_then_plain_json_with_decimal_strings() -> None:
    harness = Harness(strategy_budgets={"trend": StrategyBudgetConfig(capital_pct=D("0.3"))})
    harness.hold("X", 100, "12.5", strategy="trend")
    limits = json.loads(json.dumps(harness.actor.limits()))
    assert limits["equity"] == "100000"
    assert limits["current_exposure"] == "1250"
    assert limits["per_strategy"]["trend"] == {
        "budget": "30000",
        "used": "1250",
        "available": "28750",
        "utilization_pct": "4.17",
        "capital_pct": "0.3",
        "sizing_mode": "fixed_qty",
    }
    assert limits["config"]["max_leverage"] == "1.0"
    assert limits["config"]["strategy_budgets"]["trend"]["capital_pct"] == "0.3"


def test_positions_when_held_then_rows_with_pnl() -> None:
    harness = Harness()
    harness.hold("X", -10, 50)
    harness.bar("X", 45)
    assert harness.actor.positions() == [
        {
            "strategy": "s1",
            "symbol": "X",
            "quantity": "-10",
            "avg_price": "50",
            "mark": "45",
            "market_value": "-450",
            "unrealized_pnl": "50",
            "realized_pnl": "0",
            "commission": "0",
        }
    ]


def test_metrics_when_filled_and_denied_then_gauges_and_counters_on_handed_registry() -> None:
    harness = Harness(strategy_budgets={"s1": StrategyBudgetConfig(capital_pct=D("0.3"))})
    harness.bar("X", 100)
    order = harness.sized("X", "BUY", quantity=100)
    harness.fill(order)
    harness.bar("X", 110)
    harness.denied("Y", "BUY", quantity=1)
    harness.denied("Y", "BUY", quantity=1)
    harness.actor.refresh_metrics()  # what a scrape does
    registry = harness.context.registry

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("atrium_portfolio_equity") == 101000.0
    assert value("atrium_portfolio_cash") == 90000.0
    assert value("atrium_portfolio_gross_exposure") == 11000.0
    assert value("atrium_portfolio_max_exposure") == 101000.0 * 0.8 * 1
    assert value("atrium_portfolio_leverage_ratio") == pytest.approx(11000 / 101000)
    assert value("atrium_portfolio_open_positions") == 1.0
    assert value("atrium_portfolio_strategy_budget", strategy="s1") == 30300.0
    assert value("atrium_portfolio_strategy_budget_used", strategy="s1") == 11000.0
    assert value("atrium_portfolio_strategy_unrealized_pnl", strategy="s1") == 1000.0
    assert value("atrium_portfolio_symbol_net_exposure", symbol="X") == 11000.0
    assert value("atrium_portfolio_intents_sized_total", strategy="s1") == 1.0
    assert value("atrium_portfolio_intents_denied_total", reason="NO_MARKET_PRICE") == 2.0


async def test_metrics_when_changed_then_gauges_follow_on_refresh_or_stop_only() -> None:
    harness = Harness()
    registry = harness.context.registry
    harness.hold("X", 10, 100)
    harness.bar("X", 110)
    assert registry.get_sample_value("atrium_portfolio_equity") == 100000.0  # not on the hot path
    harness.actor.refresh_metrics()  # what a scrape does
    assert registry.get_sample_value("atrium_portfolio_equity") == 100100.0
    harness.bar("X", 120)
    assert registry.get_sample_value("atrium_portfolio_equity") == 100100.0
    await harness.actor.on_stop()
    assert registry.get_sample_value("atrium_portfolio_equity") == 100200.0


def test_metrics_when_second_actor_on_same_registry_then_collectors_reused() -> None:
    harness = Harness()
    again = PortfolioActor(
        ActorContext(
            name="portfolio",
            config=PortfolioConfig(),
            clock=SimClock(),
            dispatcher=Dispatcher(),
            registry=harness.context.registry,
        )
    )
    assert again.metrics.equity is harness.actor.metrics.equity


# -- a live venue's balances ----------------------------------------------------------------------


def test_account_balances_when_venue_holds_more_then_venue_book_counted_and_flatten_skips_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    harness = Harness()  # initial capital 100,000
    harness.hold("X", 10, 100, strategy="a")  # cash 99,000
    holding = VenueHolding(symbol="X", asset="XB", quantity=D(15), price=D(100))
    harness.handle(AccountBalances(ts=5, currency="USD", cash=D(98000), holdings=(holding,)))
    snapshot = harness.snapshot()
    assert (snapshot.cash, snapshot.equity, snapshot.drawdown) == (D(98000), D(99500), D(0))
    # 99500 - 100000: 5 X moved in at 100 (+500), cash 1000 lower than the ledger's (-1000)
    assert snapshot.transfers == D(-500)
    registry = harness.context.registry
    for kind in ("cash", "position"):
        assert registry.get_sample_value(
            "atrium_venue_balance_adjustments_total", {"kind": kind}
        ) == 1.0  # fmt: skip
    assert "venue balances: position X +5 (to the venue book of X)" in caplog.text
    harness.take()
    harness.handle(Control(ts=6, command="flatten"))
    orders = [m for m in harness.take() if isinstance(m, SizedOrder)]
    assert [(o.strategy, o.symbol, o.side, o.quantity) for o in orders] == [
        ("a", "X", "SELL", D(10))
    ]


def test_construct_when_a_strategy_is_named_venue_then_error_names_it() -> None:
    config = PortfolioConfig(strategy_budgets={"venue": StrategyBudgetConfig(capital_pct=D(1))})
    with pytest.raises(ValueError, match=r"^portfolio\.strategy_budgets\.venue: the name 'venue'"):
        Harness(config)
