"""The supervisor: starts and stops the actors, restarts or escalates when one fails.

Erlang-style: a handler that raises has its message dead-lettered (journaled with the
error, counted, never retried); the actor is then restarted as a fresh instance after an
exponential backoff, keeping its mailbox so nothing else is lost. More than
``max_restarts`` within ``restart_window_seconds``, a crash in an actor whose policy is
``escalate``, or an overflowing mailbox stops everything cleanly and
:meth:`Supervisor.run` raises :class:`~runtime.errors.ActorEscalation`.

Shutdown (SIGINT/SIGTERM, :meth:`Supervisor.request_stop`, or the sources finishing in a
replay) stops the sources first, lets the input being handled settle, then calls every
actor's ``on_stop`` so it can flush. A second signal skips the wait.

The handling itself is the dispatcher's (:mod:`atrium.runtime.dispatch`): sources hand it one
input at a time and it calls the handlers.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import anyio

from atrium.config.runtime import RuntimeConfig
from atrium.runtime.actor import Actor, ActorContext, ActorStats
from atrium.runtime.channels import Mailbox
from atrium.runtime.codec import encode, kind_of
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.errors import ActorEscalation, AtriumError, MailboxOverflow, RuntimeStopped
from atrium.runtime.messages import DeadLetter, Message

__all__ = ("ActorSlot", "Supervisor")

log = logging.getLogger("atrium.supervisor")

RestartPolicy = Literal["restart", "escalate"]


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


class Supervisor:
    """Runs a set of actors over one dispatcher until stopped."""

    def __init__(
        self, dispatcher: Dispatcher, slots: list[ActorSlot], config: RuntimeConfig
    ) -> None:
        self.dispatcher = dispatcher
        self.slots = slots
        self.config = config
        self._by_mailbox = {id(slot.mailbox): slot for slot in slots}
        dispatcher.on_crash = self._on_crash
        self._stop = anyio.Event()
        self._immediate = False
        self._escalation: ActorEscalation | None = None
        self._sources_done = anyio.Event()
        self._sources_left = 0
        self.stop_reason = ""

    # -- control -------------------------------------------------------------------------

    def request_stop(self, reason: str, *, immediate: bool = False) -> None:
        """Begin shutdown; ``immediate`` skips draining the mailboxes."""
        if not self._stop.is_set():
            self.stop_reason = reason
            log.info("stopping: %s", reason)
        self._immediate = self._immediate or immediate
        if immediate:
            self.dispatcher.abandon()
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
        failed: Exception | None = None
        async with anyio.create_task_group() as loops:
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
        if self._escalation is not None and (failed is None or isinstance(failed, RuntimeStopped)):
            raise self._escalation
        if failed is not None:
            raise failed

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
                await self.dispatcher.wait_settled()
            if grace.cancelled_caught:
                log.warning(
                    "shutdown grace of %.1fs ran out with %d messages unhandled",
                    self.config.shutdown_grace_seconds,
                    self.dispatcher.in_flight,
                )

    async def _start_instance(self, slot: ActorSlot) -> None:
        slot.actor = slot.cls(slot.context)
        slot.mailbox.actor = slot.actor
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

    async def _stop_after_sources(self) -> None:
        await self._sources_done.wait()
        self.request_stop("feed finished")

    async def _run_source(self, slot: ActorSlot) -> None:
        assert slot.actor is not None
        try:
            await slot.actor.run()
        except RuntimeStopped:
            pass  # stopped at once: whatever stopped it is already reported
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

    # -- failures ------------------------------------------------------------------------

    async def _on_crash(self, mailbox: Mailbox, message: Message, exc: Exception) -> bool:
        """Dead-letter the message that crashed, then restart; False when escalated."""
        slot = self._by_mailbox[id(mailbox)]
        if isinstance(exc, MailboxOverflow):
            self._escalate(slot, str(exc))
            return False
        self._dead_letter(slot, message, exc)
        return await self._restart(slot, exc)

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
        dispatcher = self.dispatcher
        dispatcher.record(letter)
        dispatcher.deliver(letter, dispatcher.targets(letter, slot.name))

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
