"""The ledger: cash, positions, realized/unrealized PnL, shorts, netting, orders in flight."""

from __future__ import annotations

from decimal import Decimal

import pytest
from portfolio_kit import D

from atrium.actors.portfolio.ledger import InFlight, Ledger
from atrium.runtime.messages import Side


def _fill(
    ledger: Ledger,
    side: Side,
    quantity: int | str,
    price: int | str,
    *,
    strategy: str = "s1",
    symbol: str = "X",
    commission: int | str = 0,
) -> None:
    ledger.apply_fill(
        strategy,
        symbol,
        side=side,
        quantity=D(quantity),
        price=D(price),
        commission=D(commission),
    )


def _reconciles(ledger: Ledger) -> bool:
    return ledger.equity == ledger.initial_capital + ledger.realized_pnl + ledger.unrealized_pnl


def test_equity_when_fresh_then_initial_capital() -> None:
    # Defect 1: never 0 and never a hard-coded 100,000.
    ledger = Ledger(D(250000))
    assert (ledger.equity, ledger.cash, ledger.peak_equity, ledger.drawdown) == (
        D(250000),
        D(250000),
        D(250000),
        D(0),
    )


def test_long_when_bought_marked_and_partly_sold_then_cash_and_pnl_by_hand() -> None:
    ledger = Ledger(D(100000))
    ledger.mark("X", D(50))
    _fill(ledger, "BUY", 100, 50)
    assert (ledger.cash, ledger.equity, ledger.gross_value) == (D(95000), D(100000), D(5000))
    assert ledger.mark("X", D(55)) is True
    assert (ledger.equity, ledger.unrealized_pnl) == (D(100500), D(500))
    _fill(ledger, "SELL", 40, 60)
    position = ledger.positions["s1", "X"]
    # Realized (60 - 50) * 40 = 400; 60 left at 50; cash 95,000 + 2,400.
    assert (position.quantity, position.avg_price, position.realized_pnl) == (D(60), D(50), D(400))
    assert (ledger.cash, ledger.realized_pnl) == (D(97400), D(400))
    # The mark is still 55: unrealized (55 - 50) * 60 = 300; equity 97,400 + 3,300.
    assert (ledger.unrealized_pnl, ledger.equity) == (D(300), D(100700))
    assert _reconciles(ledger)


def test_short_when_opened_then_proceeds_in_cash_and_equity_unchanged() -> None:
    # Defect 7: selling short 100 at 50 must not drop equity (by 2.5x the notional or
    # at all): cash +5,000, market value -5,000.
    ledger = Ledger(D(100000))
    ledger.mark("X", D(50))
    _fill(ledger, "SELL", 100, 50)
    assert (ledger.cash, ledger.market_value, ledger.equity) == (D(105000), D(-5000), D(100000))
    assert ledger.gross_value == D(5000)


def test_short_when_price_falls_and_covered_then_profit_by_hand() -> None:
    ledger = Ledger(D(100000))
    ledger.mark("X", D(50))
    _fill(ledger, "SELL", 100, 50)
    ledger.mark("X", D(45))
    assert (ledger.equity, ledger.unrealized_pnl) == (D(100500), D(500))
    _fill(ledger, "BUY", 100, 45)
    assert (ledger.cash, ledger.equity, ledger.realized_pnl) == (D(100500), D(100500), D(500))
    assert (ledger.unrealized_pnl, ledger.gross_value, ledger.total_cost) == (D(0), D(0), D(0))


def test_short_when_opened_and_closed_at_same_price_then_equity_exactly_unchanged() -> None:
    ledger = Ledger(D(100000))
    for price in ("37.13", "41.07", "37.13"):
        ledger.mark("X", D(price))
    _fill(ledger, "SELL", 333, "37.13")
    ledger.mark("X", D("41.07"))
    ledger.mark("X", D("37.13"))
    _fill(ledger, "BUY", 333, "37.13")
    assert (ledger.equity, ledger.cash, ledger.realized_pnl) == (D(100000), D(100000), D(0))


