"""The venue adapter protocol: what the execution actor needs from a venue, paper or live.

The actor owns the order state machine and the messages; a venue only executes. The
actor hands an approved :class:`~runtime.messages.Order` to :meth:`VenueAdapter.submit`
and a cancel request to :meth:`VenueAdapter.cancel`; the venue answers, now or later,
with :data:`VenueEvent` values passed to the ``sink`` it was built with. The actor turns
each event into a state transition and the ``OrderUpdate``/``Fill`` messages, and raises
on an event that is not a legal transition, so a venue that contradicts the book stops
the runtime instead of trading on a wrong position.

Rules every adapter follows:

* Construct as ``Adapter(config, sink)``: ``config`` is the ``[execution]`` section
  (adapter settings in ``config.venue_options``), ``sink`` receives the events.
* ``submit`` and ``cancel`` never block: a live adapter queues the request and returns.
* Per order, events arrive in the venue's order: exactly one :class:`VenueAccepted` or
  :class:`VenueRejected`, then any number of :class:`VenueFilled`, and at most one of
  :class:`VenueCancelled` / :class:`VenueExpired` unless the fills completed the order.
  A cancel that loses the race with the last fill produces no event: the venue's truth
  (filled) stands.
* The sink is called on the event loop's thread (never another OS thread) and never from
  inside a handler of another actor; each call is applied at once.
* :meth:`VenueAdapter.order_status` reports the venue's open orders with their filled
  quantities, in submission order, so the book can be reconciled after a restart or a
  reconnect.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, Literal, Protocol, TypeAlias, runtime_checkable

import msgspec

from atrium.config.execution import ExecutionConfig
from atrium.runtime.messages import Bar, Order, Side, Tick, VenueHolding

__all__ = (
    "VENUE_ERROR_KINDS",
    "EventSink",
    "OrderStatusReport",
    "ReconcilingVenue",
    "SimulatedVenue",
    "VenueAccepted",
    "VenueAdapter",
    "VenueBalances",
    "VenueCancelled",
    "VenueConnectionChanged",
    "VenueEvent",
    "VenueExpired",
    "VenueFactory",
    "VenueFilled",
    "VenueInstrument",
    "VenueRejected",
    "decode_events",
    "encode_events",
)


#: Kinds of venue error, the labels of ``atrium_venue_errors_total{kind}``: ``rate_limit``
#: (HTTP 429/418), ``timeout``, ``network`` (and 5xx), ``maintenance``, ``exchange``, ``auth``,
#: ``no_price`` (no last price to value a balance with), ``websocket`` (the order-update
#: stream failed or was closed), ``stale`` (it went silent past ``stale_after_s``).
VENUE_ERROR_KINDS: Final = (
    "rate_limit",
    "timeout",
    "network",
    "maintenance",
    "exchange",
    "auth",
    "no_price",
    "websocket",
    "stale",
)


class VenueAccepted(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag=True):
    """The venue took the order and is working it."""

    order_id: str


class VenueRejected(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag=True):
    """The venue refused the order. ``reason`` is ``CODE`` or ``CODE: key=value ...``."""

    order_id: str
    reason: str


class VenueFilled(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag=True):
    """An execution of ``quantity`` at ``price``, with the ``commission`` it cost.

    ``venue_fill_id`` is the venue's own execution id (deduplication on reconnect); the
    actor numbers its ``Fill`` messages itself. A fee charged in a third currency the venue
    quotes no price for is never guessed into ``commission``: it is kept apart as
    ``unvalued_fee``. ``fee_currency`` names a third currency the fee was charged in.
    """

    order_id: str
    quantity: Decimal
    price: Decimal
    commission: Decimal
    venue_fill_id: str
    fee_currency: str = ""
    unvalued_fee: Decimal | None = None


class VenueCancelled(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag=True):
    """The rest of the order will not fill. ``reason`` says who asked and why."""

    order_id: str
    reason: str


class VenueExpired(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag=True):
    """The order's time in force ran out before it filled completely."""

    order_id: str
    reason: str


class VenueConnectionChanged(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag=True):
    """The session to the venue came up or went down (``detail`` for the log)."""

    connected: bool
    detail: str = ""


