"""The replay's clock: moved by the dispatcher to each bar or tick as it enters."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest

from atrium.runtime.actor import Actor, ActorContext, ActorStats, receives
from atrium.runtime.channels import Mailbox
from atrium.runtime.clocks import LiveClock, SimClock
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.errors import TopologyError
from atrium.runtime.messages import Bar, Control, Message, Tick
from atrium.runtime.replay_driver import drive_replay

D = Decimal


class Watcher(Actor):
    """Notes the clock at each message it is handed."""

    def __init__(self, context: ActorContext) -> None:
        super().__init__(context)
        self.seen: list[tuple[str, int]] = []

    @receives(Bar)
    def _handle_bar(self, message: Bar) -> None:
        self.seen.append(("Bar", self.clock.now_ns()))

    @receives(Tick)
    def _handle_tick(self, message: Tick) -> None:
        self.seen.append(("Tick", self.clock.now_ns()))

    @receives(Control)
    def _handle_control(self, message: Control) -> None:
        self.seen.append(("Control", self.clock.now_ns()))


def _watched(clock: SimClock) -> tuple[Dispatcher, Watcher]:
    dispatcher = Dispatcher()
    stats = ActorStats()
    mailbox = Mailbox("watcher", 16, stats)
    dispatcher.subscribe("watcher", mailbox, ["Bar", "Tick", "Control"])
    watcher = Watcher(
        ActorContext(name="watcher", config=None, clock=clock, dispatcher=dispatcher, stats=stats)
    )
    mailbox.actor = watcher
    drive_replay(dispatcher, clock)
    return dispatcher, watcher


def _bar(ts: int) -> Bar:
    return Bar(ts=ts, symbol="X", open=D(1), high=D(1), low=D(1), close=D(1))


async def test_inputs_when_published_then_clock_at_each_market_record_never_back() -> None:
    clock = SimClock(100)
    dispatcher, watcher = _watched(clock)
    inputs: list[Message] = [
        _bar(200),
        Control(ts=9_000, command="halt"),  # wall time: the clock stays
        Tick(ts=300, symbol="X", price=D(1), size=D(1)),
        _bar(250),  # earlier than the clock: it does not go back
    ]

    for message in inputs:
        await dispatcher.publish(message, "feed")

    assert watcher.seen == [("Bar", 200), ("Control", 200), ("Tick", 300), ("Bar", 300)]
    assert clock.now_ns() == 300


async def test_sleeper_when_bars_pass_its_time_then_woken_at_the_first_bar_past_it() -> None:
    clock = SimClock(0)
    dispatcher, _ = _watched(clock)
    woke_at: list[int] = []

    async def sleeper() -> None:
        await clock.sleep_until(150)
        woke_at.append(clock.now_ns())

    async with anyio.create_task_group() as group:
        group.start_soon(sleeper)
        await anyio.wait_all_tasks_blocked()
        await dispatcher.publish(_bar(100), "feed")
        await anyio.wait_all_tasks_blocked()
        assert woke_at == []
        await dispatcher.publish_all([_bar(200)], "bridge")

    assert woke_at == [200]


def test_drive_replay_when_clock_is_live_then_refused() -> None:
    with pytest.raises(TopologyError, match=r"^replay needs a SimClock, got LiveClock$"):
        drive_replay(Dispatcher(), LiveClock())


async def test_publish_when_no_replay_driver_then_clock_untouched() -> None:
    clock = SimClock(100)
    dispatcher, watcher = _watched(clock)
    dispatcher.on_market_input = None  # a live pipeline: no driver

    await dispatcher.publish(_bar(500), "feed")

    assert watcher.seen == [("Bar", 100)]
    assert clock.now_ns() == 100
