"""Properties over random sequences of bars, intents, fills, cancels, denials and flattens.

An independent oracle rebuilds the account from the messages alone (marks from bars,
cash and positions from fills, orders in flight from sized orders less fills and
releases) and checks, for every order the portfolio accepts, that it does not grow any
capped measure past its limit, in the worst case over every order in flight filling:
risk per trade, strategy budget, symbol exposure, gross exposure, leverage and margin.
After every step the portfolio's cash and positions must equal the oracle's, and
``equity = initial_capital + realized + unrealized`` exactly.

Examples are derandomized so CI is repeatable; the bounds keep the module to seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from portfolio_kit import D, Harness

from atrium.actors.portfolio.ledger import Ledger
from atrium.config.instruments import InstrumentConfig
from atrium.config.portfolio import (
    CommissionConfig,
    PortfolioConfig,
    StrategyBudgetConfig,
    SymbolConfig,
)
from atrium.runtime.messages import (
    Bar,
    Control,
    Fill,
    OrderDenied,
    OrderIntent,
    OrderUpdate,
    Side,
    SizedOrder,
)

ZERO = D(0)
SYMBOLS = ("A", "B", "C")
#: "big" has a budget of 10x equity, so the account-wide caps (gross, margin) get to bind.
STRATEGIES = ("fixed", "atr", "weight", "other", "big")
PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- the oracle ------------------------------------------------------------------------------


@dataclass
class Pending:
    strategy: str
    symbol: str
    side: Side
    remaining: Decimal


@dataclass
class Oracle:
    config: PortfolioConfig
    cash: Decimal
    marks: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    pending: dict[str, Pending] = field(default_factory=dict)

    def value(self, symbol: str) -> Decimal:
        """Money per unit at the mark: price times the contract multiplier."""
        return self.marks[symbol] * self.config.multiplier(symbol)

    def equity(self) -> Decimal:
        net: dict[str, Decimal] = {}
        for (_, symbol), quantity in self.positions.items():
            net[symbol] = net.get(symbol, ZERO) + quantity
        return self.cash + sum((q * self.value(s) for s, q in net.items()), ZERO)

    def worst(self, strategy: str | None, symbol: str) -> tuple[Decimal, Decimal]:
        """(long end, short end) of a book over every subset of its orders filling."""
        held = sum(
            (
                q
                for (owner, sym), q in self.positions.items()
                if sym == symbol and strategy in (None, owner)
            ),
            ZERO,
        )
        buys = sells = ZERO
        for order in self.pending.values():
            if order.symbol == symbol and strategy in (None, order.strategy):
                if order.side == "BUY":
                    buys += order.remaining
                else:
                    sells += order.remaining
        return held + buys, held - sells

    def account(self) -> tuple[Decimal, Decimal]:
        """(gross exposure, margin scaled by max_leverage), worst case over orders in flight."""
        factor = self.config.short_margin_pct * self.config.max_leverage
        gross = margin = ZERO
        for symbol in self.marks:
            mark = self.value(symbol)
            top, bottom = self.worst(None, symbol)
            gross += max(abs(top), abs(bottom)) * mark
            margin += max(max(top, ZERO) * mark, max(-bottom, ZERO) * mark * factor)
        return gross, margin

    def measures(self, strategy: str, symbol: str) -> dict[str, Decimal]:
        """Every capped measure, in the worst case over the orders in flight."""
        gross, margin = self.account()
        budget = ZERO
        for sym in self.marks:
            own_top, own_bottom = self.worst(strategy, sym)
            budget += max(abs(own_top), abs(own_bottom)) * self.value(sym)
        top, bottom = self.worst(None, symbol)
        return {
            "gross": gross,
            "margin": margin,
            "budget": budget,
            "symbol": max(abs(top), abs(bottom)) * self.value(symbol),
        }

    def limits(self, strategy: str, symbol: str) -> dict[str, Decimal | None]:
        config = self.config
        equity = self.equity()
        entry = config.strategy_budgets.get(strategy)
        capital = entry.capital_pct if entry else config.max_risk_per_strategy_pct
        symbol_pct = config.symbol(symbol).max_symbol_exposure_pct
        return {
            "gross": equity * config.max_exposure_pct * config.max_leverage,
            "margin": equity * config.max_leverage,
            "budget": equity * capital,
            "symbol": equity * symbol_pct if symbol_pct is not None else None,
        }

    def own_reduces(self, order: SizedOrder) -> bool:
        held = self.positions.get((order.strategy, order.symbol), ZERO)
        top, bottom = self.worst(order.strategy, order.symbol)
        if order.side == "SELL":
            return held > ZERO and bottom - order.quantity >= ZERO
        return held < ZERO and top + order.quantity <= ZERO


def _leg(quantity: Decimal, price: Decimal, commission: CommissionConfig) -> Decimal:
    per_unit = commission.per_share + commission.pct_of_notional * price
    return max(commission.minimum, quantity * per_unit)


def check_accepted(oracle: Oracle, intent: OrderIntent, order: SizedOrder) -> None:
    """``order`` (not yet added to the oracle) breaches no cap."""
    config = oracle.config
    assert order.quantity > ZERO
    assert order.reference_price == oracle.marks[order.symbol]
    lot = config.symbol(order.symbol).lot_size
    if not intent.close:
        assert order.quantity % lot == ZERO, (order.quantity, lot)
    equity = oracle.equity()
    before = oracle.measures(order.strategy, order.symbol)
    limits = oracle.limits(order.strategy, order.symbol)
    reduces_own = oracle.own_reduces(order)
    distance = order.sizing.stop_distance
    if distance is not None and not reduces_own:
        if intent.risk_per_share is not None:
            assert distance == intent.risk_per_share
        entry = order.reference_price
        stop = entry - distance if order.side == "BUY" else entry + distance
        multiplier = config.multiplier(order.symbol)
        loss = (
            order.quantity * distance * multiplier
            + _leg(order.quantity, entry * multiplier, config.commission)
            + _leg(order.quantity, max(stop, ZERO) * multiplier, config.commission)
        )
        assert loss <= equity * config.max_risk_per_trade_pct, ("risk", loss, order)
    oracle.pending["candidate"] = Pending(order.strategy, order.symbol, order.side, order.quantity)
    after = oracle.measures(order.strategy, order.symbol)
    del oracle.pending["candidate"]
    for name, value in after.items():
        limit = limits[name]
        if limit is None:
            continue
        assert value <= max(limit, before[name]), (name, value, limit, before[name], order)
    # Leverage: gross (worst case) within equity * max_leverage, or not grown.
    assert after["gross"] <= max(equity * config.max_leverage, before["gross"])
    if order.reduces_position:
        for name in ("symbol", "gross", "margin"):
            assert after[name] <= before[name], (name, order)


# -- the driver ------------------------------------------------------------------------------


prices = st.integers(min_value=10, max_value=400).map(lambda n: D(n) / 2)
fractions = st.sampled_from([D("0.25"), D("0.5"), D(1), D(1), D(1)])

bar_op = st.tuples(st.just("bar"), st.sampled_from(SYMBOLS), prices)
intent_op = st.tuples(
    st.just("intent"),
    st.sampled_from(STRATEGIES),
    st.sampled_from(SYMBOLS),
    st.sampled_from(["BUY", "SELL"]),
    st.sampled_from([1, 7, 30, 120, 500, 2000, 6000]),
    st.sampled_from([None, D("0.5"), D(2), D(10)]),
    st.sampled_from([None, D("0.005"), D("0.03")]),
    st.sampled_from([D(0), D("0.05"), D("0.2"), D("0.6"), D("2.5")]),
    st.sampled_from([False, False, False, False, True]),
)
fill_op = st.tuples(
    st.just("fill"), st.integers(min_value=0, max_value=50), fractions, st.integers(-5, 5)
)
# Weighted by repetition: mostly intents, fills and price moves.
ops = st.one_of(
    intent_op,
    intent_op,
    intent_op,
    fill_op,
    fill_op,
    fill_op,
    bar_op,
    bar_op,
    st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=50)),
    st.tuples(st.just("deny"), st.integers(min_value=0, max_value=50)),
    st.tuples(st.just("flatten")),
)
#: Every symbol is priced before the random steps, so few intents die of NO_MARKET_PRICE.
openings = st.tuples(prices, prices, prices).map(
    lambda p: [("bar", symbol, price) for symbol, price in zip(SYMBOLS, p, strict=True)]
)


def _portfolio_config(
    leverage: Decimal,
    exposure: Decimal,
    risk: Decimal,
    short_margin: Decimal,
    capital: Decimal,
    per_share: Decimal,
    minimum: Decimal,
    instruments: dict[str, InstrumentConfig] | None = None,
) -> PortfolioConfig:
    return PortfolioConfig(
        max_leverage=leverage,
        max_exposure_pct=exposure,
        max_risk_per_trade_pct=risk,
        short_margin_pct=short_margin,
        atr_period=2,
        commission=CommissionConfig(per_share=per_share, minimum=minimum),
        symbols={
            "A": SymbolConfig(max_symbol_exposure_pct=D("0.25")),
            "B": SymbolConfig(lot_size=D(10)),
        },
        strategy_budgets={
            "fixed": StrategyBudgetConfig(capital_pct=capital),
            "atr": StrategyBudgetConfig(capital_pct=D("0.5"), sizing_mode="fixed_risk_atr"),
            "weight": StrategyBudgetConfig(capital_pct=D(3), sizing_mode="percent_equity"),
            "big": StrategyBudgetConfig(capital_pct=D(10)),
        },
        instruments=instruments or {},
    )


_config_fields = (
    st.sampled_from([D(1), D(2), D(4), D(4)]),
    st.sampled_from([D("0.5"), D("0.8"), D(1), D(1)]),
    st.sampled_from([D("0.01"), D("0.03")]),
    st.sampled_from([D("0.5"), D(1), D(1)]),
    st.sampled_from([D("0.1"), D("0.3"), D(1), D(3)]),
    st.sampled_from([D(0), D("0.01")]),
    st.sampled_from([D(0), D(1)]),
)
configs = st.builds(_portfolio_config, *_config_fields)
#: B trades in 10-lots of a 50x contract, C is a tenth of a unit (a micro contract).
multiplier_configs = st.builds(
    _portfolio_config,
    *_config_fields,
    st.fixed_dictionaries(
        {
            "B": st.sampled_from([D(50), D(5)]).map(lambda m: InstrumentConfig(multiplier=m)),
            "C": st.sampled_from([D("0.1"), D(20)]).map(lambda m: InstrumentConfig(multiplier=m)),
        }
    ),
)


def _intent_fields(strategy: str, op: tuple[Any, ...]) -> dict[str, Any]:
    _, _, _, _, quantity, risk_per_share, risk_pct, weight, close = op
    if close:
        return {"close": True}
    if strategy in ("fixed", "other", "big"):
        return {"quantity": D(quantity), "risk_per_share": risk_per_share}
    if strategy == "atr":
        return {"risk_per_share": risk_per_share, "risk_pct": risk_pct}
    return {"weight": weight}


def _run(config: PortfolioConfig, steps: list[tuple[Any, ...]]) -> None:
    harness = Harness(config)
    actor = harness.actor
    oracle = Oracle(config, cash=config.initial_capital)
    for sequence, op in enumerate(steps, start=1):
        kind = op[0]
        orders = list(oracle.pending)
        if kind == "bar":
            _, symbol, price = op
            spread = D(1)
            actor.handle(
                Bar(
                    ts=sequence,
                    symbol=symbol,
                    open=price,
                    high=price + spread,
                    low=price / 2,
                    close=price,
                )
            )
            oracle.marks[symbol] = price
        elif kind == "intent":
            _, strategy, symbol, side = op[:4]
            intent = OrderIntent(
                ts=sequence,
                intent_id=f"i{sequence}",
                strategy=strategy,
                symbol=symbol,
                side=side,
                **_intent_fields(strategy, op),
            )
            start = len(harness.out)
            actor.handle(intent)
            (answer,) = harness.out[start:]
            if isinstance(answer, SizedOrder):
                check_accepted(oracle, intent, answer)
                oracle.pending[answer.order_id] = Pending(
                    answer.strategy, answer.symbol, answer.side, answer.quantity
                )
            else:
                assert isinstance(answer, OrderDenied) and answer.source == "portfolio"
        elif kind == "fill" and orders:
            _, index, fraction, offset = op
            order_id = orders[index % len(orders)]
            order = oracle.pending[order_id]
            lot = config.symbol(order.symbol).lot_size
            quantity = min(order.remaining, max(lot, (order.remaining * fraction // lot) * lot))
            price = oracle.marks[order.symbol] + D(offset) / 4
            commission = D(offset % 3) / 2
            start = len(harness.out)
            actor.handle(
                Fill(
                    leaves_quantity=Decimal(0),
                    ts=sequence,
                    fill_id=f"f{sequence}",
                    order_id=order_id,
                    strategy=order.strategy,
                    symbol=order.symbol,
                    side=order.side,
                    quantity=quantity,
                    price=price,
                    commission=commission,
                )
            )
            signed = quantity if order.side == "BUY" else -quantity
            key = (order.strategy, order.symbol)
            oracle.positions[key] = oracle.positions.get(key, ZERO) + signed
            oracle.cash -= signed * price * config.multiplier(order.symbol) + commission
            order.remaining -= quantity
            if order.remaining == ZERO:
                del oracle.pending[order_id]
            # A fill that ends the last order in flight may release a waiting flatten close.
            _record_flatten_closes(
                oracle, [m for m in harness.out[start:] if isinstance(m, SizedOrder)]
            )
        elif kind in ("cancel", "deny") and orders:
            order_id = orders[op[1] % len(orders)]
            order = oracle.pending.pop(order_id)
            if kind == "cancel":
                message: Any = OrderUpdate(
                    ts=sequence,
                    order_id=order_id,
                    strategy=order.strategy,
                    symbol=order.symbol,
                    status="CANCELLED",
                    filled_quantity=ZERO,
                    remaining_quantity=order.remaining,
                )
            else:
                message = OrderDenied(
                    ts=sequence,
                    intent_id="from-risk",
                    strategy=order.strategy,
                    symbol=order.symbol,
                    side=order.side,
                    reason="RISK_LIMIT",
                    source="risk",
                    order_id=order_id,
                )
            start = len(harness.out)
            actor.handle(message)
            _record_flatten_closes(oracle, harness.out[start:])
        elif kind == "flatten":
            start = len(harness.out)
            actor.handle(Control(ts=sequence, command="flatten"))
            _record_flatten_closes(oracle, harness.out[start:])
        _check_reconciles(actor.ledger, oracle)


def _record_flatten_closes(oracle: Oracle, published: list[Any]) -> None:
    for message in published:
        assert isinstance(message, SizedOrder) and message.tag == "flatten"
        held = oracle.positions[message.strategy, message.symbol]
        assert message.quantity == abs(held)
        assert message.side == ("SELL" if held > ZERO else "BUY")
        oracle.pending[message.order_id] = Pending(
            message.strategy, message.symbol, message.side, message.quantity
        )


def _check_reconciles(ledger: Ledger, oracle: Oracle) -> None:
    assert ledger.cash == oracle.cash
    held = {key: p.quantity for key, p in ledger.positions.items() if p.quantity}
    assert held == {key: q for key, q in oracle.positions.items() if q}
    assert ledger.equity == oracle.equity()
    assert ledger.equity == ledger.initial_capital + ledger.realized_pnl + ledger.unrealized_pnl
    # The running sums the caps read equal a full recount by the oracle.
    assert set(ledger.open_books) == {s for s, book in ledger.books.items() if book.quantity}
    assert (ledger.gross_projected(), ledger.margin_projected()) == oracle.account()
    pending = {
        order_id: (o.strategy, o.symbol, o.side, o.remaining)
        for order_id, o in ledger.in_flight.items()
    }
    assert pending == {
        order_id: (o.strategy, o.symbol, o.side, o.remaining)
        for order_id, o in oracle.pending.items()
    }


@PROPERTY_SETTINGS
@given(config=configs, opening=openings, steps=st.lists(ops, min_size=20, max_size=80))
def test_random_flow_when_orders_accepted_then_no_cap_breached_and_account_reconciles(
    config: PortfolioConfig, opening: list[tuple[Any, ...]], steps: list[tuple[Any, ...]]
) -> None:
    _run(config, opening + steps)


@PROPERTY_SETTINGS
@given(config=multiplier_configs, opening=openings, steps=st.lists(ops, min_size=20, max_size=80))
def test_random_flow_when_multipliers_then_no_cap_breached_and_account_reconciles(
    config: PortfolioConfig, opening: list[tuple[Any, ...]], steps: list[tuple[Any, ...]]
) -> None:
    # Every cap, the risk per trade and the cash are measured in money: price * multiplier.
    _run(config, opening + steps)


# -- long/short symmetry -----------------------------------------------------------------------

trades = st.lists(
    st.tuples(
        st.sampled_from(["BUY", "SELL"]),
        st.integers(min_value=1, max_value=300),
        st.integers(min_value=1, max_value=4000).map(lambda n: D(n) / 8),
    ),
    min_size=1,
    max_size=30,
)
MIRROR: dict[str, Side] = {"BUY": "SELL", "SELL": "BUY"}


@settings(max_examples=200, deadline=None, derandomize=True)
@given(trades=trades, final_mark=st.integers(min_value=1, max_value=4000).map(lambda n: D(n) / 8))
def test_mirrored_trades_when_sides_swapped_then_pnl_exactly_negated(
    trades: list[tuple[Side, int, Decimal]], final_mark: Decimal
) -> None:
    long_book, short_book = Ledger(D(100000)), Ledger(D(100000))
    for side, quantity, price in trades:
        for ledger, trade_side in ((long_book, side), (short_book, MIRROR[side])):
            ledger.mark("X", price)
            ledger.apply_fill(
                "s", "X", side=trade_side, quantity=D(quantity), price=price, commission=ZERO
            )
            assert ledger.equity == (
                ledger.initial_capital + ledger.realized_pnl + ledger.unrealized_pnl
            )
        assert short_book.realized_pnl == -long_book.realized_pnl
        assert short_book.unrealized_pnl == -long_book.unrealized_pnl
    for ledger in (long_book, short_book):
        ledger.mark("X", final_mark)
    assert short_book.unrealized_pnl == -long_book.unrealized_pnl
    assert short_book.equity - D(100000) == -(long_book.equity - D(100000))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    quantity=st.integers(min_value=1, max_value=10_000),
    price=st.integers(min_value=1, max_value=100_000).map(lambda n: D(n) / 100),
    marks=st.lists(
        st.integers(min_value=1, max_value=100_000).map(lambda n: D(n) / 100), max_size=5
    ),
    side=st.sampled_from(["BUY", "SELL"]),
)
def test_round_trip_when_same_price_no_costs_then_equity_unchanged(
    quantity: int, price: Decimal, marks: list[Decimal], side: Side
) -> None:
    ledger = Ledger(D(100000))
    ledger.mark("X", price)
    ledger.apply_fill("s", "X", side=side, quantity=D(quantity), price=price, commission=ZERO)
    assert ledger.equity == D(100000)
    for mark in marks:
        ledger.mark("X", mark)
    ledger.mark("X", price)
    ledger.apply_fill(
        "s", "X", side=MIRROR[side], quantity=D(quantity), price=price, commission=ZERO
    )
    assert (ledger.equity, ledger.cash, ledger.realized_pnl) == (D(100000), D(100000), ZERO)
