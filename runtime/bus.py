"""Publish/subscribe by message type between actor mailboxes, and the settle barrier.

The bus is wired from the topology config: each actor names the message kinds it wants.
A message is never delivered back to the actor that published it.

Settling: every delivery increments ``in_flight`` and every handled message decrements it
(after the handler's own messages were delivered), so ``in_flight == 0`` means every
mailbox is empty and every actor idle. The replay driver waits for that before releasing
the next recorded event; it costs two integer updates per delivery.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

import anyio

from runtime.channels import Mailbox
from runtime.codec import MESSAGE_TYPES
from runtime.messages import Bar, Message, Order, Tick

__all__ = ("OPERATOR", "Bus", "Gate", "Tap", "TopologyError")

Tap = Callable[[Message], None]
#: The sender of operator input (HTTP controls): not an actor, so every subscriber gets it.
OPERATOR: Final = "operator"
_MARKET = frozenset({Bar, Tick})


class Gate(Protocol):
    """Something sources must wait for before producing more (the journal writer)."""

    @property
    def blocked(self) -> bool: ...

    async def wait_writable(self) -> None: ...


class TopologyError(ValueError):
    """Raised when the topology names an unknown message kind or actor twice."""


class Bus:
    """Routes messages to subscriber mailboxes and tracks when the pipeline is idle."""

    def __init__(self) -> None:
        self._subscribers: dict[type[Message], list[tuple[str, Mailbox]]] = {}
        # Per sender, the mailboxes each message type goes to (filled on first use).
        self._routes: dict[str, dict[type[Message], tuple[Mailbox, ...]]] = {}
        self._taps: list[Tap] = []
        self._gates: list[Gate] = []
        self._dispatcher: Callable[[], Awaitable[None]] | None = None
        #: Called with seconds from a market data message's publication to the end of
        #: the dispatch in which it led to an order (inline scheduler): tick-to-order.
        self.on_order_latency: Callable[[float], None] | None = None
        self.orders_published = 0
        #: Called whenever the pipeline becomes idle (a consistent point for snapshots).
        self.on_settled: Callable[[], None] | None = None
        self._idle: anyio.Event | None = None
        self.in_flight = 0
        self.published = 0

    # -- wiring --------------------------------------------------------------------------

    def subscribe(self, actor: str, mailbox: Mailbox, kinds: list[str]) -> None:
        """Deliver every message whose kind is in ``kinds`` to ``mailbox``."""
        for kind in kinds:
            cls = MESSAGE_TYPES.get(kind)
            if cls is None:
                known = ", ".join(sorted(MESSAGE_TYPES))
                raise TopologyError(
                    f"topology.actors.{actor}.subscribes: unknown message kind {kind!r}; "
                    f"known kinds: {known}"
                )
            self._subscribers.setdefault(cls, []).append((actor, mailbox))
        for routes in self._routes.values():
            routes.clear()  # in place: actors hold these dicts

    def add_tap(self, tap: Tap) -> None:
        """Call ``tap(message)`` for every published message, in publication order."""
        self._taps.append(tap)

    def remove_tap(self, tap: Tap) -> None:
        """Stop calling ``tap`` (recovery swaps its verifier for the journal)."""
        self._taps.remove(tap)

    def set_dispatcher(self, dispatcher: Callable[[], Awaitable[None]]) -> None:
        """Handle messages by calling ``dispatcher`` (the inline scheduler) after publishing."""
        self._dispatcher = dispatcher

    def add_gate(self, gate: Gate) -> None:
        """Make sources wait while ``gate`` is blocked (checked at publish and settle)."""
        self._gates.append(gate)

    def subscribers(self, cls: type[Message]) -> list[str]:
        return [name for name, _ in self._subscribers.get(cls, ())]

    # -- publishing ----------------------------------------------------------------------

    def routes_of(self, sender: str) -> dict[type[Message], tuple[Mailbox, ...]]:
        """The route cache of ``sender`` (a publisher looks its targets up here first)."""
        return self._routes.setdefault(sender, {})

    def targets(self, message: Message, sender: str) -> tuple[Mailbox, ...]:
        cls = type(message)
        routes = self.routes_of(sender)
        route = routes.get(cls)
        if route is None:
            route = tuple(mb for name, mb in self._subscribers.get(cls, ()) if name != sender)
            routes[cls] = route
        return route

    def record(self, message: Message) -> None:
        """Count ``message`` as published and show it to the taps (the journal)."""
        self.published += 1
        if type(message) is Order:
            self.orders_published += 1
        for tap in self._taps:
            tap(message)

    def deliver_nowait(
        self, message: Message, targets: tuple[Mailbox, ...]
    ) -> list[Mailbox] | None:
        """Deliver to every target that has room; return the full ones (None: no full one)."""
        self.in_flight += len(targets)
        blocked: list[Mailbox] | None = None
        for mailbox in targets:
            if not mailbox.put_nowait(message):
                if blocked is None:
                    blocked = []
                blocked.append(mailbox)
        return blocked

    async def deliver(self, message: Message, targets: tuple[Mailbox, ...] | list[Mailbox]) -> None:
        """Deliver to every target, waiting on full mailboxes (already counted in flight)."""
        for mailbox in targets:
            await mailbox.put(message)

    async def wait_writable(self) -> None:
        """Wait until no gate is blocked (:meth:`publish` then records without waiting)."""
        for gate in self._gates:
            if gate.blocked:
                await gate.wait_writable()

    async def publish(self, message: Message, sender: str) -> None:
        """Record and deliver ``message``, waiting for room where a mailbox is full."""
        for gate in self._gates:
            if gate.blocked:
                await gate.wait_writable()
        self.record(message)
        blocked = self.deliver_nowait(message, self.targets(message, sender))
        dispatcher = self._dispatcher
        if dispatcher is None:
            if blocked:
                await self.deliver(message, blocked)
            return
        started, orders = time.perf_counter_ns(), self.orders_published
        await dispatcher()
        while blocked:  # the dispatcher made room by handling what was queued
            blocked = [mailbox for mailbox in blocked if not mailbox.put_nowait(message)]
            await dispatcher()
        observe = self.on_order_latency
        if observe is not None and self.orders_published != orders and type(message) in _MARKET:
            observe((time.perf_counter_ns() - started) / 1e9)

    async def publish_all(self, messages: list[Message], sender: str) -> None:
        """Record and deliver ``messages`` before any of them is handled.

        With the inline scheduler that is one step of its breadth-first order: a
        consequence of the first is handled after the last was delivered, as if they had
        all been published by handlers of one message. Order per mailbox is kept when
        one is full: later messages wait behind the first that did not fit.
        """
        for gate in self._gates:
            if gate.blocked:
                await gate.wait_writable()
        waiting: list[tuple[Message, list[Mailbox]]] = []
        stalled: set[int] = set()
        for message in messages:
            self.record(message)
            targets = self.targets(message, sender)
            self.in_flight += len(targets)
            full = [
                mailbox
                for mailbox in targets
                if id(mailbox) in stalled or not mailbox.put_nowait(message)
            ]
            if full:
                stalled.update(id(mailbox) for mailbox in full)
                waiting.append((message, full))
        dispatcher = self._dispatcher
        if dispatcher is None:
            for message, full in waiting:
                await self.deliver(message, full)
            return
        await dispatcher()
        for message, full in waiting:
            left = full
            while left:
                left = [mailbox for mailbox in left if not mailbox.put_nowait(message)]
                await dispatcher()

    # -- settling ------------------------------------------------------------------------

    def done(self, count: int = 1) -> None:
        """Mark ``count`` delivered messages as fully handled."""
        self.in_flight -= count
        if self.in_flight == 0:
            if self._idle is not None:
                self._idle.set()
                self._idle = None
            if self.on_settled is not None:
                self.on_settled()

    @property
    def settled(self) -> bool:
        return self.in_flight == 0

    async def wait_idle(self) -> None:
        """Wait until the in-flight count is zero (without dispatching)."""
        if self.in_flight:
            if self._idle is None:
                self._idle = anyio.Event()
            await self._idle.wait()

    async def wait_settled(self) -> None:
        """Wait until every delivered message has been handled."""
        if self.in_flight and self._dispatcher is not None:
            await self._dispatcher()
        await self.wait_idle()
        for gate in self._gates:
            if gate.blocked:
                await gate.wait_writable()
