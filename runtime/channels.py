"""Bounded mailboxes built on anyio memory object streams, with the batch-drain fast path.

A mailbox has two lanes, each a bounded anyio stream: ``data`` for market data (``Bar``,
``Tick``) and ``control`` for everything else (order flow, fills, snapshots, control).
The consumer empties the control lane first, so a flood of market data can neither delay
nor deadlock the order path (portfolio -> risk -> execution -> portfolio is a cycle;
bounded lanes in a cycle that block on each other would otherwise wedge for good).

Producers try ``send_nowait`` and only await ``send`` when the lane is full: that await is
the backpressure. Consumers drain whatever is buffered with ``receive_nowait`` and only
await when both lanes are empty, so a busy actor pays no event-loop pass per message.
"""

from __future__ import annotations

from collections import deque
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
    """One bounded anyio memory object stream plus its counters."""

    __slots__ = ("_receive", "_send", "capacity", "received", "sent")

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"lane capacity={capacity!r} must be > 0")
        self.capacity = capacity
        self._send: MemoryObjectSendStream[Message]
        self._receive: MemoryObjectReceiveStream[Message]
        self._send, self._receive = anyio.create_memory_object_stream[Message](capacity)
        self.sent = 0
        self.received = 0

    def put_nowait(self, message: Message) -> bool:
        """Buffer ``message``; False when the lane is full (nothing is dropped)."""
        try:
            self._send.send_nowait(message)
        except anyio.WouldBlock:
            return False
        self.sent += 1
        return True

    async def put(self, message: Message) -> None:
        """Buffer ``message``, waiting for room when the lane is full."""
        await self._send.send(message)
        self.sent += 1

    def drain(self, into: deque[Message], limit: int) -> int:
        """Move up to ``limit`` buffered messages into ``into``; returns how many."""
        receive_nowait = self._receive.receive_nowait
        count = 0
        while count < limit:
            try:
                into.append(receive_nowait())
            except anyio.WouldBlock:
                break
            count += 1
        self.received += count
        return count

    def stats(self) -> LaneStats:
        depth = self._send.statistics().current_buffer_used
        return LaneStats(depth, self.capacity, self.sent, self.received)

    def close(self) -> None:
        self._send.close()
        self._receive.close()


class Mailbox:
    """An actor's inbox: a control lane drained before a data lane, and a wake-up signal."""

    __slots__ = ("_waiter", "control", "data", "name")

    def __init__(self, name: str, *, control_capacity: int, data_capacity: int) -> None:
        self.name = name
        self.control = Lane(control_capacity)
        self.data = Lane(data_capacity)
        self._waiter: anyio.Event | None = None

    def lane_for(self, message: Message) -> Lane:
        return self.data if type(message) in _DATA_TYPES else self.control

    def put_nowait(self, message: Message) -> bool:
        """Deliver without waiting; False when the message's lane is full."""
        if not self.lane_for(message).put_nowait(message):
            return False
        if self._waiter is not None:
            self._waiter.set()
            self._waiter = None
        return True

    async def put(self, message: Message) -> None:
        """Deliver, waiting for room: the backpressure point."""
        if self.put_nowait(message):
            return
        await self.lane_for(message).put(message)
        if self._waiter is not None:
            self._waiter.set()
            self._waiter = None

    def drain(self, into: deque[Message], limit: int) -> int:
        """Move up to ``limit`` messages into ``into``, control lane first."""
        count = self.control.drain(into, limit)
        if count < limit:
            count += self.data.drain(into, limit - count)
        return count

    async def wait(self) -> None:
        """Wait until something may have been delivered (callers then drain again)."""
        if self.control.stats().depth or self.data.stats().depth:
            await anyio.lowlevel.checkpoint()
            return
        waiter = self._waiter = anyio.Event()
        await waiter.wait()

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
