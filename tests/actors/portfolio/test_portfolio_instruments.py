"""Contract multipliers in the portfolio: sizing, caps, the ledger and what it publishes.

ES is the E-mini S&P 500 (50 per point), MES the micro (5 per point). Every number is
worked by hand, and each test says what the figure would be without the multiplier.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec
from portfolio_kit import D, Harness

from atrium.actors.portfolio.ledger import InFlight, Ledger
from atrium.config.instruments import InstrumentConfig
from atrium.config.portfolio import PortfolioConfig, StrategyBudgetConfig
from atrium.runtime.messages import PortfolioSnapshot, PositionUpdate, SymbolPosition
from atrium.runtime.valuation import MarkedAccount

ES = {"ES": InstrumentConfig(multiplier=D(50), tick_size=D("0.25"))}
MES = {"MES": InstrumentConfig(multiplier=D(5))}


def _config(instruments: dict[str, InstrumentConfig], **fields: object) -> PortfolioConfig:
    settings: dict[str, object] = {
        "max_leverage": D(10),
        "max_exposure_pct": D(1),
        "strategy_budgets": {"s1": StrategyBudgetConfig(capital_pct=D(10))},
        "instruments": instruments,
    }
    settings.update(fields)
    return PortfolioConfig(**settings)  # type: ignore[arg-type]


def test_size_when_fixed_risk_atr_on_es_then_one_contract_not_fifty() -> None:
    # Equity 100,000, risk 1 % = 1,000. ATR 10, stop 2 x ATR = 20 points; one contract
    # loses 20 x 50 = 1,000 at the stop -> 1 contract. Without the multiplier: 1,000 / 20
    # = 50 "contracts", a 10,000,000 position.
    harness = Harness(_config(ES, position_sizing_mode="fixed_risk_atr", atr_period=3))
    harness.warm_atr("ES", "4000", "10")
    order = harness.sized("ES", "BUY")
    assert (order.quantity, order.sizing.stop_distance, order.sizing.binding_cap) == (
        D(1),
        D(20),
        None,
    )


def test_size_when_risk_per_share_on_es_then_risk_cap_counts_multiplier() -> None:
    # risk_pct 0.03 -> 3,000; 12 points x 50 = 600 a contract -> 5 contracts (not 250).
    harness = Harness(_config(ES, max_risk_per_trade_pct=D("0.03")))
    harness.bar("ES", "4000")
    order = harness.sized("ES", "BUY", risk_per_share="12", risk_pct="0.03")
    assert (order.quantity, order.sizing.mode) == (D(5), "fixed_risk_atr")


def test_size_when_quantity_on_mes_then_gross_cap_binds_at_ten_contracts() -> None:
    # Gross limit: 100,000 x 0.5 x 4 = 200,000. One MES at 4,000 is 4,000 x 5 = 20,000,
    # so 10 contracts fit; 25 asked. Without the multiplier 25 x 4,000 = 100,000 fits.
    harness = Harness(_config(MES, max_leverage=D(4), max_exposure_pct=D("0.5")))
    harness.bar("MES", "4000")
    order = harness.sized("MES", "BUY", quantity="25")
    assert (order.quantity, order.sizing.binding_cap) == (D(10), "gross_exposure")


def test_size_when_weight_on_mes_then_target_in_contracts_of_price_times_multiplier() -> None:
    # Target 100,000 x 0.5 = 50,000; a contract costs 4,000 x 5 = 20,000 -> 2 (not 12).
    harness = Harness(_config(MES, max_leverage=D(1), max_exposure_pct=D("0.8")))
    harness.bar("MES", "4000")
    order = harness.sized("MES", "BUY", weight="0.5")
    assert (order.quantity, order.sizing.binding_cap) == (D(2), None)


def test_ledger_when_es_round_trip_then_cash_and_pnl_times_fifty() -> None:
    ledger = Ledger(D(100000), multipliers={"ES": D(50)})
    ledger.mark("ES", D("4000.00"))
    ledger.apply_fill(
        "ES-s", "ES", side="BUY", quantity=D(2), price=D("4000.00"), commission=D("4.20")
    )
    # Cash 100,000 - 2 x 4,000 x 50 - 4.20 = -300,004.20; market value 400,000.
    assert (ledger.cash, ledger.market_value, ledger.gross_value) == (
        D("-300004.20"),
        D(400000),
        D(400000),
    )
    assert ledger.equity == D("99995.80")
    position = ledger.positions["ES-s", "ES"]
    assert (position.avg_price, position.cost) == (D(4000), D(400000))
    # Up 10.25 points: unrealized 2 x 10.25 x 50 = 1,025.
    assert ledger.mark("ES", D("4010.25")) is True
    assert (ledger.unrealized_pnl, ledger.equity) == (D("1025.00"), D("101020.80"))
    ledger.apply_fill(
        "ES-s", "ES", side="SELL", quantity=D(2), price=D("4012.50"), commission=D("4.20")
    )
    # Realized 2 x 12.5 x 50 - 8.40 = 1,241.60; cash -300,004.20 + 401,250 - 4.20.
    assert (position.realized_pnl, ledger.cash, ledger.equity) == (
        D("1241.60"),
        D("101241.60"),
        D("101241.60"),
    )
    assert ledger.equity == ledger.initial_capital + ledger.realized_pnl + ledger.unrealized_pnl


def test_ledger_when_short_es_in_flight_then_margin_and_projection_in_money() -> None:
    # Short 3 at 4,000 filled, 1 more in flight: projected 4 x 200,000 = 800,000; margin
    # scaled by the short factor 0.5 -> 400,000.
    ledger = Ledger(D(100000), short_margin_factor=D("0.5"), multipliers={"ES": D(50)})
    ledger.mark("ES", D(4000))
    ledger.apply_fill("s", "ES", side="SELL", quantity=D(3), price=D(4000), commission=D(0))
    ledger.reserve(InFlight("o1", "i1", "s", "ES", "SELL", D(1), reduces_position=False))
    assert (ledger.gross_projected(), ledger.margin_projected()) == (D(800000), D(400000))
    assert ledger.strategy_projected("s") == D(800000)
    assert ledger.strategy_unrealized("s") == D(0)


def test_fill_when_es_then_position_update_in_price_units_and_snapshot_carries_multiplier() -> None:
    harness = Harness(_config(ES))
    harness.bar("ES", "4000")
    order = harness.sized("ES", "BUY", quantity="2")
    harness.fill(order, price="4000.25", commission="4.20")
    update = harness.last(PositionUpdate)
    assert (update.quantity, update.avg_price) == (D(2), D("4000.25"))
    snapshot = harness.last(PortfolioSnapshot)
    # Cash 100,000 - 2 x 4,000.25 x 50 - 4.20 = -300,029.20; the mark stays the bar's
    # 4,000 -> market value 400,000, equity 99,970.80 (25 below entry, 4.20 commission).
    assert (snapshot.cash, snapshot.equity, snapshot.gross_exposure) == (
        D("-300029.20"),
        D("99970.80"),
        D(400000),
    )
    assert snapshot.positions == (
        SymbolPosition(symbol="ES", quantity=D(2), mark_price=D(4000), multiplier=D(50)),
    )
    view = harness.actor.positions()[0]
    assert (view["market_value"], view["unrealized_pnl"], view["avg_price"]) == (
        "400000",
        "-25",
        "4000.25",
    )


def test_marked_account_when_es_moves_then_equity_moves_by_points_times_fifty() -> None:
    account = MarkedAccount(D(100000))
    account.apply(
        PortfolioSnapshot(
            ts=1,
            equity=D(100000),
            cash=D(-300000),
            gross_exposure=D(400000),
            net_exposure=D(400000),
            realized_pnl=D(0),
            unrealized_pnl=D(0),
            peak_equity=D(100000),
            drawdown=D(0),
            positions=(
                SymbolPosition(symbol="ES", quantity=D(2), mark_price=D(4000), multiplier=D(50)),
            ),
        )
    )
    assert account.mark("ES", D("3990.50")) is True
    # 2 x (-9.5) x 50 = -950.
    assert (account.equity, account.gross) == (D("99050.00"), D("399050.00"))


def test_snapshot_when_multiplier_one_then_encoding_unchanged() -> None:
    plain = SymbolPosition(symbol="X", quantity=D(1), mark_price=D(2))
    assert b"multiplier" not in msgspec.json.encode(plain)
    assert isinstance(plain.multiplier, Decimal) and plain.multiplier == 1
