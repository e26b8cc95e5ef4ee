"""``atrium run``: the five actors on a LiveClock as a long-running service.

The service owns the pieces around the pipeline: the journal, the HTTP API, the runtime
metrics, and the shutdown sequence (on SIGTERM/SIGINT: stop the sources so no new input
arrives, drain the mailboxes within ``[runtime].shutdown_grace_seconds``, flush the
journal, exit 0; a second signal exits at once).
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
import msgspec
from prometheus_client import CollectorRegistry

from atrium.config.cluster import ClusterConfig
from atrium.config.schema import AtriumConfig
from atrium.runtime.capabilities import (
    CONTROL_INPUT,
    FEED_HEALTH,
    LINK_HEALTH,
    OPEN_ORDERS,
    PORTFOLIO_VIEW,
    ROLE_RESUME,
    SCRAPE_REFRESH,
    TRADING_STATUS,
    Capability,
)
from atrium.runtime.clocks import LiveClock
from atrium.runtime.cluster.wiring import BRIDGE
from atrium.runtime.dispatch import OPERATOR
from atrium.runtime.errors import AtriumError
from atrium.runtime.journal import Journal, JournalError
from atrium.runtime.journal_check import check_journal
from atrium.runtime.messages import Control, ControlCommand
from atrium.runtime.observability import RuntimeMetrics
from atrium.runtime.recovery import fingerprint, record_session, resume_session
from atrium.runtime.topology import Pipeline, build_pipeline
from atrium.runtime.venue_session import go_live
from atrium.runtime.version import atrium_version

__all__ = ("ServiceView", "live_journal", "run_service")

log = logging.getLogger("atrium.service")

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_T = TypeVar("_T")


@dataclass
class ServiceView:
    """What the HTTP API may see and do: read-only queries of actors, and controls.

    Queries run on the event loop between message dispatches, so they read a consistent
    state; they never change it. Each asks the capability an actor offers for it (see
    :mod:`atrium.runtime.capabilities`) and raises ``LookupError`` naming the view while no
    actor offers it. Controls are published as ``Control`` messages like any other input,
    so they are journaled and take effect in order.
    """

    pipeline: Pipeline
    config: AtriumConfig
    started_ns: int
    token: str | None
    metrics: RuntimeMetrics
    #: ``{"state": "running"}`` until the journal was recovered, then its report.
    recovery: dict[str, Any] = field(default_factory=lambda: {"state": "running"})

    def limits(self) -> dict[str, Any]:
        """``GET /api/portfolio/limits``."""
        return self._offered(PORTFOLIO_VIEW, "portfolio.limits").limits()

    def positions(self) -> list[dict[str, str]]:
        """``GET /api/portfolio/positions``."""
        return self._offered(PORTFOLIO_VIEW, "portfolio.positions").positions()

    def open_orders(self) -> list[dict[str, Any]]:
        """``GET /api/orders``."""
        return self._offered(OPEN_ORDERS, "execution.open_orders").open_orders()

    def reconciliation_adjustments(self) -> list[dict[str, Any]]:
        """``GET /api/orders?status=reconciled``: what reconciling with the venue changed."""
        offered = self._offered(OPEN_ORDERS, "execution.open_orders")
        return offered.reconciliation_adjustments()

    def trading_status(self) -> dict[str, Any]:
        """``GET /api/risk``, and the trading state a control answers with."""
        return self._offered(TRADING_STATUS, "risk.status").status()

    def refresh_metrics(self) -> None:
        """Recompute the gauges that are computed when read, before a scrape."""
        for provider in self.pipeline.capabilities.every(SCRAPE_REFRESH):
            provider.refresh_metrics()

    def _offered(self, capability: Capability[_T], view: str) -> _T:
        provider = self.pipeline.capabilities.get(capability)
        if provider is None:
            raise LookupError(f"{view} is not available")
        return provider

    async def control(self, command: ControlCommand, reason: str) -> None:
        """Publish a ``Control`` and wait until the pipeline has handled it."""
        message = Control(
            ts=self.pipeline.clock.now_ns(), command=command, reason=reason, source=OPERATOR
        )
        recorded = self.pipeline.capabilities.get(CONTROL_INPUT)
        if recorded is not None:
            await recorded.control(message)  # a cluster's core: kept on the stream too
        else:
            await self.pipeline.dispatcher.publish(message, OPERATOR)
        await self.pipeline.dispatcher.wait_settled()
        if command == "shutdown":
            self.pipeline.supervisor.request_stop(f"shutdown requested: {reason}")

    def health(self) -> dict[str, Any]:
        """Process and event loop alive (answering at all is the proof)."""
        return {
            "status": "ok",
            "uptime_seconds": (time.time_ns() - self.started_ns) / 1e9,
            "stopping": self.pipeline.supervisor.stopping,
        }

    def readiness(self) -> dict[str, Any]:
        """Ready when every actor runs, every live feed is connected and fresh, and the
        event loop is not held past ``[service].max_loop_lag_seconds``."""
        supervisor = self.pipeline.supervisor
        actors = {name: slot.actor is not None for name, slot in self.pipeline.slots.items()}
        lag, limit = self.metrics.loop_lag_now(), self.config.service.max_loop_lag_seconds
        checks: dict[str, Any] = {
            "actors": actors,
            "stopping": supervisor.stopping,
            "recovery": self.recovery,
            "event_loop": {
                "ok": lag <= limit,
                "lag_seconds": round(lag, 3),
                "max_lag_seconds": limit,
            },
        }
        recovered = self.recovery["state"] != "running"
        ready = all(actors.values()) and not supervisor.stopping and recovered and lag <= limit
        capabilities = self.pipeline.capabilities
        link_health = capabilities.get(LINK_HEALTH)
        if link_health is not None:
            link = link_health.link_status()
            checks["cluster"] = link
            ready = ready and link["ready"]
        feed_health = capabilities.every(FEED_HEALTH)
        if feed_health:
            feeds: dict[str, dict[str, Any]] = {}
            for provider in feed_health:
                feeds.update(provider.feed_status())
            checks["feeds"] = feeds
            ready = ready and all(feed.get("ready", False) for feed in feeds.values())
        return {"ready": ready, "checks": checks}


def _token(config: AtriumConfig) -> str | None:
    # An environment file often ends the value with a newline; it is never part of a token.
    token = os.environ.get(config.service.token_env, "").strip()
    return token or None


async def _write_journal(journal: Journal, pipeline: Pipeline) -> None:
    """The journal's writer task; a failed write stops the service at once."""
    try:
        await journal.run_writer()
    except JournalError as exc:
        pipeline.supervisor.request_stop(f"journal failed: {exc}", immediate=True)


