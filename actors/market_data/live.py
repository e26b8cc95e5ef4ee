"""What every live feed has: a ``run`` coroutine that emits ticks, and a :class:`FeedStatus`.

A live feed runs until it is cancelled (the actor stops); it reconnects by itself and
reports into its status, which ``/readyz`` and the feed gauges read.

Freshness is measured on the monotonic clock (``time.monotonic``, the event loop's own
clock), never on the actor's clock: it says when a message last *arrived*, which is a
fact about the connection, not about the market, and no record or decision depends on it.
It is safe to read from any thread (a Prometheus scrape calls :meth:`FeedStatus.staleness`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeAlias

from atrium.actors.market_data.resume import Delivered
from atrium.runtime.messages import Tick

__all__ = ("Emit", "FeedStatus", "LiveFeed")

#: Sends one tick into the pipeline (the actor's ``send``), waiting for room.
Emit: TypeAlias = Callable[[Tick], Awaitable[None]]


class LiveFeed(Protocol):
    """What the market data actor needs of a live feed."""

    name: str
    status: FeedStatus

    async def run(self, emit: Emit) -> None:
        """Produce ticks through ``emit`` until cancelled."""
        ...

    def resume(self, delivered: Delivered) -> None:
        """Before :meth:`run` after a restart: never emit again what ``delivered`` holds."""
        ...


class FeedStatus:
    """Connection state and message counts of one live feed, updated by the feed.

    Parameters
    ----------
    stale_after_seconds : float
        Without a message for this long the feed is not ready.
    now : callable, optional
        Monotonic seconds (tests pass a fake).
    on_reconnect, on_duplicate : callable, optional
        Called once per reconnection and per dropped duplicate trade (the metrics).
    """

    def __init__(
        self,
        stale_after_seconds: float,
        *,
        now: Callable[[], float] = time.monotonic,
        on_reconnect: Callable[[], None] | None = None,
        on_duplicate: Callable[[], None] | None = None,
    ) -> None:
        self.stale_after_seconds = stale_after_seconds
        self.connected = False
        self.messages = 0
        self.reconnects = 0
        self.duplicates = 0
        self.last_message: float | None = None
        self._now = now
        self._since = now()
        self._connections = 0
        self._on_reconnect = on_reconnect
        self._on_duplicate = on_duplicate

    # -- what the feed reports -------------------------------------------------------------

    def opened(self) -> None:
        """A connection is up; every one after the first counts as a reconnect."""
        self.connected = True
        self._connections += 1
        if self._connections > 1:
            self.reconnects += 1
            if self._on_reconnect is not None:
                self._on_reconnect()

    def closed(self) -> None:
        """The connection is gone (lost, stale, or the feed stopped)."""
        self.connected = False

    def received(self) -> None:
        """A message arrived (a trade or not, valid or not: the venue is talking)."""
        self.messages += 1
        self.last_message = self._now()

    def duplicate(self) -> None:
        """A trade was dropped as already delivered (resent after a reconnect)."""
        self.duplicates += 1
        if self._on_duplicate is not None:
            self._on_duplicate()

    # -- what others read ------------------------------------------------------------------

    def age(self) -> float | None:
        """Seconds since the last message; ``None`` before the first."""
        last = self.last_message
        return None if last is None else max(0.0, self._now() - last)

    def connected_value(self) -> float:
        """1.0 while connected, else 0.0 (the connected gauge)."""
        return 1.0 if self.connected else 0.0

    def staleness(self) -> float:
        """Seconds since the last message, or since the status was made if none came yet.

        The gauge behind the "feed stale" alert: a feed that never delivers grows stale
        like one that stopped.
        """
        last = self.last_message if self.last_message is not None else self._since
        return max(0.0, self._now() - last)

    def ready(self) -> bool:
        """Connected, and the last message is younger than the stale limit."""
        age = self.age()
        return self.connected and age is not None and age < self.stale_after_seconds

    def snapshot(self) -> dict[str, Any]:
        """The status as plain data (``feed_status()`` of the actor, ``/readyz``)."""
        age = self.age()
        return {
            "connected": self.connected,
            "last_message_age_seconds": age,
            "messages": self.messages,
            "reconnects": self.reconnects,
            "duplicates": self.duplicates,
            "stale_after_seconds": self.stale_after_seconds,
            "ready": self.connected and age is not None and age < self.stale_after_seconds,
        }
