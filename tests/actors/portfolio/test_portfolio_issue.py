"""Issue 3, through the actor: every "Done when" number and every known defect (1-8)."""

from __future__ import annotations

from portfolio_kit import D, Harness

from atrium.config.portfolio import CommissionConfig, StrategyBudgetConfig, SymbolConfig
from atrium.runtime.messages import PortfolioSnapshot

WHOLE = {"s1": StrategyBudgetConfig(capital_pct=D(1))}

# -- "Done when" numbers -----------------------------------------------------------------------


def test_budgets_when_equity_100000_and_capital_03_04_unknown_then_30000_40000_20000() -> None:
    harness = Harness(
        strategy_budgets={
            "a": StrategyBudgetConfig(capital_pct=D("0.3")),
            "b": StrategyBudgetConfig(capital_pct=D("0.4")),
        }
    )
    harness.hold("X", 1, 10, strategy="unknown")
    per_strategy = harness.actor.limits()["per_strategy"]
    assert {name: per_strategy[name]["budget"] for name in per_strategy} == {
        "a": "30000",
        "b": "40000",
        "unknown": "20000",
    }


def test_gross_cap_when_70000_held_and_100_asked_at_1000_then_10() -> None:
    # equity 100,000, max_exposure_pct 0.8, max_leverage 1.0 -> 80,000.
    harness = Harness(max_leverage=D("1.0"), strategy_budgets=WHOLE)
    harness.hold("Y", 700, 100, strategy="other")
    harness.bar("X", 1000)
    order = harness.sized("X", "BUY", quantity=100)
    assert (order.quantity, order.sizing.binding_cap) == (D(10), "gross_exposure")


def test_atr_when_risk_1pct_multiplier_2_price_2500_atr_50_then_10() -> None:
    # 100,000 * 1 % = 1,000 / (2 * 50) = 10 shares (25,000: inside a 0.3 budget).
    harness = Harness(
        position_sizing_mode="fixed_risk_atr",
        strategy_budgets={"s1": StrategyBudgetConfig(capital_pct=D("0.3"))},
    )
    harness.warm_atr("X", 2500, 50)
    order = harness.sized("X", "BUY")
    assert (order.quantity, order.sizing.binding_cap) == (D(10), None)
    assert (order.sizing.atr, order.sizing.stop_distance, order.sizing.risk_pct) == (
        D("50.0"),
        D("100.00"),
        D("0.01"),
    )


def test_atr_when_issue_example_then_600_shares() -> None:
    # equity 100,000, risk 3 % (max 0.03), ATR 2.50, multiplier 2.0, no commission.
    harness = Harness(
        position_sizing_mode="fixed_risk_atr",
        max_risk_per_trade_pct=D("0.03"),
        strategy_budgets=WHOLE,
    )
    harness.warm_atr("X", 100, "2.50")
    order = harness.sized("X", "BUY", risk_pct="0.03")
    assert (order.sizing.raw_quantity, order.quantity) == (D(600), D(600))


def test_limits_when_leverage_2_exposure_08_on_100000_then_max_exposure_160000() -> None:
    limits = Harness(max_leverage=D(2)).actor.limits()
    assert D(limits["max_exposure"]) == D(160000)
    assert (limits["current_exposure"], limits["available_exposure"]) == ("0", "160000")
    assert limits["exposure_utilization_pct"] == "0.00"


# -- known defects -----------------------------------------------------------------------------


def test_defect1_equity_when_fresh_start_then_configured_capital() -> None:
    harness = Harness(
        initial_capital=D(250000),
        position_sizing_mode="percent_equity",
        strategy_budgets=WHOLE,
    )
    assert harness.actor.limits()["equity"] == "250000"
    harness.bar("X", 100)
    order = harness.sized("X", "BUY", weight="0.1")  # 25,000 / 100
    assert (order.sizing.equity, order.quantity) == (D(250000), D(250))


def test_defect2_strategy_exposure_when_fills_accumulate_then_budget_used_grows() -> None:
    harness = Harness(strategy_budgets={"s1": StrategyBudgetConfig(capital_pct=D("0.3"))})
    harness.bar("X", 100)
    for _ in range(2):
        harness.fill(harness.sized("X", "BUY", quantity=100))
    assert harness.actor.limits()["per_strategy"]["s1"]["used"] == "20000"
    order = harness.sized("X", "BUY", quantity=150)
    assert (order.quantity, order.sizing.binding_cap) == (D(100), "strategy_budget")


