"""The venue's order-update websocket through ccxt.pro: order states and fills as they
happen, instead of at the next poll.

``watch_orders`` and ``watch_my_trades`` run side by side and what they return goes to
the adapter, which books it as it books a poll: each trade once (by venue trade id), an
order closed only once its fills are booked, an order already closed left alone. So a
duplicated or out-of-order report changes nothing. A stream that fails (closed by the
venue, a network error) or stays silent past ``stale_after_s`` is closed, counted,
resubscribed after a backoff, and what it missed meanwhile is reconciled over REST.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeAlias

import ccxt.async_support as ccxt
from prometheus_client import Gauge

from atrium.config.execution import CcxtVenueConfig
from atrium.runtime.errors import VenuePriceMissing, VenueStreamStale

__all__ = ("OrderStream", "StreamUpdates")

_log = logging.getLogger("atrium.execution.ccxt")
_MAX_BACKOFF_S: Final = 30.0

#: What a watch returned (``orders`` or ``trades`` and ccxt's unified dicts), or its error.
_Delivery: TypeAlias = tuple[str, list[dict[str, Any]]] | Exception
#: Takes what the stream delivered: ccxt's unified orders, then trades.
StreamUpdates: TypeAlias = Callable[[list[dict[str, Any]], list[dict[str, Any]]], Awaitable[None]]


class OrderStream:
    """Keeps the venue's order updates flowing into ``on_updates``, resubscribing and
    calling ``resync`` (a REST reconciliation) after every gap."""

    def __init__(
        self,
        exchange: Any,
        settings: CcxtVenueConfig,
        *,
        on_updates: StreamUpdates,
        resync: Callable[[], Awaitable[None]],
        count_error: Callable[[Exception, str | None], str],
        gauge: Gauge | None = None,
    ) -> None:
        self._exchange = exchange
        self._settings = settings
        self._on_updates = on_updates
        self._resync = resync
        self._count_error = count_error
        self._gauge = gauge
        #: True while subscribed and not stale: the REST poll then only checks.
        self.up = False
        self._up_since = 0.0
        self._resyncing = False

    async def run_forever(self) -> None:
        """Follow the stream; on a failure close it, back off, resubscribe, reconcile."""
        failures = 0
        while True:
            try:
                await self._follow(resync=failures > 0)
            except (ccxt.BaseError, VenueStreamStale, VenuePriceMissing) as exc:
                up_for = time.monotonic() - self._up_since
                if self._up_since and up_for >= self._settings.stale_after_s:
                    failures = 0  # it outlived a staleness window: back off from the start
                self._up_since = 0.0
                failures += 1
                from_stream = isinstance(exc, ccxt.BaseError) and not self._resyncing
                kind = self._count_error(exc, "websocket" if from_stream else None)
                self._resyncing = False
                await self._exchange.close_ws_clients()  # the next watch dials afresh
                delay = min(self._settings.poll_interval_s * 2 ** (failures - 1), _MAX_BACKOFF_S)
                _log.warning("order stream lost (%s): resubscribing in %.1f s", kind, delay)
                await asyncio.sleep(delay)

    async def _follow(self, *, resync: bool) -> None:
        """Subscribe, reconcile what a gap hid (after a failure), then hand over updates
        until the stream fails or goes stale (raised)."""
        queue: asyncio.Queue[_Delivery] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        started = heard = time.time()
        pumps = [
            loop.create_task(_pump(self._exchange.watch_orders, "orders", queue)),
            loop.create_task(_pump(self._exchange.watch_my_trades, "trades", queue)),
        ]
        try:
            if resync:  # subscribed (or subscribing) first, so nothing falls between
                self._resyncing = True
                await self._resync()
                self._resyncing = False
            while True:
                frame = self._last_frame()
                if frame >= started and not self.up:  # the venue answered: subscribed
                    self._set_up(True)
                heard = max(heard, frame)
                left = heard + self._settings.stale_after_s - time.time()
                if left <= 0:
                    raise VenueStreamStale(
                        f"order stream of {self._settings.exchange} silent for "
                        f"{self._settings.stale_after_s:g} s"
                    )
                if not self.up:  # look again soon for the subscription's answer
                    left = min(left, self._settings.poll_interval_s)
                try:
                    first = await asyncio.wait_for(queue.get(), left)
                except TimeoutError:
                    continue
                heard = time.time()
                got: dict[str, list[dict[str, Any]]] = {"orders": [], "trades": []}
                for delivery in [first, *_drain(queue)]:  # one report's order and trade together
                    if isinstance(delivery, BaseException):
                        raise delivery
                    got[delivery[0]].extend(delivery[1])
                await self._on_updates(got["orders"], got["trades"])
        finally:
            self._set_up(False)
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)

    def _last_frame(self) -> float:
        """When a frame (a report or a pong) last arrived on any of ccxt's sockets."""
        clients = (self._exchange.clients or {}).values()
        times = [getattr(client, "last_message_at", None) for client in clients]
        return max((t / 1000 for t in times if t is not None), default=0.0)

    def _set_up(self, up: bool) -> None:
        self.up = up
        self._up_since = time.monotonic() if up else self._up_since
        if self._gauge is not None:
            self._gauge.set(1 if up else 0)


async def _pump(
    watch: Callable[[], Awaitable[list[Any]]], kind: str, queue: asyncio.Queue[_Delivery]
) -> None:
    """Call ``watch`` again as soon as it returns, with no await between: an update that
    arrives while nobody waits would wait in ccxt's cache for the next one."""
    try:
        while True:
            queue.put_nowait((kind, list(await watch())))
    except Exception as exc:  # the stream's failure, raised where it is followed
        queue.put_nowait(exc)


def _drain(queue: asyncio.Queue[_Delivery]) -> list[_Delivery]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
