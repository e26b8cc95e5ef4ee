"""Intents sized per second through the portfolio actor, and bars marked per second.

Direct: ``PortfolioActor.handle()`` on pre-built messages, no event loop. Each sized order
is answered at once by a risk denial (releasing its reservation), so every intent meets
the same book and none is refused for lack of room. The book holds ``--positions`` open
positions spread over ``--symbols`` symbols and four strategies, since the caps look at
every symbol and the strategy's every position.

Pipeline: the real runtime (topology, supervisor, mailboxes): a source sends the intents
as fast as the portfolio's mailbox takes them, the portfolio sizes them, and a stand-in
risk actor denies each ``SizedOrder`` back to the portfolio. Every intent is counted once
its answer came back, so this is the sized-and-released rate with channel overhead.

    python bench/sizing.py [--intents 20000] [--symbols 20] [--positions 40] [--no-uvloop]
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal
from typing import Any, ClassVar

import anyio
import msgspec

from atrium.actors.portfolio import PortfolioActor
from atrium.config.portfolio import PortfolioConfig, SizingModeName, StrategyBudgetConfig
from atrium.config.schema import AtriumConfig
from atrium.config.topology import ActorSpecConfig, TopologyConfig, default_actors
from atrium.runtime import ActorContext, Dispatcher, LiveClock, SimClock, build_pipeline
from atrium.runtime.actor import Actor, receives
from atrium.runtime.messages import Bar, Message, OrderDenied, OrderIntent, Side, SizedOrder

D = Decimal
STRATEGIES: tuple[str, ...] = ("fixed", "atr", "weight", "other")
MODES: dict[str, SizingModeName] = {
    "fixed": "fixed_qty",
    "atr": "fixed_risk_atr",
    "weight": "percent_equity",
    "other": "fixed_qty",
}


def _config() -> PortfolioConfig:
    return PortfolioConfig(
        initial_capital=D(10_000_000),
        max_leverage=D(4),
        strategy_budgets={
            name: StrategyBudgetConfig(capital_pct=D("0.5"), sizing_mode=mode)
            for name, mode in MODES.items()
        },
    )


def _bar(symbol: str, close: Decimal) -> Bar:
    return Bar(ts=1, symbol=symbol, open=close, high=close + 1, low=close - 1, close=close)


def _intent(index: int, strategy: str, symbol: str) -> OrderIntent:
    side: Side = "BUY" if index % 2 else "SELL"
    fields: dict[str, Any] = {}
    if MODES[strategy] == "fixed_qty":
        fields["quantity"] = D(10 + index % 50)
    elif MODES[strategy] == "percent_equity":
        fields["weight"] = D("0.002")
    return OrderIntent(
        ts=1,
        intent_id=f"i{index}",
        strategy=strategy,
        symbol=symbol,
        side=side,
        **fields,
    )


def _deny(order: SizedOrder) -> OrderDenied:
    return OrderDenied(
        ts=1,
        intent_id=order.intent_id,
        strategy=order.strategy,
        symbol=order.symbol,
        side=order.side,
        reason="BENCH",
        source="risk",
        order_id=order.order_id,
    )


def _prepare(actor: PortfolioActor, symbols: list[str], positions: int) -> None:
    """Warm every symbol's ATR and open ``positions`` positions across the strategies."""
    for _ in range(actor.config.atr_period):
        for number, symbol in enumerate(symbols):
            actor.handle(_bar(symbol, D(50 + number)))
    for index in range(positions):
        symbol = symbols[index % len(symbols)]
        mark = actor.ledger.mark_of(symbol)
        assert mark is not None
        # Straight into the ledger: these fills belong to no order the actor sized.
        actor.ledger.apply_fill(
            STRATEGIES[index % len(STRATEGIES)],
            symbol,
            side="BUY" if index % 3 else "SELL",
            quantity=D(100),
            price=mark,
            commission=D(0),
        )


def _direct_actor(symbols: list[str], positions: int) -> tuple[PortfolioActor, list[Message]]:
    bus = Dispatcher()
    out: list[Message] = []
    bus.add_tap(out.append)
    context = ActorContext(name="portfolio", config=_config(), clock=SimClock(), dispatcher=bus)
    actor = PortfolioActor(context)
    _prepare(actor, symbols, positions)
    out.clear()
    return actor, out


