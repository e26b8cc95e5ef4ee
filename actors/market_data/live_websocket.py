"""A WebSocket client of the exchange trade stream: reconnects, resubscribes, never repeats.

One connection at a time (the ``websockets`` library does the protocol, keepalive pings
included). On every (re)connect it sends the subscribe message; every message counts as
a sign of life; trades go through :mod:`atrium.actors.market_data.live_trades` (parse and
validate) and :mod:`atrium.actors.market_data.live_dedup` (drop what a resend repeats) and the
new ones are emitted as ``Tick`` stamped with the venue's trade time.

A connection ends when the venue closes or drops it, a keepalive ping goes unanswered,
or no message arrives for ``stale_after_seconds`` (the client then closes it). The next
attempt waits ``reconnect_initial_seconds``, doubled after every attempt that brought no
trade, up to ``reconnect_max_seconds`` (:func:`backoff_delay`); a connection that
delivers a trade resets the schedule. Network and protocol errors are logged and retried
forever; only cancellation (the actor stopping) ends the feed.

Bad messages are counted and logged through :class:`~actors.market_data.rejections.Rejections`
under ``<feed> message <n>`` (the n-th message of the feed) with the reason codes of
:mod:`atrium.actors.market_data.validation`: ``UNPARSEABLE`` (not JSON, not an object, a field
missing or of the wrong type), ``NON_FINITE_PRICE``, ``NON_POSITIVE_PRICE``,
``NON_FINITE_VOLUME``, ``NEGATIVE_VOLUME``, and ``OUT_OF_ORDER`` (a trade earlier than
one the same connection already delivered). Duplicates are not errors: they are counted
in the feed status only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

import anyio
import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from atrium.actors.market_data.live import Emit, FeedStatus
from atrium.actors.market_data.live_dedup import DedupedTradeFeed, Verdict
from atrium.actors.market_data.live_trades import Trade, VenueError, parse_message
from atrium.actors.market_data.rejections import Rejections
from atrium.actors.market_data.validation import OUT_OF_ORDER, format_ns
from atrium.config.market_data import WebSocketConfig
from atrium.runtime.messages import Tick

__all__ = ("WebSocketFeed", "backoff_delay", "subscribe_message")

#: Longest wait for the closing handshake before the connection is dropped: a stale
#: or stopping connection must not hold the feed (or the shutdown) up.
_CLOSE_TIMEOUT_SECONDS: Final = 1.0
#: Doubling stops here long before a float overflows.
_MAX_DOUBLINGS: Final = 60


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (0: the first after a loss).

    ``initial * 2**attempt``, at most ``maximum``: 0.5, 1, 2, 4, ... 30, 30 by default.
    """
    return min(maximum, initial * 2.0 ** min(attempt, _MAX_DOUBLINGS))


def subscribe_message(config: WebSocketConfig, request_id: int) -> str:
    """The subscribe request: ``{"method": ..., "params": [...], "id": request_id}``."""
    payload = {"method": config.subscribe_method, "params": config.streams(), "id": request_id}
    return msgspec.json.encode(payload).decode()


class WebSocketFeed(DedupedTradeFeed):
    """Streams the trades of one WebSocket endpoint as ``Tick`` until cancelled.

    Parameters
    ----------
    config : WebSocketConfig
    name : str
        The feed's label in metrics and logs.
    status : FeedStatus
        Where connection state and message counts go.
    rejections : Rejections
        Counts and logs bad messages (policy ``skip``).
    log : logging.Logger
    sleep : callable, optional
        The backoff wait (tests pass a recorder).
    """

    def __init__(
        self,
        config: WebSocketConfig,
        name: str,
        status: FeedStatus,
        rejections: Rejections,
        log: logging.Logger,
        *,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        super().__init__(config.symbols, name, status, rejections, log, sleep=sleep)
        self._config = config
        self._subscriptions = 0

    async def run(self, emit: Emit) -> None:
        """Connect, stream, and reconnect with backoff, until cancelled."""
        config = self._config
        attempt = 0
        while True:
            if await self._session(emit):
                attempt = 0
            delay = backoff_delay(
                attempt, config.reconnect_initial_seconds, config.reconnect_max_seconds
            )
            attempt += 1
            self._log.warning("feed %s: reconnecting in %.3gs", self.name, delay)
            await self._sleep(delay)

    async def _session(self, emit: Emit) -> bool:
        """One connection from open to close; whether it brought a trade."""
        config = self._config
        try:
            connection = await connect(
                config.url,
                open_timeout=config.connect_timeout_seconds,
                ping_interval=config.ping_interval_seconds,
                ping_timeout=config.ping_interval_seconds,
                close_timeout=_CLOSE_TIMEOUT_SECONDS,
            )
        except (OSError, TimeoutError, WebSocketException) as exc:
            self._log.warning("feed %s: cannot connect to %s: %s", self.name, config.url, exc)
            return False
        self.status.opened()
        self._dedup.begin_connection()
        self._traded = False
        self._log.info("feed %s: connected to %s", self.name, config.url)
        try:
            return await self._stream(connection, emit)
        except ConnectionClosed as exc:
            self._log.warning("feed %s: connection lost: %s", self.name, exc)
            return self._traded
        finally:
            self.status.closed()
            with anyio.CancelScope(shield=True):
                await connection.close()

    async def _stream(self, connection: ClientConnection, emit: Emit) -> bool:
        config, status = self._config, self.status
        if config.subscribe:
            self._subscriptions += 1
            await connection.send(subscribe_message(config, self._subscriptions))
        while True:
            raw: str | bytes | None = None
            # Only the wait is timed: emit runs the pipeline and must never be cut short.
            with anyio.move_on_after(config.stale_after_seconds):
                raw = await connection.recv()
            if raw is None:
                self._log.warning(
                    "feed %s: no message for %gs; the connection is stale, reconnecting",
                    self.name,
                    config.stale_after_seconds,
                )
                return self._traded
            status.received()
            tick = self._on_message(raw)
            if tick is not None:
                await emit(tick)

    def _on_message(self, raw: str | bytes) -> Tick | None:
        """The tick a message makes, if any; everything else is counted and logged."""
        parsed = parse_message(raw)
        if isinstance(parsed, Trade):
            self._traded = True
            verdict = self._dedup.admit(
                parsed.symbol, parsed.ts, parsed.price, parsed.size, parsed.trade_id
            )
            if verdict is Verdict.NEW:
                return Tick(
                    ts=parsed.ts, symbol=parsed.symbol, price=parsed.price, size=parsed.size
                )
            if verdict is Verdict.DUPLICATE:
                self.status.duplicate()
                return None
            problem = f"trade time {format_ns(parsed.ts)} is before one already delivered"
            self._reject(OUT_OF_ORDER, f"{parsed.symbol} {problem}")
        elif isinstance(parsed, tuple):
            self._reject(*parsed)
        elif isinstance(parsed, VenueError):
            self._log.error("feed %s: %s", self.name, parsed.text)
        return None

    def _reject(self, reason: str, problem: str) -> None:
        where = f"{self.name} message {self.status.messages}"
        self._rejections.reject(self.name, where, reason, problem)
