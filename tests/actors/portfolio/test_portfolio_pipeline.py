"""The portfolio in a real pipeline: topology, supervisor, mailboxes, settle barrier.

A feed (source) sends bars, intents and a flatten, waiting for the pipeline to settle
after each; a stand-in venue fills every ``SizedOrder`` in full at its reference price.
The bus tap records every message in publication order.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from atrium.actors.portfolio import PortfolioActor
from atrium.config.portfolio import PortfolioConfig, StrategyBudgetConfig
from atrium.config.schema import AtriumConfig
from atrium.config.topology import ActorSpecConfig, TopologyConfig, default_actors
from atrium.runtime import SimClock, build_pipeline
from atrium.runtime.actor import Actor, receives
from atrium.runtime.messages import (
    Bar,
    Control,
    Fill,
    Message,
    OrderIntent,
    PortfolioSnapshot,
    PositionUpdate,
    SizedOrder,
)

D = Decimal


def _bar(ts: int, close: int) -> Bar:
    price = D(close)
    return Bar(ts=ts, symbol="X", open=price, high=price, low=price, close=price)


class Feed(Actor):
    """Sends :attr:`script` one message at a time, letting each settle."""

    script: ClassVar[list[Message]] = []

    async def run(self) -> None:
        for message in self.script:
            await self.send(message)
            await self.settled()


class Venue(Actor):
    """Fills every sized order in full at its reference price."""

    @receives(SizedOrder)
    def _handle_sized_order(self, message: SizedOrder) -> None:
        self.publish(
            Fill(
                leaves_quantity=D(0),
                ts=message.ts,
                fill_id=f"F-{message.order_id}",
                order_id=message.order_id,
                strategy=message.strategy,
                symbol=message.symbol,
                side=message.side,
                quantity=message.quantity,
                price=message.reference_price,
            )
        )


async def test_pipeline_when_intent_marks_and_flatten_then_filled_marked_and_closed() -> None:
    Feed.script = [
        _bar(1, 100),
        OrderIntent(ts=2, intent_id="i1", strategy="s1", symbol="X", side="BUY", quantity=D(10)),
        _bar(3, 110),
        Control(ts=4, command="flatten"),
    ]
    topology = TopologyConfig(
        actors={
            "feed": ActorSpecConfig(cls=f"{__name__}:Feed"),
            "portfolio": default_actors()["portfolio"],
            "venue": ActorSpecConfig(cls=f"{__name__}:Venue", subscribes=["SizedOrder"]),
        }
    )
    config = AtriumConfig(
        topology=topology,
        portfolio=PortfolioConfig(
            strategy_budgets={"s1": StrategyBudgetConfig(capital_pct=D("0.5"))}
        ),
    )
    pipeline = build_pipeline(config, clock=SimClock(), mode="replay")
    seen: list[Message] = []
    pipeline.dispatcher.add_tap(seen.append)

    await pipeline.supervisor.run(stop_when_sources_finish=True)

    assert [type(m).__name__ for m in seen] == [
        "Bar",
        "OrderIntent",
        "SizedOrder",
        "Fill",
        "PositionUpdate",
        "PortfolioSnapshot",
        "Bar",  # marks only: no snapshot between fills
        "Control",
        "SizedOrder",
        "Fill",
        "PositionUpdate",
        "PortfolioSnapshot",
    ]
    entry, close = (m for m in seen if isinstance(m, SizedOrder))
    assert (entry.order_id, entry.side, entry.quantity) == ("O-00000001", "BUY", D(10))
    assert (close.order_id, close.side, close.quantity, close.tag) == (
        "O-00000002",
        "SELL",
        D(10),
        "flatten",
    )
    snapshots = [m for m in seen if isinstance(m, PortfolioSnapshot)]
    assert [s.equity for s in snapshots] == [D(100000), D(100100)]
    assert snapshots[-1].realized_pnl == D(100)
    assert snapshots[-1].positions == ()
    final = [m for m in seen if isinstance(m, PositionUpdate)][-1]
    assert (final.quantity, final.realized_pnl) == (D(0), D(100))
    portfolio = pipeline.slots["portfolio"].actor
    assert isinstance(portfolio, PortfolioActor)
    assert portfolio.limits()["current_exposure"] == "0"
    assert pipeline.slots["portfolio"].stats.failed == 0
