"""Exposure caps: each only reduces, the binding one is named, reducing orders pass."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from portfolio_kit import D, cap_inputs

from atrium.actors.portfolio.caps import CapName, Exposure, apply_caps, exposure_caps
from atrium.config.portfolio import PortfolioConfig
from atrium.runtime.messages import Side


def _caps(
    config: PortfolioConfig, side: Side, price: int, lot: int = 1, **inputs: Any
) -> dict[CapName, Decimal]:
    return dict(exposure_caps(side, cap_inputs(config, price, **inputs), D(lot)))


# -- projected exposure --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("position", "buy", "sell", "projected", "buy_extent", "sell_extent"),
    [
        ("0", "0", "0", "0", "0", "0"),
        ("10", "0", "0", "10", "10", "-10"),
        ("10", "5", "30", "20", "15", "20"),
        ("-10", "4", "0", "10", "-6", "10"),
        ("0", "7", "7", "7", "7", "7"),
    ],
)
def test_exposure_when_orders_in_flight_then_worst_case_over_fills(
    position: str, buy: str, sell: str, projected: str, buy_extent: str, sell_extent: str
) -> None:
    book = Exposure(D(position), D(buy), D(sell))
    assert book.projected() == D(projected)
    assert book.extent("BUY") == D(buy_extent)
    assert book.extent("SELL") == D(sell_extent)


@pytest.mark.parametrize(
    ("position", "buy", "sell", "side", "quantity", "reduces"),
    [
        ("10", "0", "0", "SELL", "10", True),
        ("10", "0", "0", "SELL", "11", False),
        ("10", "0", "4", "SELL", "6", True),
        ("10", "0", "4", "SELL", "7", False),
        ("10", "0", "0", "BUY", "1", False),
        ("-10", "3", "0", "BUY", "7", True),
        ("-10", "3", "0", "BUY", "8", False),
        ("0", "0", "0", "SELL", "1", False),
    ],
)
def test_reduces_when_in_flight_counted_then_only_shrinking_orders(
    position: str, buy: str, sell: str, side: Side, quantity: str, reduces: bool
) -> None:
    assert Exposure(D(position), D(buy), D(sell)).reduces(side, D(quantity)) is reduces


# -- the caps --------------------------------------------------------------------------------


def test_gross_cap_when_issue_example_then_10() -> None:
    # equity 100,000, exposure 0.8, leverage 1.0 -> 80,000; 70,000 held elsewhere;
    # 100 asked at 1,000 -> 10,000 of room -> 10.
    config = PortfolioConfig(max_leverage=D("1.0"))
    caps = _caps(config, "BUY", 1000, capital_pct="1", gross_used=70000, margin_used=70000)
    assert caps["gross_exposure"] == D(10)
    assert apply_caps(D(100), list(caps.items())) == (D(10), "gross_exposure")


def test_budget_cap_when_over_by_any_amount_then_cut_to_exactly_the_budget() -> None:
    # Defect 3: budget 30,000 with 25,000 used: 5,000 of room at 100 -> 50, not the 100
    # asked (35,000 is under 1.5x the budget) and not 0.
    config = PortfolioConfig()
    caps = _caps(config, "BUY", 100, capital_pct="0.3", strategy_used=25000)
    assert caps["strategy_budget"] == D(50)
    assert apply_caps(D(100), list(caps.items())) == (D(50), "strategy_budget")


def test_symbol_cap_when_lot_25_then_rounded_down_to_lots_after_the_cap() -> None:
    # Defect 4: cap 10 % of 100,000 = 10,000 at 250 -> 40 units -> 1 lot of 25 (not 1).
    config = PortfolioConfig()
    caps = _caps(config, "BUY", 250, lot=25, capital_pct="1", symbol_pct="0.1")
    assert caps["symbol_exposure"] == D(25)
    assert apply_caps(D(100), list(caps.items())) == (D(25), "symbol_exposure")


def test_symbol_cap_when_room_below_one_lot_then_zero() -> None:
    caps = _caps(PortfolioConfig(), "BUY", 250, lot=25, capital_pct="1", symbol_pct="0.06")
    assert caps["symbol_exposure"] == D(0)  # 6,000 / 250 = 24 units < 25


def test_margin_cap_when_short_then_short_margin_binds_before_gross() -> None:
    # Defect 6: leverage 4, exposure 1.0 -> gross room 400,000; a short needs
    # 0.5 * 4 = 2x its notional in scaled margin, 400,000 / (100 * 2) = 2,000.
    config = PortfolioConfig(max_leverage=D(4), max_exposure_pct=D(1), short_margin_pct=D("0.5"))
    short = _caps(config, "SELL", 100, capital_pct="4")
    long = _caps(config, "BUY", 100, capital_pct="4")
    assert (short["gross_exposure"], short["margin"]) == (D(4000), D(2000))
    assert (long["gross_exposure"], long["margin"]) == (D(4000), D(4000))


def test_caps_when_order_only_reduces_then_none_binds_even_over_the_limits() -> None:
    # Long 500 at 100 = 50,000 while equity fell to 10,000 (gross limit 16,000): a sell
    # of up to 500 never grows any measure, so every cap allows at least 500.
    config = PortfolioConfig()
    book = Exposure(D(500))
    caps = _caps(
        config,
        "SELL",
        100,
        equity=10000,
        net=book,
        own=book,
        strategy_used=50000,
        gross_used=50000,
        margin_used=50000,
        margin_book=50000,
        symbol_pct="0.1",
    )
    assert min(caps.values()) >= D(500)
    # Buying more of it is refused by every cap.
    more = _caps(
        config,
        "BUY",
        100,
        equity=10000,
        net=book,
        own=book,
        strategy_used=50000,
        gross_used=50000,
        margin_used=50000,
        margin_book=50000,
        symbol_pct="0.1",
    )
    assert set(more.values()) == {D(0)}


def test_caps_when_order_goes_through_zero_then_only_the_new_side_counts() -> None:
    # Long 10 at 100 (1,000), gross room 1,500 more: a sell may close 10, reopen 10 short
    # (same exposure) and add 15 more: 35.
    config = PortfolioConfig(max_leverage=D(1), max_exposure_pct=D("0.025"))  # 2,500 limit
    book = Exposure(D(10))
    caps = _caps(
        config,
        "SELL",
        100,
        capital_pct="1",
        net=book,
        own=book,
        gross_used=1000,
        margin_used=1000,
        margin_book=1000,
    )
    assert caps["gross_exposure"] == D(35)


def test_apply_caps_when_tie_then_earlier_cap_is_binding() -> None:
    limits: list[tuple[CapName, Decimal]] = [
        ("strategy_budget", D(10)),
        ("gross_exposure", D(10)),
        ("margin", D(12)),
    ]
    assert apply_caps(D(50), limits) == (D(10), "strategy_budget")
    assert apply_caps(D(5), limits) == (D(5), None)