async def run_service(
    config: AtriumConfig,
    *,
    registry: CollectorRegistry | None = None,
    sections: dict[str, Any] | None = None,
    new_session: bool = False,
) -> None:
    """Run until a signal (or an escalation, which raises after a clean stop).

    ``sections`` overrides config sections by name (a cluster role's bridge wiring).
    ``new_session`` lets an existing journal file without a session be used
    (``atrium run --new-session``).
    """
    registry = registry if registry is not None else CollectorRegistry()
    clock = LiveClock()
    pipeline = build_pipeline(
        config, clock=clock, mode="live", registry=registry, sections=sections
    )
    journal = await _open_journal(config, new_session)
    metrics = RuntimeMetrics(registry, pipeline, journal)
    view = ServiceView(pipeline, config, time.time_ns(), _token(config), metrics)
    if view.token is None:
        log.warning("no API token in $%s: control endpoints are disabled", config.service.token_env)
    try:
        # The service, not the supervisor, holds the signal handlers, and holds them until the
        # journal is closed: asyncio restores the default action when a handler is removed, so
        # a second signal after the supervisor returned would kill the process mid-flush.
        with anyio.open_signal_receiver(*_STOP_SIGNALS) as signals:
            try:
                try:
                    failed = await _serve(config, pipeline, journal, view, signals)
                finally:
                    if journal is not None:
                        await journal.close()
                if journal is not None and journal.failure is not None:
                    # Whichever actor was writing when the disk filled: the journal is the cause.
                    raise journal.failure
                if failed is not None:
                    raise failed
                log.info("stopped: %s", pipeline.supervisor.stop_reason)
            finally:
                # Leaving the receiver restores the default action (death by signal)
                # before the handlers below can ignore it: block the signals across the
                # gap, so one that lands there stays pending and is then discarded.
                signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    finally:
        # Stopped and flushed, the process is on its way out (interpreter teardown takes
        # a while): a late signal must not turn its exit status into death by signal.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


