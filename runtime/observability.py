"""Runtime metrics: actors, mailboxes, journal, event-loop lag, tick-to-order latency.

Per-actor counters are read at scrape time from the supervisor's own counters (a custom
collector), so the hot path pays nothing for them.

A handler that blocks holds the whole event loop (feeds, journal, HTTP). The lag sampler
cannot see it until it is over, so a watchdog thread watches the sampler's deadline and,
once the loop is late past ``[service].max_loop_lag_seconds``, logs which actor was
handling which message kind at that moment (the dispatcher's ``handling``).
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Iterator

import anyio
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from atrium.runtime.journal import Journal
from atrium.runtime.topology import Pipeline
from atrium.runtime.version import atrium_version

__all__ = ("LATENCY_BUCKETS", "RuntimeMetrics")

log = logging.getLogger("atrium.loop")

#: Seconds; fine below a millisecond, where the tick-to-order path is expected to be.
LATENCY_BUCKETS = (
    10e-6,
    25e-6,
    50e-6,
    100e-6,
    250e-6,
    500e-6,
    1e-3,
    2.5e-3,
    5e-3,
    10e-3,
    50e-3,
    0.25,
    1.0,
)


class _PipelineCollector(Collector):
    """Reads actor and journal counters when Prometheus scrapes."""

    def __init__(self, pipeline: Pipeline, journal: Journal | None) -> None:
        self._pipeline = pipeline
        self._journal = journal

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        slots = self._pipeline.slots.values()
        depth = GaugeMetricFamily(
            "atrium_actor_mailbox_depth",
            "Messages waiting in the actor's mailbox.",
            labels=["actor"],
        )
        capacity = GaugeMetricFamily(
            "atrium_actor_mailbox_capacity",
            "Most messages that may wait for the actor while one input is handled.",
            labels=["actor"],
        )
        processed = CounterMetricFamily(
            "atrium_actor_messages_processed", "Messages handled.", labels=["actor"]
        )
        errors = CounterMetricFamily(
            "atrium_actor_handler_errors", "Handler calls that raised.", labels=["actor"]
        )
        restarts = CounterMetricFamily(
            "atrium_actor_restarts", "Restarts by the supervisor.", labels=["actor"]
        )
        dead = CounterMetricFamily(
            "atrium_actor_dead_letters", "Messages dead-lettered.", labels=["actor"]
        )
        running = GaugeMetricFamily(
            "atrium_actor_up", "1 while the actor has a running instance.", labels=["actor"]
        )
        for slot in slots:
            name, stats = slot.name, slot.stats
            depth.add_metric([name], slot.mailbox.depth)
            capacity.add_metric([name], slot.mailbox.capacity)
            processed.add_metric([name], stats.processed)
            errors.add_metric([name], stats.failed)
            restarts.add_metric([name], stats.restarts)
            dead.add_metric([name], stats.dead_letters)
            running.add_metric([name], 1.0 if slot.actor is not None else 0.0)
        yield from (depth, capacity, processed, errors, restarts, dead, running)
        dispatcher = self._pipeline.dispatcher
        yield CounterMetricFamily(
            "atrium_bus_messages_published",
            "Messages published through the dispatcher.",
            value=dispatcher.published,
        )
        yield GaugeMetricFamily(
            "atrium_bus_in_flight",
            "Messages delivered and not yet handled.",
            value=dispatcher.in_flight,
        )
        if self._journal is not None:
            yield CounterMetricFamily(
                "atrium_journal_rows_written",
                "Rows written to the journal.",
                value=self._journal.written,
            )
            yield GaugeMetricFamily(
                "atrium_journal_buffered_rows",
                "Rows recorded and not yet written.",
                value=self._journal.buffered,
            )


class RuntimeMetrics:
    """Registers the runtime's metrics on ``registry`` and samples event-loop lag."""

    def __init__(
        self, registry: CollectorRegistry, pipeline: Pipeline, journal: Journal | None
    ) -> None:
        registry.register(_PipelineCollector(pipeline, journal))
        Info("atrium_build", "Version of the running Atrium.", registry=registry).info(
            {"version": atrium_version(), "python": platform.python_version()}
        )
        self.loop_lag = Gauge(
            "atrium_event_loop_lag_seconds",
            "How late a timer of the event loop fired at the last sample.",
            registry=registry,
        )
        self.loop_stalls = Counter(
            "atrium_event_loop_stalls",
            "Times the event loop was held past [service].max_loop_lag_seconds, by the actor "
            "whose handler held it (none: outside any handler). The lag gauge is back to "
            "normal a sample later, so a scrape seldom sees a stall; this counter keeps it.",
            ["actor"],
            registry=registry,
        )
        self.latency = Histogram(
            "atrium_tick_to_order_latency_seconds",
            "From a market data message entering the pipeline to the order it caused "
            "having been handled by execution.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        pipeline.dispatcher.on_order_latency = self.latency.observe
        self._dispatcher = pipeline.dispatcher
        # perf_counter time the sampler's current sleep should end; +inf before it runs.
        self._deadline = float("inf")
        self._last_lag = 0.0

    def loop_lag_now(self) -> float:
        """The last sampled lag, or how late the sample in progress is if that is more (a
        stall not over yet, or over and not sampled yet)."""
        return max(self._last_lag, time.perf_counter() - self._deadline)

    async def sample_loop_lag(self, interval: float, limit: float) -> None:
        """Sleep ``interval`` again and again; the overshoot is the loop's lag.

        Meanwhile a watchdog thread warns once per stall when the loop is ``limit``
        seconds late, naming the handler that holds it.
        """
        stop = threading.Event()
        watchdog = threading.Thread(
            target=self._watch,
            args=(min(interval, limit) / 4, limit, stop),
            name="atrium-loop-watchdog",
            daemon=True,
        )
        watchdog.start()
        try:
            while True:
                self._deadline = time.perf_counter() + interval
                await anyio.sleep(interval)
                self._last_lag = max(0.0, time.perf_counter() - self._deadline)
                self.loop_lag.set(self._last_lag)
        finally:
            stop.set()
            watchdog.join()

    def _watch(self, period: float, limit: float, stop: threading.Event) -> None:
        warned_for = float("-inf")
        while not stop.wait(period):
            deadline = self._deadline
            late = time.perf_counter() - deadline
            if late <= limit or deadline == warned_for:
                continue
            warned_for = deadline
            handling = self._dispatcher.handling
            if handling is None:
                actor, where = "none", "outside any message handler"
            else:
                mailbox, message = handling
                actor = mailbox.name
                where = f"by actor {actor!r} handling {type(message).__name__}"
            self.loop_stalls.labels(actor).inc()
            log.warning(
                "event loop held for %.1f s, over [service].max_loop_lag_seconds = %s, %s: "
                "feeds, journal and HTTP wait meanwhile; move blocking work off the loop",
                late,
                limit,
                where,
            )
