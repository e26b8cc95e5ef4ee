"""A replay driven over the stream (``[cluster] replay_market_data = "driver"``).

The role that runs market data drives: it publishes an event, then waits until every
role's consumer has taken and acknowledged everything (:mod:`.progress`), the
cross-process form of the settle barrier. The portfolio's process holds the order flow
an event brings, marks on the stream that it holds some, and hands it to its bus when the
driver's release comes back, ranked by strategy as one strategy actor would have sent
it; what that causes is settled in turn, until a round holds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import anyio

from atrium.runtime.cluster.link import MSG_ID, ROLE_HEADER, Link, Outgoing
from atrium.runtime.cluster.progress import ProgressBoard
from atrium.runtime.cluster.wiring import RoleWiring
from atrium.runtime.messages import Message

__all__ = ("DrivenReplay", "rank_by_strategy")


def rank_by_strategy(order: Sequence[str]) -> Callable[[list[Message]], list[Message]]:
    """Sorts messages into the config's order of their strategies (stable), as one strategy
    actor would have sent them; a message of no listed strategy goes last."""
    rank = {name: index for index, name in enumerate(order)}
    last = len(rank)

    def ranked(messages: list[Message]) -> list[Message]:
        return sorted(
            messages, key=lambda message: rank.get(getattr(message, "strategy", ""), last)
        )

    return ranked


class DrivenReplay:
    """One role's part in a driven replay: the driver's barrier, or the holding of the
    portfolio's process (or neither: a strategy role only takes what comes)."""

    def __init__(
        self,
        link: Link,
        wiring: RoleWiring,
        *,
        drives: bool,
        holds: bool,
        queue: Callable[[Outgoing], None],
    ) -> None:
        """``drives``: this role publishes the events; ``holds``: it runs the portfolio
        and holds order flow for the release; ``queue`` sends a marker to the stream."""
        self._link, self._wiring, self._queue = link, wiring, queue
        self.drives, self.holds = drives, holds
        #: Something was sent since the cluster was last seen idle (the driver's).
        self.unsettled = False
        self._board: ProgressBoard | None = None
        self._holding: list[Message] = []
        self._holds_marked = 0
        self._releases = 0

    async def start(self) -> None:
        """The driver follows every consumer's progress before it sends an event."""
        if self.drives:
            await self._link.follow()
            await self._link.wait_consumers(self._wiring.consumers)
            self._board = await self._link.track_progress()

    def hold(self, message: Message, *, muted: bool) -> None:
        """Keep order flow until the driver's release; the first of a round tells the
        driver (unless ``muted``: a rebuild, whose markers were sent the first time)."""
        if not self._holding:
            self._holds_marked += 1
            if not muted:
                role = self._wiring.role
                ids = {MSG_ID: f"{role}:held:{self._holds_marked}", ROLE_HEADER: role}
                self._queue((self._wiring.subjects.held, b"", ids))
        self._holding.append(message)

    def release(self) -> list[Message]:
        """What was held, in the order it came; the caller ranks it."""
        held, self._holding = self._holding, []
        return held

    async def settle(self) -> None:
        """The driver's barrier after an event: every consumer idle, and no order flow
        held back. The portfolio's process, holding what this event brought, marks that
        on the stream before it acknowledges; then a release lets it go in one order, and
        what that causes is settled in turn, until a round holds nothing."""
        self.unsettled = False
        link, subjects, role = self._link, self._wiring.subjects, self._wiring.role
        while True:
            await self._until_idle()
            watch = link.watch
            assert watch is not None
            if watch.last_of(subjects.held) <= watch.last_of(subjects.release):
                return
            self._releases += 1
            ids = {MSG_ID: f"{role}:release:{self._releases}", ROLE_HEADER: role}
            await link.publish([(subjects.release, b"", ids)])

    async def _until_idle(self) -> None:
        """Wait until every consumer handled everything stored (see :mod:`.progress`)."""
        board, link = self._board, self._link
        assert board is not None
        quiet = self._wiring.cluster.barrier_poll_seconds
        while not board.idle(link.stored_seq):
            with anyio.move_on_after(quiet) as waited:
                await board.changed()
            if waited.cancelled_caught and await link.consumers_idle(self._wiring.consumers):
                return
