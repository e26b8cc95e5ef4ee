"""Bounded mailboxes built on anyio memory object streams, with the batch-drain fast path.

A mailbox is one bounded anyio memory object stream, so its messages are handled in
arrival order, which causality needs (an intent caused by bar T must be sized after the
portfolio has marked bar T). Its capacity is split in two lanes: ``data`` for market
data (``Bar``, ``Tick``) and ``control`` for everything else (order flow, fills,
snapshots, control). A flood of market data filling its lane never blocks a sender of
order flow, so the order-path cycle (portfolio -> risk -> execution -> portfolio) cannot
wedge on a full mailbox. The stream holds both lanes' capacity, and a lane admits a
message only while it has room, so ``send_nowait`` on the stream never blocks.

Producers try :meth:`Mailbox.put_nowait` and only await :meth:`Mailbox.put` when the
lane is full: that await is the backpressure. Consumers take whatever is buffered with
:meth:`Mailbox.take` and only await when the mailbox is empty, so a busy actor pays no
event-loop pass per message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from runtime.messages import Bar, Message, Tick

__all__ = ("Lane", "LaneStats", "Mailbox", "MailboxStats")

_DATA_TYPES = frozenset({Bar, Tick})


class LaneStats(NamedTuple):
    """Counters of one lane, for gauges."""

    depth: int
    capacity: int
    sent: int
    received: int


class MailboxStats(NamedTuple):
    """Counters of both lanes of a mailbox."""

    control: LaneStats
    data: LaneStats

    @property
    def depth(self) -> int:
        return self.control.depth + self.data.depth


class Lane:
    """The capacity and counters of one class of messages inside a mailbox.

    ``pending`` counts messages buffered and not yet taken; a sender waiting for room
    waits on ``room``, which is set when a message of this lane is taken.
    """

    __slots__ = ("capacity", "pending", "room", "sent")

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"lane capacity={capacity!r} must be > 0")
        self.capacity = capacity
        self.pending = 0
        self.sent = 0
        self.room: anyio.Event | None = None

    async def wait_room(self) -> None:
        """Wait until a message of this lane is taken."""
        if self.room is None:
            self.room = anyio.Event()
        await self.room.wait()

    def stats(self) -> LaneStats:
        return LaneStats(self.pending, self.capacity, self.sent, self.sent - self.pending)


class Mailbox:
    """An actor's inbox: one bounded stream, two lanes of capacity, and a wake-up signal."""

    __slots__ = (
        "_receive",
        "_send",
        "_waiter",
        "control",
        "data",
        "depth",
        "name",
        "on_ready",
    )

    def __init__(self, name: str, *, control_capacity: int, data_capacity: int) -> None:
        self.name = name
        self.control = Lane(control_capacity)
        self.data = Lane(data_capacity)
        self._send: MemoryObjectSendStream[Message]
        self._receive: MemoryObjectReceiveStream[Message]
        self._send, self._receive = anyio.create_memory_object_stream[Message](
            control_capacity + data_capacity
        )
        #: Messages delivered and not yet taken.
        self.depth = 0
        self._waiter: anyio.Event | None = None
        #: The inline scheduler's hook: called once per delivered message.
        self.on_ready: Callable[[], None] | None = None

    def lane_for(self, message: Message) -> Lane:
        return self.data if type(message) in _DATA_TYPES else self.control

    def put_nowait(self, message: Message) -> bool:
        """Deliver without waiting; False when the message's lane is full (nothing lost)."""
        lane = self.data if type(message) in _DATA_TYPES else self.control
        if lane.pending >= lane.capacity:
            return False
        self._send.send_nowait(message)
        lane.pending += 1
        lane.sent += 1
        self.depth += 1
        if self.on_ready is not None:
            self.on_ready()
        elif self._waiter is not None:
            self._waiter.set()
            self._waiter = None
        return True

    async def put(self, message: Message) -> None:
        """Deliver, waiting for room: the backpressure point."""
        while not self.put_nowait(message):
            await self.lane_for(message).wait_room()

    def take(self) -> Message | None:
        """The oldest delivered message, or None when the mailbox is empty."""
        if not self.depth:
            return None
        message = self._receive.receive_nowait()
        self.depth -= 1
        lane = self.data if type(message) in _DATA_TYPES else self.control
        lane.pending -= 1
        if lane.room is not None:
            lane.room.set()
            lane.room = None
        return message

    async def wait(self) -> None:
        """Wait until something may have been delivered (callers then take again)."""
        if self.depth:
            await anyio.lowlevel.checkpoint()
            return
        waiter = self._waiter = anyio.Event()
        await waiter.wait()

    def stats(self) -> MailboxStats:
        return MailboxStats(self.control.stats(), self.data.stats())

    def close(self) -> None:
        """Close the stream; the supervisor does this at shutdown."""
        self._send.close()
        self._receive.close()

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
