"""The dispatcher: breadth-first delivery, the venue first, one input at a time."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

import anyio
import pytest

from atrium.runtime.actor import Actor, ActorContext, ActorStats, receives
from atrium.runtime.channels import Mailbox
from atrium.runtime.clocks import SimClock
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.errors import MailboxOverflow
from atrium.runtime.messages import Bar, Control, Fill, Message, Tick

D = Decimal


def _bar(ts: int) -> Bar:
    return Bar(ts=ts, symbol="X", open=D(1), high=D(1), low=D(1), close=D(1))


def _tick(ts: int) -> Tick:
    return Tick(ts=ts, symbol="X", price=D(1), size=D(1))


def _fill(ts: int) -> Fill:
    return Fill(
        leaves_quantity=D(0),
        ts=ts,
        fill_id=f"O-{ts}-1",
        order_id=f"O-{ts}",
        strategy="s",
        symbol="X",
        side="BUY",
        quantity=D(1),
        price=D(1),
    )


class Venue(Actor):
    """Fills something on every bar, as a paper venue with a resting order would."""

    venue = True

    @receives(Bar)
    def _handle_bar(self, message: Bar) -> None:
        self.publish(_fill(message.ts))


class Watcher(Actor):
    """Notes what it is handed, in order."""

    seen: ClassVar[list[tuple[str, int]]] = []

    @receives(Bar)
    def _handle_bar(self, message: Bar) -> None:
        self.seen.append(("Bar", message.ts))

    @receives(Fill)
    def _handle_fill(self, message: Fill) -> None:
        self.seen.append(("Fill", message.ts))

    @receives(Tick)
    def _handle_tick(self, message: Tick) -> None:
        self.seen.append(("Tick", message.ts))

    @receives(Control)
    def _handle_control(self, message: Control) -> None:
        self.seen.append(("Control", message.ts))


class Echo(Actor):
    """Answers a bar with a tick, a tick with nothing."""

    @receives(Bar)
    def _handle_bar(self, message: Bar) -> None:
        self.publish(_tick(message.ts))


class Ledger(Actor):
    """Answers a fill with a tick, as the portfolio answers one with a position update."""

    @receives(Fill)
    def _handle_fill(self, message: Fill) -> None:
        self.publish(_tick(message.ts))


def _wire(
    dispatcher: Dispatcher, actors: list[tuple[str, type[Actor], list[str]]]
) -> dict[str, Actor]:
    clock = SimClock()
    made: dict[str, Actor] = {}
    for name, cls, kinds in actors:
        stats = ActorStats()
        mailbox = Mailbox(name, 16, stats)
        dispatcher.subscribe(name, mailbox, kinds, venue=cls.venue)
        context = ActorContext(
            name=name, config=None, clock=clock, dispatcher=dispatcher, stats=stats
        )
        mailbox.actor = made[name] = cls(context)
    return made


async def test_publish_when_bar_then_venue_fills_settle_before_others_see_the_bar() -> None:
    Watcher.seen = []
    dispatcher = Dispatcher()
    journal: list[Message] = []
    dispatcher.add_tap(journal.append)
    # The watcher subscribes first: without the venue rule it would see the bar first.
    _wire(dispatcher, [("watch", Watcher, ["Bar", "Fill"]), ("venue", Venue, ["Bar"])])

    await dispatcher.publish(_bar(1), "feed")
    await dispatcher.publish(_bar(2), "feed")

    assert Watcher.seen == [("Fill", 1), ("Bar", 1), ("Fill", 2), ("Bar", 2)]
    assert [(type(m).__name__, m.ts) for m in journal] == [
        ("Bar", 1), ("Fill", 1), ("Bar", 2), ("Fill", 2),
    ]  # fmt: skip
    assert dispatcher.in_flight == 0


async def test_publish_when_handlers_publish_then_delivered_breadth_first() -> None:
    Watcher.seen = []
    dispatcher = Dispatcher()
    _wire(dispatcher, [("echo", Echo, ["Bar"]), ("watch", Watcher, ["Bar", "Tick"])])

    await dispatcher.publish_all([_bar(1), _bar(2)], "feed")

    # Both bars reach the watcher before either echo: consequences queue behind.
    assert Watcher.seen == [("Bar", 1), ("Bar", 2), ("Tick", 1), ("Tick", 2)]


class SlowCommit:
    """A commit barrier that asks for a commit after every fill and takes a while."""

    def __init__(self) -> None:
        self.commit_pending = False
        self.commits = 0

    def note(self, message: Message) -> None:
        if isinstance(message, Fill):
            self.commit_pending = True

    async def commit(self) -> None:
        self.commit_pending = False
        self.commits += 1
        await anyio.sleep(0.01)


async def test_publish_when_two_sources_race_a_commit_then_each_input_settles_before_the_next() -> (
    None
):
    Watcher.seen = []
    dispatcher = Dispatcher()
    journal: list[Message] = []
    barrier = SlowCommit()
    dispatcher.add_tap(barrier.note)
    dispatcher.add_tap(journal.append)
    dispatcher.barrier = barrier
    _wire(
        dispatcher,
        [
            ("venue", Venue, ["Bar"]),
            ("ledger", Ledger, ["Fill"]),
            ("watch", Watcher, ["Bar", "Fill", "Tick", "Control"]),
        ],
    )

    async with anyio.create_task_group() as tg:
        tg.start_soon(dispatcher.publish, _bar(1), "feed")
        tg.start_soon(dispatcher.publish, Control(ts=2, command="halt"), "operator")
        tg.start_soon(dispatcher.publish, _bar(3), "feed-2")

    # The control arrived while bar 1's fill waited for its commit; it is recorded and
    # handled only after bar 1 settled (the ledger's answer included), so the journal's
    # order is the handling order and a re-run of the inputs reproduces it.
    kinds = [(type(m).__name__, m.ts) for m in journal]
    assert kinds == [
        ("Bar", 1), ("Fill", 1), ("Tick", 1), ("Control", 2), ("Bar", 3), ("Fill", 3), ("Tick", 3),
    ]  # fmt: skip
    assert Watcher.seen == [
        ("Fill", 1), ("Tick", 1), ("Bar", 1), ("Control", 2), ("Fill", 3), ("Tick", 3), ("Bar", 3),
    ]  # fmt: skip
    assert barrier.commits == 2


async def test_deliver_when_past_capacity_then_overflow_names_the_key() -> None:
    dispatcher = Dispatcher()
    stats = ActorStats()
    mailbox = Mailbox("watch", 2, stats)
    dispatcher.subscribe("watch", mailbox, ["Bar"])

    dispatcher.deliver(_bar(1), (mailbox,))
    dispatcher.deliver(_bar(2), (mailbox,))
    with pytest.raises(
        MailboxOverflow,
        match=(
            r"^mailbox of 'watch' overflowed its capacity of 2 messages while handling one "
            r"input; raise \[topology\.actors\.watch\]\.mailbox_capacity$"
        ),
    ):
        dispatcher.deliver(_bar(3), (mailbox,))
    assert mailbox.depth == 2


async def test_tap_when_given_kinds_then_sees_only_those_in_order() -> None:
    dispatcher = Dispatcher()
    everything: list[Message] = []
    controls: list[Message] = []
    dispatcher.add_tap(everything.append)
    dispatcher.add_tap(controls.append, kinds=[Control])
    bar = _bar(1)
    halt = Control(ts=2, command="halt")
    await dispatcher.publish(bar, "feed")
    await dispatcher.publish(halt, "operator")
    dispatcher.remove_tap(everything.append)
    await dispatcher.publish(Control(ts=3, command="resume"), "operator")
    assert everything == [bar, halt]
    assert [message.ts for message in controls] == [2, 3]
