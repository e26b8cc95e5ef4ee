"""The market data actor: reads its feeds, merges them by time and sends every record.

A source actor: it has no handlers; :meth:`MarketDataActor.run` produces the stream.
A journal replayed as a feed also sends the operator controls it recorded, each in its
place (see :mod:`atrium.actors.market_data.journal`).
In replay (``context.mode == "replay"``) each record is sent and the actor waits until the
whole pipeline has handled it before the next, so results never depend on scheduling; the
runtime moves its SimClock to each record's timestamp as it enters
(:mod:`atrium.runtime.replay_driver`), the actor does not keep time.
In live mode records go out as fast as the mailboxes take them. ``speed > 0`` paces
either at that multiple of recorded time.

Live feeds (``synthetic_live``, ``websocket``; live mode only, a replay refuses them)
run each as its own task beside the merged file feeds, until the actor is stopped.
Their bad messages are always skipped (counted and logged), whatever ``on_error`` says.
:meth:`MarketDataActor.feed_status` reports their health for ``/readyz``.

Metrics (on ``context.registry``):

- ``atrium_feed_records_total{feed}``: records sent.
- ``atrium_feed_records_rejected_total{feed,reason}``: rows refused by validation (the
  reason codes are listed in :mod:`atrium.actors.market_data.validation`).
- ``atrium_feed_last_timestamp_seconds{feed}``: timestamp of the last record sent.
- ``atrium_feed_connected{feed}``: 1 while a live feed is connected, else 0.
- ``atrium_feed_reconnects_total{feed}``: connections a live feed opened after its first.
- ``atrium_feed_staleness_seconds{feed}``: seconds since a live feed's last message
  (since it started, before the first), computed when scraped.
- ``atrium_feed_duplicates_total{feed}``: trades a live feed dropped as already
  delivered (resent by the venue after a reconnect).

Feeds are validated one by one; when two feeds may carry the same symbol (or a journal
is among several feeds), the merged stream is also checked per symbol, so overlapping
files cannot hand the strategy a bar twice.

In replay, sent counts and the timestamp gauge are published every 256 records and at
the end (a metric update costs as much as parsing a field); live, after every record.
:meth:`MarketDataActor.feed_ranges` tells what each file feed sent, for the replay journal's
references to its files; ``max_records`` stops the file feeds after that many records, and
``start``/``end`` send only the records of a time window (a walk-forward sweep's windows).

After a restart of ``atrium run``, recovery hands the actor the market data it sent
before (:meth:`MarketDataActor.restore_input`): live bars go on from the partial bar the
ticks had built, a WebSocket feed drops the venue's resend up to the last trade sent,
and a file feed skips what it had sent (:mod:`atrium.actors.market_data.resume`).
"""

from __future__ import annotations

from typing import Any, Final

import anyio
from prometheus_client import CollectorRegistry, Counter

from atrium.actors.market_data.aggregate import BarBuilder
from atrium.actors.market_data.feeds import Feed, open_feed, open_live_feed
from atrium.actors.market_data.fingerprint import feeds_fingerprint
from atrium.actors.market_data.live import FeedStatus
from atrium.actors.market_data.merge import merge_feeds
from atrium.actors.market_data.pacing import Pacer
from atrium.actors.market_data.rejections import Rejections
from atrium.actors.market_data.resume import Delivered
from atrium.actors.market_data.validation import order_problem
from atrium.config.market_data import MarketDataConfig
from atrium.runtime.actor import Actor, ActorContext
from atrium.runtime.capabilities import FEED_HEALTH, FEED_REPORT
from atrium.runtime.dispatch import Turnstile
from atrium.runtime.errors import AtriumError
from atrium.runtime.market_refs import FeedRange
from atrium.runtime.messages import Bar, Control, Message, Tick
from atrium.runtime.metrics import counter, gauge

__all__ = ("MarketDataActor",)

#: Records between metric updates in replay, and between yields to the event loop.
_BATCH: Final = 256