def test_fill_when_position_flips_then_realized_on_closed_part_and_new_cost() -> None:
    ledger = Ledger(D(100000))
    ledger.mark("X", D(50))
    _fill(ledger, "BUY", 60, 50)
    _fill(ledger, "SELL", 100, 40)
    position = ledger.positions["s1", "X"]
    # Closed 60 at a loss of 10 each; 40 short opened at 40.
    assert (position.realized_pnl, position.quantity, position.cost, position.avg_price) == (
        D(-600),
        D(-40),
        D(-1600),
        D(40),
    )
    assert _reconciles(ledger)


def test_fill_when_average_price_is_not_exact_then_account_still_reconciles_exactly() -> None:
    ledger = Ledger(D(100000))
    ledger.mark("X", D(10))
    _fill(ledger, "BUY", 1, 10)
    _fill(ledger, "BUY", 2, 11)  # cost 32 for 3: average 10.666...
    _fill(ledger, "SELL", 1, 12)
    assert _reconciles(ledger)
    _fill(ledger, "SELL", 2, 12)
    position = ledger.positions["s1", "X"]
    # Whatever the middle division rounded, the round trip realizes exactly 36 - 32.
    assert (position.realized_pnl, position.cost, ledger.cash) == (D(4), D(0), D(100004))


def test_fill_when_commission_then_realized_net_and_equity_identity_holds() -> None:
    ledger = Ledger(D(100000))
    ledger.mark("X", D(20))
    _fill(ledger, "BUY", 100, 20, commission="1.50")
    _fill(ledger, "SELL", 100, 21, commission="1.50")
    position = ledger.positions["s1", "X"]
    assert (position.realized_pnl, position.commission) == (D(97), D(3))
    assert (ledger.cash, ledger.equity) == (D(100097), D(100097))
    assert _reconciles(ledger)


def test_fill_when_strategies_hold_opposite_sides_then_symbol_netted() -> None:
    ledger = Ledger(D(100000))
    ledger.mark("X", D(10))
    _fill(ledger, "BUY", 100, 10, strategy="a")
    _fill(ledger, "SELL", 40, 10, strategy="b")
    assert ledger.books["X"].quantity == D(60)
    assert ledger.gross_value == D(600)  # netted per symbol
    assert (ledger.strategy_gross("a"), ledger.strategy_gross("b")) == (D(1000), D(400))
    assert (ledger.strategy_net("a"), ledger.strategy_net("b")) == (D(1000), D(-400))


def test_fill_when_no_mark_yet_then_fill_price_is_the_mark() -> None:
    ledger = Ledger(D(100000))
    _fill(ledger, "BUY", 10, 25)
    assert ledger.mark_of("X") == D(25)
    assert ledger.equity == D(100000)


def test_mark_when_flat_or_unchanged_then_equity_did_not_change() -> None:
    ledger = Ledger(D(100000))
    assert ledger.mark("X", D(10)) is False  # flat
    _fill(ledger, "BUY", 10, 10)
    assert ledger.mark("X", D(10)) is False  # same price
    assert ledger.mark("Y", D(99)) is False  # another, flat symbol
    assert ledger.mark("X", D(11)) is True


def test_drawdown_when_equity_falls_from_peak_then_fraction_of_peak() -> None:
    ledger = Ledger(D(100000))
    ledger.mark("X", D(100))
    _fill(ledger, "BUY", 100, 100)
    ledger.mark("X", D(200))  # equity 110,000: new peak
    ledger.mark("X", D(89))  # equity 98,900
    assert ledger.peak_equity == D(110000)
    assert ledger.drawdown == D(11100) / D(110000)


# -- orders in flight ------------------------------------------------------------------------


def _order(order_id: str, side: Side, quantity: int, *, strategy: str = "s1") -> InFlight:
    return InFlight(
        order_id=order_id,
        intent_id=f"i-{order_id}",
        strategy=strategy,
        symbol="X",
        side=side,
        remaining=D(quantity),
        reduces_position=False,
    )


def test_reserve_when_orders_in_flight_then_pending_per_symbol_and_strategy() -> None:
    ledger = Ledger(D(100000))
    ledger.mark("X", D(10))
    ledger.reserve(_order("o1", "BUY", 30, strategy="a"))
    ledger.reserve(_order("o2", "SELL", 20, strategy="b"))
    book = ledger.books["X"]
    assert (book.pending_buy, book.pending_sell) == (D(30), D(20))
    assert ledger.positions["a", "X"].pending_buy == D(30)
    assert ledger.positions["b", "X"].pending_sell == D(20)
    # Worst case over fills: 30 long -> 300 gross; each strategy its own side.
    assert ledger.gross_projected() == D(300)
    assert (ledger.strategy_projected("a"), ledger.strategy_projected("b")) == (D(300), D(200))


