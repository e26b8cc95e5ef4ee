"""Deliveries through the dispatcher: a chain of 5 actors, one hop alone, plain awaits.

The Atrium chain is the real runtime (Dispatcher, Mailbox, Actor, Supervisor) wired like
the pipeline: a source sends Ticks one input at a time -> a1 (Tick) -> a2 (Bar) -> a3
(OrderIntent) -> a4 (SizedOrder) -> a5 (Order). Each stage forwards a pre-built message,
so only the machinery is measured. "One hop" bounces one message between two actors
inside a single input: the cost of a delivery and a handler call, nothing else. The
baseline is five tasks doing ``await send`` / ``async for`` on anyio memory object
streams of the same capacity.

    python bench/channels.py [--messages 200000] [--capacity 1024] [--no-uvloop] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from decimal import Decimal
from typing import Any, ClassVar

import anyio
import anyio.lowlevel

from atrium.config import RuntimeConfig
from atrium.runtime.actor import Actor, ActorContext, ActorStats, receives
from atrium.runtime.channels import Mailbox
from atrium.runtime.clocks import LiveClock
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.messages import (
    Bar,
    Message,
    Order,
    OrderIntent,
    SizedOrder,
    SizingExplanation,
    Tick,
)
from atrium.runtime.supervisor import ActorSlot, Supervisor

D = Decimal
TICK = Tick(ts=1, symbol="X", price=D("100"), size=D("1"))
BAR = Bar(ts=1, symbol="X", open=D(1), high=D(1), low=D(1), close=D(1))
INTENT = OrderIntent(ts=1, intent_id="s-1", strategy="s", symbol="X", side="BUY")
_SIZING = SizingExplanation(
    mode="fixed_qty", equity=D(1), price=D(1), raw_quantity=D(1), final_quantity=D(1)
)
SIZED = SizedOrder(
    ts=1,
    order_id="o",
    intent_id="s-1",
    strategy="s",
    symbol="X",
    side="BUY",
    quantity=D(1),
    reference_price=D(1),
    reduces_position=False,
    sizing=_SIZING,
)
ORDER = Order(
    ts=1,
    order_id="o",
    intent_id="s-1",
    strategy="s",
    symbol="X",
    side="BUY",
    quantity=D(1),
    reference_price=D(1),
    reduces_position=False,
)


class Source(Actor):
    count: ClassVar[int] = 0

    async def run(self) -> None:
        for _ in range(self.count):
            await self.send(TICK)
        await self.settled()


class A1(Actor):
    @receives(Tick)
    def _handle_tick(self, message: Tick) -> None:
        self.publish(BAR)


class A2(Actor):
    @receives(Bar)
    def _handle_bar(self, message: Bar) -> None:
        self.publish(INTENT)


class A3(Actor):
    @receives(OrderIntent)
    def _handle_order_intent(self, message: OrderIntent) -> None:
        self.publish(SIZED)


class A4(Actor):
    @receives(SizedOrder)
    def _handle_sized_order(self, message: SizedOrder) -> None:
        self.publish(ORDER)


class A5(Actor):
    received: ClassVar[int] = 0

    @receives(Order)
    def _handle_order(self, message: Order) -> None:
        A5.received += 1


class Ping(Actor):
    left: ClassVar[int] = 0

    @receives(Tick)
    def _handle_tick(self, message: Tick) -> None:
        if Ping.left:
            Ping.left -= 1
            self.publish(BAR)


class Pong(Actor):
    @receives(Bar)
    def _handle_bar(self, message: Bar) -> None:
        self.publish(TICK)


def _supervisor(chain: list[tuple[str, type[Actor], list[str]]], capacity: int) -> Supervisor:
    dispatcher = Dispatcher()
    clock = LiveClock()
    slots = []
    for name, cls, kinds in chain:
        stats = ActorStats()
        mailbox = Mailbox(name, capacity, stats)
        dispatcher.subscribe(name, mailbox, kinds)
        context = ActorContext(
            name=name, config=None, clock=clock, dispatcher=dispatcher, stats=stats
        )
        slots.append(ActorSlot(name, cls, context, mailbox))
    return Supervisor(dispatcher, slots, RuntimeConfig())


async def one_hop(hops: int) -> float:
    """Microseconds per delivery and handler call, bouncing one message ``hops`` times."""
    supervisor = _supervisor([("ping", Ping, ["Tick"]), ("pong", Pong, ["Bar"])], 16)
    Ping.left = hops // 2
    async with anyio.create_task_group() as tg:
        tg.start_soon(supervisor.run)
        while any(slot.actor is None for slot in supervisor.slots):
            await anyio.lowlevel.checkpoint()
        started = time.perf_counter()
        await supervisor.dispatcher.publish(TICK, "outside")
        elapsed = time.perf_counter() - started
        supervisor.request_stop("done")
    return elapsed / hops * 1e6


async def atrium_chain(messages: int, capacity: int) -> float:
    Source.count, A5.received = messages, 0
    chain: list[tuple[str, type[Actor], list[str]]] = [
        ("source", Source, []),
        ("a1", A1, ["Tick"]),
        ("a2", A2, ["Bar"]),
        ("a3", A3, ["OrderIntent"]),
        ("a4", A4, ["SizedOrder"]),
        ("a5", A5, ["Order"]),
    ]
    supervisor = _supervisor(chain, capacity)
    started = time.perf_counter()
    await supervisor.run(stop_when_sources_finish=True)
    elapsed = time.perf_counter() - started
    assert A5.received == messages, (A5.received, messages)
    return messages / elapsed


async def plain_chain(messages: int, capacity: int) -> float:
    streams = [anyio.create_memory_object_stream[Message](capacity) for _ in range(5)]
    received = 0

    async def stage(index: int, out: Message) -> None:
        receive = streams[index][1]
        send = streams[index + 1][0]
        async with receive, send:
            async for _ in receive:
                await send.send(out)

    async def sink() -> None:
        nonlocal received
        async with streams[4][1] as receive:
            async for _ in receive:
                received += 1

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for index, out in enumerate((BAR, INTENT, SIZED, ORDER)):
            tg.start_soon(stage, index, out)
        tg.start_soon(sink)
        async with streams[0][0] as send:
            for _ in range(messages):
                await send.send(TICK)
    elapsed = time.perf_counter() - started
    assert received == messages
    return messages / elapsed


def measure(messages: int, capacity: int, use_uvloop: bool) -> dict[str, Any]:
    options = {"use_uvloop": use_uvloop}
    chain = anyio.run(atrium_chain, messages, capacity, backend_options=options)
    hop = anyio.run(one_hop, messages * 5, backend_options=options)
    plain = anyio.run(plain_chain, messages, capacity, backend_options=options)
    return {"inputs_per_second": chain, "hop_us": hop, "plain": plain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--capacity", type=int, default=1024)
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args()
    loops = [False] if args.no_uvloop else [False, True]
    if args.json:
        rows = {
            "uvloop" if flag else "asyncio": measure(args.messages, args.capacity, flag)
            for flag in loops
        }
        print(json.dumps({"messages": args.messages, "capacity": args.capacity, "loops": rows}))
        return
    print(f"chain of 5 actors, {args.messages:,} inputs, capacity {args.capacity}")
    print(
        f"{'loop':8} {'inputs/s':>10} {'hops/s':>11} {'one hop us':>11} "
        f"{'plain await msg/s':>18} {'chain/plain':>12}"
    )
    for use_uvloop in loops:
        try:
            result = measure(args.messages, args.capacity, use_uvloop)
        except ImportError:
            print(f"{'uvloop':8} not installed")
            continue
        chain, plain = result["inputs_per_second"], result["plain"]
        print(
            f"{'uvloop' if use_uvloop else 'asyncio':8} {chain:>10,.0f} {chain * 5:>11,.0f} "
            f"{result['hop_us']:>11.3f} {plain:>18,.0f} {chain / plain:>11.1f}x"
        )


if __name__ == "__main__":
    main()