def direct_intents(count: int, symbols: list[str], positions: int, strategy: str) -> float:
    actor, out = _direct_actor(symbols, positions)
    intents = [_intent(i, strategy, symbols[i % len(symbols)]) for i in range(count)]
    handle = actor.handle
    sized = 0
    started = time.perf_counter()
    for intent in intents:
        handle(intent)
        answer = out[-1]
        if type(answer) is SizedOrder:
            sized += 1
            handle(_deny(answer))
    elapsed = time.perf_counter() - started
    assert sized == count, (sized, count, out[-1])
    return count / elapsed


def direct_bars(count: int, symbols: list[str], positions: int) -> tuple[float, int]:
    """Bars per second, and how many of them moved equity (and so sent a snapshot)."""
    actor, out = _direct_actor(symbols, positions)
    bars = [
        _bar(symbols[i % len(symbols)], D(50 + i % len(symbols)) + D(i % 7) / 4)
        for i in range(count)
    ]
    handle = actor.handle
    started = time.perf_counter()
    for bar in bars:
        handle(bar)
    elapsed = time.perf_counter() - started
    return count / elapsed, len(out)


class Feed(Actor):
    """Sends the pre-built intents as fast as the portfolio's mailbox takes them."""

    script: ClassVar[list[Message]] = []

    async def run(self) -> None:
        for message in self.script:
            await self.send(message)
        await self.settled()


class PreparedPortfolio(PortfolioActor):
    """The portfolio actor with the bench's book already open when it starts."""

    symbols: ClassVar[list[str]] = []
    open_positions: ClassVar[int] = 0

    async def on_start(self) -> None:
        _prepare(self, self.symbols, self.open_positions)


class Denier(Actor):
    """Stands in for risk: denies every sized order back to the portfolio."""

    answered: ClassVar[int] = 0

    @receives(SizedOrder)
    def _handle_sized_order(self, message: SizedOrder) -> None:
        Denier.answered += 1
        self.publish(_deny(message))


async def pipeline_intents(count: int, symbols: list[str], positions: int) -> float:
    portfolio = default_actors()["portfolio"]
    topology = TopologyConfig(
        actors={
            "feed": ActorSpecConfig(cls=f"{__name__}:Feed"),
            "portfolio": msgspec.structs.replace(portfolio, cls=f"{__name__}:PreparedPortfolio"),
            "risk": ActorSpecConfig(cls=f"{__name__}:Denier", subscribes=["SizedOrder"]),
        }
    )
    config = AtriumConfig(topology=topology, portfolio=_config())
    pipeline = build_pipeline(config, clock=LiveClock(), mode="live")
    PreparedPortfolio.symbols, PreparedPortfolio.open_positions = symbols, positions
    Feed.script = [
        _intent(i, STRATEGIES[i % len(STRATEGIES)], symbols[i % len(symbols)]) for i in range(count)
    ]
    Denier.answered = 0
    started = time.perf_counter()
    await pipeline.supervisor.run(stop_when_sources_finish=True)
    elapsed = time.perf_counter() - started
    assert Denier.answered == count, (Denier.answered, count)
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", type=int, default=20_000)
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--positions", type=int, default=40)
    parser.add_argument("--no-uvloop", action="store_true")
    args = parser.parse_args()
    symbols = [f"S{n:03d}" for n in range(args.symbols)]
    print(
        f"portfolio sizing: {args.intents:,} intents, {args.symbols} symbols, "
        f"{args.positions} open positions, 4 strategies"
    )
    print(f"{'path':44} {'per second':>12}")
    for strategy in ("fixed", "atr", "weight"):
        rate = direct_intents(args.intents, symbols, args.positions, strategy)
        label = f"direct handle(), {MODES[strategy]} intent + release"
        print(f"{label:44} {rate:>12,.0f}")
    rate = direct_intents(args.intents, symbols, 0, "fixed")
    print(f"{'direct handle(), fixed_qty, empty book':44} {rate:>12,.0f}")
    rate, snapshots = direct_bars(args.intents, symbols, args.positions)
    print(f"{'direct handle(), bars marked':44} {rate:>12,.0f}")
    print(f"  ({snapshots:,} of {args.intents:,} bars moved equity and sent a PortfolioSnapshot)")
    loops = [False] if args.no_uvloop else [False, True]
    for use_uvloop in loops:
        name = "uvloop" if use_uvloop else "asyncio"
        try:
            rate = anyio.run(
                pipeline_intents,
                args.intents,
                symbols,
                args.positions,
                backend_options={"use_uvloop": use_uvloop},
            )
        except ImportError:
            print(f"{'pipeline (' + name + ')':44} {'not installed':>12}")
            continue
        label = f"pipeline ({name}), feed -> portfolio -> risk"
        print(f"{label:44} {rate:>12,.0f}")


if __name__ == "__main__":
    main()
