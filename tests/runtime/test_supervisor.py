"""Supervisor: restart with backoff, restart intensity, escalation, dead letters, shutdown."""

from __future__ import annotations

import os
import signal
from decimal import Decimal
from typing import ClassVar

import anyio
import pytest

from atrium.config import RuntimeConfig
from atrium.runtime.actor import Actor, ActorContext, ActorStats, receives
from atrium.runtime.channels import Mailbox
from atrium.runtime.clocks import SimClock
from atrium.runtime.codec import decode
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.errors import ActorEscalation, FatalInputError
from atrium.runtime.messages import Bar, Message, Tick
from atrium.runtime.supervisor import ActorSlot, Supervisor

D = Decimal
FAST = RuntimeConfig(backoff_initial_seconds=0.0, backoff_max_seconds=0.0, shutdown_grace_seconds=5)


def _bar(ts: int) -> Bar:
    return Bar(ts=ts, symbol="X", open=D(1), high=D(1), low=D(1), close=D(1))


class Feed(Actor):
    """Sends bars 1..count, settling after each like the replay driver does."""

    count: ClassVar[int] = 6

    async def run(self) -> None:
        for ts in range(1, self.count + 1):
            await self.send(_bar(ts))
            await self.settled()


class Recorder(Actor):
    """Fails on the bar timestamps listed in ``fail_on``; records the rest."""

    fail_on: ClassVar[set[int]] = set()
    seen: ClassVar[list[int]] = []
    starts: ClassVar[int] = 0
    stops: ClassVar[int] = 0

    async def on_start(self) -> None:
        type(self).starts += 1

    async def on_stop(self) -> None:
        type(self).stops += 1

    @receives(Bar)
    def _handle_bar(self, message: Bar) -> None:
        if message.ts in self.fail_on:
            raise RuntimeError(f"cannot handle bar {message.ts}")
        self.seen.append(message.ts)


def _recorder(fail_on: set[int]) -> type[Recorder]:
    return type("R", (Recorder,), {"fail_on": fail_on, "seen": [], "starts": 0, "stops": 0})


def _supervise(
    actors: list[tuple[str, type[Actor], list[str], str]],
    config: RuntimeConfig = FAST,
    capacity: int = 8,
) -> tuple[Supervisor, Dispatcher, list[Message]]:
    bus = Dispatcher()
    journal: list[Message] = []
    bus.add_tap(journal.append)
    clock = SimClock()
    slots = []
    for name, cls, kinds, policy in actors:
        stats = ActorStats()
        mailbox = Mailbox(name, capacity, stats)
        bus.subscribe(name, mailbox, kinds)
        context = ActorContext(name=name, config=None, clock=clock, dispatcher=bus, stats=stats)
        slots.append(ActorSlot(name, cls, context, mailbox, policy))  # type: ignore[arg-type]
    return Supervisor(bus, slots, config), bus, journal


async def test_handler_when_raises_then_message_dead_lettered_and_actor_restarted() -> None:
    recorder = _recorder({3})
    supervisor, _, journal = _supervise(
        [("feed", Feed, [], "restart"), ("rec", recorder, ["Bar"], "restart")]
    )
    await supervisor.run(stop_when_sources_finish=True)
    assert recorder.seen == [1, 2, 4, 5, 6]
    assert recorder.starts == 2  # first start + one restart
    assert recorder.stops == 1  # only the live instance is stopped at shutdown
    stats = supervisor.slots[1].stats
    assert (stats.processed, stats.failed, stats.restarts, stats.dead_letters) == (5, 1, 1, 1)
    letters = [m for m in journal if type(m).__name__ == "DeadLetter"]
    assert len(letters) == 1
    letter = letters[0]
    assert (letter.actor, letter.message_kind, letter.error) == (  # type: ignore[attr-defined]
        "rec",
        "Bar",
        "RuntimeError: cannot handle bar 3",
    )
    assert decode(letter.payload) == _bar(3)  # type: ignore[attr-defined]


