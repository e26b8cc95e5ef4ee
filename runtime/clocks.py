"""Clocks. Actors read time only from the clock they are handed.

:class:`LiveClock` reads wall time; :class:`SimClock` is moved by the replay driver to the
timestamp of the next recorded event, which is what makes a replay repeatable.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

import anyio

__all__ = ("Clock", "LiveClock", "SimClock")


class Clock(Protocol):
    """What actors may ask of time."""

    def now_ns(self) -> int:
        """Current time in nanoseconds since the Unix epoch."""
        ...

    async def sleep_until(self, at_ns: int) -> None:
        """Wait until the clock reaches ``at_ns``."""
        ...


class LiveClock:
    """Wall-clock time.

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

    async def sleep_until(self, at_ns: int) -> None:
        delay = (at_ns - time.time_ns()) / 1e9
        if delay > 0:
            await anyio.sleep(delay)


class SimClock:
    """Simulated time, advanced explicitly. Never goes backwards."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._sequence = itertools.count()
        self._sleepers: list[tuple[int, int, anyio.Event]] = []

    def now_ns(self) -> int:
        return self._now

    async def sleep_until(self, at_ns: int) -> None:
        if at_ns <= self._now:
            return
        event = anyio.Event()
        heapq.heappush(self._sleepers, (at_ns, next(self._sequence), event))
        await event.wait()

    def advance_to(self, at_ns: int) -> None:
        """Move time to ``at_ns``, waking every sleeper due by then."""
        if at_ns < self._now:
            raise ValueError(f"SimClock cannot go back in time: now={self._now}, asked {at_ns}")
        self._now = at_ns
        sleepers = self._sleepers
        while sleepers and sleepers[0][0] <= at_ns:
            heapq.heappop(sleepers)[2].set()
