"""Pace a replay at a multiple of recorded time (``[market_data].speed``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

__all__ = ("Pacer",)


class Pacer:
    """Waits until a record is due: recorded time since the first record, over ``speed``.

    Due times are measured from the first record rather than from the previous one, so
    the small lateness of each wake-up does not add up over a long replay. Pacing reads
    the event loop's monotonic clock only to sleep; no record or decision depends on it.

    Parameters
    ----------
    speed : float
        Multiple of recorded time, > 0 (2 replays an hour of data in half an hour).
    now, sleep : callables, optional
        The monotonic clock in seconds and the sleep coroutine (tests pass fakes).
    """

    def __init__(
        self,
        speed: float,
        *,
        now: Callable[[], float] = anyio.current_time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed={speed!r} must be > 0")
        self._speed = speed
        self._now = now
        self._sleep = sleep
        self._origin: tuple[int, float] | None = None

    async def wait(self, ts: int) -> None:
        """Return once the record stamped ``ts`` (ns) is due."""
        if self._origin is None:
            self._origin = (ts, self._now())
            return
        first_ts, started = self._origin
        delay = started + (ts - first_ts) / 1e9 / self._speed - self._now()
        if delay > 0:
            await self._sleep(delay)