async def test_failures_when_past_restart_limit_then_escalates_and_stops_cleanly() -> None:
    recorder = _recorder({1, 2, 3})
    config = RuntimeConfig(
        max_restarts=2,
        backoff_initial_seconds=0.0,
        backoff_max_seconds=0.0,
        restart_window_seconds=60,
    )
    supervisor, _, _ = _supervise(
        [("feed", Feed, [], "restart"), ("rec", recorder, ["Bar"], "restart")], config
    )
    with pytest.raises(
        ActorEscalation,
        match=(
            r"^actor 'rec' stopped the runtime: 3 failures within 60s exceeds max_restarts=2; "
            r"last error RuntimeError: cannot handle bar 3$"
        ),
    ):
        await supervisor.run(stop_when_sources_finish=True)
    assert recorder.seen == []
    assert recorder.stops == 1  # on_stop still ran: escalation stops cleanly
    assert supervisor.slots[1].stats.restarts == 2


async def test_handler_when_policy_escalate_then_first_failure_stops_everything() -> None:
    recorder = _recorder({2})
    supervisor, _, journal = _supervise(
        [("feed", Feed, [], "restart"), ("rec", recorder, ["Bar"], "escalate")]
    )
    with pytest.raises(
        ActorEscalation,
        match=(
            r"^actor 'rec' stopped the runtime: handler raised RuntimeError: cannot handle bar 2 "
            r"\(restart policy: escalate\)$"
        ),
    ):
        await supervisor.run(stop_when_sources_finish=True)
    assert recorder.seen == [1]
    assert [type(m).__name__ for m in journal] == ["Bar", "Bar", "DeadLetter"]


class BadFeed(Actor):
    async def run(self) -> None:
        await self.send(_bar(1))
        raise FatalInputError("feed.csv:7: high 1.2 is below max(open, close) 1.5")


async def test_source_when_fatal_input_then_escalation_carries_its_message() -> None:
    recorder = _recorder(set())
    supervisor, _, _ = _supervise(
        [("feed", BadFeed, [], "restart"), ("rec", recorder, ["Bar"], "restart")]
    )
    with pytest.raises(
        ActorEscalation,
        match=r"^actor 'feed' stopped the runtime: feed\.csv:7: high 1\.2 is below max\(open, close\) 1\.5$",
    ):
        await supervisor.run(stop_when_sources_finish=True)


class Flood(Actor):
    """Pushes bars without settling, as a live feed would."""

    async def run(self) -> None:
        for ts in range(1, 101):
            await self.send(_bar(ts))
        await anyio.sleep_forever()


class Slow(Actor):
    seen: ClassVar[list[int]] = []
    flushed: ClassVar[list[int]] = []

    @receives(Bar)
    def _handle_bar(self, message: Bar) -> None:
        self.seen.append(message.ts)

    async def on_stop(self) -> None:
        self.flushed.append(len(self.seen))


async def test_request_stop_when_mailboxes_hold_messages_then_drained_before_on_stop() -> None:
    Slow.seen, Slow.flushed = [], []
    supervisor, bus, _ = _supervise(
        [("feed", Flood, [], "restart"), ("slow", Slow, ["Bar"], "restart")], capacity=4
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(supervisor.run)
        while bus.published < 100:
            await anyio.lowlevel.checkpoint()
        supervisor.request_stop("test")
    assert Slow.seen == list(range(1, 101))
    assert Slow.flushed == [100]
    assert bus.in_flight == 0


async def test_sigterm_when_running_then_graceful_shutdown_drains_and_returns() -> None:
    Slow.seen, Slow.flushed = [], []
    supervisor, bus, _ = _supervise(
        [("feed", Flood, [], "restart"), ("slow", Slow, ["Bar"], "restart")], capacity=4
    )
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: supervisor.run(handle_signals=True))
            while bus.published < 100:
                await anyio.lowlevel.checkpoint()
            os.kill(os.getpid(), signal.SIGTERM)
    assert supervisor.stop_reason == "SIGTERM received"
    assert Slow.flushed == [100]


class Echo(Actor):
    """Answers every bar with a tick, to show handler output is delivered and settled."""

    @receives(Bar)
    def _handle_bar(self, message: Bar) -> None:
        self.publish(Tick(ts=message.ts, symbol="X", price=D(2), size=D(1)))


class TickCounter(Actor):
    ticks: ClassVar[list[int]] = []

    @receives(Tick)
    def _handle_tick(self, message: Tick) -> None:
        self.ticks.append(message.ts)


