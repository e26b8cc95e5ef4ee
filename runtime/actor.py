"""The actor base: lifecycle hooks, typed dispatch, and publishing from sync handlers.

Handlers are plain methods named ``_handle_<snake_case_kind>`` (``_handle_bar``,
``_handle_order_intent``); they run one message at a time and never await. What a handler
publishes is delivered at once when the target mailbox has room, else held in the actor's
outbox, which the run loop empties (awaiting backpressure) before the next message. Order
per destination is kept either way.

A source actor (market data) also overrides :meth:`Actor.run`, a coroutine that produces
messages with ``await self.send(...)``.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from prometheus_client import CollectorRegistry

from runtime.bus import Bus
from runtime.channels import Mailbox
from runtime.clocks import Clock
from runtime.codec import MESSAGE_TYPES
from runtime.messages import Message

__all__ = ("Actor", "ActorContext", "ActorStats", "Mode")

Mode = Literal["live", "replay"]
Handler = Callable[[Any, Any], None]


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


_HANDLER_NAMES = {cls: f"_handle_{_snake(kind)}" for kind, cls in MESSAGE_TYPES.items()}


@dataclass
class ActorStats:
    """Counters the supervisor keeps per actor (they survive restarts)."""

    processed: int = 0
    failed: int = 0
    restarts: int = 0
    dead_letters: int = 0


@dataclass
class ActorContext:
    """Everything an actor is handed: its own config section and nothing else shared."""

    name: str
    config: Any
    clock: Clock
    bus: Bus
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    mode: Mode = "live"
    mailbox: Mailbox | None = None
    stats: ActorStats = field(default_factory=ActorStats)


class Actor:
    """Base class of every actor. Subclasses add ``_handle_<kind>`` methods.

    Recovery (:mod:`runtime.recovery`) rebuilds an actor by handing it the recorded
    messages again; a periodic snapshot spares it most of them. An actor that keeps state
    names the attributes holding it in ``snapshot_attributes`` (containers, Decimals,
    messages and :func:`~runtime.snapshots.state_type` objects; no references to the
    bus, clock, metrics or other actors), or overrides
    :meth:`snapshot_state` and :meth:`restore_state`.
    """

    _handlers: ClassVar[dict[type[Message], Handler]] = {}
    #: The attributes that make up this actor's state, for snapshots.
    snapshot_attributes: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._handlers = {
            msg_type: getattr(cls, name)
            for msg_type, name in _HANDLER_NAMES.items()
            if callable(getattr(cls, name, None))
        }

    def __init__(self, context: ActorContext) -> None:
        self.context = context
        self.name = context.name
        self.clock = context.clock
        self.log = logging.getLogger(f"atrium.{context.name}")
        self._bus = context.bus
        self._outbox: deque[tuple[Message, list[Mailbox]]] = deque()
        self._routes = context.bus.routes_of(context.name)

    # -- lifecycle hooks -----------------------------------------------------------------

    async def on_start(self) -> None:
        """Called before the first message (and again on a restarted instance)."""

    async def on_stop(self) -> None:
        """Called once on shutdown, after the mailboxes drained: flush what you hold."""

    async def run(self) -> None:
        """Source actors override this to produce messages; others have no body."""

    # -- recovery ------------------------------------------------------------------------

    def snapshot_state(self) -> dict[str, Any]:
        """This actor's state at a settled point, for a snapshot (see :mod:`runtime.snapshots`)."""
        return {name: getattr(self, name) for name in self.snapshot_attributes}

    def restore_state(self, state: dict[str, Any]) -> None:
        """Take back what :meth:`snapshot_state` returned (on a fresh instance)."""
        for name, value in state.items():
            setattr(self, name, value)

    def recovery_problem(self) -> str | None:
        """Why this actor cannot be rebuilt by re-handling the journal (None: it can)."""
        return None

    def restore_input(self, message: Message) -> None:
        """A source's own recorded output, replayed by recovery: remember what was sent.

        Recovery publishes recorded market data on the source's behalf instead of
        running the source; a source that must not send a record twice (or that builds
        on what it sent, like live bars) keeps track here.
        """

    @classmethod
    def is_source(cls) -> bool:
        return cls.run is not Actor.run

    @classmethod
    def handles(cls) -> list[str]:
        """Kinds this actor has a handler for (the topology may only route these)."""
        return [msg_type.__name__ for msg_type in cls._handlers]

    # -- messages ------------------------------------------------------------------------

    def handle(self, message: Message) -> None:
        """Dispatch one message to its ``_handle_<kind>`` method."""
        handler = self._handlers.get(type(message))
        if handler is not None:
            handler(self, message)

    def publish(self, message: Message) -> None:
        """Publish from a sync handler; full mailboxes are retried by the run loop."""
        bus = self._bus
        bus.record(message)
        targets = self._routes.get(type(message)) or bus.targets(message, self.name)
        if self._outbox:  # earlier output still waits: keep the order per destination
            bus.in_flight += len(targets)
            self._outbox.append((message, list(targets)))
            return
        blocked = bus.deliver_nowait(message, targets)
        if blocked:
            self._outbox.append((message, blocked))

    async def send(self, message: Message) -> None:
        """Publish from a coroutine (a source), waiting for room: backpressure."""
        if self._outbox:
            await self.flush_outbox()
        await self._bus.publish(message, self.name)

    async def wait_writable(self) -> None:
        """Wait until :meth:`send` can record at once (the journal's backpressure).

        A source that notes what it sent calls this first, then notes and sends with no
        await in between, so a snapshot never sees one without the other.
        """
        if self._outbox:
            await self.flush_outbox()
        await self._bus.wait_writable()

    async def settled(self) -> None:
        """Wait until every message in the pipeline has been handled (the replay barrier)."""
        await self._bus.wait_settled()

    def flush_outbox_nowait(self) -> bool:
        """Deliver held messages while their mailboxes have room; True when none is left."""
        outbox = self._outbox
        while outbox:
            message, targets = outbox[0]
            targets[:] = [mailbox for mailbox in targets if not mailbox.put_nowait(message)]
            if targets:
                return False
            outbox.popleft()
        return True

    async def flush_outbox(self) -> None:
        """Deliver what handlers published into full mailboxes, in order."""
        outbox = self._outbox
        while outbox:
            message, targets = outbox[0]
            await self._bus.deliver(message, targets)
            outbox.popleft()
