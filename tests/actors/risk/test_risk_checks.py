"""Pre-trade checks, each with hand-worked numbers and the exact reason and detail."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

import pytest

from atrium.actors.risk.checks import (
    check_order_notional,
    check_order_rate,
    check_price_band,
    check_trading_state,
    notional_price,
)
from atrium.runtime.messages import OrderType, Side, SizedOrder, SizingExplanation, TradingState

D = Decimal
BAND = D("0.1")
SECOND = 1_000_000_000


def _order(
    *,
    reference: str = "100",
    quantity: str = "10",
    side: Side = "BUY",
    order_type: OrderType = "MARKET",
    limit: str | None = None,
    trigger: str | None = None,
    symbol: str = "NVDA",
) -> SizedOrder:
    return SizedOrder(
        ts=0,
        order_id="o-1",
        intent_id="i-1",
        strategy="s",
        symbol=symbol,
        side=side,
        quantity=D(quantity),
        reference_price=D(reference),
        reduces_position=False,
        sizing=SizingExplanation(
            mode="fixed_qty",
            equity=D(100000),
            price=D(reference),
            raw_quantity=D(quantity),
            final_quantity=D(quantity),
        ),
        order_type=order_type,
        limit_price=None if limit is None else D(limit),
        trigger_price=None if trigger is None else D(trigger),
    )


# -- trading state --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "reduces", "expected"),
    [
        ("ACTIVE", False, None),
        ("ACTIVE", True, None),
        ("REDUCING", True, None),
        ("REDUCING", False, ("TRADING_REDUCE_ONLY", "state=REDUCING reduces_position=false")),
        ("HALTED", True, ("TRADING_HALTED", "state=HALTED")),
        ("HALTED", False, ("TRADING_HALTED", "state=HALTED")),
    ],
)
def test_check_trading_state_when_state_and_reduction_given_then_expected_verdict(
    state: TradingState, reduces: bool, expected: tuple[str, str] | None
) -> None:
    assert check_trading_state(state, reduces) == expected


# -- price band -----------------------------------------------------------------------


def test_check_price_band_when_no_last_trade_then_no_last_trade() -> None:
    assert check_price_band(_order(), None, BAND) == ("NO_LAST_TRADE", "symbol=NVDA")


@pytest.mark.parametrize("reference", ["90", "90.00", "100", "110", "110.00"])
def test_check_price_band_when_reference_within_or_on_band_then_passes(reference: str) -> None:
    # last 100, band 10 %: allowed [90, 110], bounds included
    assert check_price_band(_order(reference=reference), D(100), BAND) is None


def test_check_price_band_when_reference_above_band_then_denied_with_bounds() -> None:
    assert check_price_band(_order(reference="110.01"), D(100), BAND) == (
        "PRICE_BAND_EXCEEDED",
        "price_field=reference_price price=110.01 last_trade=100 band_pct=0.1 low=90.0 high=110.0",
    )


def test_check_price_band_when_reference_below_band_then_denied_with_bounds() -> None:
    # last 50.00 × 0.1 = 5.000: allowed [45.000, 55.000]
    assert check_price_band(_order(reference="44.99"), D("50.00"), BAND) == (
        "PRICE_BAND_EXCEEDED",
        "price_field=reference_price price=44.99 last_trade=50.00 band_pct=0.1 "
        "low=45.000 high=55.000",
    )


def test_check_price_band_when_buy_limit_above_band_then_denied() -> None:
    order = _order(order_type="LIMIT", limit="110.5")
    assert check_price_band(order, D(100), BAND) == (
        "PRICE_BAND_EXCEEDED",
        "price_field=limit_price side=BUY price=110.5 last_trade=100 band_pct=0.1 high=110.0",
    )


def test_check_price_band_when_sell_limit_below_band_then_denied() -> None:
    order = _order(side="SELL", order_type="LIMIT", limit="89.5")
    assert check_price_band(order, D(100), BAND) == (
        "PRICE_BAND_EXCEEDED",
        "price_field=limit_price side=SELL price=89.5 last_trade=100 band_pct=0.1 low=90.0",
    )


@pytest.mark.parametrize(("side", "limit"), [("BUY", "50"), ("SELL", "150"), ("BUY", "110")])
def test_check_price_band_when_limit_passive_or_on_band_then_passes(side: Side, limit: str) -> None:
    # a buy at 50 or a sell at 150 only rests (take-profit, bid); 110 is on the bound
    order = _order(side=side, order_type="LIMIT", limit=limit)
    assert check_price_band(order, D(100), BAND) is None


def test_check_price_band_when_stop_trigger_far_away_then_passes() -> None:
    order = _order(side="SELL", order_type="STOP", trigger="60")
    assert check_price_band(order, D(100), BAND) is None


# -- notional -------------------------------------------------------------------------


def test_check_order_notional_when_equal_to_cap_then_passes() -> None:
    # 1000 × 100 = 100000
    assert check_order_notional(_order(quantity="1000"), D(100000), "global") is None


def test_check_order_notional_when_above_cap_then_denied_with_numbers() -> None:
    # 1001 × 100 = 100100 > 100000
    assert check_order_notional(_order(quantity="1001"), D(100000), "global") == (
        "ORDER_NOTIONAL_EXCEEDED",
        "symbol=NVDA notional=100100 max_order_notional=100000 scope=global "
        "quantity=1001 price=100",
    )


def test_check_order_notional_when_buy_limit_above_reference_then_limit_price_counts() -> None:
    # reference 100 would give 100000 (passes); limit 100.50 gives 1000 × 100.50 = 100500.00
    order = _order(quantity="1000", order_type="LIMIT", limit="100.50")
    assert check_order_notional(order, D(100000), "symbol") == (
        "ORDER_NOTIONAL_EXCEEDED",
        "symbol=NVDA notional=100500.00 max_order_notional=100000 scope=symbol "
        "quantity=1000 price=100.50",
    )


@pytest.mark.parametrize(
    ("side", "limit", "price"),
    [("BUY", "95", "100"), ("SELL", "105", "105"), ("SELL", "95", "100")],
)
def test_notional_price_when_limit_given_then_larger_of_reference_and_limit(
    side: Side, limit: str, price: str
) -> None:
    order = _order(side=side, order_type="LIMIT", limit=limit)
    assert notional_price(order) == D(price)


# -- order rate -----------------------------------------------------------------------


def test_check_order_rate_when_below_limit_then_passes() -> None:
    approved: deque[int] = deque([0, SECOND // 10], maxlen=3)
    assert check_order_rate(approved, SECOND // 5, SECOND) is None


def test_check_order_rate_when_limit_reached_inside_window_then_denied_with_retry() -> None:
    # approvals at 0, 0.1 s, 0.2 s; at 0.3 s the oldest leaves the window at 1.0 s
    approved: deque[int] = deque([0, SECOND // 10, SECOND // 5], maxlen=3)
    assert check_order_rate(approved, 3 * SECOND // 10, SECOND) == (
        "ORDER_RATE_EXCEEDED",
        "max_order_rate=3 window_ns=1000000000 retry_after_ns=700000000",
    )


def test_check_order_rate_when_oldest_exactly_one_window_ago_then_passes() -> None:
    approved: deque[int] = deque([0, SECOND // 10, SECOND // 5], maxlen=3)
    assert check_order_rate(approved, SECOND, SECOND) is None


def test_check_order_rate_when_one_ns_before_window_end_then_denied() -> None:
    approved: deque[int] = deque([0, SECOND // 10, SECOND // 5], maxlen=3)
    assert check_order_rate(approved, SECOND - 1, SECOND) == (
        "ORDER_RATE_EXCEEDED",
        "max_order_rate=3 window_ns=1000000000 retry_after_ns=1",
    )