class MarketDataActor(Actor):
    """Sends the ``Bar``/``Tick`` records of the configured feeds, in timestamp order.

    ``context.config`` is the ``[market_data]`` section (``None``: defaults, no feeds).
    """

    snapshot_attributes = ("_delivered", "_builders")

    def __init__(self, context: ActorContext) -> None:
        super().__init__(context)
        config = context.config if context.config is not None else MarketDataConfig()
        if not isinstance(config, MarketDataConfig):
            raise TypeError(
                f"{self.name}: expected a MarketDataConfig section, got {type(config).__name__}"
            )
        self.config = config
        names = [feed.feed_name for feed in config.feeds]
        registry = context.registry
        records = counter(
            registry, "atrium_feed_records_total", "Market data records sent, per feed.", ["feed"]
        )
        last_timestamp = gauge(
            registry,
            "atrium_feed_last_timestamp_seconds",
            "Timestamp of the last market data record sent, per feed (Unix seconds).",
            ["feed"],
        )
        self._rejected = counter(
            registry,
            "atrium_feed_records_rejected_total",
            "Market data rows refused by validation, per feed and reason.",
            ["feed", "reason"],
        )
        self._records_children = [records.labels(feed=name) for name in names]
        self._timestamp_children = [last_timestamp.labels(feed=name) for name in names]
        self._rejected_children: dict[tuple[str, str], Counter] = {}
        self._rejections = Rejections(config.on_error, log=self.log, on_reject=self._count_reject)
        self._live_rejections = Rejections("skip", log=self.log, on_reject=self._count_reject)
        self._feeds: list[Feed] = []
        self._file_index: list[int] = []  # position in config.feeds of each of _feeds
        self._sent = [0] * len(names)
        self._published = [0] * len(names)
        self._first_ts: list[int | None] = [None] * len(names)
        self._last_ts: list[int | None] = [None] * len(names)
        self._statuses = _live_statuses(config, registry)
        self._delivered = Delivered()
        self._builders: dict[str, BarBuilder] = {}
        self._bar_interval_ns = {
            symbol: feed.bar_seconds * 1_000_000_000
            for feed in config.feeds
            if feed.bar_seconds is not None
            for symbol in feed.live_symbols
        }
        context.provide(FEED_HEALTH, self)
        context.provide(FEED_REPORT, self)

    # -- what others read ------------------------------------------------------------------

    def progress(self) -> tuple[int, int | None]:
        """``(records sent, records in all)`` for a progress bar; in all ``None`` if unknown.

        The total is estimated per feed from the share of it read so far (bytes of a CSV
        file, ``seq`` of a journal, bars of a synthetic feed), so it may move a little
        while a file is read and is exact once every feed is finished. ``None`` until
        every feed has started.
        """
        if self._statuses:  # a live feed has no end
            return self.records_sent(), None
        total = 0
        for index, feed in zip(self._file_index, self._feeds, strict=True):
            done, size = feed.progress()
            sent = self._sent[index]
            if size is not None and done >= size:
                total += sent
            elif size is not None and done > 0:
                total += sent * size // done
            else:
                return self.records_sent(), None
        return self.records_sent(), (total if self._feeds else None)

    def feed_ranges(self) -> dict[int, FeedRange]:
        """What each file feed sent, by its position in ``feeds``."""
        return {
            index: FeedRange(
                records=self._sent[index],
                first_ts=self._first_ts[index],
                last_ts=self._last_ts[index],
            )
            for index in self._file_index
        }

    def records_sent(self) -> int:
        """Records sent so far, over all feeds."""
        return sum(self._sent)

    def rejected_counts(self) -> dict[str, int]:
        """Rejected rows per reason code over all feeds (for the replay summary)."""
        counts = self._rejections.counts()
        for reason, count in self._live_rejections.counts().items():
            counts[reason] = counts.get(reason, 0) + count
        return counts

    def feed_status(self) -> dict[str, dict[str, Any]]:
        """Health of each live feed by name (file feeds have none), for ``/readyz``.

        Per feed: ``connected`` (bool), ``last_message_age_seconds`` (float, ``None``
        before the first message), ``messages``, ``reconnects`` and ``duplicates`` (int),
        ``stale_after_seconds`` (float) and ``ready`` (connected and the last message
        younger than ``stale_after_seconds``).
        """
        feeds = self.config.feeds
        return {
            feeds[index].feed_name: status.snapshot() for index, status in self._statuses.items()
        }

    # -- recovery --------------------------------------------------------------------------

    def restore_input(self, message: Message) -> None:
        """Note recorded market data as sent, and let its ticks build the live bars again."""
        if isinstance(message, Tick):
            builder = self._builder(message.symbol)
            if builder is not None:
                builder.add(message)  # a bar it completes was recorded before it
            self._delivered.note(message)
        elif isinstance(message, Bar):
            builder = self._builders.get(message.symbol)
            if builder is not None and builder.end is not None and message.ts >= builder.end:
                builder.flush()  # sent: the tick that completed it may not have been
            self._delivered.note(message)

    def _builder(self, symbol: str) -> BarBuilder | None:
        """The live bar builder of ``symbol`` (None when its feed makes no bars)."""
        builder = self._builders.get(symbol)
        if builder is None:
            interval = self._bar_interval_ns.get(symbol)
            if interval is None:
                return None
            builder = self._builders[symbol] = BarBuilder(interval)
        return builder

    # -- the source loop -------------------------------------------------------------------

    async def run(self) -> None:
        config = self.config
        if not config.feeds:
            self.log.warning("no feeds configured; nothing to send")
            return
        replay = self.context.mode == "replay"
        if replay:
            try:
                config.check_replayable()
            except ValueError as exc:
                raise AtriumError(f"market_data.{exc}") from None
        files = [index for index, feed in enumerate(config.feeds) if not feed.is_live]
        if not self._statuses:
            await self._run_files(files, replay=replay)
            return
        try:
            async with anyio.create_task_group() as group:
                if files:
                    group.start_soon(self._run_files, files, False)
                for index in self._statuses:
                    group.start_soon(self._run_live, index, name=f"atrium-feed-{index}")
        except BaseExceptionGroup as failed:
            # One feed failed and the task group stopped the others: raise its own error,
            # so an AtriumError still reaches the supervisor as one.
            raise _first(failed) from None

    async def _run_files(self, indices: list[int], replay: bool) -> None:
        """Merge and send the file feeds at ``indices`` of ``config.feeds``."""
        config = self.config
        self._open_files(indices, replay)
        pacer = Pacer(config.speed) if config.speed > 0 else None
        last_seen: dict[tuple[type, str], int] | None = (
            {} if _symbols_may_repeat(self._feeds) else None
        )
        pending = 0
        left = -1 if config.max_records is None else config.max_records
        start, end = config.start_ns, config.end_ns
        records = merge_feeds(self._feeds if left else [])
        resume = self._delivered.resume_filter() if not replay else None
        delivered = self._delivered
        turnstile = await self._turnstile() if replay else None
        try:
            for local, record in records:
                if isinstance(record, Control):
                    # Sent at its place in the journal, at the time of the market data
                    # before it: a live control carries wall time, not market time.
                    if turnstile is None or await turnstile.admit(record):
                        await self.send(record)
                    continue
                if start is not None and record.ts < start:
                    continue
                if end is not None and record.ts >= end:
                    break
                if last_seen is not None and not self._in_order(local, record, last_seen):
                    continue
                if resume is not None:
                    if resume.sent_before(record):
                        continue
                    await self.wait_writable()  # noted in the same step as it is recorded
                    delivered.note(record)
                if turnstile is not None and not await turnstile.admit(record):
                    left -= 1  # read, and taken by another process of the cluster
                    if not left:
                        break
                    continue
                ts = record.ts
                if pacer is not None:
                    await pacer.wait(ts)
                await self.send(record)  # in replay the dispatcher moves the clock to ts
                self._note_sent(indices[local], ts)
                left -= 1
                if not left:
                    break
                pending += 1
                if not replay:
                    self._publish_metrics()
                if pending >= _BATCH:
                    pending = 0
                    self._publish_metrics()
                    await anyio.lowlevel.checkpoint()
        finally:
            records.close()
            self._publish_metrics()
        if turnstile is not None:
            await turnstile.finished()
        self._log_summary()

    async def _turnstile(self) -> Turnstile | None:
        """The replay's turnstile (a cluster role reading the feeds itself), begun."""
        turnstile = self._dispatcher.turnstile
        if turnstile is not None:
            await turnstile.begin(feeds_fingerprint(self.config))
        return turnstile

    def _note_sent(self, index: int, ts: int) -> None:
        if not self._sent[index]:
            self._first_ts[index] = ts
        self._sent[index] += 1
        self._last_ts[index] = ts

    def _open_files(self, indices: list[int], replay: bool) -> None:
        """Open the file feeds at ``indices`` (journal feeds with their controls in replay)."""
        config = self.config
        self._file_index = indices
        self._feeds = [
            open_feed(
                config.feeds[index],
                base_dir=config.base_dir,
                rejections=self._rejections,
                log=self.log,
                controls=replay,
            )
            for index in indices
        ]

    async def _run_live(self, index: int) -> None:
        """Run live feed ``index`` of ``config.feeds`` until cancelled."""
        config = self.config.feeds[index]
        status = self._statuses[index]
        feed = open_live_feed(
            config, status=status, rejections=self._live_rejections, clock=self.clock, log=self.log
        )
        feed.resume(self._delivered)
        records, stamp = self._records_children[index], self._timestamp_children[index]
        sent, published = self._sent, self._published
        delivered = self._delivered

        # What is noted as sent changes in the same step as the journal records it (no
        # await between): a snapshot then never holds a record the journal lacks.
        async def emit(tick: Tick) -> None:
            builder = self._builder(tick.symbol)
            if builder is not None:
                end = builder.end
                if end is not None and tick.ts >= end:  # the tick opens a new interval
                    await self.wait_writable()
                    bar = builder.flush()
                    assert bar is not None
                    delivered.note(bar)
                    await self.send(bar)
            await self.wait_writable()
            if builder is not None:
                builder.add(tick)
            delivered.note(tick)
            await self.send(tick)
            sent[index] += 1
            published[index] += 1
            records.inc()
            stamp.set(tick.ts / 1e9)

        try:
            await feed.run(emit)
        finally:
            self.log.info(
                "feed %s: %d records sent, %d messages, %d reconnects, %d duplicates dropped",
                feed.name,
                sent[index],
                status.messages,
                status.reconnects,
                status.duplicates,
            )

    def _in_order(
        self, local: int, record: Bar | Tick, last_seen: dict[tuple[type, str], int]
    ) -> bool:
        """Check ``record`` (from file feed ``local``) against its symbol's last record."""
        key = (type(record), record.symbol)
        problem = order_problem(record.ts, last_seen.get(key), allow_equal=type(record) is Tick)
        if problem is None:
            last_seen[key] = record.ts
            return True
        feed = self._feeds[local]
        reason, text = problem
        self._rejections.reject(
            feed.name, feed.location(), reason, f"{text}; {record.symbol} is in several feeds"
        )
        return False

    # -- metrics and reporting -------------------------------------------------------------

    def _count_reject(self, feed: str, reason: str) -> None:
        key = (feed, reason)
        child = self._rejected_children.get(key)
        if child is None:
            child = self._rejected_children[key] = self._rejected.labels(feed=feed, reason=reason)
        child.inc()

    def _publish_metrics(self) -> None:
        for index, count in enumerate(self._sent):
            delta = count - self._published[index]
            if delta:
                self._records_children[index].inc(delta)
                self._published[index] = count
                ts = self._last_ts[index]
                if ts is not None:
                    self._timestamp_children[index].set(ts / 1e9)

    def _log_summary(self) -> None:
        for index, feed in zip(self._file_index, self._feeds, strict=True):
            rejected = self._rejections.counts(feed.name)
            if rejected:
                detail = ", ".join(f"{reason}={count}" for reason, count in rejected.items())
                self.log.warning(
                    "feed %s: %d records sent, %d rows rejected (%s)",
                    feed.name,
                    self._sent[index],
                    sum(rejected.values()),
                    detail,
                )
            else:
                self.log.info("feed %s: %d records sent", feed.name, self._sent[index])


