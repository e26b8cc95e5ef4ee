"""Live market data on plain subjects (``cluster.market_data = "subjects"``): what waits
to go out, and what came in, kept bounded for a role that falls behind the source."""

from __future__ import annotations

from collections import deque
from typing import Final

import anyio

from atrium.runtime.messages import Message, Tick

__all__ = ("MARKET_BACKLOG", "PlainMarket")

#: Live market data from plain subjects waiting for the bus before older ticks are
#: dropped for newer ones of their symbol.
MARKET_BACKLOG: Final = 1024


class PlainMarket:
    """Live market data on plain subjects: what waits to go out, and what came in."""

    def __init__(self) -> None:
        self.outgoing: list[tuple[str, bytes]] = []
        self.out_ready = anyio.Event()
        self.sent: dict[str, int] = {}
        # Received, not handled yet, in order of arrival.
        self.inbox: deque[tuple[str, Message]] = deque()
        self.in_ready = anyio.Event()
        self._seen: dict[str, tuple[str, int]] = {}

    def put_out(self, subject: str, payload: bytes) -> None:
        self.outgoing.append((subject, payload))
        self.out_ready.set()

    def take_in(self, subject: str, message: Message) -> int:
        """Keep ``message`` for the bus; returns how many ticks that superseded.

        Up to :data:`MARKET_BACKLOG` waiting, every message is kept; beyond, only the
        newest tick per subject and every bar, so a role behind bears any rate.
        """
        self.inbox.append((subject, message))
        self.in_ready.set()
        if len(self.inbox) <= MARKET_BACKLOG:
            return 0
        newest = {subject: i for i, (subject, held) in enumerate(self.inbox) if type(held) is Tick}
        kept = deque(
            (subject, held)
            for i, (subject, held) in enumerate(self.inbox)
            if type(held) is not Tick or newest[subject] == i
        )
        skipped = len(self.inbox) - len(kept)
        self.inbox = kept
        return skipped

    def gap(self, subject: str, header: str) -> int:
        """How many messages of ``subject`` were missed before this one (``run:seq``).

        A new run of the source starts its numbering again: no gap across runs.
        """
        run, _, number = header.rpartition(":")
        if not number.isdigit():
            return 0
        seq = int(number)
        last = self._seen.get(subject)
        self._seen[subject] = (run, seq)
        if last is None or last[0] != run or seq <= last[1]:
            return 0
        return seq - last[1] - 1
