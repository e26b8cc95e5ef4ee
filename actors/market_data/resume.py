"""What market data already sent, so a restarted service sends nothing twice.

After a restart, recovery replays the journaled market data on the actor's behalf
(:meth:`~actors.market_data.actor.MarketDataActor.restore_input`), which notes it here.
A WebSocket feed is then seeded with the last delivered trade of each symbol (its
deduplicator drops the venue's resend up to there), and a file feed read by ``atrium
run`` skips the records it had already sent.

Per ``(kind, symbol)`` the state is the last timestamp sent and how many records of each
content were sent at that timestamp (for ticks: ``(price, size)``), the same rule the
trade deduplicator applies across connections.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeAlias

from atrium.runtime.messages import Bar, Tick
from atrium.runtime.snapshots import state_type

__all__ = ("Delivered", "ResumeFilter")

_Content: TypeAlias = tuple[Decimal, Decimal] | None
_Key: TypeAlias = tuple[type, str]


@state_type
class Delivered:
    """The last timestamp sent per ``(kind, symbol)`` and the records sent at it."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[_Key, tuple[int, dict[_Content, int]]] = {}

    def note(self, record: Bar | Tick) -> None:
        """``record`` was sent."""
        key = (type(record), record.symbol)
        content = _content(record)
        last = self._last.get(key)
        if last is None or record.ts > last[0]:
            self._last[key] = (record.ts, {content: 1})
        else:
            counts = last[1]
            counts[content] = counts.get(content, 0) + 1

    def last_trade(self, symbol: str) -> tuple[int, dict[tuple[Decimal, Decimal], int]] | None:
        """The last tick time of ``symbol`` and the ``(price, size)`` counts sent at it."""
        last = self._last.get((Tick, symbol))
        if last is None:
            return None
        ts, counts = last
        return ts, {content: n for content, n in counts.items() if content is not None}

    def resume_filter(self) -> ResumeFilter:
        """A filter for a feed read again from its start."""
        return ResumeFilter({key: (ts, dict(counts)) for key, (ts, counts) in self._last.items()})


class ResumeFilter:
    """Says which records of a feed read again from its start were sent before."""

    __slots__ = ("_left",)

    def __init__(self, left: dict[_Key, tuple[int, dict[_Content, int]]]) -> None:
        self._left = left

    def sent_before(self, record: Bar | Tick) -> bool:
        """True for a record at or before what was sent (each counted once)."""
        if not self._left:
            return False
        last = self._left.get((type(record), record.symbol))
        if last is None:
            return False
        ts, counts = last
        if record.ts != ts:
            return record.ts < ts
        content = _content(record)
        remaining = counts.get(content, 0)
        if remaining == 0:
            return False
        counts[content] = remaining - 1
        return True


def _content(record: Bar | Tick) -> _Content:
    return (record.price, record.size) if isinstance(record, Tick) else None
