"""Clocks. Actors read time only from the clock they are handed.

:class:`LiveClock` reads wall time; :class:`SimClock` is moved by the replay driver to the
timestamp of the next recorded event and fires due timers in time order (ties in the order
they were scheduled), which is what makes a replay repeatable.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

import anyio

__all__ = ("Clock", "LiveClock", "SimClock", "TimerHandle")

TimerCallback = Callable[[int], None]


class TimerHandle:
    """A scheduled callback; :meth:`cancel` stops it from firing."""

    __slots__ = ("_cancel", "at_ns", "cancelled")

    def __init__(self, at_ns: int, cancel: Callable[[TimerHandle], None]) -> None:
        self.at_ns = at_ns
        self.cancelled = False
        self._cancel = cancel

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self._cancel(self)


class Clock(Protocol):
    """What actors may ask of time."""

    def now_ns(self) -> int:
        """Current time in nanoseconds since the Unix epoch."""
        ...

    def schedule(self, at_ns: int, callback: TimerCallback) -> TimerHandle:
        """Call ``callback(at_ns)`` once the clock reaches ``at_ns``."""
        ...

    async def sleep_until(self, at_ns: int) -> None:
        """Wait until the clock reaches ``at_ns``."""
        ...


class LiveClock:
    """Wall-clock time. Timers ride the running asyncio loop (anyio has no ``call_at``).

    While recovery re-runs a recorded session through the actors, :meth:`follow` makes
    the clock read the recorded times instead, so the rebuilt state saw the times the
    live run saw.
    """

    def __init__(self) -> None:
        self._source: Callable[[], int] | None = None

    def now_ns(self) -> int:
        source = self._source
        return time.time_ns() if source is None else source()

    def follow(self, source: Callable[[], int] | None) -> None:
        """Read time from ``source`` until called again with None (wall time)."""
        self._source = source

    def schedule(self, at_ns: int, callback: TimerCallback) -> TimerHandle:
        loop = asyncio.get_running_loop()
        delay = max(0.0, (at_ns - time.time_ns()) / 1e9)
        timer = loop.call_later(delay, callback, at_ns)
        return TimerHandle(at_ns, lambda _handle: timer.cancel())

    async def sleep_until(self, at_ns: int) -> None:
        delay = (at_ns - time.time_ns()) / 1e9
        if delay > 0:
            await anyio.sleep(delay)


class SimClock:
    """Simulated time, advanced explicitly. Never goes backwards."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._timers: list[tuple[int, int, TimerHandle, TimerCallback]] = []
        self._sequence = itertools.count()
        self._sleepers: list[tuple[int, int, anyio.Event]] = []

    def now_ns(self) -> int:
        return self._now

    def schedule(self, at_ns: int, callback: TimerCallback) -> TimerHandle:
        handle = TimerHandle(at_ns, lambda _handle: None)
        heapq.heappush(self._timers, (at_ns, next(self._sequence), handle, callback))
        return handle

    async def sleep_until(self, at_ns: int) -> None:
        if at_ns <= self._now:
            return
        event = anyio.Event()
        heapq.heappush(self._sleepers, (at_ns, next(self._sequence), event))
        await event.wait()

    def advance_to(self, at_ns: int) -> None:
        """Move time to ``at_ns``, firing every timer due on the way in order."""
        if at_ns < self._now:
            raise ValueError(f"SimClock cannot go back in time: now={self._now}, asked {at_ns}")
        timers = self._timers
        while timers and timers[0][0] <= at_ns:
            due, _, handle, callback = heapq.heappop(timers)
            if handle.cancelled:
                continue
            self._now = due
            handle.cancelled = True
            callback(due)
        self._now = at_ns
        sleepers = self._sleepers
        while sleepers and sleepers[0][0] <= at_ns:
            heapq.heappop(sleepers)[2].set()

    @property
    def next_timer_ns(self) -> int | None:
        """When the earliest pending timer is due, if any."""
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None
