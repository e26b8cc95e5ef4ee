"""The service's HTTP API against a real pipeline: the five actors on a LiveClock.

Each test starts the supervisor in a task, serves the API with :func:`atrium.runtime.http_api.serve`
on a free loopback port and talks to it with an ``aiohttp.ClientSession``. Messages a
strategy or a feed would send are published on the bus directly; a tap records every
published message in order.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import anyio
import msgspec
import pytest
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from atrium.config.loader import parse_config
from atrium.config.topology import ActorSpecConfig, TopologyConfig, default_actors
from atrium.runtime import LiveClock, build_pipeline
from atrium.runtime.http_api import serve
from atrium.runtime.messages import (
    Bar,
    Control,
    Message,
    Order,
    OrderDenied,
    OrderIntent,
    SizedOrder,
)
from atrium.runtime.observability import RuntimeMetrics
from atrium.runtime.service import ServiceView
from atrium.runtime.topology import Pipeline

D = Decimal
TOKEN = "s3cret-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Service:
    """A running pipeline, its API and a client session pointed at it."""

    pipeline: Pipeline
    view: ServiceView
    http: aiohttp.ClientSession
    registry: CollectorRegistry
    port: int
    seen: list[Message] = field(default_factory=list)

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(path) as response:
            return response.status, await response.json()

    async def post(
        self, path: str, *, headers: dict[str, str] | None = None, data: bytes | None = None
    ) -> tuple[int, Any]:
        async with self.http.post(path, headers=headers, data=data) as response:
            return response.status, await response.json()

    async def send(self, message: Message, sender: str) -> None:
        """Publish as ``sender`` would and wait until the pipeline has handled it all."""
        await self.pipeline.dispatcher.publish(message, sender)
        await self.pipeline.dispatcher.wait_settled()

    def since(self, index: int) -> list[Message]:
        return self.seen[index:]


@asynccontextmanager
async def running(
    token: str | None = TOKEN,
    config: dict[str, Any] | None = None,
    actors: dict[str, ActorSpecConfig] | None = None,
) -> AsyncIterator[Service]:
    """The pipeline under its supervisor, the API on a free port; stopped on exit.

    ``actors`` replaces the whole topology (a config's ``[topology.actors]`` only
    overrides keys of the default actors).
    """
    atrium = parse_config(config or {})
    if actors is not None:
        atrium = msgspec.structs.replace(atrium, topology=TopologyConfig(actors=actors))
    registry = CollectorRegistry()
    pipeline = build_pipeline(atrium, clock=LiveClock(), mode="live", registry=registry)
    metrics = RuntimeMetrics(registry, pipeline, None)
    view = ServiceView(pipeline, atrium, time.time_ns(), token, metrics, recovery={"state": "new"})
    async with anyio.create_task_group() as tg:
        tg.start_soon(pipeline.supervisor.run)
        # Every actor has a running instance once its on_start is done.
        while not all(slot.actor is not None for slot in pipeline.slots.values()):
            await anyio.lowlevel.checkpoint()
        server = await serve(view, registry, "127.0.0.1", 0)
        try:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as http:
                service = Service(pipeline, view, http, registry, server.port)
                pipeline.dispatcher.add_tap(service.seen.append)
                yield service
        finally:
            pipeline.supervisor.request_stop("test over")
            await server.close()


def _bar(close: str) -> Bar:
    price = D(close)
    return Bar(ts=time.time_ns(), symbol="SYN", open=price, high=price, low=price, close=price)


def _intent(intent_id: str) -> OrderIntent:
    return OrderIntent(
        ts=time.time_ns(),
        intent_id=intent_id,
        strategy="s1",
        symbol="SYN",
        side="BUY",
        quantity=D(10),
    )


# -- read-only endpoints ---------------------------------------------------------------


async def test_get_limits_when_started_then_ok_true_comes_first() -> None:
    async with running() as service, service.http.get("/api/portfolio/limits") as response:
        text = await response.text()

    assert text.startswith('{"ok": true, "equity": "100000", ')


async def test_get_limits_when_portfolio_raises_then_500_with_ok_false(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("secret internals")

    async with running() as service:
        monkeypatch.setattr(service.pipeline.slots["portfolio"].actor, "limits", broken)
        with caplog.at_level(logging.ERROR, logger="atrium.http"):
            answer = await service.get("/api/portfolio/limits")

    assert answer == (500, {"ok": False, "error": "internal error"})
    (record,) = [r for r in caplog.records if r.name == "atrium.http"]
    assert record.getMessage() == "GET /api/portfolio/limits failed"


async def test_get_limits_when_started_then_initial_capital_and_default_exposure_cap() -> None:
    async with running() as service:
        status, limits = await service.get("/api/portfolio/limits")

    assert status == 200
    # max_exposure = 100000 equity * 0.8 max_exposure_pct * 1 max_leverage
    assert {key: limits[key] for key in list(limits)[:13]} == {
        "ok": True,
        "equity": "100000",
        "cash": "100000",
        "max_exposure": "80000",
        "current_exposure": "0",
        "filled_exposure": "0",
        "reserved_exposure": "0",
        "available_exposure": "80000",
        "exposure_utilization_pct": "0.00",
        "leverage": "0",
        "margin_required": "0",
        "margin_available": "100000",
        "per_strategy": {},
    }


async def test_get_positions_orders_and_risk_when_started_then_empty_and_active() -> None:
    async with running() as service:
        positions = await service.get("/api/portfolio/positions")
        orders = await service.get("/api/orders?status=open")
        default_orders = await service.get("/api/orders")
        status, risk = await service.get("/api/risk")

    assert positions == (200, [])
    assert orders == (200, [])
    assert default_orders == (200, [])
    assert status == 200
    assert risk["trading_state"] == "ACTIVE"
    assert risk["limits"]["price_band_pct"] == "0.1"
    assert (risk["tripped"], risk["drawdown_ratio"]) == ([], "0")


async def test_get_orders_when_status_unknown_then_400_naming_allowed_values() -> None:
    async with running() as service:
        answer = await service.get("/api/orders?status=closed")

    assert answer == (400, {"error": "status: expected one of open, reconciled, got 'closed'"})


async def test_get_healthz_when_running_then_ok_and_not_stopping() -> None:
    async with running() as service:
        status, health = await service.get("/healthz")

    assert status == 200
    assert (health["status"], health["stopping"]) == ("ok", False)
    assert health["uptime_seconds"] >= 0


async def test_get_readyz_when_running_then_200_and_after_stop_request_503() -> None:
    async with running() as service:
        running_answer = await service.get("/readyz")
        service.pipeline.supervisor.request_stop("test: stopping")
        stopping_answer = await service.get("/readyz")

    actors = {name: True for name in ("market_data", "strategy", "portfolio", "risk", "execution")}
    # No feeds configured: no live feed to wait for (the service test covers one).
    new = {"state": "new"}
    # The lag sampler does not run here: no lag measured.
    loop = {"ok": True, "lag_seconds": 0.0, "max_lag_seconds": 1.0}
    assert running_answer == (
        200,
        {
            "ready": True,
            "checks": {
                "actors": actors,
                "stopping": False,
                "recovery": new,
                "event_loop": loop,
                "feeds": {},
            },
        },
    )
    assert stopping_answer == (
        503,
        {
            "ready": False,
            "checks": {
                "actors": actors,
                "stopping": True,
                "recovery": new,
                "event_loop": loop,
                "feeds": {},
            },
        },
    )


async def test_get_readyz_when_journal_recovery_runs_then_503() -> None:
    async with running() as service:
        service.view.recovery = {"state": "running"}
        status, answer = await service.get("/readyz")

    assert (status, answer["ready"], answer["checks"]["recovery"]) == (
        503,
        False,
        {"state": "running"},
    )


async def test_get_metrics_when_running_then_prometheus_text_with_equity_and_actor_up() -> None:
    async with running() as service, service.http.get("/metrics") as response:
        status, content_type = response.status, response.headers["Content-Type"]
        text = await response.text()

    assert (status, content_type) == (200, CONTENT_TYPE_LATEST)
    lines = text.splitlines()
    assert "atrium_portfolio_equity 100000.0" in lines
    assert 'atrium_actor_up{actor="portfolio"} 1.0' in lines
    assert 'atrium_trading_state{state="ACTIVE"} 1.0' in lines


async def test_get_metrics_when_an_order_reserved_exposure_then_the_scrape_shows_it() -> None:
    async with running() as service:
        await service.send(_bar("100"), "market_data")
        await service.send(_intent("i1"), "strategy")
        _, limits = await service.get("/api/portfolio/limits")
        async with service.http.get("/metrics") as response:
            lines = (await response.text()).splitlines()

    (reserved,) = [line for line in lines if line.startswith("atrium_portfolio_reserved_exposure ")]
    assert float(reserved.split()[1]) == float(limits["reserved_exposure"]) > 0


async def test_get_metrics_when_counters_registered_then_no_created_series() -> None:
    async with running() as service:
        await service.send(_intent("i1"), "strategy")  # counts an order: counters have samples
        async with service.http.get("/metrics") as response:
            text = await response.text()

    assert "atrium_orders_total" in text
    assert [line for line in text.splitlines() if "_created" in line] == []


async def test_get_when_actor_has_no_instance_then_503_naming_the_view() -> None:
    atrium = parse_config({})
    registry = CollectorRegistry()
    pipeline = build_pipeline(atrium, clock=LiveClock(), mode="live", registry=registry)
    metrics = RuntimeMetrics(registry, pipeline, None)
    view = ServiceView(pipeline, atrium, time.time_ns(), TOKEN, metrics, recovery={"state": "new"})
    server = await serve(view, registry, "127.0.0.1", 0)
    try:
        async with (
            aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as http,
            http.get("/api/risk") as response,
            http.get("/api/portfolio/limits") as limits,
        ):
            answer = response.status, await response.json()
            limits_answer = limits.status, await limits.json()
    finally:
        await server.close()

    assert answer == (503, {"error": "risk.status is not available"})
    assert limits_answer == (503, {"ok": False, "error": "portfolio.limits is not available"})


async def test_get_views_when_no_actor_of_the_topology_offers_them_then_503_naming_each() -> None:
    only_market_data = {"market_data": default_actors()["market_data"]}
    async with running(actors=only_market_data) as service:
        limits = await service.get("/api/portfolio/limits")
        positions = await service.get("/api/portfolio/positions")
        orders = await service.get("/api/orders")
        risk = await service.get("/api/risk")
        async with service.http.get("/metrics") as response:
            metrics_status = response.status

    assert limits == (503, {"ok": False, "error": "portfolio.limits is not available"})
    assert positions == (503, {"error": "portfolio.positions is not available"})
    assert orders == (503, {"error": "execution.open_orders is not available"})
    assert risk == (503, {"error": "risk.status is not available"})
    assert metrics_status == 200


async def test_get_limits_when_the_portfolio_actor_has_another_name_then_it_answers() -> None:
    actors = default_actors()
    actors["book"] = actors.pop("portfolio")
    async with running(actors=actors) as service:
        status, limits = await service.get("/api/portfolio/limits")

    assert (status, limits["ok"], limits["equity"]) == (200, True, "100000")


async def test_get_limits_when_two_actors_offer_the_portfolio_view_then_503_naming_both() -> None:
    actors = default_actors()
    actors["book"] = actors["portfolio"]
    async with running(actors=actors) as service:
        answer = await service.get("/api/portfolio/limits")

    error = (
        "portfolio view is offered by several actors (portfolio, book); "
        "the topology may have only one"
    )
    assert answer == (503, {"ok": False, "error": error})


# -- errors ----------------------------------------------------------------------------


async def test_request_when_path_unknown_then_404_json() -> None:
    async with running() as service:
        answer = await service.get("/api/nope")

    assert answer == (404, {"error": "not found: GET /api/nope"})


async def test_request_when_method_wrong_then_405_json_with_allow_header() -> None:
    async with running() as service:
        async with service.http.get("/api/control/halt") as response:
            get_control = response.status, response.headers["Allow"], await response.json()
        post_health = await service.post("/healthz")

    assert get_control == (
        405,
        "POST",
        {"error": "method GET not allowed on /api/control/halt; allowed: POST"},
    )
    assert post_health == (
        405,
        {"error": "method POST not allowed on /healthz; allowed: GET, HEAD"},
    )


async def test_request_when_handler_raises_then_500_without_traceback_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("secret internals")

    async with running() as service:
        monkeypatch.setattr(service.pipeline.slots["portfolio"].actor, "positions", broken)
        with caplog.at_level(logging.ERROR, logger="atrium.http"):
            async with service.http.get("/api/portfolio/positions") as response:
                status, body = response.status, await response.text()

    assert (status, body) == (500, '{"error": "internal error"}')
    (record,) = [r for r in caplog.records if r.name == "atrium.http"]
    assert record.getMessage() == "GET /api/portfolio/positions failed"
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "secret internals"


# -- controls: auth --------------------------------------------------------------------


async def test_control_when_no_token_configured_then_403_disabled_even_with_a_bearer() -> None:
    async with running(token=None) as service:
        answer = await service.post("/api/control/halt", headers=AUTH)
        _, risk = await service.get("/api/risk")

    assert answer == (403, {"error": "control endpoints are disabled: set $ATRIUM_API_TOKEN"})
    assert risk["trading_state"] == "ACTIVE"


async def test_control_when_token_env_configured_then_disabled_message_names_it() -> None:
    async with running(token=None, config={"service": {"token_env": "DESK_TOKEN"}}) as service:
        answer = await service.post("/api/control/halt")

    assert answer == (403, {"error": "control endpoints are disabled: set $DESK_TOKEN"})


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["missing", "no-scheme", "basic"],
)
async def test_control_when_no_bearer_token_then_401_with_bare_bearer_challenge(
    headers: dict[str, str],
) -> None:
    async with running() as service:
        async with service.http.post("/api/control/halt", headers=headers) as response:
            answer = response.status, response.headers["WWW-Authenticate"], await response.json()
        _, risk = await service.get("/api/risk")

    assert answer == (
        401,
        "Bearer",
        {"error": "no bearer token: expected the header 'Authorization: Bearer <token>'"},
    )
    assert risk["trading_state"] == "ACTIVE"


async def test_control_when_token_wrong_or_empty_then_401_invalid_token_logged_without_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "guessed-token-1234"
    refused: list[tuple[int, str, Any]] = []
    async with running() as service:
        with caplog.at_level(logging.WARNING, logger="atrium.http"):
            for command, credentials in (("halt", wrong), ("flatten", "tökén"), ("halt", "")):
                async with service.http.post(
                    f"/api/control/{command}", headers={"Authorization": f"Bearer {credentials}"}
                ) as response:
                    refused.append(
                        (
                            response.status,
                            response.headers["WWW-Authenticate"],
                            await response.json(),
                        )
                    )
        _, risk = await service.get("/api/risk")

    assert (
        refused
        == [
            (401, 'Bearer error="invalid_token"', {"error": "invalid token"}),
        ]
        * 3
    )
    assert risk["trading_state"] == "ACTIVE"
    warnings = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "atrium.http"]
    assert warnings == [
        (logging.WARNING, "control halt from 127.0.0.1 refused: wrong token"),
        (logging.WARNING, "control flatten from 127.0.0.1 refused: wrong token"),
        (logging.WARNING, "control halt from 127.0.0.1 refused: wrong token"),
    ]
    assert wrong not in caplog.text
    assert "tökén" not in caplog.text
    assert TOKEN not in caplog.text


async def test_control_when_right_token_then_halted_and_resume_makes_active_again() -> None:
    async with running() as service:
        halt = await service.post(
            "/api/control/halt", headers=AUTH, data=b'{"reason": "operator test"}'
        )
        _, halted = await service.get("/api/risk")
        resume = await service.post("/api/control/resume", headers=AUTH)
        _, resumed = await service.get("/api/risk")

    assert halt == (200, {"command": "halt", "trading_state": "HALTED"})
    assert halted["trading_state"] == "HALTED"
    assert resume == (200, {"command": "resume", "trading_state": "ACTIVE"})
    assert resumed["trading_state"] == "ACTIVE"


@pytest.mark.parametrize(
    ("segment", "command", "state"),
    [
        ("halt", "halt", "HALTED"),
        ("resume", "resume", "ACTIVE"),
        ("reduce-only", "reduce_only", "REDUCING"),
        ("flatten", "flatten", "REDUCING"),
    ],
)
async def test_control_when_each_command_then_control_published_and_state_reported(
    segment: str, command: str, state: str
) -> None:
    async with running() as service:
        answer = await service.post(
            f"/api/control/{segment}", headers=AUTH, data=b'{"reason": "drill"}'
        )
        controls = [m for m in service.seen if isinstance(m, Control)]

    assert answer == (200, {"command": command, "trading_state": state})
    assert [(c.command, c.reason, c.source) for c in controls] == [(command, "drill", "operator")]


async def test_control_when_stopping_then_503_and_nothing_published() -> None:
    async with running() as service:
        service.pipeline.supervisor.request_stop("test: stopping")
        answer = await service.post("/api/control/halt", headers=AUTH)

    assert answer == (503, {"error": "the service is stopping: controls are no longer accepted"})
    assert [type(m).__name__ for m in service.seen] == []


# -- controls: body --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            b"{not json",
            "request body is not valid JSON: "
            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        (b'["halt"]', 'request body: expected a JSON object like {"reason": "..."}'),
        (b'{"reason": "x", "force": true}', "request body: unknown field 'force'; allowed: reason"),
        (b'{"reason": 42}', "reason: expected a string, got int"),
        (b'{"reason": "' + b"x" * 201 + b'"}', "reason: expected at most 200 characters, got 201"),
        (b'{"reason": "a\\nFAKE LOG LINE"}', "reason: control characters are not allowed"),
    ],
    ids=["bad-json", "not-object", "unknown-field", "not-string", "too-long", "newline"],
)
async def test_control_when_body_bad_then_400_and_state_unchanged(body: bytes, error: str) -> None:
    async with running() as service:
        answer = await service.post("/api/control/halt", headers=AUTH, data=body)
        _, risk = await service.get("/api/risk")

    assert answer == (400, {"error": error})
    assert risk["trading_state"] == "ACTIVE"


async def test_control_when_reason_exactly_200_characters_then_accepted() -> None:
    async with running() as service:
        answer = await service.post(
            "/api/control/halt", headers=AUTH, data=b'{"reason": "' + b"x" * 200 + b'"}'
        )

    assert answer == (200, {"command": "halt", "trading_state": "HALTED"})


async def test_control_when_body_over_16_kib_then_413_json() -> None:
    async with running() as service:
        status, body = await service.post(
            "/api/control/halt", headers=AUTH, data=b" " * (16 * 1024 + 1)
        )

    assert status == 413
    assert body == {"error": "Maximum request body size 16384 exceeded."}


# -- the kill switch -------------------------------------------------------------------


async def test_halt_when_next_intent_arrives_then_denied_by_risk_and_resume_lets_it_through() -> (
    None
):
    async with running() as service:
        await service.send(_bar("100"), "market_data")
        halt = await service.post("/api/control/halt", headers=AUTH)

        mark = len(service.seen)
        await service.send(_intent("i1"), "strategy")
        after_halt = service.since(mark)

        await service.post("/api/control/resume", headers=AUTH)
        mark = len(service.seen)
        await service.send(_intent("i2"), "strategy")
        after_resume = service.since(mark)
        orders = await service.get("/api/orders?status=open")
        _, limits = await service.get("/api/portfolio/limits")

    assert halt == (200, {"command": "halt", "trading_state": "HALTED"})
    # The very next intent: sized by the portfolio, then refused by risk; no Order at all.
    assert [type(m).__name__ for m in after_halt] == ["OrderIntent", "SizedOrder", "OrderDenied"]
    denied = after_halt[2]
    assert isinstance(denied, OrderDenied)
    assert (denied.intent_id, denied.reason, denied.source, denied.detail) == (
        "i1",
        "TRADING_HALTED",
        "risk",
        "state=HALTED",
    )
    # After resume the same intent becomes an order that rests (the paper venue fills
    # MARKET orders on the next print).
    assert [type(m).__name__ for m in after_resume][:3] == ["OrderIntent", "SizedOrder", "Order"]
    sized, order = after_resume[1], after_resume[2]
    assert isinstance(sized, SizedOrder)
    assert isinstance(order, Order)
    status, open_orders = orders
    assert status == 200
    assert open_orders == [
        {
            "order_id": order.order_id,
            "intent_id": "i2",
            "strategy": "s1",
            "symbol": "SYN",
            "side": "BUY",
            "order_type": "MARKET",
            "time_in_force": "GTC",
            "quantity": "10",
            "limit_price": None,
            "trigger_price": None,
            "status": "ACCEPTED",
            "filled_quantity": "0",
            "remaining_quantity": "10",
            "avg_fill_price": None,
            "submitted_ts": order.ts,
        }
    ]
    # 10 x 100 reserved by the order in flight.
    assert (limits["current_exposure"], limits["reserved_exposure"]) == ("1000", "1000")


async def _slow_client(port: int) -> anyio.abc.SocketStream:
    """A connection that sends part of a request head and then nothing."""
    stream = await anyio.connect_tcp("127.0.0.1", port)
    await stream.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    return stream


async def test_request_when_connection_cap_filled_by_slow_clients_then_healthz_and_controls_answer() -> (
    None
):
    config = {"service": {"max_connections": 4, "header_timeout_seconds": 60}}
    async with running(config=config) as service:
        slow = [await _slow_client(service.port) for _ in range(12)]
        try:
            with anyio.fail_after(5):
                health = await service.get("/healthz")
                halted = await service.post("/api/control/halt", headers=AUTH)
        finally:
            for stream in slow:
                await stream.aclose()

    assert health[0] == 200
    assert halted == (200, {"command": "halt", "trading_state": "HALTED"})


async def test_request_when_head_not_sent_within_timeout_then_connection_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = {"service": {"header_timeout_seconds": 0.2}}
    async with running(config=config) as service:
        stream = await _slow_client(service.port)
        with (
            caplog.at_level(logging.WARNING, logger="atrium.http"),
            anyio.fail_after(5),
            pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError, OSError)),
        ):
            await stream.receive()
        await stream.aclose()

    assert [r.getMessage() for r in caplog.records if r.name == "atrium.http"] == [
        "HTTP connection from 127.0.0.1 closed: no request head within 0.2 s"
    ]


async def test_control_when_body_not_sent_within_timeout_then_408_and_state_unchanged() -> None:
    config = {"service": {"body_timeout_seconds": 0.2}}
    async with running(config=config) as service:
        stream = await anyio.connect_tcp("127.0.0.1", service.port)
        await stream.send(
            b"POST /api/control/halt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {TOKEN}\r\n".encode()
            + b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"rea'
        )
        with anyio.fail_after(5):
            answer = b""
            with contextlib.suppress(anyio.EndOfStream):
                while True:
                    answer += await stream.receive()
        await stream.aclose()
        _, risk = await service.get("/api/risk")

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert json.loads(body) == {
        "error": "request body not received within 0.2 s; send it at once "
        "(see [service].body_timeout_seconds)"
    }
    assert risk["trading_state"] == "ACTIVE"


class _CountingCollector(Collector):
    def __init__(self) -> None:
        self.calls = 0

    def collect(self) -> list[Metric]:
        self.calls += 1
        return []


@pytest.mark.parametrize(("ttl", "renders"), [(60.0, 1), (0.0, 3)])
async def test_get_metrics_when_scraped_within_cache_seconds_then_rendered_once_and_shared(
    ttl: float, renders: int
) -> None:
    collector = _CountingCollector()
    async with running(config={"service": {"metrics_cache_seconds": ttl}}) as service:
        service.registry.register(collector)
        bodies = []
        for _ in range(3):
            async with service.http.get("/metrics") as response:
                bodies.append(await response.read())

    assert collector.calls == renders
    assert all(body.startswith(b"# HELP") for body in bodies)


async def test_request_when_cap_reached_by_requests_in_progress_then_503_and_closed() -> None:
    config = {"service": {"max_connections": 1, "body_timeout_seconds": 5}}
    async with running(config=config) as service:
        busy = await anyio.connect_tcp("127.0.0.1", service.port)
        await busy.send(
            b"POST /api/control/halt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {TOKEN}\r\n".encode()
            + b"Content-Length: 100\r\n\r\n{"
        )
        await anyio.sleep(0.1)  # the head is in: the connection is busy, not slow
        refused = await anyio.connect_tcp("127.0.0.1", service.port)
        answer = b""
        with anyio.fail_after(5), contextlib.suppress(anyio.EndOfStream):
            while True:
                answer += await refused.receive()
        await refused.aclose()
        await busy.aclose()

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 503 Service Unavailable"
    assert json.loads(body) == {"error": "too many open connections; retry shortly"}


async def test_request_when_many_arrive_at_once_then_read_at_most_max_requests_per_second() -> None:
    config = {"service": {"max_requests_per_second": 20}}
    async with running(config=config) as service:
        statuses: list[int] = []

        async def get() -> None:
            statuses.append((await service.get("/healthz"))[0])

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(get)
        elapsed = time.monotonic() - started

    # All answered, the tenth about 9 turns of 1/20 s after the first.
    assert statuses == [200] * 10
    assert 0.4 <= elapsed < 3.0