async def _open_journal(config: AtriumConfig, new_session: bool) -> Journal | None:
    """The service's journal, checked before any actor runs (None: journaling is off)."""
    if not config.journal.enabled:
        return None
    path = Path(config.journal.path)
    # Damage is refused here, before any actor runs, not found by the re-run.
    await anyio.to_thread.run_sync(functools.partial(check_journal, path, new_session=new_session))
    journal = live_journal(config)
    await journal.open()
    return journal


def live_journal(config: AtriumConfig) -> Journal:
    """The journal of a live session, not yet opened: durable at ``[journal].durability``.

    Market data goes in blocks, so an order's commit writes one block row for the ticks
    since the last commit instead of a row per tick; an existing journal of rows is
    appended to as rows (its readers and recovery expect them).
    """
    return Journal(
        Path(config.journal.path),
        batch_size=config.journal.batch_size,
        durable=True,
        synchronous={"process": "normal", "power": "full"}[config.journal.level],
        market_data="blocks",
        adopt_mode=True,
    )


async def _serve(
    config: AtriumConfig,
    pipeline: Pipeline,
    journal: Journal | None,
    view: ServiceView,
    signals: AsyncIterator[int],
) -> AtriumError | None:
    """Serve HTTP and run the actors until they stop; the error to raise, if any."""
    from atrium.runtime.http_api import serve  # noqa: PLC0415 -- aiohttp loads only for the service

    failed: AtriumError | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(pipeline.supervisor.watch_signals, signals)
        if journal is not None:
            tg.start_soon(_write_journal, journal, pipeline)
        tg.start_soon(
            view.metrics.sample_loop_lag,
            config.service.loop_lag_interval_seconds,
            config.service.max_loop_lag_seconds,
        )
        host, port = config.service.host, config.service.port
        try:
            server = await serve(view, pipeline.registry, host, port)
        except OSError as exc:  # returned, raised as itself, not in a group
            failed = AtriumError(
                f"service.port: cannot serve HTTP on {host}:{port}: "
                f"{os.strerror(exc.errno) if exc.errno else exc}"
            )
            tg.cancel_scope.cancel()
            return failed
        log.info("serving on http://%s:%d", host, server.port)
        try:
            await pipeline.supervisor.run(
                before_sources=functools.partial(_recover, pipeline, journal, config, view)
            )
        except AtriumError as exc:  # returned, raised as itself, not in a group
            failed = exc
        finally:
            await server.close()
            tg.cancel_scope.cancel()
    return failed


async def _recover(
    pipeline: Pipeline, journal: Journal | None, config: AtriumConfig, view: ServiceView
) -> None:
    """Rebuild the actors from the journal (or the cluster stream) before any input."""
    if await _resume_role(pipeline, config):
        # A cluster role rebuilds from the stream instead; its bridge goes live after.
        if journal is not None:
            await record_session(pipeline, journal, config)
        view.recovery = {"state": "stream" if journal is not None else "off"}
        return
    if journal is None:
        await go_live(pipeline)
        view.recovery = {"state": "off"}
        return
    clock = pipeline.clock
    assert isinstance(clock, LiveClock)
    report = await resume_session(pipeline, journal, config, clock=clock)
    view.recovery = {"state": "done", **report.as_dict()} if report else {"state": "new"}


async def _resume_role(pipeline: Pipeline, config: AtriumConfig) -> bool:
    """A cluster role restores its snapshot before any input; its bridge reads the rest,
    and reconciles the live venues once that is rebuilt. False: not a cluster role."""
    resumable = pipeline.capabilities.get(ROLE_RESUME)
    if resumable is None:
        return False
    actors = {
        name: slot.actor
        for name, slot in pipeline.slots.items()
        if name != BRIDGE and slot.actor is not None
    }
    # The cluster section (URL, ports, snapshot cadence) does not change what actors do.
    digest = fingerprint(msgspec.structs.replace(config, cluster=ClusterConfig()), atrium_version())
    portfolio = pipeline.capabilities.get(PORTFOLIO_VIEW)
    await resumable.resume(actors, digest, portfolio, functools.partial(go_live, pipeline))
    return True