def test_defect3_budget_when_exceeded_by_a_little_then_cut_to_exactly_1x() -> None:
    # Budget 30,000 with 25,000 used: 100 more at 100 (35,000, under 1.5x) is cut to 50.
    harness = Harness(strategy_budgets={"s1": StrategyBudgetConfig(capital_pct=D("0.3"))})
    harness.hold("X", 250, 100)
    order = harness.sized("X", "BUY", quantity=100)
    assert (order.quantity, order.sizing.binding_cap) == (D(50), "strategy_budget")
    harness.fill(order)
    assert harness.actor.limits()["per_strategy"]["s1"]["available"] == "0"


def test_defect4_lots_when_25_lot_future_capped_then_one_lot_not_quantity_1() -> None:
    # Cap 10 % of 100,000 at 250 = 40 units: rounded down after the cap to 1 lot = 25.
    harness = Harness(
        strategy_budgets=WHOLE,
        symbols={"ES": SymbolConfig(lot_size=D(25), max_symbol_exposure_pct=D("0.1"))},
    )
    harness.bar("ES", 250)
    order = harness.sized("ES", "BUY", quantity=100)
    assert (order.quantity, order.sizing.raw_quantity, order.sizing.binding_cap) == (
        D(25),
        D(100),
        "symbol_exposure",
    )


def test_defect5_floor_when_one_unit_breaches_risk_budget_then_denied() -> None:
    # 1,000 at risk with a stop 2 * 750 = 1,500 away: 0.67 units -> no order at all.
    harness = Harness(position_sizing_mode="fixed_risk_atr", strategy_budgets=WHOLE)
    harness.warm_atr("X", 3000, 750)
    denial = harness.denied("X", "BUY")
    assert (denial.reason, denial.detail) == (
        "QUANTITY_BELOW_LOT",
        "binding_cap=none raw_quantity=0 lot_size=1",
    )


def test_defect6_atr_when_commission_then_taken_from_the_risk_budget() -> None:
    # 1,000 at risk over a stop of 5 plus 0.01 a share each way: 5.02 -> 199, not 200.
    harness = Harness(
        position_sizing_mode="fixed_risk_atr",
        commission=CommissionConfig(per_share=D("0.01")),
        strategy_budgets=WHOLE,
    )
    harness.warm_atr("X", 100, "2.5")
    assert harness.sized("X", "BUY").quantity == D(199)


def test_defect6_atr_when_short_then_margin_caps_it() -> None:
    # Leverage 4, exposure 1.0: gross room 400,000 = 4,000 at 100; a short needs 50 %
    # margin: 100,000 / (100 * 0.5) = 2,000. Risk 1,000 / 0.25 asks for 4,000.
    harness = Harness(
        position_sizing_mode="fixed_risk_atr",
        max_leverage=D(4),
        max_exposure_pct=D(1),
        strategy_budgets={"s1": StrategyBudgetConfig(capital_pct=D(4))},
    )
    harness.bar("X", 100)
    short = harness.sized("X", "SELL", risk_per_share="0.25")
    assert (short.quantity, short.sizing.raw_quantity, short.sizing.binding_cap) == (
        D(2000),
        D(4000),
        "margin",
    )
    harness.risk_denies(short)
    assert harness.sized("X", "BUY", risk_per_share="0.25").quantity == D(4000)


def test_defect6_atr_when_tiny_stop_then_leverage_cap_still_applies() -> None:
    # 1,000 / 0.1 = 10,000 shares at 100 = 1,000,000 asked; gross cap 160,000 -> 1,600.
    harness = Harness(
        max_leverage=D(2),
        position_sizing_mode="fixed_risk_atr",
        strategy_budgets={"s1": StrategyBudgetConfig(capital_pct=D(2))},
    )
    harness.bar("X", 100)
    order = harness.sized("X", "BUY", risk_per_share="0.1")
    assert (order.quantity, order.sizing.binding_cap) == (D(1600), "gross_exposure")


def test_defect7_short_when_opened_then_equity_unchanged_and_cash_holds_proceeds() -> None:
    harness = Harness(strategy_budgets=WHOLE)
    harness.bar("X", 50)
    harness.fill(harness.sized("X", "SELL", quantity=100))
    snapshot = harness.last(PortfolioSnapshot)
    assert (snapshot.equity, snapshot.cash, snapshot.net_exposure) == (
        D(100000),
        D(105000),
        D(-5000),
    )


def test_defect8_rebalance_when_adding_to_a_short_then_sells() -> None:
    # Short 100 at 10; a 2 % short target is 200: SELL 100 more, never BUY.
    harness = Harness(position_sizing_mode="percent_equity", strategy_budgets=WHOLE)
    harness.hold("X", -100, 10)
    order = harness.sized("X", "SELL", weight="0.02")
    assert (order.side, order.quantity, order.reduces_position) == ("SELL", D(100), False)
