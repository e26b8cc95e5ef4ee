"""Bounded mailboxes built on anyio memory object streams, with the batch-drain fast path.

A mailbox has two lanes, each a bounded anyio stream: ``data`` for market data (``Bar``,
``Tick``) and ``control`` for everything else (order flow, fills, snapshots, control).
The lanes split *capacity*, not order: a flood of market data filling its lane never
blocks a sender of order flow, so the order-path cycle (portfolio -> risk -> execution ->
portfolio) cannot wedge on a full mailbox. Messages are still handled in arrival order
across both lanes (each carries an arrival number), because causality depends on it: an
intent caused by bar T must be sized after the portfolio has marked bar T.

Producers try ``send_nowait`` and only await ``send`` when the lane is full: that await is
the backpressure. Consumers drain whatever is buffered with ``receive_nowait`` and only
await when both lanes are empty, so a busy actor pays no event-loop pass per message.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import NamedTuple

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from runtime.messages import Bar, Message, Tick

__all__ = ("Lane", "LaneStats", "Mailbox", "MailboxStats")

_DATA_TYPES = frozenset({Bar, Tick})

#: A message with its arrival number in the mailbox.
Arrival = tuple[int, Message]


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
    """One bounded anyio memory object stream plus its counters.

    ``pending`` counts messages delivered and not yet taken (a sender waiting on a full
    lane included), so an empty lane is known without asking the stream.
    """

    __slots__ = ("_receive", "_send", "capacity", "pending", "received", "sent")

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"lane capacity={capacity!r} must be > 0")
        self.capacity = capacity
        self._send: MemoryObjectSendStream[Arrival]
        self._receive: MemoryObjectReceiveStream[Arrival]
        self._send, self._receive = anyio.create_memory_object_stream[Arrival](capacity)
        self.sent = 0
        self.received = 0
        self.pending = 0

    def put_nowait(self, arrival: Arrival) -> bool:
        """Buffer ``arrival``; False when the lane is full (nothing is dropped)."""
        try:
            self._send.send_nowait(arrival)
        except anyio.WouldBlock:
            return False
        self.sent += 1
        self.pending += 1
        return True

    async def put(self, arrival: Arrival) -> None:
        """Buffer ``arrival``, waiting for room when the lane is full."""
        self.pending += 1
        try:
            await self._send.send(arrival)
        except BaseException:
            self.pending -= 1
            raise
        self.sent += 1

    def take(self) -> Arrival | None:
        """The oldest delivered arrival, or None when the lane is empty."""
        if not self.pending:
            return None
        try:
            arrival = self._receive.receive_nowait()
        except anyio.WouldBlock:  # a waiting sender not yet resumed: it is taken next time
            return None
        self.pending -= 1
        self.received += 1
        return arrival

    def stats(self) -> LaneStats:
        depth = self._send.statistics().current_buffer_used
        return LaneStats(depth, self.capacity, self.sent, self.received)

    def close(self) -> None:
        self._send.close()
        self._receive.close()


class Mailbox:
    """An actor's inbox: two bounded lanes merged in arrival order, and a wake-up signal."""

    __slots__ = (
        "_arrivals",
        "_control_head",
        "_data_head",
        "_waiter",
        "control",
        "data",
        "name",
        "on_ready",
        "scheduled",
    )

    def __init__(self, name: str, *, control_capacity: int, data_capacity: int) -> None:
        self.name = name
        self.control = Lane(control_capacity)
        self.data = Lane(data_capacity)
        self._waiter: anyio.Event | None = None
        self._arrivals = 0
        # The oldest message taken from each lane but not yet handed out (merge look-ahead).
        self._control_head: Arrival | None = None
        self._data_head: Arrival | None = None
        # The inline scheduler's hook: called once when the mailbox gets work, until the
        # scheduler clears ``scheduled`` after finding it empty again.
        self.on_ready: Callable[[], None] | None = None
        self.scheduled = False

    def lane_for(self, message: Message) -> Lane:
        return self.data if type(message) in _DATA_TYPES else self.control

    def _stamp(self, message: Message) -> Arrival:
        self._arrivals += 1
        return (self._arrivals, message)

    def _wake(self) -> None:
        if self.on_ready is not None:
            if not self.scheduled:
                self.scheduled = True
                self.on_ready()
        elif self._waiter is not None:
            self._waiter.set()
            self._waiter = None

    def put_nowait(self, message: Message) -> bool:
        """Deliver without waiting; False when the message's lane is full."""
        if not self.lane_for(message).put_nowait(self._stamp(message)):
            self._arrivals -= 1
            return False
        self._wake()
        return True

    async def put(self, message: Message) -> None:
        """Deliver, waiting for room: the backpressure point."""
        if self.put_nowait(message):
            return
        await self.lane_for(message).put(self._stamp(message))
        self._wake()

    def drain(self, into: deque[Message], limit: int) -> int:
        """Move up to ``limit`` messages into ``into``, oldest arrival first."""
        if not (self.control.pending or self.data.pending or self._control_head or self._data_head):
            return 0
        control = self._control_head or self.control.take()
        data = self._data_head or self.data.take()
        count = 0
        while count < limit:
            if control is not None and (data is None or control[0] < data[0]):
                into.append(control[1])
                control = self.control.take()
            elif data is not None:
                into.append(data[1])
                data = self.data.take()
            else:
                break
            count += 1
        self._control_head, self._data_head = control, data
        return count

    async def wait(self) -> None:
        """Wait until something may have been delivered (callers then drain again)."""
        if self.depth:
            await anyio.lowlevel.checkpoint()
            return
        waiter = self._waiter = anyio.Event()
        await waiter.wait()

    @property
    def depth(self) -> int:
        """Messages delivered and not yet drained."""
        held = (self._control_head is not None) + (self._data_head is not None)
        return self.control.pending + self.data.pending + held

    def stats(self) -> MailboxStats:
        return MailboxStats(self.control.stats(), self.data.stats())

    def close(self) -> None:
        """Close both lanes; the supervisor does this at shutdown."""
        self.control.close()
        self.data.close()

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
