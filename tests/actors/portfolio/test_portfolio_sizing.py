"""Pure sizing functions: each mode, commission inside the budget, refusals, hand-worked."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from portfolio_kit import D, cap_inputs

from atrium.actors.portfolio.caps import Exposure, floor_lots
from atrium.actors.portfolio.sizing import (
    Denial,
    Sized,
    leg_commission,
    max_quantity,
    percent_equity_target,
    resolve_strategy,
    risk_quantity,
    size_intent,
    stop_distance,
)
from atrium.config.portfolio import CommissionConfig, PortfolioConfig, StrategyBudgetConfig
from atrium.runtime.messages import OrderIntent, Side

NO_COMMISSION = CommissionConfig()


def _intent(side: Side = "BUY", **fields: Any) -> OrderIntent:
    for key in ("quantity", "weight", "risk_pct", "risk_per_share", "stop_price"):
        if fields.get(key) is not None:
            fields[key] = D(fields[key])
    return OrderIntent(ts=0, intent_id="i1", strategy="s1", symbol="X", side=side, **fields)


def _size(
    config: PortfolioConfig,
    intent: OrderIntent,
    price: Decimal | int | str,
    *,
    equity: Decimal | int | str = 100000,
    atr: Decimal | str | None = None,
    **caps: Any,
) -> Sized | Denial:
    return size_intent(
        intent,
        resolve_strategy(config, intent.strategy),
        config,
        equity=D(equity),
        atr=D(atr) if atr is not None else None,
        caps=cap_inputs(
            config,
            price,
            equity=equity,
            capital_pct=resolve_strategy(config, intent.strategy).capital_pct,
            **caps,
        ),
    )


def _config(**fields: Any) -> PortfolioConfig:
    """A config whose strategy s1 has the whole equity as budget unless told otherwise."""
    fields.setdefault("strategy_budgets", {"s1": StrategyBudgetConfig(capital_pct=D(1))})
    return PortfolioConfig(**fields)


# -- arithmetic ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "per_unit", "lot", "expected"),
    [
        ("1000", "3", "1", "333"),
        ("1000", "5", "1", "200"),
        ("999.99", "5", "1", "199"),
        ("1000", "7", "25", "125"),
        ("10", "3", "0.001", "3.333"),
        ("0", "5", "1", "0"),
        ("-5", "5", "1", "0"),
    ],
)
def test_floor_lots_when_dividing_then_largest_lot_multiple_that_fits(
    amount: str, per_unit: str, lot: str, expected: str
) -> None:
    assert floor_lots(D(amount), D(per_unit), D(lot)) == D(expected)


def test_leg_commission_when_minimum_above_variable_then_minimum() -> None:
    commission = CommissionConfig(per_share=D("0.005"), pct_of_notional=D("0.0001"), minimum=D(1))
    # 100 * (0.005 + 0.0001 * 50) = 1.0 -> at the minimum; 1000 units -> 10.
    assert leg_commission(D(100), D(50), commission) == D(1)
    assert leg_commission(D(10), D(50), commission) == D(1)
    assert leg_commission(D(1000), D(50), commission) == D("10.0000")
    assert leg_commission(D(0), D(50), commission) == D(0)


def test_max_quantity_when_minimum_binds_then_every_choice_of_legs_is_checked() -> None:
    # cost(q) = 5q + max(2, 0.01q) + max(2, 0.01q) <= 1000 -> 5q + 4 <= 1000 -> q = 199.
    assert max_quantity(D(1000), D(5), (D("0.01"), D("0.01")), D(2), D(1)) == D(199)
    # Without the minimum: 5.02q <= 1000 -> 199.2 -> 199.
    assert max_quantity(D(1000), D(5), (D("0.01"), D("0.01")), D(0), D(1)) == D(199)
    # Budget below the two minimums: nothing fits.
    assert max_quantity(D(3), D(5), (D(0), D(0)), D(2), D(1)) == D(0)


# -- fixed_risk_atr ------------------------------------------------------------------------


def test_risk_quantity_when_issue_example_then_600_shares() -> None:
    # equity 100,000 * 3 % = 3,000 at risk; stop 2.0 * ATR 2.50 = 5.00 -> 600.
    assert risk_quantity(
        D(3000), D(100), D("5.00"), side="BUY", commission=NO_COMMISSION, lot=D(1)
    ) == D(600)


@pytest.mark.parametrize(
    ("side", "commission", "expected"),
    [
        # per share 0.01 each leg: loss per unit 5.02 -> 1000 / 5.02 = 199.2 -> 199.
        ("BUY", CommissionConfig(per_share=D("0.01")), "199"),
        # 0.1 % of notional: entry 0.100 at 100, exit 0.095 at the stop 95 -> 5.195/unit
        # -> 1000 / 5.195 = 192.49 -> 192 (193 would lose 1002.64).
        ("BUY", CommissionConfig(pct_of_notional=D("0.001")), "192"),
        # A short's stop is above: exit 0.105 at 105 -> 5.205/unit -> 192.12 -> 192.
        ("SELL", CommissionConfig(pct_of_notional=D("0.001")), "192"),
        # Minimum 1 per leg: 5q + 2 <= 1000 -> 199.6 -> 199.
        ("BUY", CommissionConfig(minimum=D(1)), "199"),
    ],
)
def test_risk_quantity_when_commission_then_round_trip_taken_from_budget(
    side: Side, commission: CommissionConfig, expected: str
) -> None:
    assert risk_quantity(D(1000), D(100), D(5), side=side, commission=commission, lot=D(1)) == D(
        expected
    )


def test_size_when_fixed_risk_atr_issue_example_then_600_before_caps() -> None:
    config = _config(position_sizing_mode="fixed_risk_atr", max_risk_per_trade_pct=D("0.03"))
    result = _size(config, _intent(risk_pct="0.03"), 100, atr="2.50")
    assert isinstance(result, Sized)
    assert (result.raw_quantity, result.quantity, result.binding_cap) == (D(600), D(600), None)
    assert result.stop_distance == D("5.00")
    assert result.risk_pct == D("0.03")


def test_size_when_risk_pct_above_max_then_risk_per_trade_cap_binds() -> None:
    # Asked 3 %, allowed 1 %: raw 600 at 3 %, capped at 1,000 / 5 = 200.
    config = _config(position_sizing_mode="fixed_risk_atr")
    result = _size(config, _intent(risk_pct="0.03"), 100, atr="2.50")
    assert isinstance(result, Sized)
    assert (result.raw_quantity, result.quantity, result.binding_cap) == (
        D(600),
        D(200),
        "risk_per_trade",
    )


def test_size_when_no_intent_risk_then_strategy_risk_then_max() -> None:
    config = _config(
        position_sizing_mode="fixed_risk_atr",
        strategy_budgets={
            "s1": StrategyBudgetConfig(capital_pct=D(1), risk_per_trade_pct=D("0.005"))
        },
    )
    result = _size(config, _intent(), 100, atr="2.50")
    assert isinstance(result, Sized)
    assert result.quantity == D(100)  # 100,000 * 0.5 % / 5
    default = _config(position_sizing_mode="fixed_risk_atr")
    result = _size(default, _intent(), 100, atr="2.50")
    assert isinstance(result, Sized)
    assert result.quantity == D(200)  # 100,000 * 1 % / 5


def test_size_when_risk_per_share_or_stop_price_then_they_beat_atr() -> None:
    config = _config(position_sizing_mode="fixed_risk_atr")
    by_share = _size(config, _intent(risk_per_share="4"), 100, atr="2.50")
    by_stop = _size(config, _intent("SELL", stop_price="108"), 100, atr="2.50")
    assert isinstance(by_share, Sized) and isinstance(by_stop, Sized)
    assert by_share.quantity == D(250)  # 1,000 / 4
    assert (by_stop.side, by_stop.quantity, by_stop.stop_distance) == ("SELL", D(125), D(8))


def test_size_when_atr_not_warm_and_no_stop_then_atr_not_ready() -> None:
    config = _config(position_sizing_mode="fixed_risk_atr")
    assert _size(config, _intent(), 100) == Denial(
        "ATR_NOT_READY", "mode=fixed_risk_atr risk_per_share=none stop_price=none"
    )


def test_size_when_atr_zero_then_stop_distance_zero() -> None:
    config = _config(position_sizing_mode="fixed_risk_atr")
    assert _size(config, _intent(), 100, atr="0") == Denial(
        "STOP_DISTANCE_ZERO", "atr=0 atr_stop_multiplier=2.0"
    )


@pytest.mark.parametrize(("side", "stop"), [("BUY", "100"), ("BUY", "101"), ("SELL", "99")])
def test_stop_distance_when_stop_on_wrong_side_then_denied(side: Side, stop: str) -> None:
    result = stop_distance(_intent(side, stop_price=stop), D(100), None, D(2), use_atr=True)
    assert result == Denial("STOP_WRONG_SIDE", f"side={side} price=100 stop_price={stop}")


def test_size_when_risk_below_one_unit_then_denied_not_floored_to_one() -> None:
    # Defect 5: 1,000 at risk, 1,500 per share -> 0.67 -> no order (never max(1, ...)).
    config = _config(position_sizing_mode="fixed_risk_atr")
    result = _size(config, _intent(risk_per_share="1500"), 3000)
    assert result == Denial("QUANTITY_BELOW_LOT", "binding_cap=none raw_quantity=0 lot_size=1")


# -- fixed_qty -----------------------------------------------------------------------------


def test_size_when_fixed_qty_then_intent_then_strategy_then_default() -> None:
    config = _config(
        strategy_budgets={
            "s1": StrategyBudgetConfig(capital_pct=D(1), fixed_qty=D(5)),
        }
    )
    with_quantity = _size(config, _intent(quantity="7"), 100)
    from_strategy = _size(config, _intent(), 100)
    from_default = _size(PortfolioConfig(default_fixed_qty=D(3)), _intent(), 100)
    assert isinstance(with_quantity, Sized) and with_quantity.quantity == D(7)
    assert isinstance(from_strategy, Sized) and from_strategy.quantity == D(5)
    assert isinstance(from_default, Sized) and from_default.quantity == D(3)


def test_size_when_fixed_qty_with_stop_then_risk_cap_applies() -> None:
    # 500 units wanted, 1 % of 100,000 = 1,000 at risk over 5 a share -> 200.
    result = _size(_config(), _intent(quantity="500", risk_per_share="5"), 100)
    assert isinstance(result, Sized)
    assert (result.quantity, result.binding_cap) == (D(200), "risk_per_trade")


def test_size_when_one_unit_breaches_risk_budget_then_denied() -> None:
    # Defect 5 in fixed_qty: 1 unit with 1,500 at risk > 1,000 allowed -> denied.
    result = _size(_config(), _intent(quantity="1", risk_per_share="1500"), 3000)
    assert result == Denial(
        "QUANTITY_BELOW_LOT", "binding_cap=risk_per_trade raw_quantity=1 lot_size=1 limit=0"
    )


# -- percent_equity ------------------------------------------------------------------------


def test_percent_equity_target_when_slippage_and_commission_then_both_in_unit_cost() -> None:
    # 10,000 / (50 * 1.001 + 0.01) = 10,000 / 50.06 = 199.76 -> 199.
    target = percent_equity_target(
        D(100000),
        D("0.1"),
        D(50),
        slippage_pct=D("0.001"),
        commission=CommissionConfig(per_share=D("0.01")),
        lot=D(1),
    )
    assert target == D(199)


def test_size_when_percent_equity_from_flat_then_target_quantity() -> None:
    config = _config(position_sizing_mode="percent_equity")
    result = _size(config, _intent(weight="0.25"), 50)
    assert isinstance(result, Sized)
    assert (result.side, result.quantity, result.weight) == ("BUY", D(500), D("0.25"))


@pytest.mark.parametrize(
    ("position", "side", "weight", "order_side", "quantity", "reduces"),
    [
        # Defect 8: short 100, asked for a 2 % short (200 at 10): SELL 100 more, never BUY.
        ("-100", "SELL", "0.02", "SELL", "100", False),
        # Short 300, target short 200: BUY 100 to cover (reduces).
        ("-300", "SELL", "0.02", "BUY", "100", True),
        # Long 300, target long 200: SELL 100 (reduces).
        ("300", "BUY", "0.02", "SELL", "100", True),
        # Long 100, asked for a 2 % short: SELL 300 (through zero: not reducing).
        ("100", "SELL", "0.02", "SELL", "300", False),
        # Long 100, weight 0: close it.
        ("100", "BUY", "0", "SELL", "100", True),
    ],
)
def test_size_when_percent_equity_with_position_then_difference_in_right_direction(
    position: str, side: Side, weight: str, order_side: Side, quantity: str, reduces: bool
) -> None:
    config = _config(position_sizing_mode="percent_equity")
    book = Exposure(D(position))
    result = _size(config, _intent(side, weight=weight), 10, own=book, net=book)
    assert isinstance(result, Sized)
    assert (result.side, result.quantity, result.reduces_position) == (
        order_side,
        D(quantity),
        reduces,
    )


def test_size_when_percent_equity_with_order_in_flight_then_counted_toward_target() -> None:
    # Long 100 with 100 more bought in flight, target 200 at 10 -> nothing to do.
    config = _config(position_sizing_mode="percent_equity")
    book = Exposure(D(100), pending_buy=D(100))
    result = _size(config, _intent(weight="0.02"), 10, own=book, net=book)
    assert result == Denial("ALREADY_AT_TARGET", "target=200")


def test_size_when_percent_equity_without_weight_then_weight_required() -> None:
    config = _config(position_sizing_mode="percent_equity")
    assert _size(config, _intent(), 10) == Denial("WEIGHT_REQUIRED", "mode=percent_equity")


@pytest.mark.parametrize(
    ("configured", "fields", "mode", "quantity"),
    [
        # quantity: fixed, whatever the configured mode.
        ("fixed_risk_atr", {"quantity": "5"}, "fixed_qty", "5"),
        ("percent_equity", {"quantity": "5"}, "fixed_qty", "5"),
        # weight: 10 % of 100,000 at 10 = 1,000.
        ("fixed_qty", {"weight": "0.1"}, "percent_equity", "1000"),
        # a stop distance: 1 % of 100,000 = 1,000 over 4 = 250.
        ("fixed_qty", {"risk_per_share": "4"}, "fixed_risk_atr", "250"),
        ("percent_equity", {"stop_price": "6"}, "fixed_risk_atr", "250"),
        # risk_pct alone: by risk at the ATR stop, 0.5 % = 500 over 2 * 1 = 250.
        ("fixed_qty", {"risk_pct": "0.005"}, "fixed_risk_atr", "250"),
        # nothing stated: the configured mode (ATR stop 2 * 1 = 2: 1,000 / 2 = 500).
        ("fixed_risk_atr", {}, "fixed_risk_atr", "500"),
        ("fixed_qty", {}, "fixed_qty", "1"),
    ],
)
def test_size_when_intent_states_a_way_of_sizing_then_that_way_wins(
    configured: str, fields: dict[str, Any], mode: str, quantity: str
) -> None:
    config = _config(position_sizing_mode=configured)
    result = _size(config, _intent(**fields), 10, atr="1")
    assert isinstance(result, Sized), result
    assert (result.mode, result.quantity) == (mode, D(quantity))


def test_size_when_quantity_and_weight_both_then_ambiguous() -> None:
    result = _size(_config(), _intent(quantity="5", weight="0.1"), 10)
    assert result == Denial("INTENT_AMBIGUOUS", "quantity=5 weight=0.1")


def test_size_when_weight_with_stop_then_percent_equity_capped_by_risk() -> None:
    # 50 % of 100,000 at 10 = 5,000 units; 1 % at risk over 2 a unit caps it at 500.
    result = _size(_config(), _intent(weight="0.5", risk_per_share="2"), 10)
    assert isinstance(result, Sized)
    assert (result.mode, result.raw_quantity, result.quantity, result.binding_cap) == (
        "percent_equity",
        D(5000),
        D(500),
        "risk_per_trade",
    )


def test_size_when_equity_not_positive_then_no_equity() -> None:
    assert _size(_config(), _intent(), 10, equity=0) == Denial("NO_EQUITY", "equity=0")


# -- close -----------------------------------------------------------------------------------


def test_size_when_close_long_then_sell_whole_position_even_off_lot() -> None:
    config = _config(symbols={})
    book = Exposure(D(37))
    result = _size(config, _intent("BUY", close=True), 10, own=book, net=book)
    assert isinstance(result, Sized)
    assert (result.side, result.quantity, result.reduces_position) == ("SELL", D(37), True)


def test_size_when_close_short_with_part_closing_in_flight_then_rest() -> None:
    book = Exposure(D(-50), pending_buy=D(20))
    result = _size(_config(), _intent("SELL", close=True), 10, own=book, net=book)
    assert isinstance(result, Sized)
    assert (result.side, result.quantity) == ("BUY", D(30))


def test_size_when_close_and_flat_then_no_position() -> None:
    assert _size(_config(), _intent(close=True), 10) == Denial("NO_POSITION", "position=0")


def test_size_when_close_already_in_flight_then_already_closing() -> None:
    book = Exposure(D(50), pending_sell=D(50))
    result = _size(_config(), _intent("SELL", close=True), 10, own=book, net=book)
    assert result == Denial("ALREADY_CLOSING", "position=50 closing_in_flight=50")


# -- settings --------------------------------------------------------------------------------


def test_resolve_strategy_when_no_entry_then_portfolio_defaults() -> None:
    config = PortfolioConfig(
        position_sizing_mode="percent_equity",
        strategy_budgets={
            "trend": StrategyBudgetConfig(
                capital_pct=D("0.3"), fixed_qty=D(10), sizing_mode="fixed_risk_atr"
            )
        },
    )
    trend = resolve_strategy(config, "trend")
    other = resolve_strategy(config, "other")
    assert (trend.mode, trend.capital_pct, trend.fixed_qty, trend.risk_per_trade_pct) == (
        "fixed_risk_atr",
        D("0.3"),
        D(10),
        D("0.01"),
    )
    assert (other.mode, other.capital_pct, other.fixed_qty, other.risk_per_trade_pct) == (
        "percent_equity",
        D("0.2"),
        D(1),
        D("0.01"),
    )
