"""One role's live market data on plain subjects (``cluster.market_data = "subjects"``).

It sends what the role's market data actor made, fire and forget, numbered per subject;
it takes what the role's other actors want, in order of arrival, skipping ticks a role
behind the source cannot bear (:class:`~.plain.PlainMarket`); and in the core it keeps
what it took on the stream in batches instead of handing it over (:mod:`.marks`): the
bridge hands a batch over when it comes back, in stream order.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio
import msgspec
import nats.errors
from anyio.abc import TaskGroup
from nats.aio.msg import Msg

from atrium.runtime.capabilities import IntentNumbering
from atrium.runtime.cluster.bridge_metrics import BridgeMetrics
from atrium.runtime.cluster.link import INPUT_HEADER, MSG_ID, ROLE_HEADER, Link, Outgoing
from atrium.runtime.cluster.marks import MARKS_LINGER, MarkBatches
from atrium.runtime.cluster.plain import PlainMarket, unpack
from atrium.runtime.cluster.wiring import RoleWiring
from atrium.runtime.codec import decode
from atrium.runtime.messages import Bar, Message, OrderIntent, Tick

__all__ = ("PlainMarketLink", "number_intents_on")

log = logging.getLogger("atrium.cluster")


class PlainMarketLink:
    """Live market data on plain subjects, for the bridge of one role."""

    def __init__(
        self,
        link: Link,
        wiring: RoleWiring,
        run: str,
        metrics: BridgeMetrics,
        *,
        deliver: Callable[[Message], Awaitable[None]],
        paused: Callable[[], bool],
        queue: Callable[[Outgoing], None],
    ) -> None:
        """``run``: this run's id, which numbers what it sends; ``deliver`` hands market
        data to the bus; while ``paused`` (rebuilding) what arrives is skipped; ``queue``
        sends a batch of kept market data to the stream."""
        self._link, self._wiring, self._run, self._metrics = link, wiring, run, metrics
        self._deliver, self._paused, self._queue = deliver, paused, queue
        self._market = PlainMarket(run)
        self.marks = MarkBatches()
        #: Where this role keeps the market data it took (None: it keeps none).
        self.marks_subject = wiring.subjects.marks(wiring.role) if wiring.keeps_marks else None
        self._kept = 0

    def put_out(self, message: Bar | Tick) -> None:
        """Send ``message`` (made here) with the next batch."""
        self._market.put_out(self._wiring.subjects.subject(message), message)

    async def listen(self) -> None:
        """Subscribe to the market data this role's actors want."""
        for subject in self._wiring.market:
            await self._link.listen(subject, self._on_market)

    def start(self, tasks: TaskGroup) -> None:
        """Send and take for as long as ``tasks`` runs."""
        tasks.start_soon(self._send)
        tasks.start_soon(self._take)
        if self.marks_subject is not None:
            tasks.start_soon(self._keep)

    async def _send(self) -> None:
        """Publish market data made here, fire and forget, numbered per subject."""
        market, send = self._market, self._link.send_plain
        while True:
            await market.out_ready.wait()
            market.out_ready = anyio.Event()
            batch, market.outgoing = market.outgoing, []
            sent = 0
            for subject, message in batch:
                try:
                    await send(subject, market.pack(subject, message))
                except (nats.errors.Error, OSError) as exc:
                    log.debug("market data on %s not sent (%r)", subject, exc)
                    continue
                sent += 1
            self._metrics.sent.inc(sent)

    async def _on_market(self, msg: Msg) -> None:
        """The client's callback: note gaps, keep the message for :meth:`_take`."""
        market = self._market
        try:
            record = unpack(msg.data)
        except msgspec.DecodeError as exc:
            self._metrics.bad.inc()
            log.error("skipped a message on %s that does not decode: %s", msg.subject, exc)
            return
        gap = market.gap(msg.subject, record)
        if gap:
            self._metrics.gaps.inc(gap)
        skipped = market.take_in(msg.subject, record.message)
        if skipped:
            self._metrics.skipped.inc(skipped)

    async def _take(self) -> None:
        """Hand the market data received to the bus (or to the batches the core keeps),
        in order, as fast as it goes.

        While rebuilding it takes none: a tick handled then would interleave with the
        order flow being handled again.
        """
        market, metrics, keeps = self._market, self._metrics, self.marks_subject is not None
        while True:
            await market.in_ready.wait()
            market.in_ready = anyio.Event()
            while market.inbox:
                _, message = market.inbox.popleft()
                if self._paused():
                    metrics.skipped.inc()
                    continue
                metrics.received.inc()
                if keeps:
                    metrics.skipped.inc(self.marks.add(message))
                    continue
                await self._deliver(message)

    async def _keep(self) -> None:
        """Keep what :meth:`_take` took on the stream, a batch every :data:`MARKS_LINGER`
        at most; the bridge hands it over when it comes back."""
        role, run, marks, subject = self._wiring.role, self._run, self.marks, self.marks_subject
        assert subject is not None  # started only where the role keeps marks
        while True:
            await marks.ready.wait()
            await anyio.sleep(MARKS_LINGER)
            while (payload := marks.take()) is not None:
                self._kept += 1
                headers = {
                    MSG_ID: f"{role}:marks:{run}:{self._kept}",
                    ROLE_HEADER: role,
                    INPUT_HEADER: run,
                }
                self._queue((subject, payload, headers))


async def number_intents_on(link: Link, wiring: RoleWiring, numbering: IntentNumbering) -> None:
    """Carry each strategy's intent count on past its last intent on the stream.

    With market data on plain subjects a strategy role's stream holds no tick, so a
    restart does not count, by handling them again, the intents its strategies sent
    after the snapshot (or at all, without one). The next intent would reuse the id of
    one sent, and JetStream would drop it as a duplicate: lost.
    """
    for strategy, sent in numbering.intents_sent().items():
        (subject,) = wiring.subjects.filters([OrderIntent], strategies=[strategy])
        payload = await link.last_message(subject)
        last = decode(payload) if payload else None
        if not isinstance(last, OrderIntent):
            continue
        number = last.intent_id.rpartition("-")[2]
        if number.isdigit() and int(number) > sent:
            numbering.skip_intents_to(strategy, int(number))
            log.warning(
                "strategy %s sent intents up to %s that its rebuild did not make again "
                "(their market data is not on the stream); numbering goes on from %s",
                strategy,
                last.intent_id,
                last.intent_id,
            )
