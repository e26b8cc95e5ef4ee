"""An actor's mailbox: a bounded FIFO whose messages wait in the dispatcher's one queue.

The dispatcher delivers breadth-first in publication order through a single queue of
``(mailbox, message)`` entries, so a mailbox only has to count what waits for it: the
order per mailbox is the order of that queue. ``depth`` and ``capacity`` are exported as
gauges; a delivery past ``capacity`` is :class:`~runtime.errors.MailboxOverflow`, an
input that fans out beyond what the topology was sized for. Backpressure itself lives at
the edges, where a source waits for the previous input to settle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from atrium.runtime.errors import MailboxOverflow

if TYPE_CHECKING:
    from atrium.runtime.actor import Actor, ActorStats

__all__ = ("Mailbox",)


class Mailbox:
    """The count of messages waiting for one actor, its bound, and the actor to call."""

    __slots__ = ("actor", "capacity", "depth", "name", "stats")

    def __init__(self, name: str, capacity: int, stats: ActorStats) -> None:
        if capacity <= 0:
            raise ValueError(f"mailbox {name!r}: capacity={capacity!r} must be > 0")
        self.name = name
        self.capacity = capacity
        self.stats = stats
        #: Messages delivered and not yet handled.
        self.depth = 0
        #: The running instance (the supervisor swaps it on a restart; None while down).
        self.actor: Actor | None = None

    def overflow(self) -> MailboxOverflow:
        return MailboxOverflow(self.name, self.capacity)
