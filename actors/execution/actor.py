"""The execution actor: owns approved orders, drives a venue, publishes their lifecycle.

Wiring only. The order state machine lives in :mod:`atrium.actors.execution.orders`, the fill
rules in :mod:`atrium.actors.execution.paper`; this module turns messages into venue calls and
venue events into ``Fill``/``OrderUpdate`` messages, in the order the venue reports them.

Only what someone acts on is published, so a filled market order costs one ``Fill``:
``OrderUpdate(ACCEPTED)`` for an order that rests at the venue (limit, stop: a strategy
may cancel it), ``Fill`` for every execution (``leaves_quantity`` 0 once the order is
filled), and ``REJECTED``/``CANCELLED``/``EXPIRED`` when an order ends unfilled or part
filled (the portfolio releases what it had reserved). SUBMITTED, PARTIALLY_FILLED and
FILLED are states of the book (``/api/orders``, the ``atrium_orders_total`` counter), not
messages. Fill ids are ``f"{order_id}-{n}"`` with ``n`` counting that order's fills
from 1. A live venue's rules per symbol, reported on connect, go out as ``InstrumentRules``
(risk denies what would break them), and its balances, read at each reconciliation, as
``AccountBalances`` (the portfolio takes its cash and unattributed holdings from them).

Reason codes (``OrderUpdate.reason`` reads ``CODE`` or ``CODE: key=value ...``)
    REJECTED ``TRADING_HALTED``: the order arrived after execution saw a halt (``Control``
    halt or ``TradingStateChanged`` to HALTED) and before a resume.
    REJECTED ``VENUE_DOWN_REDUCE_ONLY``: the live venue's session is down, execution has
    ``[execution.ccxt].on_disconnect = "reduce_only"`` and the order would not reduce a
    position (``Order.reduces_position`` false); lifted when the session is back.
    REJECTED ``QUANTITY_NOT_LOT_MULTIPLE``, ``PRICE_NOT_ON_INCREMENT``,
    ``INVALID_PRICE_FIELDS``: refused by the paper venue (see :mod:`~.paper`).
    CANCELLED ``CANCEL_REQUESTED``: a ``CancelOrder`` from the order's own strategy.
    CANCELLED ``HALTED``: every open order is cancelled on a halt.
    CANCELLED ``FLATTEN``: every open order is cancelled on ``Control`` flatten.
    CANCELLED ``IOC_REMAINDER``: an IOC order's unfilled rest after its one opportunity.
    EXPIRED ``DAY_EXPIRED``: a DAY order outlived its UTC day.

Requests ignored without a state change (nothing published; logged and counted in
``atrium_execution_ignored_requests_total{reason}``)
    ``UNKNOWN_ORDER``: a ``CancelOrder`` for an order id execution never saw.
    ``ORDER_NOT_OPEN``: a ``CancelOrder`` for an order already filled, rejected, cancelled
    or expired (a REJECTED update for it would tell the portfolio the wrong story).
    ``STRATEGY_MISMATCH``: a ``CancelOrder`` whose ``strategy`` is not the order's.
    ``DUPLICATE_ORDER_ID``: an ``Order`` whose id execution already has: redelivery must
    never trade twice.

Metrics (on ``context.registry``)
    ``atrium_orders_total{status}`` transitions published, by new status;
    ``atrium_fills_total``; ``atrium_fill_notional_total`` (sum of quantity x price x multiplier,
    account currency); ``atrium_fill_commission_total`` (account currency);
    ``atrium_open_orders`` (gauge); ``atrium_venue_connected`` (gauge, 1 or 0); ``atrium_venue_stream_connected`` (gauge, 0
    while a websocket order stream is down, else 1);
    ``atrium_venue_errors_total{kind}`` (a live venue's errors, see ``VENUE_ERROR_KINDS``);
    ``atrium_execution_ignored_requests_total{reason}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, assert_never, get_args

import msgspec

from atrium.actors.execution.adapter import (
    VENUE_ERROR_KINDS,
    ReconcilingVenue,
    SimulatedVenue,
    VenueAccepted,
    VenueAdapter,
    VenueBalances,
    VenueCancelled,
    VenueConnectionChanged,
    VenueEvent,
    VenueExpired,
    VenueFilled,
    VenueInstrument,
    VenueRejected,
    decode_events,
    encode_events,
)
from atrium.actors.execution.orders import OrderBook, OrderState
from atrium.actors.execution.paper import PaperVenue
from atrium.config.execution import ExecutionConfig
from atrium.runtime.actor import Actor, ActorContext, receives
from atrium.runtime.capabilities import OPEN_ORDERS, RECONCILER, VENUE_INPUT, VENUE_SESSION
from atrium.runtime.clocks import LiveClock
from atrium.runtime.errors import SnapshotError
from atrium.runtime.loading import load_object
from atrium.runtime.messages import (
    AccountBalances,
    Bar,
    CancelOrder,
    Control,
    Fill,
    InstrumentRules,
    Order,
    OrderStatus,
    OrderUpdate,
    Tick,
    TradingStateChanged,
    VenueReport,
)
from atrium.runtime.metrics import counter, gauge

__all__ = ("ADJUSTMENT_KINDS", "IGNORED_REASONS", "ExecutionActor")

#: What a reconciliation changed, the labels of ``atrium_reconciliation_adjustments_total``.
ADJUSTMENT_KINDS: Final = {
    "VenueAccepted": "order_acknowledged",
    "VenueFilled": "fill_booked",
    "VenueCancelled": "order_closed",
    "VenueExpired": "order_closed",
    "VenueRejected": "order_closed",
}

#: Why a request was ignored; the label values of the ignored-requests counter.
IGNORED_REASONS: Final = (
    "UNKNOWN_ORDER",
    "ORDER_NOT_OPEN",
    "STRATEGY_MISMATCH",
    "DUPLICATE_ORDER_ID",
)


def _ignore_market_data(_message: Bar | Tick) -> None:
    """A live venue matches on its own; it does not need our bars."""


_STREAM_CONNECTED_HELP: Final = (
    "0 while the venue's websocket order stream is configured and not subscribed, else 1."
)


class ExecutionActor(Actor):
    """Owns orders after risk approved them and trades them on the configured venue.

    It is the venue of the dispatcher's market data rule: a bar reaches it, and the fills
    it causes are settled, before any other actor sees the bar.

    Parameters
    ----------
    context : ActorContext
        ``context.config`` must be the :class:`~config.execution.ExecutionConfig` section.
    """

    venue = True

    def __init__(self, context: ActorContext) -> None:
        super().__init__(context)
        config = context.config
        if not isinstance(config, ExecutionConfig):
            raise TypeError(
                f"execution actor needs an ExecutionConfig section, got {type(config).__name__}"
            )
        self._book = OrderBook()
        self._halted = False
        # Contract multipliers other than 1 ([instruments]): fill notional is money.
        self._multipliers = {
            s: spec.multiplier for s, spec in config.instruments.items() if spec.multiplier != 1
        }
        #: Down with on_disconnect = "reduce_only": only position-reducing orders pass.
        #: Set from journaled VenueReports, so recovery re-runs it to the same state.
        self._reduce_only = False
        self._init_metrics()
        self._venue = self._make_venue(config)
        on_bar: Callable[[Bar], None] = _ignore_market_data
        on_tick: Callable[[Tick], None] = _ignore_market_data
        if isinstance(self._venue, SimulatedVenue):
            on_bar, on_tick = self._venue.on_bar, self._venue.on_tick
        self._venue_on_bar = on_bar
        self._venue_on_tick = on_tick
        context.provide(OPEN_ORDERS, self)
        context.provide(RECONCILER, self)
        context.provide(VENUE_SESSION, self)
        #: The last reconciliation adjustments (kind, order id, detail), for /api/orders.
        self.adjustments: list[dict[str, str]] = []

    def _make_venue(self, config: ExecutionConfig) -> VenueAdapter:
        if config.venue == "paper":
            # On a LiveClock orders carry wall time, prints the venue's: see the paper rule.
            live = isinstance(self.clock, LiveClock)
            return PaperVenue(config, self._on_venue_event, live=live)
        if config.venue == "ccxt":
            try:  # ccxt is an optional extra: only a ccxt venue needs it
                from atrium.actors.execution.ccxt_adapter import CcxtVenue  # noqa: PLC0415
            except ModuleNotFoundError as exc:
                raise ValueError(
                    "execution.venue: 'ccxt' needs the ccxt package; "
                    "pip install 'atrium-trading[ccxt]'"
                ) from exc

            ccxt_venue = CcxtVenue(config, self._on_venue_event)
            ccxt_venue.bind_input(self.run_input, self.context.registry, self._report_venue)
            return ccxt_venue
        factory = load_object(config.venue, key="execution.venue")
        if not callable(factory):
            raise ValueError(f"execution.venue: {config.venue!r} is not callable")
        venue = factory(config, self._on_venue_event)
        if not isinstance(venue, VenueAdapter):
            raise ValueError(
                f"execution.venue: {config.venue!r} returned {type(venue).__name__}, which "
                f"lacks the VenueAdapter methods (connect, reconnect, close, submit, cancel, "
                f"order_status)"
            )
        return venue

    def _init_metrics(self) -> None:
        # Got-or-created: a new instance on the same registry reuses (and keeps) the counts.
        registry = self.context.registry
        orders = counter(
            registry, "atrium_orders", "Order state transitions at execution.", ["status"]
        )
        self._status_counters = {
            status: orders.labels(status=status) for status in get_args(OrderStatus)
        }
        self._fills = counter(registry, "atrium_fills", "Fills published by execution.")
        self._fill_notional = counter(
            registry,
            "atrium_fill_notional",
            "Sum of quantity times price over fills, in account currency.",
        )
        self._fill_commission = counter(
            registry, "atrium_fill_commission", "Commission paid over fills, in account currency."
        )
        # Read at scrape time from this instance's book (a restored state replaces it).
        gauge(registry, "atrium_open_orders", "Orders not yet closed.").set_function(
            lambda: len(self._book)
        )
        errors = counter(
            registry, "atrium_venue_errors", "Errors from the venue, by kind.", ["kind"]
        )
        for kind in VENUE_ERROR_KINDS:  # every kind at 0 from the start (paper: always 0)
            errors.labels(kind=kind)
        self._connected_gauge = gauge(
            registry, "atrium_venue_connected", "1 while the venue session is up, else 0."
        )
        # 1 unless a websocket order stream is configured and down: the ccxt adapter with
        # order_updates = "websocket" takes it over (the paper venue has no stream).
        gauge(registry, "atrium_venue_stream_connected", _STREAM_CONNECTED_HELP).set(1)
        ignored = counter(
            registry,
            "atrium_execution_ignored_requests",
            "Cancels and orders execution ignored without a state change, by reason.",
            ["reason"],
        )
        self._ignored = {reason: ignored.labels(reason=reason) for reason in IGNORED_REASONS}
        adjusted = counter(
            registry,
            "atrium_reconciliation_adjustments",
            "Changes reconciliation with a live venue made to the journal's book, by kind.",
            ["kind"],
        )
        self._adjusted = {kind: adjusted.labels(kind=kind) for kind in ADJUSTMENT_KINDS.values()}
        self._unvalued_fees = counter(
            registry,
            "atrium_unvalued_fees",
            "Fees charged in a third currency the venue gave no price for, in that currency "
            "(not in the commission booked).",
            ["currency"],
        )

    # -- lifecycle -----------------------------------------------------------------------

    async def on_start(self) -> None:
        await self._venue.connect()

    async def on_stop(self) -> None:
        await self._venue.close()

    async def go_live(self) -> None:
        """After recovery: a live venue reconciles with the journal's book, then trades."""
        if isinstance(self._venue, ReconcilingVenue):
            await self._venue.go_live()

    # -- recovery ------------------------------------------------------------------------

    def recovery_problem(self) -> str | None:
        """Why re-running the journal cannot rebuild this actor, if it cannot.

        Re-running re-submits every recorded order: right for the paper venue, which is
        rebuilt with it, wrong for a venue that would trade them again.
        """
        if isinstance(self._venue, PaperVenue | ReconcilingVenue):
            return None  # a live venue re-runs its journaled reports, then reconciles
        venue = self.context.config.venue
        return (
            f"execution.venue {venue!r} is not the paper venue; recovering its orders from "
            "the journal is not supported (the re-run would send them again)"
        )

    def snapshot_state(self) -> dict[str, Any]:
        """The book and the venue's state: the paper venue's, or a live venue's as far as
        the reports applied so far go (never what it found and the book has not yet
        applied, see :mod:`~atrium.actors.execution.ccxt_adapter`). A venue of another
        factory is not snapshotted (the snapshotter turns snapshots off, and recovery
        re-runs the journal from its start)."""
        venue = self._venue
        if not isinstance(venue, PaperVenue | ReconcilingVenue):
            raise SnapshotError(
                f"execution: the state of venue {type(venue).__name__} is not "
                "snapshotted; recovery re-runs the journal from its first event"
            )
        return {
            "book": self._book,
            "halted": self._halted,
            "reduce_only": self._reduce_only,
            "adjustments": self.adjustments,  # /api/orders?status=reconciled, as rebuilt
            "venue": venue.snapshot_state(),
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        venue = self._venue
        if not isinstance(venue, PaperVenue | ReconcilingVenue):
            raise TypeError(f"cannot restore the state of venue {type(venue).__name__}")
        self._book = state["book"]
        self._halted = state["halted"]
        self._reduce_only = state.get("reduce_only", False)
        self.adjustments = state.get("adjustments", [])
        venue.restore_state(state["venue"])

    def reconcile(self) -> list[str]:
        """Compare the open orders of the book with the venue's order-status report.

        Returns one line per disagreement (empty when they agree): an order open on one
        side only, or with another filled quantity. Recovery halts trading on any. A live
        venue reconciles by journaled adjustments instead (:meth:`go_live`).
        """
        if isinstance(self._venue, ReconcilingVenue):
            return []
        book = {state.order_id: state for state in self._book.open_states()}
        venue = {report.order_id: report for report in self._venue.order_status()}
        problems = []
        for order_id, state in book.items():
            report = venue.get(order_id)
            if report is None:
                problems.append(f"order {order_id} is open in the journal, not at the venue")
            elif report.filled_quantity != state.filled_quantity:
                problems.append(
                    f"order {order_id} has {state.filled_quantity} filled in the journal, "
                    f"{report.filled_quantity} at the venue"
                )
        problems.extend(
            f"order {order_id} is open at the venue, unknown to the journal"
            for order_id in venue
            if order_id not in book
        )
        return problems

    # -- read-only views -----------------------------------------------------------------

    def open_orders(self) -> list[dict[str, Any]]:
        """Open orders in submission order, as plain dicts (Decimal values kept exact)."""
        return [state.as_dict() for state in self._book.open_states()]

    def reconciliation_adjustments(self) -> list[dict[str, Any]]:
        """The last 100 reconciliation adjustments (kind, order id, detail), oldest first."""
        return list(self.adjustments)

    def order_status_report(self) -> list[dict[str, Any]]:
        """The venue's own view of its open orders (for reconciliation), as plain dicts."""
        return [msgspec.structs.asdict(report) for report in self._venue.order_status()]

    # -- handlers ------------------------------------------------------------------------

    @receives(Bar)
    def _handle_bar(self, bar: Bar) -> None:
        self._venue_on_bar(bar)

    @receives(Tick)
    def _handle_tick(self, tick: Tick) -> None:
        self._venue_on_tick(tick)

    @receives(Order)
    def _handle_order(self, order: Order) -> None:
        if self._book.knows(order.order_id):
            self._ignore("DUPLICATE_ORDER_ID", f"order_id={order.order_id}")
            return
        state = self._book.add(order)
        self._count(state)
        if self._halted:
            state.transition("REJECTED")
            self._publish_update(state, "TRADING_HALTED: state=HALTED")
            self._retire(state)
            return
        if self._reduce_only and not order.reduces_position:
            state.transition("REJECTED")
            self._publish_update(state, "VENUE_DOWN_REDUCE_ONLY: reduces_position=false")
            self._retire(state)
            return
        self._venue.submit(order)

    @receives(CancelOrder)
    def _handle_cancel_order(self, cancel: CancelOrder) -> None:
        order_id = cancel.order_id
        state = self._book.get_open(order_id)
        if state is None:
            reason = "ORDER_NOT_OPEN" if self._book.is_closed(order_id) else "UNKNOWN_ORDER"
            self._ignore(reason, f"order_id={order_id} strategy={cancel.strategy}")
            return
        if state.order.strategy != cancel.strategy:
            self._ignore(
                "STRATEGY_MISMATCH",
                f"order_id={order_id} strategy={cancel.strategy} "
                f"order_strategy={state.order.strategy}",
            )
            return
        self._venue.cancel(
            order_id, f"CANCEL_REQUESTED: strategy={cancel.strategy}{_note(cancel.reason)}"
        )

    @receives(Control)
    def _handle_control(self, control: Control) -> None:
        command = control.command
        if command == "halt":
            self._halted = True
            self._cancel_all(f"HALTED: command=halt source={control.source}{_note(control.reason)}")
        elif command == "flatten":
            self._cancel_all(f"FLATTEN: source={control.source}{_note(control.reason)}")
        elif command == "resume":
            self._halted = False

    @receives(TradingStateChanged)
    def _handle_trading_state_changed(self, change: TradingStateChanged) -> None:
        self._halted = change.state == "HALTED"
        if self._halted:
            self._cancel_all(
                f"HALTED: state=HALTED previous={change.previous}{_note(change.reason)}"
            )

    @receives(VenueReport)
    def _handle_venue_report(self, report: VenueReport) -> None:
        """A journaled report re-run by recovery, or one back from a cluster's stream:
        applied to the book, and noted by the venue as applied, sending nothing."""
        self._apply_report(decode_events(report.events), report.source)

    # -- venue events --------------------------------------------------------------------

    def _report_venue(self, events: list[VenueEvent], source: str) -> None:
        """Journal what the live venue reported (an input recovery re-runs), then apply it.

        In a cluster's core the report goes to the stream instead and is applied when it
        comes back (:meth:`_handle_venue_report`), at the place a rebuild applies it too.
        """
        payload = encode_events(events)
        if source == "reconciliation":
            report = VenueReport(ts=self.clock.now_ns(), events=payload, source="reconciliation")
        else:
            report = VenueReport(ts=self.clock.now_ns(), events=payload)
        kept = self.context.capabilities.get(VENUE_INPUT)
        if kept is not None:
            kept.keep(report)
            return
        self.publish(report)
        self._apply_report(events, source)

    def _apply_report(self, events: list[VenueEvent], source: str) -> None:
        """Apply a report to the book, and let the venue note it as applied: the state
        it snapshots changes here, with the book's, not where the report was found."""
        venue = self._venue if isinstance(self._venue, ReconcilingVenue) else None
        for event in events:
            if venue is not None:
                venue.replay(event)
            kind = ADJUSTMENT_KINDS.get(type(event).__name__)
            if source == "reconciliation" and kind is not None:
                self._adjusted[kind].inc()
                detail = getattr(event, "reason", "") or getattr(event, "venue_fill_id", "")
                order_id = getattr(event, "order_id", "")
                self.adjustments = [
                    *self.adjustments[-99:],
                    {"kind": kind, "order_id": order_id, "detail": detail},
                ]
                self.log.warning("reconciliation: %s order=%s %s", kind, order_id, detail)
            self._on_venue_event(event)

    def _on_venue_event(self, event: VenueEvent) -> None:
        """Apply one venue event to the book and publish what it means."""
        if isinstance(event, VenueFilled):
            self._on_fill(event)
        elif isinstance(event, VenueAccepted):
            state = self._open_state(event.order_id, "ACCEPTED")
            state.transition("ACCEPTED")
            if state.order.order_type == "MARKET":
                self._count(state)  # it fills on the next print: nobody waits for this
            else:
                self._publish_update(state)
        elif isinstance(event, VenueRejected):
            self._close(event.order_id, "REJECTED", event.reason)
        elif isinstance(event, VenueCancelled):
            self._close(event.order_id, "CANCELLED", event.reason)
        elif isinstance(event, VenueExpired):
            self._close(event.order_id, "EXPIRED", event.reason)
        elif isinstance(event, VenueConnectionChanged):
            self._on_connection(event)
        elif isinstance(event, VenueInstrument):
            fields = msgspec.structs.asdict(event)
            self.publish(InstrumentRules(ts=self.clock.now_ns(), **fields))
        elif isinstance(event, VenueBalances):
            fields = msgspec.structs.asdict(event)
            self.publish(AccountBalances(ts=self.clock.now_ns(), **fields))
        else:
            assert_never(event)

    def _on_connection(self, event: VenueConnectionChanged) -> None:
        self._connected_gauge.set(1 if event.connected else 0)
        state_word = "connected" if event.connected else "disconnected"
        self.log.info("venue %s: %s", state_word, event.detail)
        settings = self.context.config.ccxt
        policy = settings.on_disconnect if settings is not None else "continue"
        if not event.connected and policy == "halt":
            self._halted = True  # open orders stay: a cancel could not reach the venue
            self.log.warning("venue down (%s): execution halted until resumed", event.detail)
        elif policy == "reduce_only" and self._reduce_only != (not event.connected):
            # Execution's own state, not risk's: a Control would be replayed by recovery
            # besides the VenueReport that caused it; this follows the report alone.
            self._reduce_only = not event.connected
            word = "only position-reducing orders pass" if self._reduce_only else "lifted"
            self.log.warning("venue %s (%s): reduce-only %s", state_word, event.detail, word)

    def _close(self, order_id: str, status: OrderStatus, reason: str) -> None:
        state = self._open_state(order_id, status)
        state.transition(status)
        self._publish_update(state, reason)
        self._retire(state)

    def _on_fill(self, event: VenueFilled) -> None:
        state = self._open_state(event.order_id, "a fill")
        status = state.apply_fill(event.quantity, event.price)
        order = state.order
        self.publish(
            Fill(
                ts=self.clock.now_ns(),
                fill_id=f"{order.order_id}-{state.fill_count}",
                order_id=order.order_id,
                strategy=order.strategy,
                symbol=order.symbol,
                side=order.side,
                quantity=event.quantity,
                price=event.price,
                leaves_quantity=state.remaining_quantity,
                commission=event.commission,
            )
        )
        self._fills.inc()
        notional = event.quantity * event.price * self._multipliers.get(order.symbol, 1)
        self._fill_notional.inc(float(notional))
        self._fill_commission.inc(float(event.commission))
        if event.unvalued_fee is not None:
            self._unvalued_fee(event)
        self._count(state)
        if status == "FILLED":
            self._retire(state)

    def _unvalued_fee(self, event: VenueFilled) -> None:
        """A fee nobody priced: counted and logged apart, never guessed into commission;
        halts execution when ``[execution.ccxt].unvalued_fee = "halt"``."""
        currency, amount = event.fee_currency, event.unvalued_fee
        self._unvalued_fees.labels(currency=currency).inc(float(amount or 0))
        self.log.warning(
            "fill %s paid a fee of %s %s with no price in the account currency; booked "
            "commission 0 and counted it in atrium_unvalued_fees_total",
            event.venue_fill_id,
            amount,
            currency,
        )
        settings = self.context.config.ccxt
        if settings is not None and settings.unvalued_fee == "halt" and not self._halted:
            self._halted = True
            self._cancel_all(f"HALTED: unvalued_fee={amount} currency={currency}")

    # -- helpers -------------------------------------------------------------------------

    def _open_state(self, order_id: str, what: str) -> OrderState:
        """The open order a venue event is about; a venue that disagrees is a bug."""
        state = self._book.get_open(order_id)
        if state is None:
            known = "already closed" if self._book.is_closed(order_id) else "unknown"
            raise ValueError(f"venue reported {what} for order {order_id!r}, which is {known}")
        return state

    def _cancel_all(self, reason: str) -> None:
        for state in self._book.open_states():
            self._venue.cancel(state.order_id, reason)

    def _publish_update(self, state: OrderState, reason: str = "") -> None:
        order = state.order
        self.publish(
            OrderUpdate(
                ts=self.clock.now_ns(),
                order_id=order.order_id,
                strategy=order.strategy,
                symbol=order.symbol,
                status=state.status,
                filled_quantity=state.filled_quantity,
                remaining_quantity=state.remaining_quantity,
                avg_fill_price=state.avg_fill_price,
                reason=reason,
            )
        )
        self._count(state)

    def _count(self, state: OrderState) -> None:
        self._status_counters[state.status].inc()

    def _retire(self, state: OrderState) -> None:
        self._book.retire(state)

    def _ignore(self, reason: str, detail: str) -> None:
        self._ignored[reason].inc()
        self.log.warning("ignored request: %s %s", reason, detail)


def _note(text: str) -> str:
    return f" note={text!r}" if text else ""
