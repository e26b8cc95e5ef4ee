"""The bridge actor: carries messages between this process's bus and the NATS stream.

Outbound, it subscribes to every kind another role wants; the bus never hands it what it
published itself, so only what this process's actors made leaves, each on its subject
(:mod:`atrium.runtime.cluster.subjects`) under a message id that stays the same when a
restarted role makes it again: order flow by its own ids (:func:`domain_key`), anything
else by a count of what the role sent (``strategy-a:17``), since the same input gives the
same outputs; JetStream drops the copies. Market data read here is keyed by a run id and
its sequence in the run, so a restarted source never reuses an id of its previous run.

Inbound, it is a source: it takes batches from the role's durable consumer in stream
order, publishes each message on the local bus, waits until the pipeline is idle and what
the batch caused is stored in JetStream, and only then acknowledges the batch. A message
acknowledged was therefore handled and its consequences are safe. On start, the role's
newest snapshot (:mod:`atrium.runtime.cluster.state`) is restored, and the messages after
it that a previous run of the role had acknowledged are handled again with the output held
back (they were sent the first time): that rebuilds a strategy's indicators and positions.

In a replay each role reads the recorded feeds itself by default, and the bridge carries
only the order flow and the step markers that keep the roles in step, on plain subjects
(:mod:`atrium.runtime.cluster.steps`, :mod:`atrium.runtime.cluster.step_wire`); the
market data role only starts it (:mod:`atrium.runtime.cluster.coordinator`). With
``replay_market_data = "driver"`` the role that runs market data drives the cluster
(:mod:`atrium.runtime.cluster.driven`), and at the end it marks the stream so the other
roles finish too. Live market data on plain subjects goes by
:mod:`atrium.runtime.cluster.plain_link`.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import anyio
import msgspec
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext

from atrium.runtime.actor import Actor, ActorContext
from atrium.runtime.capabilities import (
    CONTROL_INPUT,
    INTENT_NUMBERING,
    LINK_HEALTH,
    ORDERS_IN_FLIGHT,
    ROLE_RESUME,
    VENUE_INPUT,
    PortfolioView,
)
from atrium.runtime.clocks import LiveClock, SimClock
from atrium.runtime.cluster.bridge_metrics import BridgeMetrics
from atrium.runtime.cluster.coordinator import give_start, wait_for_end
from atrium.runtime.cluster.driven import DrivenReplay, rank_by_strategy
from atrium.runtime.cluster.link import INPUT_HEADER, ROLE_HEADER, Link, Outgoing, fetch_available
from atrium.runtime.cluster.link import MSG_ID as _MSG_ID
from atrium.runtime.cluster.lock import RoleLock
from atrium.runtime.cluster.marks import MarkBatches
from atrium.runtime.cluster.plain_link import PlainMarketLink, number_intents_on
from atrium.runtime.cluster.stale import StaleGuard
from atrium.runtime.cluster.state import RoleSnapshot, RoleState, StateCheck
from atrium.runtime.cluster.step_wire import StepWire
from atrium.runtime.cluster.steps import CoreSteps, FollowerSteps, decode_done, decode_step
from atrium.runtime.cluster.unsent import forget_unsent, load_unsent, save_unsent, with_resume
from atrium.runtime.cluster.venue import RETURNS_HEADER, VenueInputs
from atrium.runtime.cluster.wiring import RoleWiring
from atrium.runtime.codec import MESSAGE_TYPES, decode, encode
from atrium.runtime.errors import AtriumError
from atrium.runtime.messages import (
    Bar,
    Control,
    Fill,
    Message,
    Order,
    OrderIntent,
    Tick,
    VenueReport,
)
from atrium.runtime.metrics import counting

__all__ = ("NatsBridge",)

log = logging.getLogger("atrium.cluster")

#: Exports held before the sources must wait for them to be stored.
_OUTBOUND_LIMIT = 4096
_MARKET = (Bar, Tick)
#: A snapshot and a portfolio check taken after a batch (either may be None), written
#: once the batch is acknowledged.
_Taken = tuple[RoleSnapshot | None, StateCheck | None]


def domain_key(message: Message) -> str | None:
    """The id of an order-flow message that stays the same in every run that makes it.

    Strategies and the portfolio number intents and orders deterministically, so a role
    that rebuilds and re-sends one re-sends it under the same id and JetStream drops it.
    """
    if isinstance(message, OrderIntent):
        return f"intent:{message.intent_id}"
    if isinstance(message, Order):
        return f"order:{message.order_id}"
    if isinstance(message, Fill):
        return f"fill:{message.fill_id}"
    return None


class NatsBridge(Actor):
    """Exports what other roles subscribe to, imports what this role's actors want."""

    # Set on a live start (:meth:`resume`): the stream sequence the restored snapshot
    # covers, the portfolio the previous run recorded that the rebuild is still to be
    # compared with, and why the rebuild must not go live (they differed).
    _base = 0
    _check: StateCheck | None = None
    _refused: str | None = None
    _rebuild_started = 0.0
    # Reconciles the live venues and lets them trade, once the rebuild is done (set by
    # :meth:`resume`; None once called, and in a replay).
    _going_live: Callable[[], Awaitable[None]] | None = None
    # The venue stays quiet until the stream is handled this far: the floor, or the last
    # report of the venue an earlier run stored (it may not have acknowledged it).
    _quiet_upto = 0

    def __init__(self, context: ActorContext) -> None:
        super().__init__(context)
        wiring = context.config
        if not isinstance(wiring, RoleWiring):
            raise AtriumError("the NATS bridge runs only in a role (atrium ... --role NAME)")
        if context.mode == "live" and wiring.cluster.market_data == "subjects":
            wiring = wiring.live_subjects()
        self.wiring = wiring
        self.link = Link(wiring, self._connection_changed)
        cluster = wiring.cluster
        self.lock = RoleLock(
            wiring.stream, wiring.role, cluster.lock_ttl_seconds, memory=cluster.storage == "memory"
        )
        self.outbound: list[Outgoing] = []
        # What a flush is publishing now (kept at a stop that could not finish it).
        self._in_flight: list[Outgoing] = []
        self._exported = 0
        # Market data made here: numbered per run, under an id no earlier run used.
        self._run = secrets.token_hex(6)
        self._fed = 0
        # A restart re-sends what the input its predecessor took (up to ``_resent_upto``)
        # causes; JetStream dropping those as duplicates is expected, elsewhere an alarm.
        self._resent_upto = 0
        self._cause = 0
        self._may_repeat: set[str] = set()
        # Exports held so far and stored so far; a taken batch is acknowledged once what
        # it caused is stored (its mark: the held count after it was handled).
        self._held = 0
        self._stored = 0
        self._acks: deque[tuple[int, Msg, _Taken]] = deque()
        # Rebuilding, and then the newest time of the messages handled again (the clock's).
        self._muted, self._recorded_ns = False, 0
        self._init_driven(context, wiring)
        self._flushing = anyio.Lock()
        self._wake = anyio.Event()
        self._link_changed = anyio.Event()
        self._sub: JetStreamContext.PullSubscription | None = None
        self._floor = 0
        # The last stream sequence handled (a redelivered one is skipped).
        self._handled = 0
        self._started = False
        self._metrics = BridgeMetrics(
            context, wiring.role, lambda: self.link.connected, lambda: len(self.outbound)
        )
        self._stale = StaleGuard(context, wiring)
        self._plain = PlainMarketLink(
            self.link,
            wiring,
            self._run,
            self._metrics,
            deliver=self._take_market,
            paused=lambda: self.rebuilding or self._going_live is not None,
            queue=self._queue,
        )
        self._controls = 0
        self._venue_inputs = VenueInputs(wiring.venue_input)
        self.state = RoleState(wiring.stream, wiring.role, cluster)
        self._init_steps(context, wiring)
        self._offer(context)

    def _init_driven(self, context: ActorContext, wiring: RoleWiring) -> None:
        """A replay driven over the stream (:mod:`.driven`); every consumer of a replay
        without local market data reports its progress to the driver."""
        replay = context.mode == "replay"
        self._driven = DrivenReplay(
            self.link,
            wiring,
            drives=replay and wiring.driver,
            holds=replay
            and not wiring.driver
            and any(name != context.name for name in context.dispatcher.subscribers(OrderIntent)),
            queue=self._queue,
        )
        self._reports = replay and wiring.local is None
        self._ranked = rank_by_strategy(wiring.strategy_order)

    def _init_steps(self, context: ActorContext, wiring: RoleWiring) -> None:
        """Replay with local market data: the core's or a strategy role's turnstile,
        which keeps the records its market data actor reads in step with the cluster."""
        local = wiring.local if context.mode == "replay" else None
        self._coordinates = local is not None and local.part == "coordinator"
        self._steps: CoreSteps | FollowerSteps | None = None
        self._wire: StepWire | None = None
        if local is None or self._coordinates:
            return
        subjects, role = wiring.subjects, wiring.role
        self._wire = StepWire(self.link, role)
        if local.part == "core":
            self._steps = CoreSteps(
                self,
                role=role,
                steps={follower: subjects.step(follower) for follower in local.followers},
                owners={s: f for f, hosted in local.followers.items() for s in hosted},
                rank=self._ranked,
                release=self._publish_round,
                in_flight=self._strategies_in_flight,
                end=subjects.end,
            )
        else:
            symbols = local.symbols
            self._steps = FollowerSteps(
                self,
                role,
                subjects.done(role),
                lambda record: isinstance(record, _MARKET) and record.symbol in symbols,
                core=local.core,
            )
        context.dispatcher.turnstile = self._steps

    def _offer(self, context: ActorContext) -> None:
        """The bus's gate, and what the runtime asks of the bridge."""
        context.dispatcher.add_gate(self)
        context.provide(LINK_HEALTH, self)
        context.provide(ROLE_RESUME, self)
        if any(name != context.name for name in context.dispatcher.subscribers(Control)):
            context.provide(CONTROL_INPUT, self)
        if self.wiring.venue_input:
            context.provide(VENUE_INPUT, self)

    # -- lifecycle ------------------------------------------------------------------------

    async def on_start(self) -> None:
        await self.link.open()
        await self._refuse_wrong_stream()
        await self.lock.acquire(self.link.js)
        await self._send_kept()
        if self._wire is not None:
            subjects = self.wiring.subjects
            core = isinstance(self._steps, CoreSteps)
            subject = subjects.done_all if core else subjects.step(self.wiring.role)
            await self._wire.listen(subject, self._take_wired)
        if self._coordinates:
            await give_start(self.link, self.wiring)
        if self.wiring.imports:
            await self._read_floor()
        if self.wiring.plain_market:
            await self._plain.listen()
        await self._driven.start()
        self._started = True

    async def _refuse_wrong_stream(self) -> None:
        """A replay needs an empty stream, and a live run one no replay used."""
        wiring = self.wiring
        if self._coordinates and await self.link.stored():
            raise AtriumError(
                f"cluster.namespace: the stream {wiring.stream} already holds messages "
                "of an earlier run; a replay needs an empty one (use another namespace)"
            )
        if self._driven.drives and wiring.imports:
            raise AtriumError(
                f"cluster.roles.{wiring.role}: in a replay the role running market data "
                "drives the others and cannot also consume; put its other actors in a role "
                "of their own"
            )
        if self._driven.drives and await self.link.stored():
            raise AtriumError(
                f"cluster.namespace: the stream {wiring.stream} already holds messages "
                "of an earlier run; a replay needs an empty one (use another namespace)"
            )
        if self.context.mode == "live" and await self.link.replayed():
            raise AtriumError(
                f"cluster.namespace: a replay ran in the namespace {wiring.cluster.namespace!r}"
                f" (the stream {wiring.stream} holds its markers); a live run needs a "
                "namespace of its own"
            )

    async def _read_floor(self) -> None:
        """How far an earlier run of the role got: what this one rebuilds."""
        self._floor, self._resent_upto = await self.link.ack_floor()
        if self._floor and self._steps is not None:
            raise AtriumError(
                f"cluster.roles.{self.wiring.role}: this role already took part in the "
                "replay in this namespace and stopped before its end; a replay whose roles "
                "read the feeds themselves cannot take a role back (one that stopped sent "
                "part of its output): run the replay again in a new namespace"
            )
        self._quiet_upto = self._floor
        if self.wiring.venue_input:
            (reports,) = self.wiring.subjects.filters([VenueReport])
            self._quiet_upto = max(self._floor, await self.link.last_stored(reports))
        if self._floor and self.wiring.no_rebuild is not None:
            raise AtriumError(
                f"cluster.roles.{self.wiring.role}: an earlier run of this role handled "
                f"{self._floor} messages of the stream, and rebuilding its state by "
                f"handling them again is not safe: {self.wiring.no_rebuild}. Reconcile "
                "with the venue, then start the session over in a new namespace"
            )

    async def resume(
        self,
        actors: Mapping[str, Actor],
        fingerprint: str,
        portfolio: PortfolioView | None,
        go_live: Callable[[], Awaitable[None]],
    ) -> None:
        """Before any input (a live role's start): restore the newest usable snapshot of
        ``actors``, and note the portfolio the previous run recorded to compare with.
        ``go_live`` is called once the rebuild is done, before any new input."""
        self._going_live = go_live
        if not self.wiring.imports or self.context.mode != "live":
            return
        state = self.state
        await state.open(self.link.js, actors, fingerprint, portfolio)
        restored = await state.restore(self._floor)
        self._base = self._handled = restored.seq
        self._exported = restored.exported
        check = await state.recorded_check()
        if check is not None and self._base < check.seq <= self._floor:
            self._check = check
        if restored.seq:
            log.info(
                "restored the snapshot at stream sequence %d (%s/%s)",
                restored.seq,
                state.bucket,
                state.role,
            )

    async def _open_input(self) -> None:
        """This role's consumer, read from after the snapshot restored (or the start)."""
        self._rebuild_started = time.perf_counter()
        self._sub = await self.link.open_consumer(
            self._floor, self._resent_upto, replay=self.context.mode == "replay", after=self._base
        )
        if self._floor > self._base:
            log.info("rebuilding from stream sequence %d to %d", self._base + 1, self._floor)

    async def run(self) -> None:
        live = self.context.mode == "live"
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._flush_when_woken)
            tasks.start_soon(self.lock.keep)
            if live:
                tasks.start_soon(self._tell_risk)
            if self.wiring.plain_market:
                self._plain.start(tasks)
            if self._wire is not None:
                tasks.start_soon(self._wire.failed)
            if self.wiring.imports:
                await self._open_input()
                await self._import()
            elif self._coordinates:
                await wait_for_end(self.link, self.wiring, self.lock)
            elif live:
                await self._go_live()
                await anyio.sleep_forever()
            tasks.cancel_scope.cancel()

    async def on_stop(self) -> None:
        """Store what is held and snapshot, but only until the stop deadline (NATS may be
        out of reach): what is not stored by then is kept."""
        try:
            with anyio.move_on_after(self.wiring.cluster.stop_timeout_seconds):
                await self._tell_failure()
                await self.flush()
                if self._driven.drives and self._started:
                    role = self.wiring.role
                    end = (
                        self.wiring.subjects.end,
                        b"",
                        {_MSG_ID: f"{role}:end", ROLE_HEADER: role},
                    )
                    await self.link.publish([end])
                if self.state.on and not self._acks and self._sub and not self._refused:
                    # Everything handled is acknowledged: a restart starts from here.
                    await self.state.save(self.state.take(self._handled, self._exported), None)
            # Market data kept by this run and not stored goes: stale by the next start.
            unsent = [
                item for item in (*self._in_flight, *self.outbound) if not self._is_marks(item)
            ]
            if unsent:
                save_unsent(Path(self.wiring.unsent), unsent)
        finally:
            if self.link.connected:
                with anyio.move_on_after(1.0):
                    await self.lock.release()
            await self.link.close()

    async def _send_kept(self) -> None:
        """Publish what the previous run kept at its stop, before anything new."""
        path = Path(self.wiring.unsent)
        kept = with_resume(load_unsent(path), self.wiring, self.clock.now_ns())
        if kept:
            await self.link.publish(kept, {item[2].get(_MSG_ID, "") for item in kept})
            self._metrics.sent.inc(len(kept))
            log.warning("sent %d messages the previous run kept in %s", len(kept), path)
        forget_unsent(path)

    # -- replay with local market data (runtime.cluster.steps) --------------------------

    async def alive(self, role: str) -> bool:
        """Whether a process runs ``role`` (a StepPort): its lock is held."""
        return await self.lock.holds(role)

    @property
    def patience(self) -> float:
        """How long a replay's role waits for a peer before asking whether it is alive."""
        return self.wiring.cluster.lock_ttl_seconds

    def send_marker(self, subject: str, payload: bytes, msg_id: str) -> None:
        """Queue a step marker behind what was exported so far (a StepPort): on the
        step subjects, or, the end, on the stream."""
        if self._wire is not None and subject != self.wiring.subjects.end:
            self._wire.put(subject, payload, marker=True)
            self._wake.set()
        else:
            self._queue((subject, payload, {_MSG_ID: msg_id, ROLE_HEADER: self.wiring.role}))

    async def _take_wired(self, role: str, marker: bool, payload: bytes) -> None:
        """What came on the step subjects, to the turnstile or the bus, in order."""
        steps = self._steps
        if isinstance(steps, CoreSteps):
            if marker:
                steps.done(role, decode_done(payload))
            else:
                steps.hold(role, decode(payload))
        elif isinstance(steps, FollowerSteps):
            if marker:
                steps.step(decode_step(payload))
            else:
                self._metrics.received.inc()
                await self._take_one(decode(payload), False)

    async def _tell_failure(self) -> None:
        """A role stopping before its replay's end tells the others, which stop too."""
        steps = self._steps
        if steps is None or steps.complete or not self._started:
            return
        reason = f"role {self.wiring.role} stopped at event {steps.event} (see its log)"
        self.send_marker(*steps.failure(reason))
        await self.flush()
        if self._wire is not None:  # the connection closes next: the server must have it
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await self.link.flush_plain()

    def _export_wired(self, message: Message) -> None:
        """A replay's order flow, on the step subject the turnstile names (if any)."""
        assert self._wire is not None and self._steps is not None
        subject = self._steps.exported(message)
        if subject is not None:
            self._wire.put(subject, encode(message), marker=False)
            self._metrics.sent.inc()
            self._wake.set()

    def _take_marker(self, msg: Msg) -> bool:
        """A replay's start, handed to the turnstile; False: not one."""
        if self._steps is None or msg.subject != self.wiring.subjects.start:
            return False
        self._steps.start_seen()
        return True

    async def _publish_round(self, messages: list[Message]) -> None:
        await self._dispatcher.publish_all(messages, self.name)

    def _strategies_in_flight(self) -> frozenset[str]:
        view = self.context.capabilities.get(ORDERS_IN_FLIGHT)
        if view is None:
            raise AtriumError("cluster replay: the core runs no portfolio actor")
        return view.strategies_in_flight()

    def _is_marks(self, item: Outgoing) -> bool:
        return item[0] == self._plain.marks_subject

    # -- outbound -------------------------------------------------------------------------

    def _export(self, message: Message, subject: str | None = None) -> None:
        if self._wire is not None:
            self._export_wired(message)
            return
        role = self.wiring.role
        if subject is None and isinstance(message, _MARKET) and self.wiring.plain_market:
            self._plain.put_out(message)
            return
        if subject is None and isinstance(message, _MARKET):
            self._fed += 1
            msg_id = f"{role}:{self._run}:{self._fed}"
        else:
            self._exported += 1
            msg_id = f"{role}:{domain_key(message) or self._exported}"
        if self._muted or self._stale.holds(message):
            return
        if self._cause and self._cause <= self._resent_upto:
            self._may_repeat.add(msg_id)
        self._driven.unsettled = True
        subject = subject or self.wiring.subjects.subject(message)
        self._queue((subject, encode(message), {_MSG_ID: msg_id, ROLE_HEADER: role}))

    def _queue(self, item: Outgoing) -> None:
        """Send ``item`` to the stream with the next flush (a batch taken meanwhile is
        acknowledged once it is stored)."""
        self.outbound.append(item)
        self._held += 1
        self._wake.set()

    async def flush(self) -> None:
        """Publish everything held, wait until JetStream stored it, then acknowledge the
        batches whose consequences that was."""
        async with self._flushing:
            if self._wire is not None:
                await self._wire.send()
            # A flush cancelled while publishing left its batch in flight: it goes first.
            self.outbound, self._in_flight = [*self._in_flight, *self.outbound], []
            while self.outbound:
                batch = self._in_flight = self.outbound
                self.outbound = []
                dropped = await self.link.publish(batch, self._may_repeat)
                self._in_flight = []
                self._metrics.duplicates.inc(dropped)
                self._stored += len(batch)
                self._metrics.sent.inc(len(batch))
            await self._ack_stored()

    async def _ack_stored(self) -> None:
        acks, last = self._acks, None
        snapshot = check = None
        while acks and acks[0][0] <= self._stored:
            _, last, (taken, checked) = acks.popleft()
            snapshot, check = taken or snapshot, checked or check
        if last is None:
            return
        if not await self._ack(last):
            # Lost to a disconnect: the next round tries again.
            acks.appendleft((0, last, (snapshot, check)))
            return
        if self._reports:
            await self.link.report_progress(last.metadata.sequence.stream)
        if snapshot is not None or check is not None:
            await self.state.save(snapshot, check)

    async def _flush_when_woken(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            await self.flush()

    # The gate of the bus (runtime.dispatcher.Gate): sources wait here.

    @property
    def blocked(self) -> bool:
        if self._driven.drives:
            return self._driven.unsettled
        return len(self.outbound) >= _OUTBOUND_LIMIT

    async def wait_writable(self) -> None:
        await self.flush()
        if self._driven.drives and self._driven.unsettled:
            await self._driven.settle()

    async def _take_market(self, message: Message) -> None:
        """Market data from a plain subject, to the bus (:mod:`.plain_link`)."""
        self._stale.note(message)
        await self.send(message)

    # -- inbound --------------------------------------------------------------------------

    async def _import(self) -> None:
        """Take the consumer's messages in stream order until the replay's end marker.

        Every message is handled once: a batch whose acknowledgement was lost to a
        disconnect comes back later, and what this run already handled is skipped by its
        stream sequence (the next acknowledgement covers it too). Publishing what a batch
        caused and acknowledging it happen in :meth:`flush`, beside the taking of the
        next batch.
        """
        sub = self._sub
        assert sub is not None
        while True:
            if self._going_live is not None and self._handled >= self._quiet_upto:
                await self._go_live()
            try:
                batch = await fetch_available(sub, self.wiring.cluster.fetch_batch)
            except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
                log.debug("fetch failed (%r); trying again", exc)
                await anyio.sleep(self.wiring.cluster.reconnect_wait_seconds)
                continue
            if not batch:
                await self._snapshot_when_idle()
                continue
            ended = await self._handle(batch)
            if self._refused is not None:
                await anyio.sleep_forever()  # rebuilt to another state: never live
            await self.settled()
            if self._muted and self._handled >= self._floor:
                self._end_rebuild()
            # Acknowledged once what it caused is stored; meanwhile the next batch is taken.
            self._acks.append((self._held, batch[-1], self._taken(len(batch))))
            self._wake.set()
            if ended:
                while self._acks:
                    await self.flush()
                    if self._acks:
                        await anyio.sleep(self.wiring.cluster.reconnect_wait_seconds)
                return

    async def _handle(self, batch: list[Msg]) -> bool:
        """Hand one batch to the bus; True when it held the replay's end marker."""
        end, release = self.wiring.subjects.end, self.wiring.subjects.release
        self._cause, ended = batch[0].metadata.sequence.stream, False
        for msg in batch:
            seq = msg.metadata.sequence.stream
            if seq <= self._handled:
                continue  # redelivered after a lost acknowledgement
            if self._going_live is not None and seq > self._quiet_upto:
                await self._go_live()  # rebuilt: nothing new is handled before that
            self._handled = seq
            if msg.subject == end:
                ended = True
                if self._steps is not None:
                    reason = msg.data.decode(errors="replace")
                    self._steps.ended(reason)
                    if reason:  # this role's output is no part of a finished replay
                        raise AtriumError(f"the replay stopped: {reason}")
            elif self._take_marker(msg):
                pass
            elif msg.subject == release:
                await self._release()
            else:
                await self._take(msg, seq)
            if self._check is not None and seq >= self._check.seq:
                await self._compare(self._check, seq)
                if self._refused is not None:
                    break
        return ended

    async def _compare(self, recorded: StateCheck, seq: int) -> None:
        """The rebuilt portfolio against the one the previous run had after ``seq``."""
        self._check = None
        if seq != recorded.seq:
            return  # the stream's messages were filtered otherwise: no same point
        await self.settled()
        rebuilt = self.state.check(seq)
        difference = None if rebuilt is None else rebuilt.difference(recorded)
        if difference is not None:
            self._refused = (
                f"the portfolio rebuilt from the stream up to sequence {seq} differs from "
                f"the one the previous run had there (rebuilt against recorded): {difference}"
            )
            log.error("%s; not going live", self._refused)

    def _taken(self, handled: int) -> _Taken:
        """What is written once the batch just handled is acknowledged (live only)."""
        if self.context.mode != "live" or (not self.state.portfolio and not self.state.on):
            return None, None
        seq = self._handled
        snapshot = self.state.take(seq, self._exported) if self.state.due(handled) else None
        # The previous run's record stays until the rebuild has been compared with it.
        check = self.state.changed_check(seq) if self._check is None else None
        return snapshot, check

    async def _snapshot_when_idle(self) -> None:
        """Snapshot by time when no message came, once all handled is acknowledged: market
        data on plain subjects moves the state without any message of the stream."""
        state = self.state
        if self.context.mode != "live" or self._acks or self.rebuilding or not state.due(0):
            return
        await self.settled()
        await state.save(state.take(self._handled, self._exported), None)

    def _follow_recorded_time(self, rebuilding: bool) -> None:
        """While rebuilding, a live role's clock reads the time of the message handled
        again, not the wall clock: decisions that read the clock (risk's order-rate window,
        its day) go as they went, where a rebuild at full speed would crowd a session's
        approvals into a second and deny some. One process's recovery does the same."""
        clock = self.clock
        if isinstance(clock, LiveClock):
            clock.follow(self._recorded_time if rebuilding else None)

    def _recorded_time(self) -> int:
        return self._recorded_ns

    def _end_rebuild(self) -> None:
        """The stream is handled up to the floor: output and counts are live again."""
        self._muted = False
        self._follow_recorded_time(False)
        counting(self.context.registry, True)
        log.info(
            "rebuilt from the stream, sequence %d to %d, in %.2fs",
            self._base + 1,
            self._floor,
            time.perf_counter() - self._rebuild_started,
        )

    async def _go_live(self) -> None:
        """Once, when the rebuild is done: the venues (quiet until now) reconcile with what
        was rebuilt, then trade."""
        going_live, self._going_live = self._going_live, None
        if going_live is None:
            return
        if self._muted:
            self._end_rebuild()
        await self.settled()
        numbering = self.context.capabilities.get(INTENT_NUMBERING)
        if numbering is not None and self.wiring.plain_market and not self.wiring.keeps_marks:
            await number_intents_on(self.link, self.wiring, numbering)
        await going_live()
        self._venue_inputs.went_live()

    @property
    def rebuilding(self) -> bool:
        """Still handling again what an earlier run of the role had handled."""
        return self._handled < self._floor

    async def _take(self, msg: Msg, seq: int) -> None:
        """Publish one message from the stream (a batch of kept market data: each of
        its messages) on the local bus."""
        headers = msg.headers or {}
        own, run = headers.get(ROLE_HEADER) == self.wiring.role, headers.get(INPUT_HEADER)
        marks = own and msg.subject == self._plain.marks_subject  # handled by every run
        if own and RETURNS_HEADER in headers:
            self._venue_inputs.came_back(run == self._run)  # applied now, by every run
        elif own and run in (None, self._run) and not marks:
            return  # its own output, or an input this run applied: the actors had it
        muted = seq <= self._floor
        if muted != self._muted:
            await self.settled()  # what was handled so far is exported (or not)
            self._muted = muted
            counting(self.context.registry, not muted)  # rebuilt orders are not new ones
            self._follow_recorded_time(muted)
        try:
            messages = MarkBatches.unpack(msg.data) if marks else [decode(msg.data)]
        except msgspec.DecodeError as exc:
            self._metrics.bad.inc()
            log.error("skipped a message on %s that does not decode: %s", msg.subject, exc)
            return
        (self._metrics.rebuilt if muted else self._metrics.received).inc()
        for message in messages:
            await self._take_one(message, muted)
        if marks and run == self._run:
            self._plain.marks.came_back(len(messages))

    async def _take_one(self, message: Message, muted: bool) -> None:
        if muted:
            self._recorded_ns = max(self._recorded_ns, message.ts)
        clock = self.clock
        if isinstance(clock, SimClock) and message.ts > clock.now_ns():
            clock.advance_to(message.ts)  # a replay's time is the driver's
        if self._driven.holds and not isinstance(message, _MARKET):
            # Market data is never held: the driver sends a bar to an idle cluster, one
            # bar an input as one process takes it, so nothing else is in its round.
            self._driven.hold(message, muted=self._muted)
            return
        self._stale.note(message)
        await self.send(message)
        if isinstance(message, _MARKET):
            self._pass_on([message])

    def _pass_on(self, market: list[Bar | Tick]) -> None:
        """Hand market data the venue here has matched on to the other roles."""
        if self.wiring.passes_market_data_on:
            passed_on = self.wiring.subjects.passed_on
            for message in market:
                self._export(message, passed_on(message))

    async def _release(self) -> None:
        """The driver's release: what was held goes to the bus at once, ranked."""
        await self._dispatcher.publish_all(self._ranked(self._driven.release()), self.name)

    @staticmethod
    async def _ack(msg: Msg) -> bool:
        """Acknowledge everything up to ``msg`` (the consumer acknowledges all before it)."""
        try:
            await msg.ack()
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError):
            return False
        return True

    # -- connection -----------------------------------------------------------------------

    async def _connection_changed(self, connected: bool) -> None:
        """Called by the NATS client from its reconnect loop: note it, never block it.

        Publishing there could wait on this bridge's own backlog, which only the
        reconnect clears; :meth:`_tell_risk` publishes instead.
        """
        if not connected:
            self._metrics.disconnects.inc()
        self._link_changed.set()

    async def _tell_risk(self) -> None:
        """Tell risk (where it runs) to stop adding risk while NATS is out of reach."""
        cluster = self.wiring.cluster
        told = True  # connected at start
        while True:
            await self._link_changed.wait()
            self._link_changed = anyio.Event()
            connected = self.link.connected
            if connected == told:
                continue  # dropped and back before we looked: nothing to say
            told = connected
            command = cluster.on_disconnect if not connected else "resume"
            if command == "none" or (connected and not cluster.resume_on_reconnect):
                continue
            if all(name == self.name for name in self._dispatcher.subscribers(Control)):
                continue  # nothing here trades
            reason = "NATS connection lost" if not connected else "NATS connection restored"
            control = Control(
                ts=self.clock.now_ns(), command=command, reason=reason, source="cluster"
            )
            await self.control(control)

    async def control(self, message: Control) -> None:
        """Apply a ``Control`` here and keep it on the stream, where a restarted run of this
        role finds it and applies it again while rebuilding (a halt or reduce-only stays)."""
        role = self.wiring.role
        self._controls += 1
        headers = {
            _MSG_ID: f"{role}:control:{self._run}:{self._controls}",
            ROLE_HEADER: role,
            INPUT_HEADER: self._run,
        }
        self._queue((self.wiring.subjects.subject(message), encode(message), headers))
        await self._dispatcher.publish(message, self.name)

    def keep(self, report: VenueReport) -> None:
        """Keep what the live venue reported on the stream; the execution actor applies it
        when it comes back (:meth:`_take`), where a rebuild applies it too."""
        role = self.wiring.role
        headers = {
            _MSG_ID: f"{role}:venue:{self._run}:{self._venue_inputs.keep()}",
            ROLE_HEADER: role,
            INPUT_HEADER: self._run,
            RETURNS_HEADER: "1",
        }
        self._queue((self.wiring.subjects.subject(report), encode(report), headers))

    def link_status(self) -> dict[str, Any]:
        """For ``/readyz``: ready while connected, rebuilt, reconciled with the venue, and
        storing what it sends."""
        rebuilding, stalled = self.rebuilding, self.link.stalled
        refused, reconciled = self._refused, self._venue_inputs.reconciled
        ready = self.link.connected and not rebuilding and not stalled and not refused
        return {
            "ready": ready and reconciled,
            "rebuilding": rebuilding,
            "reconciled": reconciled,
            "state_check": refused,
            "stalled": stalled,
            "publish_error": self.link.error,
            "role": self.wiring.role,
            "reconnects": self.link.reconnects,
            "outbound": len(self.outbound),
        }


NatsBridge.handlers = {cls: NatsBridge._export for cls in MESSAGE_TYPES.values()}
