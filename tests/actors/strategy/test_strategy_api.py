"""The Strategy base: intents built from the helpers, position views, misuse errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from atrium.actors.strategy import NoParams, Strategy, StrategyContext
from atrium.runtime.clocks import SimClock
from atrium.runtime.messages import OrderIntent, PositionUpdate

T0 = 1_700_000_000_000_000_000


def _strategy(
    name: str = "trend", symbols: tuple[str, ...] = ("NVDA", "ORCL")
) -> tuple[Strategy[NoParams], list[OrderIntent], StrategyContext]:
    sent: list[OrderIntent] = []
    context = StrategyContext(
        name=name, params=NoParams(), symbols=symbols, clock=SimClock(T0), emit=sent.append
    )
    return Strategy(context), sent, context


def _position(context: StrategyContext, symbol: str, quantity: str, avg: str) -> None:
    context.positions[symbol] = PositionUpdate(
        ts=T0,
        strategy=context.name,
        symbol=symbol,
        quantity=Decimal(quantity),
        avg_price=Decimal(avg),
        realized_pnl=Decimal(0),
    )


def test_buy_when_numbers_of_each_type_then_exact_decimals_and_sequential_ids() -> None:
    strategy, sent, _ = _strategy()

    first = strategy.buy("NVDA", 100, tag="a")
    second = strategy.buy("NVDA", 0.1)
    third = strategy.buy("ORCL", "2.5")
    fourth = strategy.buy("ORCL", Decimal("7.25"))

    assert sent == [first, second, third, fourth]
    assert first == OrderIntent(
        ts=T0,
        intent_id="trend-1",
        strategy="trend",
        symbol="NVDA",
        side="BUY",
        quantity=Decimal(100),
        tag="a",
    )
    # float via repr: exactly 0.1, not 0.1000000000000000055511151231257827...
    assert second.quantity == Decimal("0.1")
    assert str(second.quantity) == "0.1"
    assert (second.intent_id, third.intent_id, fourth.intent_id) == (
        "trend-2",
        "trend-3",
        "trend-4",
    )
    assert third.quantity == Decimal("2.5")
    assert fourth.quantity == Decimal("7.25")


def test_buy_when_risk_sizing_then_intent_carries_stop_distance_and_risk_pct() -> None:
    strategy, _, _ = _strategy()

    intent = strategy.buy("NVDA", risk_pct="0.01", risk_per_share=0.23218680537631714)

    assert intent.side == "BUY"
    assert intent.quantity is None
    assert intent.risk_pct == Decimal("0.01")
    assert intent.risk_per_share == Decimal("0.23218680537631714")
    assert intent.stop_price is None
    assert intent.close is False


def test_sell_when_weight_then_sell_intent_with_target_weight() -> None:
    strategy, sent, _ = _strategy()

    intent = strategy.sell("ORCL", weight="0.25", tag="short")

    assert sent == [intent]
    assert intent.side == "SELL"
    assert intent.weight == Decimal("0.25")
    assert intent.quantity is None
    assert intent.tag == "short"


def test_sell_when_stop_price_then_intent_carries_it() -> None:
    strategy, _, _ = _strategy()
    intent = strategy.sell("NVDA", risk_pct=0.02, stop_price=21.5)
    assert (intent.risk_pct, intent.stop_price) == (Decimal("0.02"), Decimal("21.5"))


def test_buy_when_no_sizing_given_then_portfolio_default_sizing() -> None:
    strategy, _, _ = _strategy()
    intent = strategy.buy("NVDA")
    assert (intent.quantity, intent.weight, intent.risk_per_share, intent.stop_price) == (
        None,
        None,
        None,
        None,
    )


def test_close_when_long_then_sell_close_intent_without_quantity() -> None:
    strategy, sent, context = _strategy()
    _position(context, "NVDA", "150", "20.5")

    intent = strategy.close("NVDA", tag="exit")

    assert sent == [
        OrderIntent(
            ts=T0,
            intent_id="trend-1",
            strategy="trend",
            symbol="NVDA",
            side="SELL",
            close=True,
            tag="exit",
        )
    ]
    assert intent is sent[0]


def test_close_when_short_then_buy_close_intent() -> None:
    strategy, sent, context = _strategy()
    _position(context, "ORCL", "-40", "33")

    intent = strategy.close("ORCL")

    assert sent == [intent]
    assert intent is not None
    assert (intent.side, intent.close, intent.quantity, intent.symbol) == (
        "BUY",
        True,
        None,
        "ORCL",
    )


def test_close_when_flat_then_nothing_sent_and_id_not_used() -> None:
    strategy, sent, context = _strategy()
    _position(context, "NVDA", "0", "0")

    assert strategy.close("NVDA") is None
    assert strategy.close("ORCL") is None  # never traded
    assert sent == []
    assert strategy.buy("NVDA", 1).intent_id == "trend-1"


def test_position_when_updates_stored_then_signed_quantity_and_entry_price() -> None:
    strategy, _, context = _strategy()
    assert strategy.position("NVDA") == Decimal(0)
    assert strategy.entry_price("NVDA") is None

    _position(context, "NVDA", "-25", "19.75")
    assert strategy.position("NVDA") == Decimal(-25)
    assert strategy.entry_price("NVDA") == Decimal("19.75")

    _position(context, "NVDA", "0", "19.75")
    assert strategy.position("NVDA") == Decimal(0)
    assert strategy.entry_price("NVDA") is None


def test_intent_when_clock_advances_then_stamped_with_clock_time() -> None:
    strategy, _, context = _strategy()
    assert isinstance(context.clock, SimClock)
    context.clock.advance_to(T0 + 86_400_000_000_000)
    assert strategy.buy("NVDA", 1).ts == T0 + 86_400_000_000_000


def test_strategy_when_constructed_then_exposes_name_symbols_params_clock() -> None:
    strategy, _, context = _strategy(name="mom", symbols=("NVDA",))
    assert strategy.name == "mom"
    assert strategy.symbols == ("NVDA",)
    assert strategy.params == NoParams()
    assert strategy.clock is context.clock


# -- misuse is a bug in the strategy: an exception (the actor restarts the strategy) --


def test_buy_when_symbol_not_subscribed_then_value_error() -> None:
    strategy, sent, _ = _strategy()
    with pytest.raises(
        ValueError,
        match=r"^buy: symbol 'YHOO' is not one of strategy 'trend'\'s symbols \(NVDA, ORCL\); "
        r"add it to strategies\.trend\.symbols$",
    ):
        strategy.buy("YHOO", 1)
    assert sent == []


def test_close_when_symbol_not_subscribed_then_value_error() -> None:
    strategy, _, _ = _strategy()
    with pytest.raises(ValueError, match=r"^close: symbol 'YHOO' is not one of strategy"):
        strategy.close("YHOO")


def test_buy_when_qty_and_weight_then_value_error() -> None:
    strategy, sent, _ = _strategy()
    with pytest.raises(
        ValueError,
        match=r"^buy: give one of qty, weight, risk_per_share/stop_price; got qty and weight$",
    ):
        strategy.buy("NVDA", 10, weight="0.5")
    assert sent == []


def test_sell_when_risk_per_share_and_stop_price_then_value_error() -> None:
    strategy, _, _ = _strategy()
    with pytest.raises(ValueError, match=r"^sell: give risk_per_share or stop_price, not both$"):
        strategy.sell("NVDA", risk_per_share=1, stop_price=10)


def test_buy_when_risk_pct_without_stop_then_value_error() -> None:
    strategy, _, _ = _strategy()
    with pytest.raises(
        ValueError,
        match=r"^buy: risk_pct needs a stop distance \(risk_per_share or stop_price\)$",
    ):
        strategy.buy("NVDA", risk_pct="0.01")


def test_buy_when_qty_is_bool_then_type_error() -> None:
    strategy, _, _ = _strategy()
    with pytest.raises(
        TypeError, match=r"^buy: qty must be a Decimal, int, str or float, got bool$"
    ):
        strategy.buy("NVDA", True)


def test_buy_when_qty_text_not_a_number_then_value_error() -> None:
    strategy, _, _ = _strategy()
    with pytest.raises(ValueError, match=r"^buy: qty='ten' is not a number$"):
        strategy.buy("NVDA", "ten")


def test_buy_when_qty_zero_then_intent_validation_error_and_nothing_sent() -> None:
    strategy, sent, _ = _strategy()
    with pytest.raises(
        ValueError, match=r"^OrderIntent\.quantity must be a finite number > 0, got 0$"
    ):
        strategy.buy("NVDA", 0)
    with pytest.raises(
        ValueError, match=r"^OrderIntent\.quantity must be a finite number > 0, got NaN$"
    ):
        strategy.buy("NVDA", float("nan"))
    assert sent == []


def test_subclass_when_defines_init_then_type_error() -> None:
    with pytest.raises(
        TypeError,
        match=r"^Bad must not define __init__: build its state in on_start\(\), "
        r"which also runs when the strategy is restarted$",
    ):

        class Bad(Strategy[NoParams]):
            def __init__(self, context: StrategyContext) -> None:
                super().__init__(context)
