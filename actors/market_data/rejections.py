"""The ``on_error`` policy for bad rows: count and log them (``skip``) or stop (``fail``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final, Literal

from atrium.runtime.errors import FatalInputError

__all__ = ("LOGGED_PER_FEED", "Rejections")

#: Rejected rows logged one by one per feed; later ones are only counted, so a file of
#: garbage cannot flood the log.
LOGGED_PER_FEED: Final = 20


class Rejections:
    """Applies the policy to every rejected row of every feed and keeps the counts.

    Parameters
    ----------
    policy : {"skip", "fail"}
    log : logging.Logger
        Where skipped rows are reported (WARNING).
    on_reject : callable, optional
        ``on_reject(feed, reason)`` for each rejected row (the actor's metrics), called
        before the policy applies, so the row that stops a run is counted too.
    """

    def __init__(
        self,
        policy: Literal["skip", "fail"],
        *,
        log: logging.Logger,
        on_reject: Callable[[str, str], None] | None = None,
    ) -> None:
        self.policy = policy
        self._log = log
        self._on_reject = on_reject
        self._counts: dict[tuple[str, str], int] = {}
        self._logged: dict[str, int] = {}

    def reject(self, feed: str, where: str, reason: str, problem: str) -> None:
        """Account for one bad row: ``where`` is ``file:line``, ``problem`` a sentence.

        Raises
        ------
        FatalInputError
            ``"<where>: <problem>"`` under policy ``fail``.
        """
        key = (feed, reason)
        self._counts[key] = self._counts.get(key, 0) + 1
        if self._on_reject is not None:
            self._on_reject(feed, reason)
        if self.policy == "fail":
            raise FatalInputError(f"{where}: {problem}")
        logged = self._logged.get(feed, 0)
        if logged < LOGGED_PER_FEED:
            self._log.warning("%s: %s (%s); row skipped", where, problem, reason)
        elif logged == LOGGED_PER_FEED:
            self._log.warning(
                "feed %s: more than %d rows rejected; further ones are counted, not logged",
                feed,
                LOGGED_PER_FEED,
            )
        self._logged[feed] = logged + 1

    def counts(self, feed: str | None = None) -> dict[str, int]:
        """Rejected rows per reason code, of one feed or (``None``) of all."""
        totals: dict[str, int] = {}
        for (name, reason), count in self._counts.items():
            if feed is None or name == feed:
                totals[reason] = totals.get(reason, 0) + count
        return totals
