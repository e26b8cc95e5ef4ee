"""A handler that blocks the event loop is named in a warning, and ``/readyz`` answers 503
while the loop lag is over ``[service].max_loop_lag_seconds``.

The pipeline runs under its supervisor with the lag sampler (and its watchdog thread)
and the HTTP API, as ``atrium run`` has them, with short limits; the blocking is real
(``time.sleep`` in a strategy's handler, or in a task outside any handler).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp
import anyio
import pytest

from atrium.actors.strategy.api import Strategy
from atrium.config.base import ConfigBase
from atrium.config.loader import parse_config
from atrium.runtime import LiveClock, build_pipeline
from atrium.runtime.http_api import serve
from atrium.runtime.messages import Tick
from atrium.runtime.observability import RuntimeMetrics
from atrium.runtime.service import ServiceView

INTERVAL = 0.02
LIMIT = 0.2
BLOCK = 0.6


class BlockingParams(ConfigBase, frozen=True, kw_only=True):
    seconds: float


class Blocking(Strategy[BlockingParams]):
    """Blocks the event loop for ``seconds`` on every tick (a synchronous call gone slow)."""

    Params = BlockingParams

    def on_tick(self, tick: Tick) -> None:
        time.sleep(self.params.seconds)


@asynccontextmanager
async def _service() -> AsyncIterator[tuple[Any, aiohttp.ClientSession]]:
    config = parse_config(
        {
            "service": {"loop_lag_interval_seconds": INTERVAL, "max_loop_lag_seconds": LIMIT},
            "strategies": {
                "blocker": {
                    "class": f"{__name__}:Blocking",
                    "symbols": ["SYN"],
                    "params": {"seconds": BLOCK},
                }
            },
        }
    )
    pipeline = build_pipeline(config, clock=LiveClock(), mode="live")
    metrics = RuntimeMetrics(pipeline.registry, pipeline, None)
    view = ServiceView(pipeline, config, time.time_ns(), None, metrics, recovery={"state": "new"})
    async with anyio.create_task_group() as tg:
        tg.start_soon(pipeline.supervisor.run)
        tg.start_soon(metrics.sample_loop_lag, INTERVAL, LIMIT)
        while not all(slot.actor is not None for slot in pipeline.slots.values()):
            await anyio.lowlevel.checkpoint()
        server = await serve(view, pipeline.registry, "127.0.0.1", 0)
        try:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as http:
                await anyio.sleep(3 * INTERVAL)  # the sampler has run
                yield pipeline, http
        finally:
            pipeline.supervisor.request_stop("test over")
            await server.close()
            tg.cancel_scope.cancel()


async def _readyz(http: aiohttp.ClientSession) -> tuple[int, dict[str, Any]]:
    async with http.get("/readyz") as response:
        body = await response.json()
        return response.status, body["checks"]["event_loop"]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "atrium.loop"]


_WARNING = (
    r"event loop held for \d+\.\d s, over \[service\]\.max_loop_lag_seconds = 0\.2, {where}: "
    r"feeds, journal and HTTP wait meanwhile; move blocking work off the loop"
)


async def test_handler_when_it_blocks_past_max_loop_lag_then_warning_names_actor_and_kind_and_readyz_503(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tick = Tick(ts=time.time_ns(), symbol="SYN", price=Decimal(100), size=Decimal(1))
    with caplog.at_level(logging.WARNING, logger="atrium.loop"):
        async with _service() as (pipeline, http):
            before = await _readyz(http)
            await pipeline.dispatcher.publish(tick, "market_data")
            during = await _readyz(http)
            await anyio.sleep(5 * INTERVAL)  # the next samples are on time again
            after = await _readyz(http)
            stalls = pipeline.registry.get_sample_value(
                "atrium_event_loop_stalls_total", {"actor": "strategy"}
            )

    assert (before[0], before[1]["ok"], after[0], after[1]["ok"]) == (200, True, 200, True)
    status, check = during
    assert (status, check["ok"], check["max_lag_seconds"]) == (503, False, LIMIT)
    assert LIMIT < check["lag_seconds"] < BLOCK + 0.5
    (warning,) = _warnings(caplog)
    assert re.fullmatch(_WARNING.format(where="by actor 'strategy' handling Tick"), warning), (
        warning
    )
    assert stalls == 1.0


async def test_loop_when_blocked_outside_any_handler_then_warning_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="atrium.loop"):
        async with _service() as (pipeline, _):
            time.sleep(BLOCK)  # noqa: ASYNC251 -- the test holds the loop itself, in no handler
            await anyio.sleep(2 * INTERVAL)
            stalls = pipeline.registry.get_sample_value(
                "atrium_event_loop_stalls_total", {"actor": "none"}
            )

    (warning,) = _warnings(caplog)
    assert re.fullmatch(_WARNING.format(where="outside any message handler"), warning), warning
    assert stalls == 1.0
