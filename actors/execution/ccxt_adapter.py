"""A live venue through ccxt: one adapter for the exchanges ccxt supports.

Orders go out with ``clientOrderId`` = the journal's ``order_id`` (deterministic: the
portfolio numbers orders from the journal), so a resend after a crash is the same order
to the venue, which refuses it as a duplicate; the adapter then fetches the order by that
id instead of placing it again. Order state is driven by the venue: every
``poll_interval_s`` the adapter fetches the account's trades (booked once each, by trade
id) and the status of each order it tracks, and reports what changed as venue events.
With ``order_updates = "websocket"`` the venue's order stream
(:mod:`~atrium.actors.execution.ccxt_stream`) drives them as they happen, booked the same
way, and the poll becomes a check every ``check_interval_s`` (``poll_interval_s`` while
the stream is down).

Two views of the tracked orders
    What the adapter has *found* (``_tracked``: acknowledged, trade ids booked, closed)
    changes when a poll, the order stream or a reconciliation finds it, so the next poll
    does not report it again. What has been *applied* (``_applied``) changes only where
    the execution actor applies the report (:meth:`CcxtVenue.replay`, called for every
    report it applies: journaled in one process, taken back from the stream in a
    cluster's core) and where it hands over an order or a cancel. The applied view is
    therefore a function of the inputs handled so far, like the book, and it is what a
    snapshot holds: a report found and not yet applied when the snapshot was taken is
    either stored after the snapshot's point (the restart applies it from the tail) or
    lost with the process (the restart's reconciliation finds it again, since the
    snapshot does not count it as booked). Snapshotting the found view instead would hold
    a trade the book lacks, and the restart would never book it. While the adapter is
    quiet (recovery, a rebuild) it finds nothing, so :meth:`CcxtVenue.go_live` starts
    the found view from the applied one.

Reason codes of the events it produces
    REJECTED ``VENUE_REJECTED: error=... detail=...``: the exchange refused the order.
    REJECTED ``ACK_TIMEOUT: seconds=...``: the venue still did not know the order after
    ``ack_timeout_s``; it was never placed.
    REJECTED ``UNSUPPORTED_ORDER: order_type=... time_in_force=...``: the venue cannot
    take it as asked.
    CANCELLED ``VENUE_CANCELLED``: cancelled at the venue, not by us.
    EXPIRED ``VENUE_EXPIRED``: the venue expired it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Final, TypeAlias, TypeVar

import ccxt.async_support as ccxt
from prometheus_client import CollectorRegistry, Counter, Gauge

from atrium.actors.execution.adapter import (
    VENUE_ERROR_KINDS,
    EventSink,
    OrderStatusReport,
    VenueAccepted,
    VenueBalances,
    VenueCancelled,
    VenueConnectionChanged,
    VenueEvent,
    VenueExpired,
    VenueFilled,
    VenueInstrument,
    VenueRejected,
)
from atrium.actors.execution.ccxt_session import (
    commission,
    dec,
    error_kind,
    make_exchange,
    optional,
    step,
)
from atrium.actors.execution.ccxt_stream import OrderStream
from atrium.config.execution import CcxtVenueConfig, ExecutionConfig
from atrium.runtime.errors import VenuePriceMissing, VenueUnreachable
from atrium.runtime.messages import Order, VenueHolding
from atrium.runtime.metrics import counter, gauge

__all__ = ("CcxtVenue", "RunInput", "client_order_id", "error_kind")

_log = logging.getLogger("atrium.execution.ccxt")
_ZERO: Final = Decimal(0)
_TIF: Final = {"GTC": "GTC", "IOC": "IOC"}
_DOWN_AFTER: Final = 3
_MAX_BACKOFF_S: Final = 30.0


_T = TypeVar("_T")

#: Runs a sync callback as one dispatcher input (see ``ExecutionActor.run_input``).
RunInput: TypeAlias = Callable[[Callable[[], None]], Awaitable[None]]
#: Takes a batch of venue events and where they come from (``poll``, ``reconciliation``).
ReportSink: TypeAlias = Callable[[list[VenueEvent], str], None]
#: Why reconciliation closed an order the journal had open and the venue does not know.
NOT_AT_VENUE: Final = "RECONCILED_NOT_AT_VENUE"


def client_order_id(order_id: str) -> str:
    """The venue's id of an order: the journal's id, so a resend is recognised."""
    return order_id


class _Tracked:
    """What the adapter knows of one of our orders at the venue."""

    __slots__ = ("acked", "booked", "cancel_reason", "order", "sent_at", "trade_ids", "venue_id")

    def __init__(self, order: Order, sent_at: float) -> None:
        self.order = order
        self.sent_at = sent_at
        self.venue_id: str | None = None
        self.acked = False
        self.booked = _ZERO
        self.cancel_reason = ""
        #: Venue trade ids booked for this order: they go when it closes, so what is kept
        #: is bounded by the open orders (a trade of a closed order is never booked).
        self.trade_ids: set[str] = set()


def _copy(tracked: _Tracked) -> _Tracked:
    """Another record of the same order, as far as the reports went (no venue id: a
    report does not carry it, and the reconciliation fetches it again)."""
    twin = _Tracked(tracked.order, tracked.sent_at)
    twin.acked, twin.booked = tracked.acked, tracked.booked
    twin.cancel_reason, twin.trade_ids = tracked.cancel_reason, set(tracked.trade_ids)
    return twin


def _follow(table: dict[str, _Tracked], event: VenueEvent) -> None:
    """Note in ``table`` what one applied report says of one of its orders."""
    order_id: str = getattr(event, "order_id", "")
    tracked = table.get(order_id)
    if tracked is None:
        return
    if isinstance(event, VenueAccepted):
        tracked.acked = True
    elif isinstance(event, VenueFilled):
        tracked.acked = True
        if event.venue_fill_id in tracked.trade_ids:
            return
        tracked.trade_ids.add(event.venue_fill_id)
        tracked.booked += event.quantity
        if tracked.booked == tracked.order.quantity:
            del table[order_id]
    else:
        del table[order_id]


class CcxtVenue:
    """:class:`~atrium.actors.execution.adapter.VenueAdapter` over ``ccxt.async_support``."""

    def __init__(self, config: ExecutionConfig, sink: EventSink) -> None:
        if config.ccxt is None:
            raise ValueError("ccxt: venue = 'ccxt' needs an [execution.ccxt] table")
        self._settings: CcxtVenueConfig = config.ccxt
        self._sink = sink
        self._run_input: RunInput | None = None
        self._exchange: Any = None
        #: Our orders as found at the venue: what the next poll must not report again.
        self._tracked: dict[str, _Tracked] = {}
        #: Our orders as the reports applied so far say: what a snapshot holds.
        self._applied: dict[str, _Tracked] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._markets: dict[str, Any] = {}
        self._poller: asyncio.Task[None] | None = None
        self._stream: OrderStream | None = None
        self._streamer: asyncio.Task[None] | None = None
        self._stream_gauge: Gauge | None = None
        #: One sync (a poll, a reconciliation, a stream update) books at a time, so a
        #: trade is never booked twice nor an order closed before its fills are.
        self._lock = asyncio.Lock()
        #: Errors seen, by kind (see :func:`error_kind`); also ``atrium_venue_errors_total``.
        self.errors: dict[str, int] = {}
        self._error_counter: Counter | None = None
        self._report: ReportSink | None = None
        #: What connect found, held until :meth:`go_live` so the journal records it.
        self._held: list[VenueEvent] = []
        #: False while recovery re-runs the journal: orders are tracked, never sent.
        self._live = True

    def bind_input(
        self,
        run_input: RunInput,
        registry: CollectorRegistry | None = None,
        report: ReportSink | None = None,
    ) -> None:
        """Events found by the adapter's own tasks enter the dispatcher through this;
        errors are counted on ``registry``. With ``report`` (the journaling actor) the
        session stays quiet until :meth:`go_live`, so recovery can re-run first."""
        self._run_input = run_input
        if report is not None:
            self._report = report
            self._live = False
        if registry is not None:
            self._error_counter = counter(
                registry, "atrium_venue_errors", "Errors from the venue, by kind.", ["kind"]
            )
            for kind in VENUE_ERROR_KINDS:
                self._error_counter.labels(kind=kind)
            if self._settings.order_updates == "websocket":
                self._stream_gauge = gauge(
                    registry,
                    "atrium_venue_stream_connected",
                    "0 while the venue's websocket order stream is configured and not "
                    "subscribed, else 1.",
                )
                self._stream_gauge.set(0)  # until the venue answers on it

    # -- session -------------------------------------------------------------------------

    async def connect(self) -> None:
        self._exchange = make_exchange(self._settings)
        events: list[VenueEvent] = [
            VenueConnectionChanged(connected=True, detail=self._settings.exchange)
        ]
        try:
            self._markets = await self._at_start("loading markets", self._exchange.load_markets)
            events.extend(self._instrument(symbol) for symbol in self._settings.symbols)
        except BaseException:
            await self.close()
            raise
        if not self._live:  # journaled at go_live: the journal is not attached yet
            self._held = events
            return
        self._start_tasks()
        await self._emit(events)

    async def go_live(self) -> None:
        """After recovery: journal the session and instrument rules connect found,
        reconcile what the journal holds with the venue, then trade."""
        # Quiet until now, it found nothing: what it found is what was applied.
        self._tracked = {order_id: _copy(t) for order_id, t in self._applied.items()}
        held, self._held = self._held, []
        if held:
            await self._emit(held)
        await self._at_start("reconciliation", self.reconcile_with_venue)
        self._live = True
        self._start_tasks()

    def _start_tasks(self) -> None:
        """The poll, and the order stream when order updates come by websocket (once:
        an adapter used without a journal is live from ``connect``)."""
        if self._poller is not None:
            return
        loop = asyncio.get_running_loop()
        self._poller = loop.create_task(self._poll_forever())
        if self._settings.order_updates == "websocket":
            self._stream = OrderStream(
                self._exchange,
                self._settings,
                on_updates=self._on_stream,
                resync=self.reconcile_with_venue,
                count_error=self._count_error,
                gauge=self._stream_gauge,
            )
            self._streamer = loop.create_task(self._stream.run_forever())

    async def _at_start(self, what: str, step: Callable[[], Awaitable[_T]]) -> _T:
        """Run a start-up step, retrying while the venue is unreachable (network errors,
        timeouts, 429/418, 5xx), backing off up to ``start_retry_s``: a venue down for a
        minute must not end the start. Any other error ends it at once."""
        deadline = time.monotonic() + self._settings.start_retry_s
        delay = self._settings.poll_interval_s
        while True:
            try:
                return await step()
            except ccxt.OperationFailed as exc:
                kind = self._count_error(exc)
                if time.monotonic() + delay > deadline:
                    raise VenueUnreachable(
                        f"venue {self._settings.exchange} unreachable at start ({what}: {kind}, "
                        f"{type(exc).__name__}) for [execution.ccxt].start_retry_s = "
                        f"{self._settings.start_retry_s:g} s; check the venue and start again"
                    ) from exc
                _log.warning(
                    "venue unreachable at start (%s: %s): retrying in %.1f s", what, kind, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF_S)

    def replay(self, event: VenueEvent) -> None:
        """Follow a report the execution actor applies (nothing goes to the venue): one
        re-run by recovery or a rebuild, or one this session found, applied now.

        Only the applied view changes: the found view had it when it was found, and
        while quiet :meth:`go_live` copies the applied view over it.
        """
        _follow(self._applied, event)

    def snapshot_state(self) -> dict[str, Any]:
        """The orders as the applied reports left them (see the module's docstring for
        why not as found): order, acknowledged, quantity and trade ids booked, and the
        reason of a cancel asked for. The venue's ids are fetched again on reconciling."""
        return {
            "orders": [
                {
                    "order": t.order,
                    "acked": t.acked,
                    "booked": t.booked,
                    "cancel_reason": t.cancel_reason,
                    "trade_ids": sorted(t.trade_ids),
                }
                for t in self._applied.values()
            ]
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        """Back to a snapshot's applied view (before recovery or a rebuild re-runs the
        reports after it); the found view follows at :meth:`go_live`."""
        now = time.monotonic()
        self._applied = {}
        for row in state["orders"]:
            tracked = _Tracked(row["order"], now)
            tracked.acked, tracked.booked = row["acked"], row["booked"]
            tracked.cancel_reason, tracked.trade_ids = row["cancel_reason"], set(row["trade_ids"])
            self._applied[tracked.order.order_id] = tracked
        self._tracked = {order_id: _copy(t) for order_id, t in self._applied.items()}

    def _instrument(self, symbol: str) -> VenueInstrument:
        """The venue's rules for ``symbol`` from ccxt's market (precision and limits)."""
        try:  # a unified symbol ("BTC/USDT") or the exchange's own id ("BTCUSDT")
            market = self._exchange.market(symbol)
        except ccxt.BadSymbol:
            raise ValueError(
                f"execution.ccxt.symbols: {symbol!r} is not a market of {self._settings.exchange}"
            ) from None
        precision, limits = market["precision"], market["limits"]
        return VenueInstrument(
            symbol=symbol,
            quantity_step=step(precision.get("amount"), self._exchange.precisionMode),
            min_quantity=optional(limits["amount"].get("min")),
            price_tick=step(precision.get("price"), self._exchange.precisionMode),
            min_notional=optional(limits["cost"].get("min")),
        )

    async def reconnect(self) -> None:
        await self.close()
        await self.connect()

    async def close(self) -> None:
        for task in (self._poller, self._streamer):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._poller = self._streamer = self._stream = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._exchange is not None:
            await self._exchange.close()
            self._exchange = None

    @property
    def kept_trade_ids(self) -> int:
        """Venue trade ids held to book each trade once: those of open orders only."""
        return sum(len(t.trade_ids) for t in self._tracked.values())

    @property
    def markets(self) -> dict[str, Any]:
        """ccxt's unified markets as loaded at connect (precision and limits)."""
        return self._markets

    # -- requests ------------------------------------------------------------------------

    def submit(self, order: Order) -> None:
        now = time.monotonic()
        self._tracked[order.order_id] = _Tracked(order, now)
        self._applied[order.order_id] = _Tracked(order, now)
        if self._live:  # re-run: sent before the restart, or settled by reconciliation
            self._spawn(self._place(order))

    def cancel(self, order_id: str, reason: str) -> None:
        if (applied := self._applied.get(order_id)) is not None:
            applied.cancel_reason = reason
        if self._live:
            self._spawn(self._cancel(order_id, reason))
        elif (tracked := self._tracked.get(order_id)) is not None:
            tracked.cancel_reason = reason

    def order_status(self) -> list[OrderStatusReport]:
        """Tracked orders the venue acknowledged, with the fills booked so far."""
        return [
            OrderStatusReport(
                order_id=t.order.order_id,
                symbol=t.order.symbol,
                side=t.order.side,
                quantity=t.order.quantity,
                filled_quantity=t.booked,
                remaining_quantity=t.order.quantity - t.booked,
                status="PARTIALLY_FILLED" if t.booked else "ACCEPTED",
            )
            for t in self._tracked.values()
            if t.acked
        ]

    async def _place(self, order: Order) -> None:
        tif = _TIF.get(order.time_in_force)
        if order.order_type not in ("MARKET", "LIMIT") or tif is None:
            reason = (
                f"UNSUPPORTED_ORDER: order_type={order.order_type} "
                f"time_in_force={order.time_in_force}"
            )
            await self._emit([VenueRejected(order_id=order.order_id, reason=reason)], order)
            return
        params = {"newClientOrderId": client_order_id(order.order_id)}
        if order.order_type == "LIMIT":
            params["timeInForce"] = tif
        try:
            raw = await self._exchange.create_order(
                order.symbol,
                order.order_type.lower(),
                order.side.lower(),
                float(order.quantity),
                None if order.limit_price is None else float(order.limit_price),
                params,
            )
        except ccxt.InvalidOrder as exc:
            if "Duplicate order" in str(exc):  # the order we sent before the restart
                await self._sync_order(order.order_id)
            else:
                await self._reject(order, exc)
            return
        except ccxt.OperationFailed as exc:  # network, 429/418, 5xx: outcome unknown
            self._count_error(exc)  # the poll finds out, and resends if it never arrived
            return
        except ccxt.ExchangeError as exc:
            await self._reject(order, exc)
            return
        await self._acknowledge(order.order_id, str(raw["id"]))

    async def _reject(self, order: Order, exc: Exception) -> None:
        reason = f"VENUE_REJECTED: error={type(exc).__name__} detail={str(exc)[-120:]!r}"
        await self._emit([VenueRejected(order_id=order.order_id, reason=reason)], order)

    async def _acknowledge(self, order_id: str, venue_id: str, source: str = "poll") -> None:
        tracked = self._tracked.get(order_id)
        if tracked is None:
            return
        tracked.venue_id = venue_id
        if tracked.acked:
            return
        tracked.acked = True
        await self._emit([VenueAccepted(order_id=order_id)], source=source)

    async def _cancel(self, order_id: str, reason: str) -> None:
        tracked = self._tracked.get(order_id)
        if tracked is None:
            return
        tracked.cancel_reason = reason
        try:
            await self._exchange.cancel_order(
                None, tracked.order.symbol, {"origClientOrderId": client_order_id(order_id)}
            )
        except ccxt.OrderNotFound:
            return  # filled first, or never placed: the poll reports what it was
        except ccxt.BaseError as exc:
            self._count_error(exc)
            return
        async with self._lock:
            await self._sync_fills(tracked.order.symbol)
            await self._sync_order(order_id)  # closes it once every fill before it is booked

    # -- polling -------------------------------------------------------------------------

    async def _poll_forever(self) -> None:
        """Poll, backing off on errors; past ``_DOWN_AFTER`` failures in a row the
        session counts as down, and the next good poll (a reconciliation) brings it up."""
        failures = 0
        while True:
            interval = self._settings.poll_interval_s
            if self._stream is not None and self._stream.up:
                interval = self._settings.check_interval_s
            await asyncio.sleep(min(interval * 2**failures, _MAX_BACKOFF_S))
            try:  # back from down: what changed meanwhile is booked as reconciliation
                if failures >= _DOWN_AFTER:
                    await self.reconcile_with_venue()
                else:
                    await self.poll_once()
            except (ccxt.BaseError, VenuePriceMissing) as exc:  # never ends the session
                failures += 1
                kind = self._count_error(exc)
                if failures == _DOWN_AFTER:
                    await self._emit([VenueConnectionChanged(connected=False, detail=kind)])
                continue
            if failures >= _DOWN_AFTER:
                await self._emit([VenueConnectionChanged(connected=True, detail="reconciled")])
            failures = 0

    def _count_error(self, exc: Exception, kind: str | None = None) -> str:
        kind = kind or error_kind(exc)
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if self._error_counter is not None:
            self._error_counter.labels(kind=kind).inc()
        _log.warning("venue error %s: %s", kind, type(exc).__name__)
        return kind

    async def poll_once(self) -> None:
        """Book new trades, then settle each tracked order's state with the venue's."""
        async with self._lock:
            for symbol in sorted({t.order.symbol for t in self._tracked.values()}):
                await self._sync_fills(symbol)
            for order_id in list(self._tracked):
                await self._sync_order(order_id)

    async def _on_stream(self, orders: list[dict[str, Any]], trades: list[dict[str, Any]]) -> None:
        """Book what the order stream delivered: acknowledgements first (they name the
        venue's ids of our orders), then trades, then order states."""
        async with self._lock:
            for raw in orders:
                tracked = self._tracked.get(str(raw.get("clientOrderId")))
                if tracked is not None:
                    await self._acknowledge(tracked.order.order_id, str(raw["id"]), "websocket")
            for symbol in sorted({str(trade["symbol"]) for trade in trades}):
                mine = [trade for trade in trades if trade["symbol"] == symbol]
                await self._book_trades(symbol, mine, "websocket")
            for raw in orders:
                await self._apply_order(str(raw.get("clientOrderId")), raw, "websocket")

    async def _sync_fills(self, symbol: str, source: str = "poll") -> None:
        if any(t.order.symbol == symbol and t.venue_id for t in self._tracked.values()):
            trades = await self._exchange.fetch_my_trades(symbol)
            await self._book_trades(symbol, trades, source)

    async def _book_trades(self, symbol: str, trades: list[dict[str, Any]], source: str) -> None:
        """Book each trade of one of our orders once, by venue trade id."""
        by_venue_id = {
            t.venue_id: t for t in self._tracked.values() if t.order.symbol == symbol and t.venue_id
        }
        events: list[VenueEvent] = []
        for trade in trades:
            tracked = by_venue_id.get(str(trade["order"]))
            trade_id = f"{symbol}:{trade['id']}"
            if tracked is None or trade_id in tracked.trade_ids:
                continue  # not ours, of an order closed since, or booked already
            fill = await self._fill(tracked, trade, trade_id)  # may raise: nothing booked yet
            tracked.trade_ids.add(trade_id)
            tracked.booked += fill.quantity
            events.append(fill)
            if tracked.booked == tracked.order.quantity:
                del self._tracked[tracked.order.order_id]
        if events:
            await self._emit(events, source=source)

    async def _fill(self, tracked: _Tracked, trade: dict[str, Any], trade_id: str) -> VenueFilled:
        """One venue trade as a fill; a fee in a third currency is valued at the venue's
        last price of that currency, or kept apart as unvalued when it quotes none."""
        quantity, price = dec(trade["amount"]), dec(trade["price"])
        market = self._exchange.market(tracked.order.symbol)
        fee = trade.get("fee") or {}
        value, unvalued = commission(trade, price, market), None
        third = "" if value is not None else str(fee["currency"])
        if value is None:
            rate = await self._fee_rate(str(fee["currency"]), market["quote"])
            if rate is None:
                value, unvalued = _ZERO, dec(fee.get("cost"))
            else:
                value = dec(fee.get("cost")) * rate
        return VenueFilled(
            order_id=tracked.order.order_id,
            quantity=quantity,
            price=price,
            commission=value,
            venue_fill_id=trade_id,
            fee_currency=third,
            unvalued_fee=unvalued,
        )

    async def _fee_rate(self, currency: str, quote: str) -> Decimal | None:
        """The venue's last price of ``currency`` in ``quote`` (None: it has no such market)."""
        symbol = f"{currency}/{quote}"
        if symbol not in self._markets:
            return None
        ticker = await self._exchange.fetch_ticker(symbol)
        return optional(ticker.get("last"))

    async def _sync_order(self, order_id: str, source: str = "poll") -> None:
        tracked = self._tracked.get(order_id)
        if tracked is None:
            return
        try:
            raw = await self._exchange.fetch_order(
                None, tracked.order.symbol, {"origClientOrderId": client_order_id(order_id)}
            )
        except ccxt.OrderNotFound:
            await self._not_at_venue(tracked, source)
            return
        await self._apply_order(order_id, raw, source)

    async def _apply_order(self, order_id: str, raw: dict[str, Any], source: str) -> None:
        """Take the venue's state of one of our orders (fetched, or from the stream): a
        closed order closes here once all its fills are booked; anything else, or an
        order closed already (a late or repeated report), changes nothing."""
        tracked = self._tracked.get(order_id)
        if tracked is None:
            return
        await self._acknowledge(order_id, str(raw["id"]), source)
        if dec(raw.get("filled")) != tracked.booked:
            return  # trades not all seen yet: the next poll books them first
        status = raw.get("status")
        event: VenueEvent
        if status == "canceled":
            reason = tracked.cancel_reason or "VENUE_CANCELLED"
            event = VenueCancelled(order_id=order_id, reason=reason)
        elif status == "expired":
            event = VenueExpired(order_id=order_id, reason="VENUE_EXPIRED")
        elif status == "rejected":
            event = VenueRejected(order_id=order_id, reason="VENUE_REJECTED")
        else:
            return
        await self._close(order_id, event, source)

    async def _not_at_venue(self, tracked: _Tracked, source: str = "poll") -> None:
        """An order the venue does not know: resend it (the client id makes that safe)
        until ``ack_timeout_s``, then reject it as never placed. At reconciliation an
        order the venue had acknowledged and no longer knows is closed as cancelled."""
        order_id = tracked.order.order_id
        if tracked.acked:
            if source == "reconciliation":
                event = VenueCancelled(order_id=order_id, reason=NOT_AT_VENUE)
                await self._close(order_id, event, source)
            return
        if time.monotonic() - tracked.sent_at >= self._settings.ack_timeout_s:
            reason = f"ACK_TIMEOUT: seconds={self._settings.ack_timeout_s:g}"
            await self._close(order_id, VenueRejected(order_id=order_id, reason=reason), source)
        else:
            await self._place(tracked.order)

    async def _close(self, order_id: str, event: VenueEvent, source: str = "poll") -> None:
        if self._tracked.pop(order_id, None) is not None:
            await self._emit([event], source=source)

    async def reconcile_with_venue(self) -> None:
        """Bring the journal's open orders to the venue's truth, as ``reconciliation``
        events: unknown acknowledgements, fills the journal lacks (once each, by trade
        id), and orders closed meanwhile or unknown to the venue."""
        async with self._lock:
            await self._reconcile()

    async def _reconcile(self) -> None:
        for tracked in list(self._tracked.values()):
            if not tracked.acked:  # age it by the journal's time: an old order times out
                age_s = max(time.time() - tracked.order.ts / 1e9, 0.0)
                tracked.sent_at = time.monotonic() - age_s
            await self._fetch_venue_id(tracked)
        for symbol in sorted({t.order.symbol for t in self._tracked.values()}):
            await self._sync_fills(symbol, "reconciliation")
        for order_id in list(self._tracked):
            await self._sync_order(order_id, "reconciliation")
        if self._settings.symbols:  # they name the account currency and the assets
            await self._emit([await self.balances()], source="reconciliation")

    async def balances(self) -> VenueBalances:
        """The account's total balances (free and locked) of the quote currency and of
        each traded symbol's base asset, the base valued at the venue's last price."""
        markets = [self._exchange.market(symbol) for symbol in self._settings.symbols]
        quotes = sorted({market["quote"] for market in markets})
        if len(quotes) != 1:
            raise ValueError(
                f"execution.ccxt.symbols: the portfolio keeps cash in one currency, but these "
                f"symbols are quoted in {', '.join(quotes) or 'none'}; trade one quote currency"
            )
        raw = await self._exchange.fetch_balance()
        totals: dict[str, Any] = raw.get("total") or {}
        holdings = []
        for symbol, market in zip(self._settings.symbols, markets, strict=True):
            quantity = dec(totals.get(market["base"]))
            price = await self._last_price(market["symbol"]) if quantity else None
            holdings.append(
                VenueHolding(symbol=symbol, asset=market["base"], quantity=quantity, price=price)
            )
        cash = dec(totals.get(quotes[0]))
        return VenueBalances(currency=quotes[0], cash=cash, holdings=tuple(holdings))

    async def _last_price(self, symbol: str) -> Decimal:
        ticker = await self._exchange.fetch_ticker(symbol)
        price = optional(ticker.get("last"))
        if price is None or price <= _ZERO:
            raise VenuePriceMissing(
                f"venue {self._settings.exchange} quotes no last price for {symbol} "
                f"(got {ticker.get('last')!r}); its balance cannot be valued"
            )
        return price

    async def _fetch_venue_id(self, tracked: _Tracked) -> None:
        try:
            raw = await self._exchange.fetch_order(
                None, tracked.order.symbol, {"origClientOrderId": tracked.order.order_id}
            )
        except ccxt.OrderNotFound:
            return  # settled by _sync_order
        await self._acknowledge(tracked.order.order_id, str(raw["id"]), "reconciliation")
        tracked.venue_id = str(raw["id"])

    # -- plumbing ------------------------------------------------------------------------

    async def _emit(
        self, events: list[VenueEvent], forget: Order | None = None, source: str = "poll"
    ) -> None:
        """Hand events to the actor as one input (or at once before it is bound)."""
        if forget is not None:
            self._tracked.pop(forget.order_id, None)

        def apply() -> None:
            if self._report is not None:
                self._report(events, source)
                return
            for event in events:  # applied at once: the applied view follows
                self.replay(event)
                self._sink(event)

        if self._run_input is None:
            apply()
        else:
            await self._run_input(apply)

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