def _symbols_may_repeat(feeds: list[Feed]) -> bool:
    """Whether two feeds may carry one symbol (a journal's symbols are known only later)."""
    seen: set[str] = set()
    for feed in feeds:
        if feed.symbols is None:
            return len(feeds) > 1
        if not seen.isdisjoint(feed.symbols):
            return True
        seen.update(feed.symbols)
    return False


def _live_statuses(config: MarketDataConfig, registry: CollectorRegistry) -> dict[int, FeedStatus]:
    """A status per live feed (by position in ``config.feeds``), wired to its metrics."""
    live = [(index, feed) for index, feed in enumerate(config.feeds) if feed.is_live]
    if not live:
        return {}
    connected = gauge(
        registry, "atrium_feed_connected", "1 while a live feed is connected, else 0.", ["feed"]
    )
    staleness = gauge(
        registry,
        "atrium_feed_staleness_seconds",
        "Seconds since a live feed's last message (since its start before the first).",
        ["feed"],
    )
    reconnects = counter(
        registry,
        "atrium_feed_reconnects_total",
        "Connections a live feed opened after its first.",
        ["feed"],
    )
    duplicates = counter(
        registry,
        "atrium_feed_duplicates_total",
        "Trades a live feed dropped as already delivered (resent after a reconnect).",
        ["feed"],
    )
    statuses: dict[int, FeedStatus] = {}
    for index, feed in live:
        name = feed.feed_name
        stale_after = feed.stale_after_seconds
        assert stale_after is not None  # every live feed has a stale limit
        status = FeedStatus(
            stale_after,
            on_reconnect=reconnects.labels(feed=name).inc,
            on_duplicate=duplicates.labels(feed=name).inc,
        )
        # Read at scrape time, so the values are current without a task updating them;
        # a restarted actor rebinds the same children to its new status.
        connected.labels(feed=name).set_function(status.connected_value)
        staleness.labels(feed=name).set_function(status.staleness)
        statuses[index] = status
    return statuses


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf exception of a (possibly nested) exception group."""
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first
