"""``atrium cluster record``: market data of the JetStream stream, from a start time, into
a journal file that ``atrium replay --feed`` replays like any recorded session.

The stream is read through an ephemeral consumer from the given time (by each message's
own timestamp, so a replayed session's stream works too), up to
the last message stored when the command started, so the file is one consistent piece of
the stream even while the cluster keeps trading. Where the namespace's stream holds no
market data (a live run with ``cluster.market_data = "subjects"``, the default) it reads
the stream that records them apart, ``<NAMESPACE>_MD``, kept only with
``record_market_data_bytes`` above 0. A replay driven over the stream
(``replay_market_data = "driver"``) holds its market data; one whose roles read the files
themselves holds none, and ``record`` says so.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import msgspec
import nats.errors
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from atrium.config.schema import AtriumConfig
from atrium.runtime.cluster.link import Link
from atrium.runtime.cluster.plain import unpack
from atrium.runtime.cluster.subjects import SubjectMap
from atrium.runtime.cluster.wiring import RoleWiring
from atrium.runtime.codec import decode
from atrium.runtime.errors import AtriumError
from atrium.runtime.journal import Journal
from atrium.runtime.messages import Bar, Tick

__all__ = ("record_stream",)

log = logging.getLogger("atrium.cluster")
_BATCH = 1024
_STORE_MARGIN = timedelta(minutes=5)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def record_stream(
    config: AtriumConfig, out: Path, *, start: datetime | None, symbols: list[str] | None
) -> int:
    """Write the stream's market data since ``start`` to the new journal ``out``.

    Returns how many events were written.
    """
    cluster = config.cluster
    subjects = SubjectMap(cluster.namespace)
    wiring = RoleWiring(
        role="recorder",
        cluster=cluster,
        subjects=subjects,
        imports=(),
        consumers=(),
        driver=False,
    )
    link = Link(wiring, _ignore)
    await link.open(make_stream=False)
    try:
        stream = await _market_stream(link, wiring)
    except BaseException:
        await link.close()
        raise
    journal = Journal(out)
    await journal.open()
    written = 0
    try:
        last = await link.stored(stream)
        consumer = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_TIME if start else DeliverPolicy.ALL,
            # JetStream knows when it stored a message, not the message's own time: start
            # a margin early and keep what is stamped at ``start`` or later.
            opt_start_time=start - _STORE_MARGIN if start else None,
            ack_policy=AckPolicy.NONE,
            filter_subjects=subjects.filters([Bar, Tick], symbols=symbols),
            inactive_threshold=60.0,
        )
        sub = await link.js.pull_subscribe("", stream=stream, config=consumer)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(journal.run_writer)
            since = 0 if start is None else (start - _EPOCH) // timedelta(microseconds=1) * 1_000
            unwrap = stream == wiring.market_stream  # plain subjects' envelopes
            written = await _copy(sub, journal, last, since, unwrap=unwrap)
            tasks.cancel_scope.cancel()
    finally:
        await journal.close()
        await link.close()
    return written


async def _market_stream(link: Link, wiring: RoleWiring) -> str:
    """The stream that holds the namespace's market data: its own stream when that takes
    every subject (a replay, or ``market_data = "stream"``), else the one recording the
    plain subjects."""
    try:
        info = await link.js.stream_info(wiring.stream)
    except nats.js.errors.NotFoundError:
        raise AtriumError(
            f"cluster.namespace: no stream {wiring.stream}; nothing ran in the namespace "
            f"{wiring.cluster.namespace!r} on this server"
        ) from None
    if await link.last_stored(wiring.subjects.start):
        raise AtriumError(
            f"cluster.namespace: the replay in {wiring.cluster.namespace!r} read its "
            'market data from files in every role (replay_market_data = "local"), '
            "so its stream holds none: replay those files"
        )
    if wiring.subjects.stream_subjects[0] in (info.config.subjects or []):
        return wiring.stream
    if not wiring.cluster.record_market_data_bytes:
        raise AtriumError(
            "cluster.record_market_data_bytes: market data travels on plain subjects "
            '(cluster.market_data = "subjects") and is recorded only when this is above 0'
        )
    return wiring.market_stream


async def _copy(
    sub: JetStreamContext.PullSubscription,
    journal: Journal,
    last: int,
    since: int,
    *,
    unwrap: bool,
) -> int:
    """Copy what the consumer holds up to stream sequence ``last``; ``unwrap``: each
    message is a plain subject's envelope (:class:`~.plain.PlainRecord`).

    The consumer says at creation how many messages match; those are all read, however
    slowly they come, so a busy server never cuts the recording short.
    """
    matching = (await sub.consumer_info()).num_pending or 0
    taken = written = 0
    while taken < matching:
        try:
            batch = await sub.fetch(min(_BATCH, matching - taken), timeout=5.0)
        except nats.errors.TimeoutError:
            continue
        for msg in batch:
            taken += 1
            seq = msg.metadata.sequence.stream
            if seq > last:
                return written  # stored after the command started
            try:
                message = unpack(msg.data).message if unwrap else decode(msg.data)
            except msgspec.DecodeError as exc:
                log.error("skipped stream message %d that does not decode: %s", seq, exc)
                continue
            if message.ts >= since:
                journal.record(message)
                written += 1
    return written


async def _ignore(connected: bool) -> None:
    """A recorder has nothing to tell when the connection drops (nats-py reconnects)."""
