"""SimClock timers fire in time order (ties in scheduling order); LiveClock reads wall time."""

from __future__ import annotations

import time

import anyio
import pytest

from runtime.clocks import LiveClock, SimClock


def test_advance_when_timers_due_then_fire_in_time_then_schedule_order() -> None:
    clock = SimClock(start_ns=100)
    fired: list[tuple[str, int, int]] = []

    def record(name: str):  # type: ignore[no-untyped-def]
        return lambda at: fired.append((name, at, clock.now_ns()))

    clock.schedule(300, record("c"))
    clock.schedule(200, record("a"))
    clock.schedule(200, record("b"))
    clock.schedule(900, record("late"))
    clock.advance_to(500)
    assert fired == [("a", 200, 200), ("b", 200, 200), ("c", 300, 300)]
    assert clock.now_ns() == 500
    assert clock.next_timer_ns == 900


def test_cancel_when_timer_cancelled_then_never_fires() -> None:
    clock = SimClock()
    fired: list[int] = []
    handle = clock.schedule(10, fired.append)
    handle.cancel()
    clock.advance_to(20)
    assert fired == []
    assert clock.next_timer_ns is None


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


async def test_live_clock_when_timer_scheduled_then_fires_with_its_due_time() -> None:
    clock = LiveClock()
    before = time.time_ns()
    assert before <= clock.now_ns() <= time.time_ns()
    fired = anyio.Event()
    seen: list[int] = []
    due = clock.now_ns() + 1_000_000

    def on_timer(at: int) -> None:
        seen.append(at)
        fired.set()

    clock.schedule(due, on_timer)
    with anyio.fail_after(5):
        await fired.wait()
    assert seen == [due]
    assert time.time_ns() >= due