def test_fill_in_flight_when_partial_then_remaining_reserved_until_released() -> None:
    ledger = Ledger(D(100000))
    ledger.mark("X", D(10))
    ledger.reserve(_order("o1", "BUY", 30))
    order = ledger.fill_in_flight("o1", D(10))
    assert order is not None and order.remaining == D(20)
    assert ledger.books["X"].pending_buy == D(20)
    released = ledger.release("o1")
    assert released is not None and released.remaining == D(0)
    assert (ledger.books["X"].pending_buy, ledger.in_flight) == (D(0), {})
    assert ledger.release("o1") is None


def test_release_when_only_intent_id_known_then_found_by_intent() -> None:
    ledger = Ledger(D(100000))
    ledger.mark("X", D(10))
    ledger.reserve(_order("o1", "SELL", 5))
    assert ledger.release(None, "i-o1") is not None
    assert ledger.books["X"].pending_sell == D(0)
    assert ledger.release(None, "i-unknown") is None


def test_fill_in_flight_when_complete_then_order_forgotten() -> None:
    ledger = Ledger(D(100000))
    ledger.mark("X", D(10))
    ledger.reserve(_order("o1", "BUY", 30))
    order = ledger.fill_in_flight("o1", D(30))
    assert order is not None and order.remaining == D(0)
    assert ledger.in_flight == {}
    assert ledger.fill_in_flight("o1", D(1)) is None


def test_reserve_when_order_id_reused_then_error() -> None:
    ledger = Ledger(D(100000))
    ledger.mark("X", D(10))
    ledger.reserve(_order("o1", "BUY", 1))
    with pytest.raises(ValueError, match=r"^order_id 'o1' is already in flight$"):
        ledger.reserve(_order("o1", "BUY", 1))


def test_margin_when_long_and_short_books_then_scaled_by_leverage() -> None:
    # Scaled margin: long notional + short notional * factor. Long 100 at 10 = 1,000;
    # short 50 at 20 = 1,000 * 2 = 2,000 (short_margin_pct 0.5 at leverage 4).
    ledger = Ledger(D(100000), short_margin_factor=Decimal("0.5") * 4)
    ledger.mark("L", D(10))
    ledger.mark("S", D(20))
    _fill(ledger, "BUY", 100, 10, symbol="L")
    _fill(ledger, "SELL", 50, 20, symbol="S")
    assert (ledger.books["L"].margin_value, ledger.books["S"].margin_value) == (D(1000), D(2000))
    assert ledger.margin_projected() == D(3000)
    # A move of S to 30 re-values its margin: 50 * 30 * 2 = 3,000.
    ledger.mark("S", D(30))
    assert ledger.margin_projected() == D(4000)


def test_projected_totals_when_orders_and_marks_change_then_equal_a_full_recount() -> None:
    ledger = Ledger(D(100000), short_margin_factor=D(2))
    for symbol, price in (("A", 10), ("B", 20), ("C", 30), ("X", 10)):
        ledger.mark(symbol, D(price))
    _fill(ledger, "BUY", 100, 10, symbol="A")
    _fill(ledger, "SELL", 40, 20, symbol="B", strategy="s2")
    ledger.reserve(_order("o1", "SELL", 250))  # in X
    ledger.mark("A", D(12))
    ledger.mark("B", D(19))
    ledger.fill_in_flight("o1", D(50))
    _fill(ledger, "SELL", 50, 11, symbol="X")
    ledger.mark("X", D(9))
    recount = sum(
        (book.exposure().projected() * book.mark for book in ledger.books.values() if book.mark),
        D(0),
    )
    assert ledger.gross_projected() == recount
    # X: 0 - 50 filled, 200 more in flight -> short end 250 at 9 = 2,250; A 1,200; B 760.
    assert recount == D(2250) + D(1200) + D(760)
    assert ledger.margin_projected() == D(2250) * 2 + D(1200) + D(760) * 2