class VenueInstrument(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag=True):
    """The venue's trading rules for one symbol (reported on connect; None: no rule)."""

    symbol: str
    quantity_step: Decimal | None = None
    min_quantity: Decimal | None = None
    price_tick: Decimal | None = None
    min_notional: Decimal | None = None


class VenueBalances(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag=True):
    """The account's balances at a reconciliation: ``cash`` in ``currency`` (the traded
    symbols' quote currency) and each traded symbol's base asset (published as
    ``AccountBalances`` for the portfolio)."""

    currency: str
    cash: Decimal
    holdings: tuple[VenueHolding, ...] = ()


VenueEvent: TypeAlias = (
    VenueAccepted
    | VenueRejected
    | VenueFilled
    | VenueCancelled
    | VenueExpired
    | VenueConnectionChanged
    | VenueInstrument
    | VenueBalances
)
EventSink: TypeAlias = Callable[[VenueEvent], None]

_events_decoder: Final = msgspec.msgpack.Decoder(list[VenueEvent])


def encode_events(events: list[VenueEvent]) -> bytes:
    """Venue events as the payload of a journaled ``VenueReport``."""
    return msgspec.msgpack.encode(events)


def decode_events(payload: bytes) -> list[VenueEvent]:
    """The venue events of a journaled ``VenueReport``."""
    return _events_decoder.decode(payload)


class OrderStatusReport(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One open order as the venue sees it (the input of reconciliation)."""

    order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    filled_quantity: Decimal
    remaining_quantity: Decimal
    status: Literal["ACCEPTED", "PARTIALLY_FILLED"]


@runtime_checkable
class VenueAdapter(Protocol):
    """A venue the execution actor can trade on."""

    async def connect(self) -> None:
        """Open the session; called from the actor's ``on_start`` before any order.

        Report the outcome with :class:`VenueConnectionChanged`.
        """
        ...

    async def reconnect(self) -> None:
        """Re-open a dropped session, then report :class:`VenueConnectionChanged`.

        The owner reconciles its book with :meth:`order_status` afterwards, since events
        may have been missed while the link was down.
        """
        ...

    async def close(self) -> None:
        """Close the session on shutdown (open orders stay at the venue)."""
        ...

    def submit(self, order: Order) -> None:
        """Send ``order``; the answer comes as :class:`VenueAccepted` or :class:`VenueRejected`."""
        ...

    def cancel(self, order_id: str, reason: str) -> None:
        """Ask to cancel an open order; the answer is :class:`VenueCancelled` (with
        ``reason``) unless the order filled first."""
        ...

    def order_status(self) -> list[OrderStatusReport]:
        """The venue's open orders with their filled quantities, in submission order."""
        ...


@runtime_checkable
class SimulatedVenue(VenueAdapter, Protocol):
    """A venue that matches orders itself against the market data the actor receives."""

    def on_bar(self, bar: Bar) -> None:
        """Match working orders of ``bar.symbol`` against ``bar``."""
        ...

    def on_tick(self, tick: Tick) -> None:
        """Match working orders of ``tick.symbol`` against ``tick``."""
        ...


@runtime_checkable
class ReconcilingVenue(VenueAdapter, Protocol):
    """A venue that owns the truth: its events are journaled as ``VenueReport`` inputs, a
    restart re-runs them without sending anything, then reconciles with the venue."""

    def replay(self, event: VenueEvent) -> None:
        """Note an event the execution actor applies (nothing is sent to the venue): one
        re-run by recovery, or one the session found, applied now or back from a stream.
        What is noted here is the state a snapshot of the venue holds."""
        ...

    def snapshot_state(self) -> dict[str, Any]:
        """The venue's state as far as the applied events go (for the actor's snapshot)."""
        ...

    def restore_state(self, state: dict[str, Any]) -> None:
        """Back to what :meth:`snapshot_state` returned, before the re-run after it."""
        ...

    async def go_live(self) -> None:
        """Reconcile with the venue (adjustments as events), then start trading."""
        ...


VenueFactory: TypeAlias = Callable[[ExecutionConfig, EventSink], VenueAdapter]
