"""Mailboxes: bounded lanes, backpressure without loss, control before data, statistics."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

import anyio
import pytest

from runtime.channels import Lane, Mailbox
from runtime.messages import Bar, Control, Message

D = Decimal


def _take(mailbox: Mailbox, into: deque[Message], limit: int) -> int:
    """Move up to ``limit`` messages out of ``mailbox``, oldest first; return how many."""
    count = 0
    while count < limit and (message := mailbox.take()) is not None:
        into.append(message)
        count += 1
    return count


def _bar(ts: int) -> Bar:
    return Bar(ts=ts, symbol="X", open=D(1), high=D(1), low=D(1), close=D(1))


def test_lane_when_capacity_not_positive_then_rejected() -> None:
    with pytest.raises(ValueError, match=r"^lane capacity=0 must be > 0$"):
        Lane(0)


async def test_put_when_lane_full_then_producer_blocks_until_consumer_drains() -> None:
    with Mailbox("m", control_capacity=2, data_capacity=2) as mailbox:
        await _fill_then_drain(mailbox)


async def _fill_then_drain(mailbox: Mailbox) -> None:
    assert mailbox.put_nowait(_bar(1))
    assert mailbox.put_nowait(_bar(2))
    assert not mailbox.put_nowait(_bar(3))  # full: refused, not dropped
    delivered: list[int] = []

    async def producer() -> None:
        for ts in (3, 4, 5):
            await mailbox.put(_bar(ts))
            delivered.append(ts)

    received: deque[Message] = deque()
    async with anyio.create_task_group() as tg:
        tg.start_soon(producer)
        await anyio.wait_all_tasks_blocked()
        assert delivered == []  # blocked on the full lane
        assert mailbox.stats().data.depth == 2
        while len(received) < 5:
            _take(mailbox, received, 10)
            await anyio.wait_all_tasks_blocked()
    assert [m.ts for m in received] == [1, 2, 3, 4, 5]
    assert delivered == [3, 4, 5]
    stats = mailbox.stats().data
    assert (stats.sent, stats.received, stats.depth, stats.capacity) == (5, 5, 0, 2)


def test_take_when_both_lanes_hold_messages_then_arrival_order_kept() -> None:
    with Mailbox("m", control_capacity=4, data_capacity=4) as mailbox:
        mailbox.put_nowait(_bar(1))
        mailbox.put_nowait(Control(ts=2, command="halt"))
        mailbox.put_nowait(_bar(3))
        mailbox.put_nowait(Control(ts=4, command="resume"))
        out: deque[Message] = deque()
        assert _take(mailbox, out, 3) == 3
        assert [m.ts for m in out] == [1, 2, 3]
        assert mailbox.depth == 1
        assert _take(mailbox, out, 3) == 1
        assert [m.ts for m in out] == [1, 2, 3, 4]
        assert mailbox.depth == 0


def test_data_lane_when_full_then_control_lane_still_accepts() -> None:
    with Mailbox("m", control_capacity=1, data_capacity=1) as mailbox:
        assert mailbox.put_nowait(_bar(1))
        assert not mailbox.put_nowait(_bar(2))
        assert mailbox.put_nowait(Control(ts=3, command="halt"))


async def test_wait_when_message_arrives_then_waiter_wakes() -> None:
    woke: list[bool] = []
    with Mailbox("m", control_capacity=1, data_capacity=1) as mailbox:

        async def waiter() -> None:
            await mailbox.wait()
            woke.append(True)

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()
            assert woke == []
            mailbox.put_nowait(_bar(1))
    assert woke == [True]
