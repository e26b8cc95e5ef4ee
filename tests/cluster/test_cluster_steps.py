"""The step protocol of a replay whose roles read the feeds themselves, without NATS: a
core turnstile and a strategy role's turnstile joined by in-memory ports that deliver on
flush, in order, as the plain subjects do.

The fake core keeps one order per intent in flight until the next event's open, where it
fills it (``market_fill = "next_open"``); the fake strategy sends an intent at the events
it is told to. Checked: what one process guarantees (the fill at a bar's open reaches the
strategy before that bar; an intent is handled in the event the strategy made it in), that
a role with nothing open runs ahead, how few markers cross, and the refusals."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import anyio
import msgspec
import pytest

from atrium.runtime.cluster.steps import (
    WATERMARK_EVERY,
    CoreSteps,
    Done,
    FollowerSteps,
    Step,
    decode_done,
    decode_step,
    encode_marker,
)
from atrium.runtime.errors import AtriumError
from atrium.runtime.messages import Bar, Control, Fill, Message, OrderIntent

_STEP, _DONE, _END = "t.step.fa", "t.done.fa", "t.end"


def _bar(event: int, symbol: str = "AAA") -> Bar:
    price = Decimal(10)
    return Bar(ts=event, symbol=symbol, open=price, high=price, low=price, close=price)


def _intent(event: int) -> OrderIntent:
    return OrderIntent(ts=event, intent_id=f"s1-{event}", strategy="s1", symbol="AAA", side="BUY")


def _fill(event: int, intent: OrderIntent) -> Fill:
    return Fill(
        ts=event, fill_id=f"F{event}", order_id=intent.intent_id, strategy="s1", symbol="AAA",
        side="BUY", quantity=Decimal(1), price=Decimal(10), leaves_quantity=Decimal(0),
    )  # fmt: skip


class _Port:
    """Queues what one side sends; ``flush`` hands it to the other side, in order."""

    def __init__(self, patience: float = 5.0) -> None:
        self.queue: list[tuple[str, Any]] = []
        self.deliver: Callable[[str, Any], None] = lambda subject, item: None
        self.markers = 0
        self.patience = patience
        self.gone: set[str] = set()
        self.asked: list[str] = []

    async def alive(self, role: str) -> bool:
        self.asked.append(role)
        return role not in self.gone

    def send_marker(self, subject: str, payload: bytes, msg_id: str) -> None:
        self.markers += 1
        self.queue.append((subject, payload))

    def send(self, subject: str, message: Message) -> None:
        self.queue.append((subject, message))

    async def flush(self) -> None:
        queue, self.queue = self.queue, []
        for subject, item in queue:
            self.deliver(subject, item)
        await anyio.lowlevel.checkpoint()


class _Cluster:
    """A fake core and strategy role over the two turnstiles."""

    def __init__(self, events: int, intents_at: set[int]) -> None:
        self.events, self.intents_at = events, intents_at
        self.core_port, self.role_port = _Port(), _Port()
        self.in_flight: dict[str, OrderIntent] = {}
        self.released: list[tuple[int, str]] = []  # (core's event, intent id)
        self.role_saw: list[str] = []  # what the strategy handled, in order
        self.lead = 0  # how far the role got ahead of the core
        self.core = CoreSteps(
            self.core_port, role="core", steps={"fa": _STEP}, owners={"s1": "fa"},
            rank=lambda messages: messages, release=self._release,
            in_flight=lambda: frozenset(i.strategy for i in self.in_flight.values()), end=_END,
        )  # fmt: skip
        self.role = FollowerSteps(self.role_port, "fa", _DONE, lambda record: True)
        self.role.start_seen()  # the coordinator's go
        self.core_port.deliver = self._to_role
        self.role_port.deliver = self._to_core

    async def _release(self, messages: list[Message]) -> None:
        for message in messages:
            assert isinstance(message, OrderIntent)
            self.released.append((self.core.event, message.intent_id))
            self.in_flight[message.intent_id] = message

    def _to_role(self, subject: str, item: Any) -> None:
        if subject == _END:
            self.role.ended("")
        elif isinstance(item, bytes):
            self.role.step(decode_step(item))
        else:
            self.role_saw.append(f"fill {item.fill_id}")

    def _to_core(self, subject: str, item: Any) -> None:
        if isinstance(item, bytes):
            self.core.done("fa", decode_done(item))
        else:
            self.core.hold("fa", item)

    async def run_core(self) -> None:
        await self.core.begin("feeds")
        for event in range(1, self.events + 1):
            assert await self.core.admit(_bar(event))
            for intent in list(self.in_flight.values()):  # filled at this bar's open
                del self.in_flight[intent.intent_id]
                fill = _fill(event, intent)
                subject = self.core.exported(fill)
                assert subject == _STEP
                self.core_port.send(subject, fill)
        await self.core.finished()

    async def run_role(self) -> None:
        await self.role.begin("feeds")
        for event in range(1, self.events + 1):
            assert await self.role.admit(_bar(event))
            self.lead = max(self.lead, event - self.core.event)
            self.role_saw.append(f"bar {event}")
            if event in self.intents_at:
                intent = _intent(event)
                self.role_port.send(self.role.exported(intent), intent)
        await self.role.finished()


async def _run(cluster: _Cluster) -> None:
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(cluster.run_core)
            tasks.start_soon(cluster.run_role)


async def test_a_fill_reaches_the_strategy_before_the_bar_at_whose_open_it_was_made() -> None:
    cluster = _Cluster(events=100, intents_at={10, 11, 50})
    await _run(cluster)
    saw = cluster.role_saw
    # Intent at bar 10: filled at 11's open, seen before bar 11; the intent at 11 at 12.
    assert saw[saw.index("bar 10") + 1 : saw.index("bar 10") + 5] == [
        "fill F11", "bar 11", "fill F12", "bar 12",
    ]  # fmt: skip
    assert saw[saw.index("bar 50") + 1 : saw.index("bar 50") + 3] == ["fill F51", "bar 51"]
    assert saw.count("fill F11") == 1 and len([s for s in saw if s.startswith("fill")]) == 3
    # Each intent handled in the event it was made in, not when it arrived.
    assert cluster.released == [(10, "s1-10"), (11, "s1-11"), (50, "s1-50")]


async def test_a_role_with_nothing_open_runs_ahead_and_few_markers_cross() -> None:
    cluster = _Cluster(events=200, intents_at={100})
    await _run(cluster)
    assert cluster.lead > 1  # it handled bars the core had not reached
    # Core: a step for the fill's event (told idle: nothing more); no quiet marker.
    assert cluster.core_port.markers == 1 + 1  # + the end
    # Role: its first done, done every WATERMARK_EVERY events, one for the intent's
    # event, one for the fill's, and the final one.
    assert cluster.role_port.markers == 1 + 200 // WATERMARK_EVERY + 2 + 1


async def test_a_role_with_an_order_open_at_the_end_still_finishes() -> None:
    cluster = _Cluster(events=20, intents_at={20})
    await _run(cluster)
    assert cluster.released == [(20, "s1-20")]
    assert cluster.role_saw[-1] == "bar 20"


def test_the_core_refuses_to_send_anything_to_a_role_with_nothing_open() -> None:
    cluster = _Cluster(events=1, intents_at=set())
    fill = _fill(1, _intent(1))
    with pytest.raises(AtriumError, match="role fa, which had nothing open"):
        cluster.core.exported(fill)


def test_a_message_for_a_strategy_of_no_role_goes_nowhere() -> None:
    cluster = _Cluster(events=1, intents_at=set())
    fill = msgspec_replace(_fill(1, _intent(1)), strategy="in_the_core")
    assert cluster.core.exported(fill) is None


async def test_the_core_refuses_a_role_that_reads_other_feeds() -> None:
    cluster = _Cluster(events=1, intents_at=set())
    cluster.core.done("fa", Done(event=0, feeds="other"))
    with pytest.raises(AtriumError, match="role fa reads other market data than the core"):
        await cluster.core.begin("feeds")


async def test_the_core_stops_when_a_role_failed() -> None:
    cluster = _Cluster(events=3, intents_at=set())
    cluster.core.done("fa", Done(event=0, feeds="feeds"))
    await cluster.core.begin("feeds")
    assert await cluster.core.admit(_bar(1))
    cluster.core.done("fa", Done(event=0, failed="its feed would not open"))
    with pytest.raises(AtriumError, match="role fa failed at event 0: its feed would not open"):
        await cluster.core.admit(_bar(2))


async def test_an_engaged_role_refuses_a_step_out_of_order() -> None:
    port = _Port()
    role = FollowerSteps(port, "fa", _DONE, lambda record: True)
    role.start_seen()
    await role.begin("feeds")
    assert await role.admit(_bar(1))
    role.exported(_intent(1))  # engaged from event 1 on
    role.step(Step(event=5))
    with pytest.raises(AtriumError, match="role fa at event 1 got Step"):
        await role.admit(_bar(2))


async def test_a_role_stops_when_the_core_ended_the_replay_with_a_reason() -> None:
    role = FollowerSteps(_Port(), "fa", _DONE, lambda record: True)
    role.start_seen()
    await role.begin("feeds")
    assert await role.admit(_bar(1))
    role.exported(_intent(1))
    role.ended("role fb stopped at event 7 (see its log)")
    with pytest.raises(AtriumError, match="the replay stopped: role fb stopped at event 7"):
        await role.admit(_bar(2))


async def test_a_control_in_the_feed_holds_every_role_for_its_event() -> None:
    port = _Port()
    role = FollowerSteps(port, "fa", _DONE, lambda record: isinstance(record, Bar))
    role.start_seen()
    await role.begin("feeds")
    assert await role.admit(_bar(1))
    control = Control(ts=1, command="halt")
    with anyio.move_on_after(0.2) as waited:
        await role.admit(control)  # waits for the core's step of event 2
    assert waited.cancelled_caught
    assert role.engaged


async def test_a_role_takes_only_the_records_it_wants_but_counts_every_one() -> None:
    role = FollowerSteps(_Port(), "fa", _DONE, lambda record: getattr(record, "symbol", "") == "A")
    role.start_seen()
    await role.begin("feeds")
    assert await role.admit(_bar(1, "A"))
    assert not await role.admit(_bar(2, "B"))
    assert role.event == 2


async def test_a_role_waiting_for_a_core_that_was_killed_stops_naming_it() -> None:
    port = _Port(patience=0.05)
    role = FollowerSteps(port, "fa", _DONE, lambda record: True, core="core")
    role.start_seen()
    await role.begin("feeds")
    assert await role.admit(_bar(1))
    role.exported(_intent(1))
    with anyio.fail_after(2):
        assert await _waits_and_asks(role, port) == ["core"]  # alive: it waits on
        port.gone.add("core")
        with pytest.raises(AtriumError, match=r"role core is gone .* at event 1"):
            await role.admit(_bar(2))


async def _waits_and_asks(role: FollowerSteps, port: _Port) -> list[str]:
    with anyio.move_on_after(0.08):
        await role.admit(_bar(2))
    return port.asked


async def test_the_core_waiting_for_a_killed_role_stops_naming_it() -> None:
    cluster = _Cluster(events=3, intents_at=set())
    cluster.core_port.patience = 0.05
    cluster.core.done("fa", Done(event=0, feeds="feeds"))
    await cluster.core.begin("feeds")
    assert await cluster.core.admit(_bar(1))
    cluster.core_port.gone.add("fa")
    with anyio.fail_after(2), pytest.raises(AtriumError, match="role fa is gone"):
        await cluster.core.admit(_bar(2))  # waits for fa's done with event 1


def test_markers_decode_as_encoded() -> None:
    assert decode_step(encode_marker(Step(event=3, round=1, idle=True))) == Step(
        event=3, round=1, idle=True
    )
    with pytest.raises(AtriumError, match="a Done marker that does not decode"):
        decode_done(b"{not json")


def msgspec_replace(message: Fill, **changes: Any) -> Fill:
    return msgspec.structs.replace(message, **changes)
