"""``[topology]``: which actors exist, what each subscribes to, and their mailboxes.

Actors are named by dotted path and wired by message kind, so no actor imports another.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from atrium.config.base import ConfigBase

__all__ = ("ActorSpecConfig", "TopologyConfig", "default_actors")

Capacity = Annotated[int, msgspec.Meta(gt=0)]


class ActorSpecConfig(ConfigBase, frozen=True, kw_only=True):
    """One actor in the topology.

    Parameters
    ----------
    cls : str
        ``module:Class`` of the actor (TOML key ``class``).
    section : str or None
        The root config section the actor receives (``None``: no section).
    subscribes : list of str
        Message kinds (class names) delivered to this actor's mailbox.
    mailbox_capacity : int, default 8192
        Most messages that may wait for this actor while one input is handled; past it
        the runtime stops with an error naming this key.
    restart : {"restart", "escalate"}
        On a handler crash: restart the actor with backoff, or stop everything at once.
        Actors that own accounting state escalate: a half-applied update is never traded on.
    """

    cls: str = msgspec.field(name="class")
    section: str | None = None
    subscribes: list[str] = msgspec.field(default_factory=list)
    mailbox_capacity: Capacity = 8192
    restart: Literal["restart", "escalate"] = "restart"


def default_actors() -> dict[str, ActorSpecConfig]:
    """The five actors of the design and the message flow between them."""
    return {
        "market_data": ActorSpecConfig(
            cls="atrium.actors.market_data:MarketDataActor", section="market_data", subscribes=[]
        ),
        "strategy": ActorSpecConfig(
            cls="atrium.actors.strategy:StrategyActor",
            section="strategies",
            subscribes=["Bar", "Tick", "Fill", "PositionUpdate", "OrderDenied", "OrderUpdate"],
        ),
        "portfolio": ActorSpecConfig(
            cls="atrium.actors.portfolio:PortfolioActor",
            section="portfolio",
            subscribes=[
                "Bar",
                "Tick",
                "OrderIntent",
                "OrderDenied",
                "OrderUpdate",
                "Fill",
                "Control",
                "AccountBalances",
            ],
            restart="escalate",
        ),
        "risk": ActorSpecConfig(
            cls="atrium.actors.risk:RiskActor",
            section="risk",
            subscribes=[
                "Bar",
                "Tick",
                "SizedOrder",
                "PortfolioSnapshot",
                "Control",
                "InstrumentRules",
            ],
            restart="escalate",
        ),
        "execution": ActorSpecConfig(
            cls="atrium.actors.execution:ExecutionActor",
            section="execution",
            subscribes=[
                "Bar",
                "Tick",
                "Order",
                "CancelOrder",
                "Control",
                "TradingStateChanged",
                "VenueReport",
            ],
            restart="escalate",
        ),
    }


class TopologyConfig(ConfigBase, frozen=True, kw_only=True):
    """The actor graph. Replacing ``actors`` replaces the whole graph."""

    actors: dict[str, ActorSpecConfig] = msgspec.field(default_factory=default_actors)
