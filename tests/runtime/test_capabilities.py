"""Capabilities: what actors offer the runtime, found by typed key and never by name."""

from __future__ import annotations

import re
import textwrap
import tomllib
from decimal import Decimal
from typing import Any, ClassVar, Protocol

import pytest

from atrium.config import parse_config
from atrium.runtime import LiveClock, build_pipeline
from atrium.runtime.actor import Actor, ActorContext, receives
from atrium.runtime.capabilities import (
    FEED_HEALTH,
    FEED_REPORT,
    LINK_HEALTH,
    OPEN_ORDERS,
    PORTFOLIO_VIEW,
    RECONCILER,
    SCRAPE_REFRESH,
    TRADING_STATUS,
    Capabilities,
    Capability,
)
from atrium.runtime.cluster.wiring import BRIDGE, role_config
from atrium.runtime.messages import Bar
from atrium.runtime.topology import Pipeline


class Greeter(Protocol):
    def greet(self) -> str: ...


GREETER = Capability[Greeter]("greeting")


class _Hello:
    def __init__(self, word: str = "hello") -> None:
        self.word = word

    def greet(self) -> str:
        return self.word


# -- the registry ----------------------------------------------------------------------


def test_get_when_no_actor_offers_then_none() -> None:
    assert Capabilities().get(GREETER) is None
    assert Capabilities().every(GREETER) == []


def test_get_when_one_actor_offers_then_its_provider() -> None:
    capabilities, hello = Capabilities(), _Hello()
    capabilities.provide(GREETER, "greeter", hello)

    assert capabilities.get(GREETER) is hello


def test_provide_when_the_same_actor_offers_again_then_the_new_provider_replaces_the_old() -> None:
    capabilities, first, second = Capabilities(), _Hello(), _Hello()
    capabilities.provide(GREETER, "greeter", first)
    capabilities.provide(GREETER, "greeter", second)

    assert capabilities.get(GREETER) is second
    assert capabilities.every(GREETER) == [second]


def test_get_when_two_actors_offer_then_lookup_error_naming_both() -> None:
    capabilities = Capabilities()
    capabilities.provide(GREETER, "greeter", _Hello())
    capabilities.provide(GREETER, "echo", _Hello())

    message = (
        "greeting is offered by several actors (greeter, echo); the topology may have only one"
    )
    with pytest.raises(LookupError, match=f"^{re.escape(message)}$"):
        capabilities.get(GREETER)


def test_every_when_actors_offer_again_then_in_the_order_first_offered() -> None:
    capabilities = Capabilities()
    capabilities.provide(GREETER, "a", _Hello("a"))
    capabilities.provide(GREETER, "b", _Hello("b"))
    capabilities.provide(GREETER, "a", _Hello("a again"))

    assert [p.greet() for p in capabilities.every(GREETER)] == ["a again", "b"]


# -- what the real actors offer --------------------------------------------------------


def _made(pipeline: Pipeline) -> dict[str, object]:
    """Each actor of ``pipeline`` made (not started), as the supervisor makes them."""
    return {name: slot.cls(slot.context) for name, slot in pipeline.slots.items()}


@pytest.mark.parametrize(
    ("actor", "capability"),
    [
        ("portfolio", PORTFOLIO_VIEW),
        ("portfolio", SCRAPE_REFRESH),
        ("execution", OPEN_ORDERS),
        ("execution", RECONCILER),
        ("risk", TRADING_STATUS),
        ("market_data", FEED_HEALTH),
        ("market_data", FEED_REPORT),
    ],
    ids=lambda value: value.name if isinstance(value, Capability) else value,
)
def test_actor_when_made_then_offers_its_capability(
    actor: str, capability: Capability[Any]
) -> None:
    pipeline = build_pipeline(parse_config({}), clock=LiveClock(), mode="live")
    made = _made(pipeline)

    assert pipeline.capabilities.every(capability) == [made[actor]]


def test_bridge_when_made_then_offers_the_link_health() -> None:
    roles = """
    [cluster]
    namespace = "t"
    [cluster.roles.md]
    actors = ["market_data"]
    [cluster.roles.core]
    actors = ["strategy", "portfolio", "risk", "execution"]
    """
    config, wiring = role_config(parse_config(tomllib.loads(textwrap.dedent(roles))), "core")
    pipeline = build_pipeline(config, clock=LiveClock(), mode="live", sections={"cluster": wiring})
    made = _made(pipeline)

    assert pipeline.capabilities.every(LINK_HEALTH) == [made[BRIDGE]]


def test_actor_when_not_made_yet_then_offers_nothing() -> None:
    pipeline = build_pipeline(parse_config({}), clock=LiveClock(), mode="live")

    assert pipeline.capabilities.get(PORTFOLIO_VIEW) is None


# -- a restarted actor -----------------------------------------------------------------


class OneBar(Actor):
    async def run(self) -> None:
        price = Decimal(1)
        await self.send(Bar(ts=1, symbol="X", open=price, high=price, low=price, close=price))


class FailsOnce(Actor):
    """Offers a greeting; the first instance fails on the first bar it is handed."""

    made: ClassVar[list[FailsOnce]] = []

    def __init__(self, context: ActorContext) -> None:
        super().__init__(context)
        self.made.append(self)
        context.provide(GREETER, self)

    def greet(self) -> str:
        return f"instance {self.made.index(self) + 1}"

    @receives(Bar)
    def _handle_bar(self, _message: Bar) -> None:
        if self is self.made[0]:
            raise RuntimeError("first instance fails")


async def test_actor_when_restarted_then_the_runtime_finds_the_new_instance() -> None:
    FailsOnce.made = []
    config = parse_config(
        {
            "runtime": {"backoff_initial_seconds": 0.0},
            "topology": {
                "actors": {
                    "feed": {"class": "test_capabilities:OneBar"},
                    "greeter": {"class": "test_capabilities:FailsOnce", "subscribes": ["Bar"]},
                }
            },
        }
    )
    pipeline = build_pipeline(config, clock=LiveClock(), mode="live")

    await pipeline.supervisor.run(stop_when_sources_finish=True)

    greeter = pipeline.capabilities.get(GREETER)
    assert greeter is not None
    assert (greeter.greet(), pipeline.slots["greeter"].stats.restarts) == ("instance 2", 1)
