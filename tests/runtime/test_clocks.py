"""SimClock moves only forward and wakes its sleepers; LiveClock reads wall time."""

from __future__ import annotations

import anyio
import pytest

from atrium.runtime.clocks import SimClock


def test_advance_when_going_back_then_error() -> None:
    clock = SimClock(start_ns=50)
    with pytest.raises(ValueError, match=r"^SimClock cannot go back in time: now=50, asked 40$"):
        clock.advance_to(40)


async def test_sleep_until_when_clock_advanced_then_sleeper_wakes() -> None:
    clock = SimClock()
    woke: list[int] = []

    async def sleeper() -> None:
        await clock.sleep_until(1_000)
        woke.append(clock.now_ns())

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper)
        await anyio.wait_all_tasks_blocked()
        clock.advance_to(999)
        await anyio.wait_all_tasks_blocked()
        assert woke == []
        clock.advance_to(1_500)
    assert woke == [1_500]
