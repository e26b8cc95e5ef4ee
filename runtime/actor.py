"""The actor base: lifecycle hooks, typed dispatch, and publishing from sync handlers.

Handlers are plain methods declared with ``@receives(Bar)`` (named ``_handle_<kind>`` by
custom, not by rule); they run one message at a time and never await. What a handler
publishes is queued behind everything already delivered (:mod:`atrium.runtime.dispatch`).

A source actor (market data) also overrides :meth:`Actor.run`, a coroutine that hands its
inputs to the dispatcher with ``await self.send(...)``; each returns once it settled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FunctionType
from typing import Any, ClassVar, Literal, TypeVar

from prometheus_client import CollectorRegistry

from atrium.runtime.capabilities import Capabilities, Capability
from atrium.runtime.clocks import Clock
from atrium.runtime.codec import MESSAGE_TYPES
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.messages import Message

__all__ = ("Actor", "ActorContext", "ActorStats", "Mode", "receives")

Mode = Literal["live", "replay"]
Handler = Callable[[Any, Any], None]
_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., None])


#: Handler methods and the kinds each was declared for (see :func:`receives`).
_DECLARED: dict[FunctionType, tuple[type[Message], ...]] = {}


def receives(*kinds: type[Message]) -> Callable[[_F], _F]:
    """Declare the decorated method the handler of ``kinds``.

    The dispatcher calls it for every message of those kinds the topology routes to the
    actor, so a handler is found by searching for ``@receives(Bar)``, not by its name.
    A subclass that overrides the method (same name) is called instead.
    """
    unknown = [kind for kind in kinds if kind not in MESSAGE_TYPES.values()]
    if not kinds or unknown:
        raise TypeError(f"receives() takes message classes, got {kinds!r}")

    def declare(method: _F) -> _F:
        if not isinstance(method, FunctionType):
            raise TypeError(f"@receives decorates a method, not {method!r}")
        _DECLARED[method] = kinds
        return method

    return declare


def _declared_handlers(cls: type) -> dict[type[Message], Handler]:
    """Kind to handler along ``cls``'s MRO, base first: a subclass's declaration wins."""
    names: dict[type[Message], str] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if not isinstance(value, FunctionType):
                continue
            for kind in _DECLARED.get(value, ()):
                names[kind] = name
    return {kind: getattr(cls, name) for kind, name in names.items()}


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
    dispatcher: Dispatcher
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    mode: Mode = "live"
    stats: ActorStats = field(default_factory=ActorStats)
    #: The pipeline's registry of what actors offer the runtime (see :meth:`provide`).
    capabilities: Capabilities = field(default_factory=Capabilities)

    def provide(self, capability: Capability[_T], provider: _T) -> None:
        """Offer ``provider`` to the runtime as this actor's ``capability``.

        Called as the actor is made, once it is whole: a restarted instance offers itself
        again and replaces the one that failed.
        """
        self.capabilities.provide(capability, self.name, provider)


class Actor:
    """Base class of every actor. Subclasses declare handlers with :func:`receives`.

    Recovery (:mod:`atrium.runtime.recovery`) rebuilds an actor by handing it the recorded
    messages again; a periodic snapshot spares it most of them. An actor that keeps state
    names the attributes holding it in ``snapshot_attributes`` (containers, Decimals,
    messages and :func:`~runtime.snapshots.state_type` objects; no references to the
    bus, clock, metrics or other actors), or overrides
    :meth:`snapshot_state` and :meth:`restore_state`.
    """

    #: Message type to handler, from the ``@receives`` declarations when the class is
    #: made; the dispatcher calls these directly.
    handlers: ClassVar[dict[type[Message], Handler]] = {}
    #: True for an actor that matches orders against market data (the execution actor):
    #: it sees each bar or tick, and its fills are settled, before any other actor.
    venue: ClassVar[bool] = False
    #: The attributes that make up this actor's state, for snapshots.
    snapshot_attributes: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.handlers = _declared_handlers(cls)

    def __init__(self, context: ActorContext) -> None:
        self.context = context
        self.name = context.name
        self.clock = context.clock
        self.log = logging.getLogger(f"atrium.{context.name}")
        self._dispatcher = context.dispatcher
        self._routes = context.dispatcher.routes_of(context.name)

    # -- lifecycle hooks -----------------------------------------------------------------

    async def on_start(self) -> None:
        """Called before the first message (and again on a restarted instance)."""

    async def on_stop(self) -> None:
        """Called once on shutdown, after the mailboxes drained: flush what you hold."""

    async def run(self) -> None:
        """Source actors override this to produce messages; others have no body."""

    # -- recovery ------------------------------------------------------------------------

    def snapshot_state(self) -> dict[str, Any]:
        """This actor's state at a settled point, for a snapshot (see :mod:`atrium.runtime.snapshots`)."""
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
        return [msg_type.__name__ for msg_type in cls.handlers]

    # -- messages ------------------------------------------------------------------------

    def handle(self, message: Message) -> None:
        """Dispatch one message to the handler declared for its kind."""
        handler = self.handlers.get(type(message))
        if handler is not None:
            handler(self, message)

    def publish(self, message: Message) -> None:
        """Publish from a sync handler: recorded now, handled after what waits already."""
        self._dispatcher.emit(message, self._routes, self.name)

    def after_settle(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the current input has nothing left to handle."""
        self._dispatcher.after_settle(callback)

    async def send(self, message: Message) -> None:
        """Hand one input to the dispatcher (a source); returns once it settled."""
        await self._dispatcher.publish(message, self.name)

    async def run_input(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` (which publishes) as one input of the dispatcher, from a task."""
        await self._dispatcher.run_input(callback)

    async def wait_writable(self) -> None:
        """Wait until :meth:`send` can record at once (the previous input settled and the
        journal has room).

        A source that notes what it sent calls this first, then notes and sends with no
        await in between, so a snapshot never sees one without the other.
        """
        await self._dispatcher.wait_writable()

    async def settled(self) -> None:
        """Wait until the input being handled has settled."""
        await self._dispatcher.wait_settled()
