"""The dispatcher: one per process, it routes every message and calls every handler.

Inputs (market data, operator controls, venue events, cluster batches) enter through
:meth:`Dispatcher.publish` one at a time: an input is recorded (the journal is a tap),
delivered, and handled to quiescence, commits included, before the next input is taken.
The journal's order is therefore the order of handling, and recovery reproduces it by
publishing the recorded inputs again.

Handlers run synchronously. What they publish is appended to one FIFO of
``(mailbox, message)`` entries, so delivery is breadth-first in publication order and the
order of handling depends only on the inputs. "Settled" means that FIFO is empty.

Market data goes to the venue first. Subscribers that match orders (``Actor.venue`` is
true: the execution actor) get a bar or tick, and everything it causes (fills, position
updates) is handled, before any other subscriber sees it: in ``on_bar(bar)`` a strategy's
position includes every fill at or before that bar's open.

With a durable journal as :attr:`Dispatcher.barrier`, no handler runs while an order,
fill or control is recorded and not yet committed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from typing import Final, Protocol

import anyio

from atrium.runtime.channels import Mailbox
from atrium.runtime.codec import MESSAGE_TYPES
from atrium.runtime.errors import RuntimeStopped, TopologyError
from atrium.runtime.messages import Bar, Message, Order, Tick

__all__ = ("OPERATOR", "CommitBarrier", "Dispatcher", "Gate", "Tap", "Turnstile")

Tap = Callable[[Message], None]
#: The sender of operator input (HTTP controls): not an actor, so every subscriber gets it.
OPERATOR: Final = "operator"
_MARKET: Final = frozenset({Bar, Tick})
Route = tuple[Mailbox, ...]
#: Called with the mailbox, the message whose handler raised, and the exception; returns
#: False when the runtime stops (escalation) instead of going on.
CrashHandler = Callable[[Mailbox, Message, Exception], Awaitable[bool]]


class Gate(Protocol):
    """Something inputs must wait for before entering (the journal writer's backlog)."""

    @property
    def blocked(self) -> bool: ...

    async def wait_writable(self) -> None: ...


class Turnstile(Protocol):
    """What a replay's recorded records pass before they enter, one by one: a cluster
    replay whose roles read the feeds themselves keeps them in step there
    (:mod:`atrium.runtime.cluster.steps`)."""

    async def begin(self, feeds: str) -> None:
        """Before the first record; ``feeds`` fingerprints the recorded data read."""
        ...

    async def admit(self, record: Message) -> bool:
        """Before ``record`` enters; False: this process does not take it (it still
        counts as a step)."""
        ...

    async def finished(self) -> None:
        """After the last record."""
        ...


class CommitBarrier(Protocol):
    """What must be committed before handlers act on it (the durable journal)."""

    commit_pending: bool

    async def commit(self) -> None: ...


class Dispatcher:
    """Routes messages to mailboxes and handles them breadth-first, one input at a time."""

    def __init__(self, *, max_batch: int = 256) -> None:
        self.max_batch = max_batch
        self._subscribers: dict[type[Message], list[tuple[str, Mailbox, bool]]] = {}
        # Per sender, the mailboxes each message type goes to (filled on first use).
        self._routes: dict[str, dict[type[Message], Route]] = {}
        # Per sender and market data type: (venue mailboxes, the others).
        self._market_routes: dict[tuple[str, type[Message]], tuple[Route, Route]] = {}
        self._queue: deque[tuple[Mailbox, Message]] = deque()
        self._taps: list[tuple[Tap, frozenset[type[Message]] | None]] = []
        # Per message type, the taps that see it (filled on first use).
        self._taps_of: dict[type[Message], tuple[Tap, ...]] = {}
        self._gates: list[Gate] = []
        self.barrier: CommitBarrier | None = None
        self.on_crash: CrashHandler | None = None
        #: Called after each input settled (a consistent point for snapshots).
        self.on_settled: Callable[[], None] | None = None
        #: Called with each bar or tick input before it enters (before it may wait for
        #: the one before to settle): a replay moves its clock there (runtime.replay_driver).
        self.on_market_input: Callable[[Message], None] | None = None
        #: Called with seconds from a market data input's entry to the end of its
        #: handling, when it led to an order: tick-to-order.
        self.on_order_latency: Callable[[float], None] | None = None
        #: A replay's recorded records pass it before they enter (None: they go at once).
        self.turnstile: Turnstile | None = None
        self.published = 0
        self.orders_published = 0
        #: The ``(mailbox, message)`` being handled, None between batches: read by the
        #: loop watchdog (another thread) to name the handler that holds the event loop.
        self.handling: tuple[Mailbox, Message] | None = None
        self._busy = False
        self._free: anyio.Event | None = None
        self._abandoned = False
        self._since_yield = 0
        self._after_settle: list[Callable[[], None]] = []
        # A handler's crash :meth:`_settle_now` met, for :meth:`_settle` to deal with.
        self._crash: tuple[Mailbox, Message, Exception] | None = None

    # -- wiring --------------------------------------------------------------------------

    def subscribe(
        self, actor: str, mailbox: Mailbox, kinds: list[str], *, venue: bool = False
    ) -> None:
        """Deliver every message whose kind is in ``kinds`` to ``mailbox``.

        ``venue``: this actor matches orders against market data, so it gets each bar or
        tick (and its consequences are handled) before the other subscribers.
        """
        for kind in kinds:
            cls = MESSAGE_TYPES.get(kind)
            if cls is None:
                known = ", ".join(sorted(MESSAGE_TYPES))
                raise TopologyError(
                    f"topology.actors.{actor}.subscribes: unknown message kind {kind!r}; "
                    f"known kinds: {known}"
                )
            self._subscribers.setdefault(cls, []).append((actor, mailbox, venue))
        for routes in self._routes.values():
            routes.clear()  # in place: actors hold these dicts
        self._market_routes.clear()

    def add_tap(self, tap: Tap, kinds: Collection[type[Message]] | None = None) -> None:
        """Call ``tap(message)`` for every published message of ``kinds`` (None: every
        kind), in publication order."""
        self._taps.append((tap, None if kinds is None else frozenset(kinds)))
        self._taps_of.clear()

    def remove_tap(self, tap: Tap) -> None:
        """Stop calling ``tap`` (recovery swaps its verifier for the journal)."""
        index = next(i for i, (each, _) in enumerate(self._taps) if each == tap)
        del self._taps[index]
        self._taps_of.clear()

    def add_gate(self, gate: Gate) -> None:
        """Make inputs wait while ``gate`` is blocked."""
        self._gates.append(gate)

    def subscribers(self, cls: type[Message]) -> list[str]:
        return [name for name, _, _ in self._subscribers.get(cls, ())]

    def routes_of(self, sender: str) -> dict[type[Message], Route]:
        """The route cache of ``sender`` (a publisher looks its targets up here first)."""
        return self._routes.setdefault(sender, {})

    def targets(self, message: Message, sender: str) -> Route:
        cls = type(message)
        routes = self.routes_of(sender)
        route = routes.get(cls)
        if route is None:
            route = tuple(mb for name, mb, _ in self._subscribers.get(cls, ()) if name != sender)
            routes[cls] = route
        return route

    def _market_route(self, cls: type[Message], sender: str) -> tuple[Route, Route]:
        key = (sender, cls)
        split = self._market_routes.get(key)
        if split is None:
            subscribed = [(mb, venue) for name, mb, venue in self._subscribers.get(cls, ())]
            subscribed = [(mb, venue) for mb, venue in subscribed if mb.name != sender]
            split = (
                tuple(mb for mb, venue in subscribed if venue),
                tuple(mb for mb, venue in subscribed if not venue),
            )
            self._market_routes[key] = split
        return split

    # -- from handlers -------------------------------------------------------------------

    def record(self, message: Message) -> None:
        """Count ``message`` as published and show it to the taps (the journal)."""
        self.published += 1
        cls = type(message)
        if cls is Order:
            self.orders_published += 1
        taps = self._taps_of.get(cls)
        for tap in self._tap_route(cls) if taps is None else taps:
            tap(message)

    def deliver(self, message: Message, targets: Route) -> None:
        """Queue ``message`` for every mailbox in ``targets``, behind what waits already."""
        append = self._queue.append
        for mailbox in targets:
            if mailbox.depth >= mailbox.capacity:
                raise mailbox.overflow()
            mailbox.depth += 1
            append((mailbox, message))

    def emit(self, message: Message, routes: dict[type[Message], Route], sender: str) -> None:
        """Record and deliver what a handler published, the route looked up in the
        sender's own cache (the hot path: :meth:`record` and :meth:`deliver` are inlined
        here)."""
        self.published += 1
        cls = type(message)
        if cls is Order:
            self.orders_published += 1
        taps = self._taps_of.get(cls)
        for tap in self._tap_route(cls) if taps is None else taps:
            tap(message)
        targets = routes.get(cls)
        append = self._queue.append
        for mailbox in self.targets(message, sender) if targets is None else targets:
            if mailbox.depth >= mailbox.capacity:
                raise mailbox.overflow()
            mailbox.depth += 1
            append((mailbox, message))

    def _tap_route(self, cls: type[Message]) -> tuple[Tap, ...]:
        taps = self._taps_of[cls] = tuple(
            tap for tap, kinds in self._taps if kinds is None or cls in kinds
        )
        return taps

    # -- inputs --------------------------------------------------------------------------

    async def publish(self, message: Message, sender: str) -> None:
        """Take one input: record it, deliver it (venue first), handle it to quiescence."""
        cls = type(message)
        market = cls in _MARKET
        if market and self.on_market_input is not None:
            self.on_market_input(message)
        if not self._can_enter():
            await self._enter()
        else:
            self._busy = True
        try:
            started, orders = time.perf_counter_ns(), self.orders_published
            self.record(message)
            if market:
                venue, others = self._market_route(cls, sender)
                if venue:
                    self.deliver(message, venue)
                    if not self._settle_now():
                        await self._settle()
                self.deliver(message, others)
                if not self._settle_now():
                    await self._settle()
                observe = self.on_order_latency
                if observe is not None and self.orders_published != orders:
                    observe((time.perf_counter_ns() - started) / 1e9)
            else:
                self.deliver(message, self.targets(message, sender))
                if not self._settle_now():
                    await self._settle()
        finally:
            self._leave()

    async def run_input(self, callback: Callable[[], None]) -> None:
        """Take what a sync ``callback`` publishes as one input, handled to quiescence.

        For I/O results an actor applies from its own task (a live venue's events):
        they enter like any input, after the one being handled settles.
        """
        await self._enter()
        try:
            callback()
            if not self._settle_now():
                await self._settle()
        finally:
            self._leave()

    async def publish_all(self, messages: list[Message], sender: str) -> None:
        """Take several inputs as one step: all recorded and delivered before any handling.

        The cluster hands over what one event brought this way. Market data goes to the
        venue first, as in :meth:`publish`; the rest is then delivered in list order.
        """
        if self.on_market_input is not None:
            for message in messages:
                if type(message) in _MARKET:
                    self.on_market_input(message)
        await self._enter()
        try:
            for message in messages:
                self.record(message)
            venue_first = False
            for message in messages:
                if type(message) in _MARKET:
                    venue, _ = self._market_route(type(message), sender)
                    self.deliver(message, venue)
                    venue_first = venue_first or bool(venue)
            if venue_first:
                await self._settle()
            for message in messages:
                cls = type(message)
                if cls in _MARKET:
                    self.deliver(message, self._market_route(cls, sender)[1])
                else:
                    self.deliver(message, self.targets(message, sender))
            await self._settle()
        finally:
            self._leave()

    async def wait_writable(self) -> None:
        """Wait until an input could enter at once (then :meth:`publish` does not wait)."""
        while True:
            if self._busy:
                await self._wait_free()
                continue
            for gate in self._gates:
                if gate.blocked:
                    await gate.wait_writable()
                    break
            else:
                return

    async def wait_settled(self) -> None:
        """Wait until the input being handled (if any) has settled, gates included (the
        cluster's driver settles the other processes there)."""
        await self.wait_writable()

    @property
    def in_flight(self) -> int:
        """Messages delivered and not yet handled."""
        return len(self._queue)

    def abandon(self) -> None:
        """Stop handling at once (an immediate stop): what waits is dropped."""
        self._abandoned = True
        self._after_settle.clear()
        for mailbox, _ in self._queue:
            mailbox.depth -= 1
        self._queue.clear()

    # -- the loop ------------------------------------------------------------------------

    async def _enter(self) -> None:
        await self.wait_writable()
        if self._abandoned:
            raise RuntimeStopped
        self._busy = True

    def _can_enter(self) -> bool:
        """True when an input may enter without waiting: what :meth:`_enter` would find
        at once, checked without making a coroutine (most inputs of a replay)."""
        if self._busy or self._abandoned:
            return False
        return not any(gate.blocked for gate in self._gates)

    def _leave(self) -> None:
        self._busy = False
        if self.on_settled is not None and not self._queue:
            self.on_settled()
        free = self._free
        if free is not None:
            self._free = None
            free.set()

    async def _wait_free(self) -> None:
        if self._free is None:
            self._free = anyio.Event()
        await self._free.wait()

    def after_settle(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once nothing waits any more (before the input counts as
        settled); what it publishes is handled in turn. An actor that changed a lot in
        one settle (several fills) tells the others once, this way."""
        self._after_settle.append(callback)

    def run_after_settle(self) -> None:
        """Call the callbacks :meth:`after_settle` collected, in the order they came."""
        callbacks, self._after_settle = self._after_settle, []
        for callback in callbacks:
            callback()

    async def _settle(self) -> None:
        """Handle until nothing waits, awaiting what :meth:`_settle_now` cannot: a commit
        the barrier asks for, a turn for the event loop, a crashed handler's supervisor."""
        barrier = self.barrier
        while not self._abandoned:
            crash, self._crash = self._crash, None
            if crash is None:
                if self._since_yield >= self.max_batch:
                    self._since_yield = 0
                    await anyio.lowlevel.checkpoint()  # the journal writer and HTTP get a turn
                if barrier is not None and barrier.commit_pending:
                    await barrier.commit()
                if self._settle_now():
                    return
                continue
            mailbox, message, exc = crash
            if self.on_crash is None or not await self.on_crash(mailbox, message, exc):
                self.abandon()
                return

    def _settle_now(self) -> bool:
        """Handle what waits without awaiting; True when settled.

        False leaves the rest to :meth:`_settle`: a commit is due, the event loop is owed
        a turn, or a handler raised (the crash is handled there, after an await).
        """
        queue = self._queue
        barrier = self.barrier
        while True:
            if not queue:
                if not self._after_settle:
                    return True
                self.run_after_settle()
                continue
            if self._since_yield >= self.max_batch:
                return False
            if barrier is not None and barrier.commit_pending:
                return False
            crash = self._handle_some()
            if crash is not None:
                self._crash = crash
                return False

    def _handle_some(self) -> tuple[Mailbox, Message, Exception] | None:
        """Handle queued messages until none is left, a commit is due or a handler raised.

        The hot loop of the runtime: locals are bound once for it, and the batch limit is
        counted down instead of compared against an attribute (a profile named both).
        """
        queue, barrier = self._queue, self.barrier
        popleft = queue.popleft
        budget = self.max_batch
        try:
            while queue:
                entry = self.handling = popleft()
                mailbox, message = entry
                mailbox.depth -= 1
                actor = mailbox.actor
                if actor is None:
                    raise RuntimeError(f"{mailbox.name} got a message with no actor running")
                handler = actor.handlers.get(type(message))
                stats = mailbox.stats
                if handler is not None:
                    try:
                        handler(actor, message)
                    except Exception as exc:
                        stats.failed += 1
                        return mailbox, message, exc
                stats.processed += 1
                budget -= 1
                if not budget or (barrier is not None and barrier.commit_pending):
                    break
            return None
        finally:
            self._since_yield += self.max_batch - budget
            self.handling = None
