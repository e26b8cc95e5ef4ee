"""One process's NATS connection: the JetStream stream, its consumer, acked publishing.

Publishing waits for JetStream's acknowledgement of every message (it is stored, so a
consumer that restarts finds it) and retries what was not acknowledged under the same
message id, which JetStream's duplicate window turns into exactly one stored copy. A
retry is known by its content: what was sent without its acknowledgement being seen (a
timeout, or a publish cancelled half-way, as at a stop) and is sent again unchanged.
Reconnects never give up; the wait between attempts doubles up to a limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Container
from typing import Any

import anyio
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.client import Server as NatsServer
from nats.aio.msg import Msg
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.client import JetStreamContext

from atrium.config.cluster import ClusterConfig
from atrium.runtime.cluster.auth import connect_options
from atrium.runtime.cluster.progress import ProgressBoard, progress_subject, report
from atrium.runtime.cluster.watch import StreamWatch
from atrium.runtime.cluster.wiring import RoleWiring
from atrium.runtime.errors import AtriumError

__all__ = ("INPUT_HEADER", "MSG_ID", "ROLE_HEADER", "Link", "Outgoing", "fetch_available")

log = logging.getLogger("atrium.cluster")

#: subject, payload, headers
Outgoing = tuple[str, bytes, dict[str, str]]
#: Header JetStream deduplicates on.
MSG_ID = "Nats-Msg-Id"
#: Header naming the role that published a message (a role skips its own).
ROLE_HEADER = "Atrium-Role"
#: Header of an input a role applied and keeps on the stream (a ``Control``, a batch of
#: market data taken): the run that applied it. A later run applies it again to rebuild.
INPUT_HEADER = "Atrium-Input-Run"
_ACK_TIMEOUT = 5.0
#: Messages published before their acknowledgements are awaited: well under the client's
#: limit of acknowledgements pending (4,000), which would block the next publish for good.
_CHUNK = 512
#: Longest wait for the next message of a consumer before the caller looks around.
_FETCH_TIMEOUT = 1.0
_FLOOR_KEY = "atrium_rebuild_floor"
_TAKEN_KEY = "atrium_taken"
_SERVER_AT_LEAST = (2, 10)


class Link:
    """The connection of one role; ``on_connected(bool)`` hears of drops and returns."""

    def __init__(self, wiring: RoleWiring, on_connected: Callable[[bool], Awaitable[None]]) -> None:
        self.wiring = wiring
        self._on_connected = on_connected
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self.connected = False
        self._closing = False
        self.reconnects = 0
        #: JetStream has not stored what was last published (being retried), and why.
        self.stalled = False
        self.error: str | None = None
        #: Set by :meth:`follow` (the replay driver).
        self.watch: StreamWatch | None = None
        #: The stream sequence of the last message JetStream stored for this process.
        self.stored_seq = 0
        # Sent, acknowledgement not seen: message id -> payload. JetStream calling the
        # same payload a duplicate later is a retry of it, not a lost message.
        self._unconfirmed: dict[str, bytes] = {}
        # What the client reported while making the first connection (why it failed).
        self._first_errors: list[Exception] = []

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise AtriumError("cluster: not connected to NATS")
        return self._js

    # -- connection ----------------------------------------------------------------------

    async def open(self, *, make_stream: bool = True) -> None:
        """Connect; ``make_stream``: and make the namespace's stream where it is missing
        (a role does; a reader such as ``cluster record`` only reads what is there)."""
        cluster = self.wiring.cluster
        options = connect_options(cluster)  # raises naming an unset variable
        try:
            # Reconnects never stop once connected; the first connection has a deadline.
            with anyio.fail_after(cluster.connect_timeout_seconds):
                self._nc = await nats.connect(
                    servers=cluster.servers,
                    name=f"atrium-{cluster.namespace}-{self.wiring.role}",
                    connect_timeout=max(1, round(cluster.connect_timeout_seconds)),
                    max_reconnect_attempts=-1,
                    reconnect_to_server_handler=self._next_server,
                    disconnected_cb=self._disconnected,
                    reconnected_cb=self._reconnected,
                    error_cb=self._error,
                    **options,
                )
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            raise AtriumError(_unreachable(cluster, [*self._first_errors, exc])) from None
        version = self._nc.connected_server_version
        if (version.major, version.minor) < _SERVER_AT_LEAST:
            await self._nc.close()
            raise AtriumError(
                f"cluster.url: the NATS server at {cluster.url} is {version.major}.{version.minor}."
                f"{version.patch}; Atrium needs "
                "2.10 or later (older servers ignore a consumer's several subject filters)"
            )
        self._js = self._nc.jetstream()
        self.connected = True
        if make_stream:
            await self._ensure_stream()

    async def close(self) -> None:
        self._closing = True
        if self._nc is not None and not self._nc.is_closed:
            try:
                await self._nc.close()
            except RuntimeError as exc:
                # Closed while reconnecting, the client writes what it buffered to the
                # dead socket and raises; the messages among it are kept (the unsent file).
                log.debug("closed the NATS client while reconnecting (%r)", exc)
        self.connected = False

    def _next_server(
        self, servers: list[NatsServer], info: dict[str, Any]
    ) -> tuple[NatsServer | None, float]:
        """Backoff: the server tried least, after a wait that doubles per failed attempt."""
        server = min(servers, key=lambda s: s.reconnects)
        cluster = self.wiring.cluster
        delay = min(
            cluster.reconnect_wait_seconds * 2 ** min(server.reconnects, 30),
            cluster.max_reconnect_wait_seconds,
        )
        return server, delay

    async def _disconnected(self) -> None:
        if self.connected and not self._closing:
            self.connected = False
            log.warning("lost the connection to NATS; reconnecting")
            await self._on_connected(False)

    async def _reconnected(self) -> None:
        self.connected = True
        self.reconnects += 1
        log.warning("reconnected to NATS")
        await self._on_connected(True)

    async def _error(self, exc: Exception) -> None:
        if self._nc is None:
            self._first_errors.append(exc)
        log.debug("NATS client: %r", exc)

    # -- stream and consumer -------------------------------------------------------------

    async def _ensure_stream(self) -> None:
        cluster = self.wiring.cluster
        config = StreamConfig(
            name=self.wiring.stream,
            subjects=self.wiring.stream_subjects,
            storage=StorageType.FILE if cluster.storage == "file" else StorageType.MEMORY,
            max_age=cluster.max_age_seconds,
            duplicate_window=cluster.duplicate_window_seconds,
            max_bytes=cluster.max_bytes,
            discard=DiscardPolicy.NEW,
        )
        await self._add_stream(config)
        if self.wiring.plain_market and cluster.record_market_data_bytes:
            # Market data on plain subjects, recorded apart: the oldest goes when full.
            recorded = StreamConfig(
                name=self.wiring.market_stream,
                subjects=[f"{cluster.namespace}.md.*"],
                storage=config.storage,
                max_age=cluster.max_age_seconds,
                max_bytes=cluster.record_market_data_bytes,
                discard=DiscardPolicy.OLD,
            )
            await self._add_stream(recorded)

    async def _add_stream(self, config: StreamConfig) -> None:
        try:
            await self.js.add_stream(config)
        except nats.js.errors.BadRequestError as exc:
            raise AtriumError(
                f"cluster.namespace: the JetStream stream {config.name} exists with "
                f"other settings ({exc.description}); use another namespace or delete it"
            ) from None

    async def stored(self, stream: str | None = None) -> int:
        """The sequence number of the stream's last message (0: empty)."""
        info = await self.js.stream_info(stream or self.wiring.stream)
        return int(info.state.last_seq)

    async def last_stored(self, subject: str) -> int:
        """The stream sequence of the last message stored on ``subject`` (0: none)."""
        try:
            message = await self.js.get_last_msg(self.wiring.stream, subject)
        except nats.js.errors.NotFoundError:
            return 0
        return int(message.seq or 0)

    async def last_message(self, subject: str) -> bytes | None:
        """The payload of the last message stored on ``subject`` (None: none)."""
        try:
            message = await self.js.get_last_msg(self.wiring.stream, subject)
        except nats.js.errors.NotFoundError:
            return None
        return message.data or b""

    async def replayed(self) -> bool:
        """Whether a replay used this namespace (the stream holds one of its markers)."""
        subjects = self.wiring.subjects
        for subject in (subjects.end, subjects.held, subjects.release, subjects.start):
            try:
                await self.js.get_last_msg(self.wiring.stream, subject)
            except nats.js.errors.NotFoundError:
                continue
            return True
        return False

    async def ack_floor(self) -> tuple[int, int]:
        """How far a previous run of this role acknowledged the stream, and how far it
        had taken it (0, 0: never ran).

        The messages up to the floor were handled, and what they caused was published,
        before that run stopped: the process handles them again to rebuild its state,
        without publishing. What the messages after it up to the second figure caused
        may have been published too, so JetStream may drop it as a duplicate.
        """
        try:
            info = await self.js.consumer_info(self.wiring.stream, self.wiring.durable)
        except nats.js.errors.NotFoundError:
            return 0, 0
        acked = int(info.ack_floor.stream_seq) if info.ack_floor else 0
        taken = int(info.delivered.stream_seq) if info.delivered else 0
        # A run that stopped while rebuilding acknowledged less than its predecessor had:
        # the consumer carries the highest floor so far.
        metadata = info.config.metadata or {}
        floor = max(acked, int(metadata.get(_FLOOR_KEY, "0")))
        return floor, max(floor, taken, int(metadata.get(_TAKEN_KEY, "0")))

    async def open_consumer(
        self, floor: int, taken: int, *, replay: bool, after: int = 0
    ) -> JetStreamContext.PullSubscription:
        """This role's consumer, made anew to read the stream from its start, or from
        after the sequence ``after`` a restored snapshot covers.

        Deleting the one of a previous run is safe: the role's lock is held, so no other
        process of the role takes from it.

        Only a replay's consumer takes the replay's markers (its end, its releases).
        """
        wiring = self.wiring
        markers = [wiring.subjects.end, wiring.subjects.release] if replay else []
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await self.js.delete_consumer(wiring.stream, wiring.durable)
        config = ConsumerConfig(
            durable_name=wiring.durable,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if after else DeliverPolicy.ALL,
            opt_start_seq=after + 1 if after else None,
            ack_policy=AckPolicy.ALL,
            ack_wait=wiring.cluster.ack_wait_seconds,
            max_ack_pending=-1,
            filter_subjects=[*wiring.imports, *markers],
            metadata={_FLOOR_KEY: str(floor), _TAKEN_KEY: str(taken)},
        )
        await self.js.add_consumer(wiring.stream, config)
        return await self.js.pull_subscribe_bind(wiring.durable, wiring.stream)

    async def follow(self) -> None:
        """Start following the stream (the replay driver, before it publishes)."""
        self.watch = StreamWatch()
        await self.watch.open(self.js, self.wiring.stream, self.wiring.subjects.stream_subjects[0])

    async def track_progress(self) -> ProgressBoard:
        """The replay driver's board of the roles' progress reports (after :meth:`follow`
        and :meth:`wait_consumers`)."""
        watch = self.watch
        assert watch is not None, "follow() first"
        wanted = set(self.wiring.consumers)
        filters = {
            info.name: info.config.filter_subjects or [info.config.filter_subject or ">"]
            for info in await self.js.consumers_info(self.wiring.stream)
            if info.name in wanted
        }
        board = ProgressBoard(watch, filters)
        await self.listen(progress_subject(self.wiring.subjects.namespace), board.on_report)
        return board

    async def report_progress(self, acknowledged: int) -> None:
        """Tell the replay driver this role acknowledged up to ``acknowledged`` (fire and
        forget: a lost report makes the driver ask JetStream)."""
        subject = progress_subject(self.wiring.subjects.namespace, self.wiring.durable)
        with contextlib.suppress(nats.errors.Error, OSError):
            await self.send_plain(subject, report(acknowledged, self.stored_seq), {})

    async def consumers_idle(self, names: tuple[str, ...]) -> bool:
        """Whether every consumer in ``names`` acknowledged the last message it matches.

        Sound as a barrier because the stream's end is read before and after: when
        nothing was stored meanwhile, every message stored so far was handled, and a
        process publishes what a message caused before acknowledging it. The pending
        counts of a consumer are not used: they lag behind a publish (see
        :mod:`atrium.runtime.cluster.watch`).
        """
        watch = self.watch
        assert watch is not None, "follow() first"
        before = await self.stored()
        if watch.seen < before:
            return False  # the watch has not seen everything stored yet
        # One request lists them all (up to 256 consumers a stream: far more than roles).
        infos = {info.name: info for info in await self.js.consumers_info(self.wiring.stream)}
        for name in names:
            info = infos.get(name)
            if info is None:
                return False
            config = info.config
            patterns = config.filter_subjects or [config.filter_subject or ">"]
            acked = int(info.ack_floor.stream_seq) if info.ack_floor else 0
            if acked < watch.last_matching(patterns):
                return False
        return await self.stored() == before

    async def wait_consumers(self, names: tuple[str, ...]) -> None:
        """Wait until every role's consumer exists (every process of the cluster is up)."""
        waited = 0.0
        while True:
            missing = []
            for name in names:
                try:
                    await self.js.consumer_info(self.wiring.stream, name)
                except nats.js.errors.NotFoundError:
                    missing.append(name)
            if not missing:
                return
            if waited == 0.0 or waited >= 10.0:
                log.info("waiting for the consumers of %s", ", ".join(missing))
                waited = 0.0
            await anyio.sleep(0.05)
            waited += 0.05

    # -- plain subjects (live market data) -----------------------------------------------

    async def send_plain(
        self, subject: str, payload: bytes, headers: dict[str, str] | None = None
    ) -> None:
        """Fire and forget: no acknowledgement, nothing stored (live market data, a
        replay's step subjects)."""
        assert self._nc is not None
        await self._nc.publish(subject, payload, headers=headers)

    async def flush_plain(self) -> None:
        """Wait until the server has what was published on plain subjects (a round trip,
        at most ``connect_timeout_seconds``)."""
        assert self._nc is not None
        await self._nc.flush(max(1, round(self.wiring.cluster.connect_timeout_seconds)))

    async def listen(self, subject: str, callback: Callable[[Any], Awaitable[None]]) -> None:
        """Subscribe to the plain ``subject`` (a filter); ``callback`` gets each message."""
        assert self._nc is not None
        await self._nc.subscribe(subject, cb=callback, pending_msgs_limit=-1)

    # -- publishing ----------------------------------------------------------------------

    async def publish(self, messages: list[Outgoing], may_repeat: Container[str] = ()) -> int:
        """Publish ``messages`` and wait until JetStream stored each (retrying, same ids).

        Returns how many JetStream called duplicates although they were neither a retry
        (the same content sent before, here or by a publish that was cancelled) nor in
        ``may_repeat`` (what a rebuild re-sends): a message id reused for new content,
        whose message JetStream dropped. Each is logged as an error.
        """
        unexpected: list[str] = []
        first = sent = 0
        delay = self.wiring.cluster.reconnect_wait_seconds
        try:
            while first < len(messages):
                chunk = messages[first : first + _CHUNK]
                sent = max(sent, first + len(chunk))
                stored, duplicates, error = await self._publish_chunk(chunk)
                unexpected += [msg_id for msg_id in duplicates if msg_id not in may_repeat]
                first += stored
                self.stalled, self.error = error is not None, error
                if error is None:
                    continue
                # From the first message not stored on, in order: what was stored after
                # it is dropped as a duplicate, so a retry never stores a message twice.
                log.error(
                    "JetStream did not store %d messages (%s); retrying in %.2fs",
                    len(messages) - first,
                    error,
                    delay,
                )
                await anyio.sleep(delay)
                delay = min(delay * 2, self.wiring.cluster.max_reconnect_wait_seconds)
        except BaseException:
            # Cancelled: the caller cannot know what of it was stored, and sends it again.
            self._unconfirmed.update(
                (headers.get(MSG_ID, ""), payload) for _, payload, headers in messages[:sent]
            )
            raise
        if unexpected:
            log.error(
                "JetStream dropped %d new messages as duplicates of earlier ones with the same "
                "message id (first: %s); their content is lost",
                len(unexpected),
                unexpected[0],
            )
        return len(unexpected)

    async def _publish_chunk(self, chunk: list[Outgoing]) -> tuple[int, list[str], str | None]:
        """Publish ``chunk`` and await its acknowledgements, all within one deadline.

        Returns how many from its start were stored, the ids of those JetStream called
        duplicates that were not retries, and why the first one not stored was not
        (None: all were). The client never completes an asynchronous publish JetStream
        refused, so the first one without an acknowledgement is published again,
        waiting for the answer, which says why.
        """
        ids = [headers.get(MSG_ID, "") for _, _, headers in chunk]
        retries = self._retries(chunk, ids)
        futures: list[asyncio.Future[Any]] = []
        for msg_id, (subject, payload, headers) in zip(ids, chunk, strict=True):
            self._unconfirmed[msg_id] = payload  # before: the call may raise once it sent
            try:
                futures.append(
                    await self.js.publish_async(
                        subject, payload, wait_stall=_ACK_TIMEOUT, headers=headers
                    )
                )
            except (nats.errors.Error, OSError):
                break
        if futures:
            await asyncio.wait(futures, timeout=_ACK_TIMEOUT)
        duplicates: list[str] = []
        for index, future in enumerate(futures):
            if not future.done() or future.cancelled() or future.exception() is not None:
                break
            self._unconfirmed.pop(ids[index], None)
            ack = future.result()
            self.stored_seq = max(self.stored_seq, int(ack.seq))
            if ack.duplicate and index not in retries:
                duplicates.append(ids[index])
        else:
            index = len(futures)
            if index == len(chunk):
                return index, duplicates, None
        for future in futures[index:]:
            future.cancel()
        reason = await self._why_not_stored(chunk[index])
        if reason is None:
            self._unconfirmed.pop(ids[index], None)
        return (index + 1 if reason is None else index), duplicates, reason

    def _retries(self, chunk: list[Outgoing], ids: list[str]) -> set[int]:
        """The indices in ``chunk`` of what was sent before, unchanged, its
        acknowledgement unseen. Asked before any is sent, so an id used twice within a
        chunk is no retry."""
        unconfirmed = self._unconfirmed
        return {
            index
            for index, (msg_id, (_, payload, _)) in enumerate(zip(ids, chunk, strict=True))
            if unconfirmed.get(msg_id) == payload
        }

    async def _why_not_stored(self, item: Outgoing) -> str | None:
        """Publish ``item`` waiting for JetStream's answer: None if it is stored now."""
        subject, payload, headers = item
        try:
            ack = await self.js.publish(subject, payload, timeout=_ACK_TIMEOUT, headers=headers)
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            return _reason(exc)
        self.stored_seq = max(self.stored_seq, int(ack.seq))
        return None


