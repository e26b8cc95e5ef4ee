"""Starting live venue sessions once recovery is done, before any source produces."""

from __future__ import annotations

from atrium.runtime.capabilities import VENUE_SESSION
from atrium.runtime.topology import Pipeline

__all__ = ("go_live",)


async def go_live(pipeline: Pipeline) -> None:
    """Reconcile every live venue with the recovered book, then let it trade.

    After recovery, so what the journal holds is known first and the adjustments go to
    the journal; before the sources, so no strategy trades on an unreconciled book.
    """
    for session in pipeline.capabilities.every(VENUE_SESSION):
        await session.go_live()
    await pipeline.dispatcher.wait_settled()
