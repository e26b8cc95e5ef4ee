"""Never deliver a trade twice or out of order when a venue resends trades on reconnect.

Exchanges resend their most recent trades to a new connection. The client must drop
those it already delivered and keep those it missed, per symbol, from messages that may
carry nothing but ``(T, p, q)`` (time in ms, price, quantity): two real trades in one
millisecond at one price and size are indistinguishable by content.

The rule, per symbol:

With a trade id ``t`` (sent by most venues; strictly increasing per symbol):
    ``t`` at or below the last delivered id is a duplicate. A newer id with a time
    earlier than the last delivered time is refused as out of order (delivering it would
    move the symbol's time back). Exact.

Without one, the state is the last delivered time ``T*`` and how many trades of each
``(p, q)`` were delivered at ``T*``; each connection also counts the ``(p, q)`` it has
seen at ``T*``:
    ``T > T*``: new (``T*`` moves on and both counts restart).
    ``T == T*``: new only when this connection has now seen more trades of that
    ``(p, q)`` at ``T*`` than were delivered: the ``k``-th identical print of a
    millisecond is a duplicate if a ``k``-th was delivered already.
    ``T < T*``: before this connection delivered a new trade of the symbol, a resend
    (duplicate); after that, a venue message out of order (refused, ``OUT_OF_ORDER``).

Without ids the rule is exact when a resend starts on a millisecond boundary, i.e. it
includes either all trades at ``T*`` or none of them, which is what exchanges send (the
trades since a time, or the last ``n`` whole). A resend that starts inside ``T*`` and is
followed by a new print identical to an earlier one in that same millisecond drops that
print: the client never delivers a trade twice, at the cost of such a print in an edge
case no client can decide from content alone. A later resend of the whole millisecond
brings it again, and it is delivered then, after the prints of that millisecond that
followed it in the stream (time never moves back; order inside one millisecond is what
content cannot restore).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from atrium.actors.market_data.live import FeedStatus
from atrium.actors.market_data.rejections import Rejections
from atrium.actors.market_data.resume import Delivered

__all__ = ("DedupedTradeFeed", "TradeDeduplicator", "Verdict")


class Verdict(Enum):
    """What to do with one trade."""

    NEW = "new"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"


_Key = tuple[Decimal, Decimal]


@dataclass
class _Symbol:
    last_ts: int
    last_id: int | None
    delivered: dict[_Key, int]
    """Trades delivered at ``last_ts``, per ``(price, size)``."""
    connection: int
    """The connection ``seen`` and ``caught_up`` belong to."""
    seen: dict[_Key, int] = field(default_factory=dict)
    """Trades at ``last_ts`` this connection sent, per ``(price, size)``."""
    caught_up: bool = True
    """This connection already delivered a new trade of the symbol."""


class TradeDeduplicator:
    """Applies the rule of this module to every trade of one feed, across connections."""

    def __init__(self) -> None:
        self._symbols: dict[str, _Symbol] = {}
        self._connection = 0

    def seed(self, symbol: str, ts: int, delivered: dict[_Key, int]) -> None:
        """Take ``symbol`` as delivered up to ``ts`` (with ``delivered`` prints at ``ts``).

        A restarted client seeds what its previous life sent; trade ids are not kept, so
        the rule without ids applies until the next id arrives.
        """
        self._symbols[symbol] = _Symbol(ts, None, dict(delivered), connection=-1)

    def begin_connection(self) -> None:
        """A new connection starts: what it sends first may be a resend."""
        self._connection += 1

    def admit(
        self, symbol: str, ts: int, price: Decimal, size: Decimal, trade_id: int | None = None
    ) -> Verdict:
        """Judge one trade; a ``NEW`` trade is taken as delivered."""
        key = (price, size)
        state = self._symbols.get(symbol)
        if state is None:
            self._symbols[symbol] = _Symbol(ts, trade_id, {key: 1}, self._connection, {key: 1})
            return Verdict.NEW
        if state.connection != self._connection:
            state.connection = self._connection
            state.seen = {}
            state.caught_up = False
        last_id = state.last_id
        by_id = trade_id is not None and last_id is not None
        if trade_id is not None and last_id is not None:
            if trade_id <= last_id:
                return Verdict.DUPLICATE
            if ts < state.last_ts:
                return Verdict.OUT_OF_ORDER
        elif ts < state.last_ts:
            return Verdict.OUT_OF_ORDER if state.caught_up else Verdict.DUPLICATE
        if ts > state.last_ts:
            state.last_ts = ts
            state.delivered = {key: 1}
            state.seen = {key: 1}
        else:
            seen = state.seen[key] = state.seen.get(key, 0) + 1
            delivered = state.delivered.get(key, 0)
            if seen <= delivered and not by_id:
                return Verdict.DUPLICATE
            state.delivered[key] = max(seen, delivered + 1)
        if trade_id is not None:
            state.last_id = trade_id
        state.caught_up = True
        return Verdict.NEW


class DedupedTradeFeed:
    """What a live feed of venue trades holds whatever its transport: its label and
    status, the counter of bad messages, its log and backoff wait, and the deduplicator
    that a restart seeds with what the previous life sent (:meth:`resume`)."""

    def __init__(
        self,
        symbols: Sequence[str],
        name: str,
        status: FeedStatus,
        rejections: Rejections,
        log: logging.Logger,
        *,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.name = name
        self.status = status
        self._rejections = rejections
        self._log = log
        self._sleep = sleep
        self._dedup = TradeDeduplicator()
        self._traded = False
        self._symbols_fed = tuple(symbols)

    def resume(self, delivered: Delivered) -> None:
        """Seed the deduplicator with the last trade sent per symbol before a restart."""
        for symbol in self._symbols_fed:
            last = delivered.last_trade(symbol)
            if last is not None:
                self._dedup.seed(symbol, *last)