async def fetch_available(sub: JetStreamContext.PullSubscription, most: int) -> list[Msg]:
    """Wait for the next message, then take as many of those behind it as there are.

    A message tells how many more the consumer holds, so the second request asks for
    exactly what is there and comes back at once; one ``fetch(most)`` would wait for
    ``most`` messages or the timeout, holding a trickle of ticks for up to a second.
    """
    try:
        first = await sub.fetch(1, timeout=_FETCH_TIMEOUT)
    except TimeoutError:  # nats-py raises its own subclass, or asyncio's own
        return []
    behind = min(first[0].metadata.num_pending, most - 1)
    if not behind:
        return first
    try:
        return first + await sub.fetch(behind, timeout=_FETCH_TIMEOUT)
    except (TimeoutError, nats.errors.Error, nats.js.errors.Error):
        return first  # never drop what was taken: it is delivered, not acknowledged


def _unreachable(cluster: ClusterConfig, errors: list[BaseException]) -> str:
    """Why the first connection failed: refused credentials, TLS, or no answer.

    The server's refusal is followed by the client's retries and their errors (a reset
    connection), so the telling one is looked for among all of them.
    """
    where = f"cluster.url: cannot connect to NATS at {cluster.url}"
    texts = [str(exc).strip() or type(exc).__name__ for exc in errors]
    for text in texts:
        if "authorization violation" in text.lower() or "authentication" in text.lower():
            return (
                f"{where}: the server refused the credentials ({text}); check cluster.user "
                "and the variable of cluster.password_env, cluster.nkey_seed_env or "
                "cluster.creds_file"
            )
    for exc, text in zip(errors, texts, strict=True):
        if isinstance(exc, ssl.SSLError):
            return f"{where}: TLS failed ({text}); check [cluster.tls]"
    return f"{where} within {cluster.connect_timeout_seconds:g}s ({texts[0]})"


def _reason(exc: BaseException) -> str:
    """What JetStream or the client said, for the log and ``/readyz``."""
    if isinstance(exc, nats.js.errors.APIError) and exc.description:
        return f"{exc.description} (JetStream error {exc.err_code})"
    if isinstance(exc, TimeoutError):
        return f"no acknowledgement within {_ACK_TIMEOUT:g}s"
    return type(exc).__name__
