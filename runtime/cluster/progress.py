"""The replay barrier from the roles' own reports, not from polling JetStream.

After every recorded event the driver waits until the cluster is idle: every consumer has
acknowledged the last message its filter matches, and what that caused is stored. Asking
JetStream (:meth:`~atrium.runtime.cluster.link.Link.consumers_idle`) costs three API
requests a poll and a few polls an event, ~8 ms an event on the 2-core machine. Instead,
each consuming role publishes, once it acknowledged a batch, a report on a plain subject
outside the stream: the last stream sequence it acknowledged and the last sequence
JetStream stored for it (:func:`report`). The driver keeps the newest report of each
consumer and decides from them and its :class:`~atrium.runtime.cluster.watch.StreamWatch`.

Why that is sound: a role stores what a message caused before it acknowledges it, and
reports after. When the watch has seen every sequence any report or the driver's own
publishing names as stored, and every consumer's report covers the last message its
filter matches among those, then every stored message was handled: a message stored later
than what the watch saw would have been caused by handling one of them, and its sequence
would be in the report that acknowledged that one. A report lost to a reconnect would
leave the driver waiting, so after ``[cluster].barrier_poll_seconds`` without one it asks
JetStream as before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import anyio
from nats.aio.msg import Msg

from atrium.runtime.cluster.watch import StreamWatch

__all__ = ("ProgressBoard", "progress_subject", "report")


def progress_subject(namespace: str, consumer: str = "*") -> str:
    """Where ``consumer`` reports: outside ``<namespace>.>``, so the stream never keeps it."""
    return f"$ATRIUM.{namespace}.progress.{consumer}"


def report(acknowledged: int, stored: int) -> bytes:
    """A report: the last sequence acknowledged, the last stored for the reporting role."""
    return f"{acknowledged} {stored}".encode()


class ProgressBoard:
    """The newest report of each consumer, and the driver's wait for an idle cluster."""

    def __init__(self, watch: StreamWatch, filters: Mapping[str, Sequence[str]]) -> None:
        self._watch = watch
        #: Consumer name -> its filter subjects (from JetStream, once).
        self._filters = filters
        self._acknowledged: dict[str, int] = {}
        self._stored = 0
        self._changed = anyio.Event()
        watch.on_seen = self._wake

    async def on_report(self, msg: Msg) -> None:
        """A role's report (the callback of the subscription to :func:`progress_subject`)."""
        consumer = msg.subject.rsplit(".", 1)[1]
        acknowledged, stored = (int(part) for part in msg.data.split())
        self._acknowledged[consumer] = max(self._acknowledged.get(consumer, 0), acknowledged)
        self._stored = max(self._stored, stored)
        self._wake()

    def idle(self, own_stored: int) -> bool:
        """Whether every stored message was handled (``own_stored``: the driver's last)."""
        watch = self._watch
        if watch.seen < max(self._stored, own_stored):
            return False
        acknowledged = self._acknowledged
        return all(
            acknowledged.get(name, 0) >= watch.last_matching(patterns)
            for name, patterns in self._filters.items()
        )

    async def changed(self) -> None:
        """Wait for the next report or stored message."""
        self._changed = anyio.Event()
        await self._changed.wait()

    def _wake(self) -> None:
        self._changed.set()
