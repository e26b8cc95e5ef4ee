"""The strategy actor: routing, position views, intents, failure isolation and restarts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal

import msgspec
import pytest
from prometheus_client import CollectorRegistry

from atrium.actors.strategy import Strategy, StrategyActor
from atrium.config.base import ConfigBase
from atrium.config.loader import ConfigError
from atrium.config.strategy import StrategyConfig
from atrium.runtime.actor import ActorContext
from atrium.runtime.clocks import SimClock
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.messages import (
    Bar,
    Fill,
    Message,
    OrderDenied,
    OrderIntent,
    OrderUpdate,
    PositionUpdate,
    Tick,
)

#: What the test strategies saw, in order: (event, strategy name, detail).
LOG: list[tuple[str, str, str]] = []


@pytest.fixture(autouse=True)
def _clear_log() -> Iterator[None]:
    LOG.clear()
    yield
    LOG.clear()


class RecorderParams(ConfigBase, frozen=True, kw_only=True):
    buy_on_bar: bool = False


class Recorder(Strategy[RecorderParams]):
    Params = RecorderParams

    def on_start(self) -> None:
        LOG.append(("start", self.name, ""))

    def on_bar(self, bar: Bar) -> None:
        LOG.append(("bar", self.name, f"{bar.symbol} {bar.close}"))
        if self.params.buy_on_bar:
            self.buy(bar.symbol, 1)

    def on_tick(self, tick: Tick) -> None:
        LOG.append(("tick", self.name, f"{tick.symbol} {tick.price}"))

    def on_fill(self, fill: Fill) -> None:
        LOG.append(("fill", self.name, fill.fill_id))

    def on_position(self, update: PositionUpdate) -> None:
        LOG.append(("position", self.name, f"{update.symbol} {self.position(update.symbol)}"))

    def on_denied(self, denied: OrderDenied) -> None:
        LOG.append(("denied", self.name, denied.reason))

    def on_order_update(self, update: OrderUpdate) -> None:
        LOG.append(("order_update", self.name, update.status))


class BoomParams(ConfigBase, frozen=True, kw_only=True):
    fail_at_or_above: Decimal = Decimal(10)
    fail_start: bool = False


class Boom(Strategy[BoomParams]):
    """Raises on every bar whose close is >= ``fail_at_or_above``."""

    Params = BoomParams

    def on_start(self) -> None:
        LOG.append(("start", self.name, ""))
        if self.params.fail_start:
            raise RuntimeError("cannot start")

    def on_bar(self, bar: Bar) -> None:
        LOG.append(("bar", self.name, f"{bar.symbol} {bar.close}"))
        if bar.close >= self.params.fail_at_or_above:
            raise RuntimeError(f"bad close {bar.close}")

    def on_fill(self, fill: Fill) -> None:
        raise ZeroDivisionError("fill handler bug")


class FlakyStart(Strategy[RecorderParams]):
    """Fails its first on_start only (the log is the memory that survives the restart)."""

    Params = RecorderParams

    def on_start(self) -> None:
        first = ("start", self.name, "") not in LOG
        LOG.append(("start", self.name, ""))
        if first:
            raise RuntimeError("first start fails")

    def on_bar(self, bar: Bar) -> None:
        LOG.append(("bar", self.name, bar.symbol))


class BarsOnly(Strategy[RecorderParams]):
    Params = RecorderParams

    def on_bar(self, bar: Bar) -> None:
        LOG.append(("bar", self.name, bar.symbol))


RECORDER = f"{__name__}:Recorder"
BOOM = f"{__name__}:Boom"


def _config(cls: str, symbols: list[str], **kw: object) -> StrategyConfig:
    return msgspec.convert({"class": cls, "symbols": symbols, **kw}, StrategyConfig)


async def _actor(
    configs: dict[str, StrategyConfig] | None, registry: CollectorRegistry | None = None
) -> tuple[StrategyActor, list[Message], SimClock, CollectorRegistry]:
    bus = Dispatcher()
    published: list[Message] = []
    bus.add_tap(published.append)
    clock = SimClock(1_000)
    registry = registry if registry is not None else CollectorRegistry()
    context = ActorContext(
        name="strategy",
        config=configs,
        clock=clock,
        dispatcher=bus,
        registry=registry,
        mode="replay",
    )
    actor = StrategyActor(context)
    await actor.on_start()
    return actor, published, clock, registry


def _bar(symbol: str, close: str | int, ts: int = 1_000) -> Bar:
    price = Decimal(close)
    return Bar(ts=ts, symbol=symbol, open=price, high=price, low=price, close=price)


def _position(strategy: str, symbol: str, quantity: str) -> PositionUpdate:
    return PositionUpdate(
        ts=1_000,
        strategy=strategy,
        symbol=symbol,
        quantity=Decimal(quantity),
        avg_price=Decimal(20),
        realized_pnl=Decimal(0),
    )


def _metric(registry: CollectorRegistry, name: str, strategy: str) -> float | None:
    return registry.get_sample_value(name, {"strategy": strategy})


# -- routing ------------------------------------------------------------------------------


async def test_bar_when_symbol_subscribed_then_delivered_in_config_order() -> None:
    actor, _, _, _ = await _actor(
        {
            "a": _config(RECORDER, ["NVDA", "ORCL"]),
            "b": _config(RECORDER, ["ORCL"]),
        }
    )
    assert LOG == [("start", "a", ""), ("start", "b", "")]
    LOG.clear()

    actor.handle(_bar("NVDA", 5))
    actor.handle(_bar("ORCL", 7))
    actor.handle(_bar("YHOO", 9))
    actor.handle(Tick(ts=1_000, symbol="ORCL", price=Decimal("7.5"), size=Decimal(3)))

    assert LOG == [
        ("bar", "a", "NVDA 5"),
        ("bar", "a", "ORCL 7"),
        ("bar", "b", "ORCL 7"),
        ("tick", "a", "ORCL 7.5"),
        ("tick", "b", "ORCL 7.5"),
    ]


async def test_tick_when_strategy_has_no_on_tick_then_not_routed() -> None:
    actor, _, _, _ = await _actor({"bars": _config(f"{__name__}:BarsOnly", ["NVDA"])})
    actor.handle(Tick(ts=1_000, symbol="NVDA", price=Decimal(5), size=Decimal(1)))
    actor.handle(_bar("NVDA", 5))
    assert LOG == [("bar", "bars", "NVDA")]


async def test_order_flow_when_named_strategy_then_only_it_receives() -> None:
    actor, _, _, _ = await _actor(
        {"a": _config(RECORDER, ["NVDA"]), "b": _config(RECORDER, ["NVDA"])}
    )
    LOG.clear()

    actor.handle(
        Fill(
            leaves_quantity=Decimal(0),
            ts=1_000,
            fill_id="f-1",
            order_id="o-1",
            strategy="b",
            symbol="NVDA",
            side="BUY",
            quantity=Decimal(10),
            price=Decimal(20),
        )
    )
    actor.handle(_position("b", "NVDA", "10"))
    actor.handle(
        OrderDenied(
            ts=1_000,
            intent_id="a-1",
            strategy="a",
            symbol="NVDA",
            side="BUY",
            reason="RISK_NOTIONAL_CAP",
            source="risk",
        )
    )
    actor.handle(
        OrderUpdate(
            ts=1_000,
            order_id="o-2",
            strategy="a",
            symbol="NVDA",
            status="REJECTED",
            filled_quantity=Decimal(0),
            remaining_quantity=Decimal(5),
        )
    )
    actor.handle(_position("elsewhere", "NVDA", "3"))

    assert LOG == [
        ("fill", "b", "f-1"),
        ("position", "b", "NVDA 10"),
        ("denied", "a", "RISK_NOTIONAL_CAP"),
        ("order_update", "a", "REJECTED"),
    ]
    assert actor.strategies["a"].position("NVDA") == Decimal(0)
    assert actor.strategies["b"].position("NVDA") == Decimal(10)


async def test_bar_when_strategy_buys_then_intent_published_with_clock_time_and_counted() -> None:
    actor, published, clock, registry = await _actor(
        {"a": _config(RECORDER, ["NVDA"], params={"buy_on_bar": True})}
    )
    clock.advance_to(5_000)
    actor.handle(_bar("NVDA", 5, ts=5_000))
    actor.handle(_bar("NVDA", 6, ts=5_000))

    assert published == [
        OrderIntent(
            ts=5_000, intent_id="a-1", strategy="a", symbol="NVDA", side="BUY", quantity=Decimal(1)
        ),
        OrderIntent(
            ts=5_000, intent_id="a-2", strategy="a", symbol="NVDA", side="BUY", quantity=Decimal(1)
        ),
    ]
    assert _metric(registry, "atrium_strategy_intents_total", "a") == 2.0
    assert _metric(registry, "atrium_strategy_enabled", "a") == 1.0


async def test_actor_when_no_strategies_section_then_handles_messages_quietly() -> None:
    actor, published, _, _ = await _actor(None)
    actor.handle(_bar("NVDA", 5))
    actor.handle(_position("a", "NVDA", "1"))
    assert published == []
    assert actor.strategies == {}


async def test_actor_when_strategy_disabled_in_config_then_not_started() -> None:
    actor, _, _, registry = await _actor(
        {"off": _config(RECORDER, ["NVDA"], enabled=False), "on": _config(RECORDER, ["NVDA"])}
    )
    actor.handle(_bar("NVDA", 5))
    assert LOG == [("start", "on", ""), ("bar", "on", "NVDA 5")]
    assert list(actor.strategies) == ["on"]
    assert _metric(registry, "atrium_strategy_enabled", "off") is None


async def test_actor_when_params_invalid_then_config_error_at_construction() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^strategies\.a\.params\.buy_on_bar: expected true or false, got 'yes'$",
    ):
        await _actor({"a": _config(RECORDER, ["NVDA"], params={"buy_on_bar": "yes"})})


async def test_actor_when_recreated_on_same_registry_then_metrics_reused() -> None:
    configs = {"a": _config(RECORDER, ["NVDA"], params={"buy_on_bar": True})}
    first, _, _, registry = await _actor(configs)
    first.handle(_bar("NVDA", 5))
    second, _, _, _ = await _actor(configs, registry)
    second.handle(_bar("NVDA", 5))
    assert _metric(registry, "atrium_strategy_intents_total", "a") == 2.0


# -- failure isolation ----------------------------------------------------------------------


async def test_bar_when_strategy_raises_then_restarted_and_others_unaffected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actor, _, _, registry = await _actor(
        {"boom": _config(BOOM, ["NVDA"]), "calm": _config(RECORDER, ["NVDA"])}
    )
    before = actor.strategies["boom"]
    LOG.clear()

    with caplog.at_level(logging.ERROR, logger="atrium.strategy"):
        actor.handle(_bar("NVDA", 11))
    actor.handle(_bar("NVDA", 5))

    assert LOG == [
        ("bar", "boom", "NVDA 11"),
        ("start", "boom", ""),  # fresh instance, on_start again
        ("bar", "calm", "NVDA 11"),
        ("bar", "boom", "NVDA 5"),
        ("bar", "calm", "NVDA 5"),
    ]
    assert actor.strategies["boom"] is not before
    assert _metric(registry, "atrium_strategy_errors_total", "boom") == 1.0
    assert _metric(registry, "atrium_strategy_restarts_total", "boom") == 1.0
    assert _metric(registry, "atrium_strategy_enabled", "boom") == 1.0
    assert _metric(registry, "atrium_strategy_errors_total", "calm") == 0.0
    assert [r.getMessage() for r in caplog.records] == [
        "strategy 'boom' raised in on_bar; restarting it (1 of 3 within 10000 messages)"
    ]
    assert caplog.records[0].exc_info is not None
    assert str(caplog.records[0].exc_info[1]) == "bad close 11"


async def test_restart_when_position_known_then_fresh_instance_keeps_position_view() -> None:
    actor, _, _, _ = await _actor({"boom": _config(BOOM, ["NVDA"])})
    actor.handle(_position("boom", "NVDA", "-30"))
    actor.handle(_bar("NVDA", 12))
    assert actor.strategies["boom"].position("NVDA") == Decimal(-30)


async def test_bar_when_failures_exceed_max_restarts_then_disabled_and_others_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actor, published, _, registry = await _actor(
        {
            "boom": _config(BOOM, ["NVDA"], max_restarts=2, restart_window_messages=100),
            "calm": _config(RECORDER, ["NVDA"]),
        }
    )
    actor.handle(_position("boom", "NVDA", "100"))
    LOG.clear()

    with caplog.at_level(logging.ERROR, logger="atrium.strategy"):
        for close in (11, 12, 13, 14, 15):
            actor.handle(_bar("NVDA", close))

    assert [entry for entry in LOG if entry[1] == "boom"] == [
        ("bar", "boom", "NVDA 11"),
        ("start", "boom", ""),
        ("bar", "boom", "NVDA 12"),
        ("start", "boom", ""),
        ("bar", "boom", "NVDA 13"),  # third failure: past max_restarts=2, disabled
    ]
    assert [entry[2] for entry in LOG if entry[1] == "calm"] == [
        "NVDA 11",
        "NVDA 12",
        "NVDA 13",
        "NVDA 14",
        "NVDA 15",
    ]
    assert list(actor.strategies) == ["calm"]
    assert _metric(registry, "atrium_strategy_errors_total", "boom") == 3.0
    assert _metric(registry, "atrium_strategy_restarts_total", "boom") == 2.0
    assert _metric(registry, "atrium_strategy_enabled", "boom") == 0.0
    assert caplog.records[-1].levelno == logging.ERROR
    assert caplog.records[-1].getMessage() == (
        "strategy 'boom' disabled: it raised in on_bar after 2 restarts within 100 messages "
        "(max_restarts=2); open positions: NVDA=100"
    )
    assert published == []  # close_on_disable is off by default


async def test_failures_when_spread_wider_than_window_then_restarted_not_disabled() -> None:
    actor, _, _, registry = await _actor(
        {"boom": _config(BOOM, ["NVDA"], max_restarts=1, restart_window_messages=3)}
    )
    actor.handle(_bar("NVDA", 11))  # message 1: restart 1
    actor.handle(_bar("NVDA", 5))  # 2
    actor.handle(_bar("NVDA", 5))  # 3
    actor.handle(_bar("NVDA", 11))  # message 4: message 1 is out of the window of 3
    assert _metric(registry, "atrium_strategy_restarts_total", "boom") == 2.0
    assert _metric(registry, "atrium_strategy_enabled", "boom") == 1.0

    actor.handle(_bar("NVDA", 5))  # 5
    actor.handle(_bar("NVDA", 11))  # message 6: message 4 still in the window
    assert _metric(registry, "atrium_strategy_restarts_total", "boom") == 2.0
    assert _metric(registry, "atrium_strategy_errors_total", "boom") == 3.0
    assert _metric(registry, "atrium_strategy_enabled", "boom") == 0.0


async def test_failure_when_max_restarts_zero_then_disabled_at_once() -> None:
    actor, _, _, registry = await _actor({"boom": _config(BOOM, ["NVDA"], max_restarts=0)})
    actor.handle(_bar("NVDA", 11))
    actor.handle(_bar("NVDA", 12))
    assert LOG == [("start", "boom", ""), ("bar", "boom", "NVDA 11")]
    assert _metric(registry, "atrium_strategy_restarts_total", "boom") == 0.0
    assert _metric(registry, "atrium_strategy_enabled", "boom") == 0.0


async def test_on_start_when_always_raises_then_disabled_after_restarts_and_others_start() -> None:
    actor, _, _, registry = await _actor(
        {
            "boom": _config(BOOM, ["NVDA"], params={"fail_start": True}, max_restarts=2),
            "calm": _config(RECORDER, ["NVDA"]),
        }
    )
    actor.handle(_bar("NVDA", 5))
    assert LOG == [
        ("start", "boom", ""),
        ("start", "boom", ""),
        ("start", "boom", ""),
        ("start", "calm", ""),
        ("bar", "calm", "NVDA 5"),
    ]
    assert _metric(registry, "atrium_strategy_errors_total", "boom") == 3.0
    assert _metric(registry, "atrium_strategy_restarts_total", "boom") == 2.0
    assert _metric(registry, "atrium_strategy_enabled", "boom") == 0.0
    assert _metric(registry, "atrium_strategy_enabled", "calm") == 1.0


async def test_on_start_when_raises_once_then_restarted_and_running() -> None:
    actor, _, _, registry = await _actor({"flaky": _config(f"{__name__}:FlakyStart", ["NVDA"])})
    actor.handle(_bar("NVDA", 5))
    assert LOG == [("start", "flaky", ""), ("start", "flaky", ""), ("bar", "flaky", "NVDA")]
    assert _metric(registry, "atrium_strategy_errors_total", "flaky") == 1.0
    assert _metric(registry, "atrium_strategy_restarts_total", "flaky") == 1.0
    assert _metric(registry, "atrium_strategy_enabled", "flaky") == 1.0


async def test_fill_when_strategy_raises_then_restarted() -> None:
    actor, _, _, registry = await _actor({"boom": _config(BOOM, ["NVDA"])})
    actor.handle(
        Fill(
            leaves_quantity=Decimal(0),
            ts=1_000,
            fill_id="f-1",
            order_id="o-1",
            strategy="boom",
            symbol="NVDA",
            side="SELL",
            quantity=Decimal(1),
            price=Decimal(20),
        )
    )
    assert LOG == [("start", "boom", ""), ("start", "boom", "")]
    assert _metric(registry, "atrium_strategy_errors_total", "boom") == 1.0


async def test_disable_when_close_on_disable_then_close_intents_for_open_positions() -> None:
    actor, published, clock, registry = await _actor(
        {"boom": _config(BOOM, ["NVDA", "ORCL"], max_restarts=0, close_on_disable=True)}
    )
    actor.handle(_position("boom", "NVDA", "100"))
    actor.handle(_position("boom", "ORCL", "-5"))
    actor.handle(_position("boom", "YHOO", "0"))
    clock.advance_to(7_000)
    actor.handle(_bar("NVDA", 11, ts=7_000))

    assert published == [
        OrderIntent(
            ts=7_000,
            intent_id="boom-1",
            strategy="boom",
            symbol="NVDA",
            side="SELL",
            close=True,
            tag="disabled",
        ),
        OrderIntent(
            ts=7_000,
            intent_id="boom-2",
            strategy="boom",
            symbol="ORCL",
            side="BUY",
            close=True,
            tag="disabled",
        ),
    ]
    assert _metric(registry, "atrium_strategy_intents_total", "boom") == 2.0
