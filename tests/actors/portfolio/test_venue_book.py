"""A live venue's balances absorbed by the ledger: cash taken, unattributed holdings booked."""

from __future__ import annotations

from decimal import Decimal

import pytest

from atrium.actors.portfolio.ledger import Ledger
from atrium.actors.portfolio.venue_book import BalanceAdjustment, absorb_balances
from atrium.runtime.messages import AccountBalances, VenueHolding

D = Decimal


def _balances(cash: str, btc: str, price: str | None = "200") -> AccountBalances:
    holding = VenueHolding(
        symbol="BTC/USDT", asset="BTC", quantity=D(btc), price=None if price is None else D(price)
    )
    return AccountBalances(ts=1, currency="USDT", cash=D(cash), holdings=(holding,))


def _ledger_with_strategy_long() -> Ledger:
    """A strategy bought 0.3 BTC at 100 (cash 10000 - 30 = 9970), marked at 100."""
    ledger = Ledger(D(10000))
    ledger.apply_fill(
        "trend", "BTC/USDT", side="BUY", quantity=D("0.3"), price=D(100), commission=D(0)
    )
    return ledger


def test_absorb_when_venue_holds_more_than_strategies_then_rest_in_venue_book_at_the_mark() -> None:
    ledger = _ledger_with_strategy_long()
    changes = absorb_balances(ledger, _balances("9970", "0.5"))
    assert changes == [BalanceAdjustment("position", "BTC/USDT", D("0.2"))]
    assert ledger.positions[("trend", "BTC/USDT")].quantity == D("0.3")  # kept its own
    venue = ledger.positions[("venue", "BTC/USDT")]
    assert (venue.quantity, venue.avg_price) == (D("0.2"), D(100))  # the ledger's mark
    assert (ledger.cash, ledger.equity, ledger.books["BTC/USDT"].quantity) == (
        D(9970), D(10020), D("0.5")
    )  # fmt: skip
    assert ledger.equity == ledger.initial_capital + ledger.realized_pnl + ledger.unrealized_pnl
    assert ledger.peak_equity == D(10020)  # a transfer: no drawdown from it
    assert absorb_balances(ledger, _balances("9970", "0.5")) == []  # agreed: nothing moves


def test_absorb_when_venue_holds_less_than_strategies_then_venue_book_short_of_it() -> None:
    ledger = _ledger_with_strategy_long()
    changes = absorb_balances(ledger, _balances("9000", "0.1"))
    assert changes == [
        BalanceAdjustment("position", "BTC/USDT", D("-0.2")),
        BalanceAdjustment("cash", "USDT", D(-970)),
    ]
    assert ledger.positions[("venue", "BTC/USDT")].quantity == D("-0.2")
    assert (ledger.cash, ledger.equity) == (D(9000), D(9010))  # 9000 + 0.1 x 100
    assert ledger.drawdown == D(0)


def test_absorb_when_no_mark_and_no_venue_price_then_error_names_symbol() -> None:
    ledger = Ledger(D(10000))
    with pytest.raises(ValueError, match=r"BTC/USDT differs by 0\.5 BTC .* neither a mark"):
        absorb_balances(ledger, _balances("10000", "0.5", price=None))


def test_absorb_when_contract_multiplier_then_holding_arrives_without_moving_cash() -> None:
    """2 contracts of multiplier 10 at a mark of 100 are worth 2,000 and cost no cash:
    cash stays the venue's, equity rises by the holding's value, not by 2 x 100."""
    ledger = Ledger(D(10000), multipliers={"BTC/USDT": D(10)})
    ledger.mark("BTC/USDT", D(100))
    holding = VenueHolding(symbol="BTC/USDT", asset="BTC", quantity=D(2), price=D(100))
    balances = AccountBalances(ts=1, currency="USDT", cash=D(10000), holdings=(holding,))
    assert absorb_balances(ledger, balances) == [BalanceAdjustment("position", "BTC/USDT", D(2))]
    assert (ledger.cash, ledger.equity, ledger.initial_capital) == (D(10000), D(12000), D(12000))
    assert ledger.peak_equity == D(12000)
