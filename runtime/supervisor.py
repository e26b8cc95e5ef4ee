"""The supervisor: owns the mailboxes, runs each actor's loop, restarts or escalates.

Erlang-style: a handler that raises has its message dead-lettered (journaled with the
error, counted, never retried); the actor is then restarted as a fresh instance after an
exponential backoff, keeping its mailbox so nothing else is lost. More than
``max_restarts`` within ``restart_window_seconds``, or a crash in an actor whose policy is
``escalate``, stops everything cleanly and :meth:`Supervisor.run` raises
:class:`~runtime.errors.ActorEscalation`.

Shutdown (SIGINT/SIGTERM, :meth:`Supervisor.request_stop`, or the sources finishing in a
replay) stops the sources first, waits for the mailboxes to drain, then calls every
actor's ``on_stop`` so it can flush. A second signal skips the drain.

Two schedulers run the same mailboxes and handlers:

``inline`` (the default)
    No task per actor. Whenever a source publishes, the supervisor drains every mailbox
    in topology order, batch by batch, until the pipeline is idle, then the source goes
    on. A message costs a mailbox put, a take and its handler -- no event-loop pass per
    hop -- and the order of handling depends only on the input, so a replay and the live
    run that recorded it handle their messages alike. Other tasks (journal writer, HTTP)
    get the loop between source messages and every ``max_batch`` messages.
``tasks``
    One task per actor draining its own mailbox; the event loop interleaves them.

With a durable journal as :attr:`Supervisor.barrier`, no actor handles a message while
an order, fill or control is recorded and not yet committed: the supervisor awaits the
commit first, so a venue never sees an order that a crash could erase from the journal.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Literal, Protocol

import anyio

from config.runtime import RuntimeConfig
from runtime.actor import Actor, ActorContext, ActorStats
from runtime.bus import Bus
from runtime.channels import Mailbox
from runtime.codec import encode, kind_of
from runtime.errors import ActorEscalation, AtriumError
from runtime.messages import DeadLetter, Message

__all__ = ("ActorSlot", "CommitBarrier", "Supervisor")

log = logging.getLogger("atrium.supervisor")

RestartPolicy = Literal["restart", "escalate"]
Scheduler = Literal["inline", "tasks"]


@dataclass
class ActorSlot:
    """One supervised actor: its class, context and mailbox outlive its instances."""

    name: str
    cls: type[Actor]
    context: ActorContext
    mailbox: Mailbox
    restart: RestartPolicy = "restart"
    actor: Actor | None = None
    restart_times: deque[float] = field(default_factory=deque)

    @property
    def stats(self) -> ActorStats:
        return self.context.stats


class CommitBarrier(Protocol):
    """What must be committed before actors act on it (the durable journal)."""

    commit_pending: bool

    async def commit(self) -> None: ...


def _cycle_full(ready: deque[ActorSlot]) -> str:
    names = ", ".join(slot.name for slot in ready)
    return (
        f"mailboxes full in a cycle: {names} cannot deliver their output; "
        "raise control_capacity/data_capacity in [topology.actors]"
    )


class Supervisor:
    """Runs a set of actors over one bus until stopped."""

    def __init__(self, bus: Bus, slots: list[ActorSlot], config: RuntimeConfig) -> None:
        self.bus = bus
        self.slots = slots
        self.config = config
        self.scheduler: Scheduler = config.scheduler
        self._dispatching = False
        # Messages handled since the inline scheduler last yielded (across dispatches).
        self._since_yield = 0
        self._ready: deque[ActorSlot] = deque()
        self._stop = anyio.Event()
        self._immediate = False
        self._escalation: ActorEscalation | None = None
        self._sources_done = anyio.Event()
        self._sources_left = 0
        self.stop_reason = ""
        self.barrier: CommitBarrier | None = None

    # -- control -------------------------------------------------------------------------

    def request_stop(self, reason: str, *, immediate: bool = False) -> None:
        """Begin shutdown; ``immediate`` skips draining the mailboxes."""
        if not self._stop.is_set():
            self.stop_reason = reason
            log.info("stopping: %s", reason)
        self._immediate = self._immediate or immediate
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- running -------------------------------------------------------------------------

    async def run(
        self,
        *,
        stop_when_sources_finish: bool = False,
        handle_signals: bool = False,
        before_sources: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Start every actor and supervise until a stop; raise if an actor escalated.

        ``before_sources`` runs once every actor is started and handling messages, before
        any source produces one: recovery re-runs the journal there.
        """
        try:
            for slot in self.slots:
                await self._start_instance(slot)
        except Exception as exc:
            await self._stop_all()
            raise ActorEscalation(slot.name, f"on_start failed: {exc!r}") from exc
        sources = [slot for slot in self.slots if slot.cls.is_source()]
        self._sources_left = len(sources)
        if not sources:
            self._sources_done.set()
        if self.scheduler == "inline":
            self._schedule_inline()
        failed: Exception | None = None
        async with anyio.create_task_group() as loops:
            if self.scheduler == "tasks":
                for slot in self.slots:
                    loops.start_soon(self._drain, slot, name=f"atrium-loop-{slot.name}")
            if handle_signals:
                loops.start_soon(self._watch_signals, name="atrium-signals")
            if before_sources is not None:
                try:
                    await before_sources()
                except Exception as exc:  # raised as itself, after a clean stop
                    failed = exc
                    self.request_stop(f"start failed: {exc}", immediate=True)
            if failed is None:
                await self._run_sources(sources, stop_when_sources_finish)
            loops.cancel_scope.cancel()
        await self._stop_all()
        if failed is not None:
            raise failed
        if self._escalation is not None:
            raise self._escalation

    async def _run_sources(self, sources: list[ActorSlot], stop_when_finished: bool) -> None:
        """Run the sources until a stop, then drain the mailboxes (unless immediate)."""
        async with anyio.create_task_group() as source_group:
            for slot in sources:
                source_group.start_soon(self._run_source, slot, name=f"atrium-source-{slot.name}")
            if stop_when_finished:
                source_group.start_soon(self._stop_after_sources)
            await self._stop.wait()
            source_group.cancel_scope.cancel()
        if not self._immediate:
            with anyio.move_on_after(self.config.shutdown_grace_seconds) as grace:
                await self.bus.wait_settled()
            if grace.cancelled_caught:
                log.warning(
                    "shutdown grace of %.1fs ran out with %d messages unhandled",
                    self.config.shutdown_grace_seconds,
                    self.bus.in_flight,
                )

    async def _start_instance(self, slot: ActorSlot) -> None:
        slot.actor = slot.cls(slot.context)
        await slot.actor.on_start()

    async def _stop_all(self) -> None:
        with anyio.CancelScope(shield=True):
            for slot in self.slots:
                if slot.actor is None:
                    continue
                try:
                    await slot.actor.on_stop()
                except Exception:
                    log.exception("on_stop of %s failed", slot.name)
                slot.mailbox.close()

    async def _stop_after_sources(self) -> None:
        await self._sources_done.wait()
        self.request_stop("feed finished")

    async def _run_source(self, slot: ActorSlot) -> None:
        assert slot.actor is not None
        try:
            await slot.actor.run()
        except AtriumError as exc:
            self._escalate(slot, str(exc))
        except Exception as exc:
            log.exception("source %s failed", slot.name)
            self._escalate(slot, f"source failed: {exc!r}")
        finally:
            self._sources_left -= 1
            if self._sources_left == 0:
                self._sources_done.set()

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            await self.watch_signals(signals)

    async def watch_signals(self, signals: AsyncIterator[int]) -> None:
        """First SIGINT/SIGTERM: stop with a drain; any later one: stop at once.

        Callers that must flush after :meth:`run` returns (the journal) open the signal
        receiver themselves, around the flush, and run this beside :meth:`run`: asyncio
        restores the default action when a handler is removed, so a second signal after
        ``run`` returned would otherwise kill the process mid-flush.
        """
        async for signum in signals:
            name = signal.Signals(signum).name
            if self.stopping:
                self.request_stop(f"second {name}: exiting at once", immediate=True)
            else:
                self.request_stop(f"{name} received")

    # -- the actor loop ------------------------------------------------------------------

    async def _drain(self, slot: ActorSlot) -> None:
        """The ``tasks`` scheduler: one actor's loop."""
        mailbox = slot.mailbox
        max_batch = self.config.max_batch
        while True:
            if not mailbox.depth:
                await mailbox.wait()
                continue
            barrier = self.barrier
            if barrier is not None and barrier.commit_pending:
                await barrier.commit()
            handled, crash = self._handle_batch(slot, max_batch)
            actor = slot.actor
            assert actor is not None
            if actor._outbox:
                await actor.flush_outbox()  # backpressure: wait for room downstream
            if crash is not None and not await self._recover(slot, *crash):
                return
            if handled >= max_batch:
                await anyio.lowlevel.checkpoint()

    def _schedule_inline(self) -> None:
        ready = self._ready
        for slot in self.slots:
            slot.mailbox.on_ready = partial(ready.append, slot)
        self.bus.set_dispatcher(self._dispatch)

    async def _dispatch(self) -> None:
        """The ``inline`` scheduler: handle delivered messages until the pipeline is idle.

        Every delivery queues its mailbox once, so messages are handled in the order they
        were delivered, across all actors (breadth first: each consequence of a message is
        handled after everything delivered before it). The loop yields to the event loop
        every ``max_batch`` messages so the journal writer and the HTTP API keep running.
        """
        if self._dispatching:  # another source is dispatching: its run covers our message
            await self.bus.wait_idle()
            return
        self._dispatching = True
        ready, max_batch, barrier, bus = self._ready, self.config.max_batch, self.barrier, self.bus
        stalled = 0
        try:
            while ready and not self._immediate:
                if barrier is not None and barrier.commit_pending:
                    await barrier.commit()
                slot = ready.popleft()
                actor = slot.actor
                assert actor is not None
                if actor._outbox and not actor.flush_outbox_nowait():
                    ready.append(slot)  # its output waits for room in another mailbox
                    stalled += 1
                    if stalled > len(ready):
                        self._escalate(slot, _cycle_full(ready))
                        return
                    continue
                stalled = 0
                message = slot.mailbox.take()
                if message is None:
                    continue
                handler = actor._handlers.get(type(message))
                if handler is not None:
                    try:
                        handler(actor, message)
                    except Exception as exc:
                        slot.context.stats.failed += 1
                        if not await self._recover(slot, message, exc):
                            return
                        continue
                slot.context.stats.processed += 1
                bus.done()
                if actor._outbox:  # its output met a full mailbox: come back to deliver it
                    ready.append(slot)
                self._since_yield += 1
                if self._since_yield >= max_batch:
                    self._since_yield = 0
                    await anyio.lowlevel.checkpoint()
        finally:
            self._dispatching = False

    def _handle_batch(
        self, slot: ActorSlot, limit: int
    ) -> tuple[int, tuple[Message, Exception] | None]:
        """Handle up to ``limit`` messages of the mailbox, one at a time (the hot loop).

        Stops early when a handler raised (returned with its message, for :meth:`_recover`)
        or when a handler's output met a full mailbox (left in the actor's outbox for the
        scheduler to deliver before this actor handles anything more). The bus hears of
        the handled messages once, at the end: no one reads the in-flight count in between.
        """
        actor, stats, take = slot.actor, slot.stats, slot.mailbox.take
        assert actor is not None
        handlers, outbox = actor._handlers, actor._outbox
        handled = 0
        crash: tuple[Message, Exception] | None = None
        while handled < limit:
            message = take()
            if message is None:
                break
            handler = handlers.get(type(message))
            if handler is not None:
                try:
                    handler(actor, message)
                except Exception as exc:
                    crash = (message, exc)
                    break
            handled += 1
            if outbox and not actor.flush_outbox_nowait():
                break
        stats.processed += handled
        if handled:
            self.bus.done(handled)
        if crash is not None:
            stats.failed += 1
            return handled + 1, crash
        return handled, None

    async def _recover(self, slot: ActorSlot, message: Message, exc: Exception) -> bool:
        """Dead-letter the message that crashed, then restart; False when escalated."""
        self._dead_letter(slot, message, exc)
        if not await self._restart(slot, exc):
            return False  # escalated: the message stays in flight so nothing advances
        self.bus.done()
        return True

    def _dead_letter(self, slot: ActorSlot, message: Message, exc: Exception) -> None:
        slot.stats.dead_letters += 1
        log.error(
            "%s failed on %s; message dead-lettered", slot.name, kind_of(message), exc_info=exc
        )
        letter = DeadLetter(
            ts=slot.context.clock.now_ns(),
            actor=slot.name,
            message_kind=kind_of(message),
            payload=encode(message),
            error=f"{type(exc).__name__}: {exc}",
        )
        self.bus.record(letter)
        self.bus.deliver_nowait(letter, self.bus.targets(letter, slot.name))

    async def _restart(self, slot: ActorSlot, exc: Exception) -> bool:
        """Restart ``slot`` after backoff; False when it escalated instead."""
        if slot.restart == "escalate":
            self._escalate(
                slot, f"handler raised {type(exc).__name__}: {exc} (restart policy: escalate)"
            )
            return False
        now = time.monotonic()
        window = self.config.restart_window_seconds
        times = slot.restart_times
        while times and now - times[0] > window:
            times.popleft()
        if len(times) >= self.config.max_restarts:
            self._escalate(
                slot,
                f"{len(times) + 1} failures within {window:g}s exceeds max_restarts="
                f"{self.config.max_restarts}; last error {type(exc).__name__}: {exc}",
            )
            return False
        delay = min(
            self.config.backoff_initial_seconds * (2 ** len(times)), self.config.backoff_max_seconds
        )
        times.append(now)
        await anyio.sleep(delay)
        try:
            await self._start_instance(slot)
        except Exception as start_exc:
            self._escalate(slot, f"restart failed in on_start: {start_exc!r}")
            return False
        slot.stats.restarts += 1
        log.warning("%s restarted (%d in window) after %.3fs", slot.name, len(times), delay)
        return True

    def _escalate(self, slot: ActorSlot, reason: str) -> None:
        if self._escalation is None:
            self._escalation = ActorEscalation(slot.name, reason)
            log.error("escalation: %s", self._escalation)
        self.request_stop(f"{slot.name} escalated", immediate=True)