async def test_settled_when_handlers_publish_then_feed_waits_for_whole_chain() -> None:
    TickCounter.ticks = []
    supervisor, _, journal = _supervise(
        [
            ("feed", Feed, [], "restart"),
            ("echo", Echo, ["Bar"], "restart"),
            ("count", TickCounter, ["Tick"], "restart"),
        ],
        capacity=1,
    )
    await supervisor.run(stop_when_sources_finish=True)
    # The barrier makes the journal strictly alternate: each bar's tick before the next bar.
    assert [(type(m).__name__, m.ts) for m in journal] == [
        (kind, ts) for ts in range(1, 7) for kind in ("Bar", "Tick")
    ]
    assert TickCounter.ticks == [1, 2, 3, 4, 5, 6]


class Burst(Actor):
    """Answers every bar with three ticks: more than a mailbox of capacity 1 holds."""

    @receives(Bar)
    def _handle_bar(self, message: Bar) -> None:
        for offset in range(3):
            self.publish(Tick(ts=message.ts * 10 + offset, symbol="X", price=D(2), size=D(1)))


async def test_output_when_it_overflows_a_mailbox_then_escalates_naming_the_key() -> None:
    TickCounter.ticks = []
    supervisor, bus, _ = _supervise(
        [
            ("feed", Feed, [], "restart"),
            ("burst", Burst, ["Bar"], "restart"),
            ("count", TickCounter, ["Tick"], "restart"),
        ],
        capacity=2,
    )
    with anyio.fail_after(5), pytest.raises(ActorEscalation) as raised:
        await supervisor.run(stop_when_sources_finish=True)
    assert str(raised.value) == (
        "actor 'burst' stopped the runtime: mailbox of 'count' overflowed its capacity of 2 "
        "messages while handling one input; raise [topology.actors.count].mailbox_capacity"
    )
    assert TickCounter.ticks == []
    assert bus.in_flight == 0


class PairFeed(Actor):
    """Publishes bars two at a time with ``publish_all``, as a cluster release does."""

    async def run(self) -> None:
        for ts in (1, 3):
            await self._dispatcher.publish_all([_bar(ts), _bar(ts + 1)], self.name)
            await self.settled()


class BarsAndTicks(Actor):
    """Records bars and ticks in the order it handles them."""

    order: ClassVar[list[tuple[str, int]]] = []

    @receives(Bar)
    def _handle_bar(self, message: Bar) -> None:
        self.order.append(("Bar", message.ts))

    @receives(Tick)
    def _handle_tick(self, message: Tick) -> None:
        self.order.append(("Tick", message.ts))


async def test_publish_all_when_two_bars_then_both_delivered_before_any_consequence() -> None:
    BarsAndTicks.order = []
    supervisor, bus, journal = _supervise(
        [
            ("feed", PairFeed, [], "restart"),
            ("echo", Echo, ["Bar"], "restart"),
            ("log", BarsAndTicks, ["Bar", "Tick"], "restart"),
        ],
    )
    with anyio.fail_after(5):
        await supervisor.run(stop_when_sources_finish=True)
    # Both bars of a pair were recorded before the echo of the first was published.
    assert [(type(m).__name__, m.ts) for m in journal] == [
        ("Bar", 1), ("Bar", 2), ("Tick", 1), ("Tick", 2),
        ("Bar", 3), ("Bar", 4), ("Tick", 3), ("Tick", 4),
    ]  # fmt: skip
    # Breadth first: the pair, then its echoes.
    assert BarsAndTicks.order == [("Bar", 1), ("Bar", 2), ("Tick", 1), ("Tick", 2),
                                  ("Bar", 3), ("Bar", 4), ("Tick", 3), ("Tick", 4)]  # fmt: skip
    assert bus.in_flight == 0


async def test_before_sources_when_a_handler_escalates_then_run_raises_it_without_hanging() -> None:
    recorder = _recorder({1})
    supervisor, dispatcher, _ = _supervise([("rec", recorder, ["Bar"], "escalate")])

    async def rerun() -> None:  # what recovery does before the sources start
        for ts in (1, 2, 3):
            await dispatcher.publish(_bar(ts), "market_data")

    with anyio.fail_after(5), pytest.raises(ActorEscalation) as raised:
        await supervisor.run(before_sources=rerun)
    assert str(raised.value) == (
        "actor 'rec' stopped the runtime: handler raised RuntimeError: cannot handle bar 1 "
        "(restart policy: escalate)"
    )
    assert recorder.seen == []
