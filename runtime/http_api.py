"""The service's HTTP API: metrics, health, read-only views and the operator controls.

aiohttp on the service's own event loop (no thread, no second loop), so a handler runs
between two message dispatches and reads a consistent state through the
:class:`~runtime.service.ServiceView`; it never changes actor state except by publishing a
``Control`` like any other input.

Endpoints
---------
``GET /metrics``
    Prometheus text exposition of the service's registry, without the ``_created``
    series (a counter's creation time, which dashboards and alerts never read).
``GET /healthz``
    200 while the process and its event loop answer.
``GET /readyz``
    200 when every actor runs, every live feed is connected and fresh and the event loop
    is not late past ``[service].max_loop_lag_seconds``, else 503; the JSON body says
    which check failed either way.
``GET /api/portfolio/limits``, ``GET /api/portfolio/positions``
    The portfolio's ``limits()`` and ``positions()`` documents; limits starts with
    ``"ok": true`` (``"ok": false`` beside the ``"error"`` when it cannot answer).
``GET /api/orders?status=open``
    Execution's open orders (``open`` is the only status kept, and the default).
``GET /api/orders?status=reconciled``
    The last changes reconciliation with a live venue made (kind, order id, detail).
``GET /api/risk``
    Risk's ``status()``: trading state, limits, loss measures, tripped limits.
``POST /api/control/{halt,resume,reduce-only,flatten}``
    Publish a ``Control`` and wait until the pipeline has handled it. Bearer token from
    the environment variable named by ``[service].token_env``, compared in constant time;
    a missing or wrong token is 401 with an RFC 6750 ``WWW-Authenticate`` challenge;
    without a configured token the controls are disabled (403), never open. Optional JSON
    body ``{"reason": "..."}``, received within ``[service].body_timeout_seconds`` (else 408).

Connections are capped, their request heads timed and their requests read at most
``[service].max_requests_per_second`` a second, the rest queued unread
(:mod:`atrium.runtime.http_guard`); every answer closes its connection. ``/metrics`` is rendered at most once per
``[service].metrics_cache_seconds`` and shared by the scrapes in between.

Every answer is JSON (``/metrics`` aside): Decimals as strings in plain notation, errors as
``{"error": "..."}`` with a 4xx status, and any unexpected exception as 500
``{"error": "internal error"}`` with the traceback in the log, never in the body.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Final, final

import anyio
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    disable_created_metrics,
    generate_latest,
)

from atrium.runtime.http_guard import GuardedSite
from atrium.runtime.messages import ControlCommand
from atrium.runtime.service import ServiceView

__all__ = ("MAX_REASON_LENGTH", "Server", "create_app", "serve")

log = logging.getLogger("atrium.http")

#: Longest ``reason`` a control request may carry (it is journaled and logged).
MAX_REASON_LENGTH: Final = 200

#: URL segment -> ``Control.command``; URLs use hyphens, commands underscores.
_CONTROLS: Final[dict[str, ControlCommand]] = {
    "halt": "halt",
    "resume": "resume",
    "reduce-only": "reduce_only",
    "flatten": "flatten",
}
_ORDER_STATUSES: Final = ("open", "reconciled")
# A control body is one short reason; anything larger is not a control request.
_MAX_BODY_BYTES: Final = 16 * 1024
# In-flight requests get this long to finish when the server closes during shutdown.
_SHUTDOWN_TIMEOUT_SECONDS: Final = 2.0

_VIEW: Final = web.AppKey("view", ServiceView)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# -- JSON ------------------------------------------------------------------------------


def _default(value: object) -> str:
    """Decimals as exact plain-notation strings (``160000``, never ``1.6E+5`` or a float)."""
    if isinstance(value, Decimal):
        text = format(value, "f")
        return "0" if text == "-0" else text
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    text = json.dumps(body, default=_default, ensure_ascii=False, allow_nan=False)
    return web.Response(text=text, status=status, content_type="application/json", headers=headers)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return _json({"error": message}, status, headers)


# -- middleware ------------------------------------------------------------------------


@web.middleware
async def _json_errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Turn aiohttp's HTTP errors into JSON and any other exception into a bare 500."""
    try:
        return await handler(request)
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        return _error(
            405,
            f"method {exc.method} not allowed on {request.path}; allowed: {allowed}",
            {"Allow": exc.headers["Allow"]},
        )
    except web.HTTPNotFound:
        return _error(404, f"not found: {request.method} {request.path}")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # a redirect or success raised as an exception is not an error
        # aiohttp's own wording (e.g. the body size limit), never a traceback.
        return _error(exc.status, exc.text or exc.reason)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return _error(500, "internal error")


@web.middleware
async def _close_after_answer(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """One request per connection, so each request head is timed (runtime.http_guard)."""
    response = await handler(request)
    response.force_close()
    return response


class _AccessLog(AbstractAccessLogger):
    """One DEBUG line per request; never headers (the Authorization header is a secret)."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.debug(
            "%s %s %s -> %d in %.1f ms",
            request.remote,
            request.method,
            request.path,
            response.status,
            time * 1000,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.DEBUG)


# -- read-only endpoints ---------------------------------------------------------------


class _MetricsText:
    """The exposition text, rendered again only when older than ``ttl`` seconds."""

    def __init__(self, view: ServiceView, registry: CollectorRegistry, ttl: float) -> None:
        self._view = view
        self._registry = registry
        self._ttl = ttl
        self._body = b""
        self._expires = float("-inf")

    def render(self) -> bytes:
        now = time.monotonic()
        if now >= self._expires:
            # Some gauges (the portfolio's) are computed only when read, never on the hot
            # path; a scrape asks for current values.
            self._view.refresh_metrics()
            self._body = generate_latest(self._registry)
            self._expires = now + self._ttl
        return self._body

    def invalidate(self) -> None:
        """Render on the next scrape (after a control: the operator sees its effect)."""
        self._expires = float("-inf")


_METRICS: Final = web.AppKey("metrics", _MetricsText)


async def _metrics(request: web.Request) -> web.Response:
    body = request.app[_METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _healthz(request: web.Request) -> web.Response:
    return _json(request.app[_VIEW].health())


async def _readyz(request: web.Request) -> web.Response:
    readiness = request.app[_VIEW].readiness()
    return _json(readiness, 200 if readiness["ready"] else 503)


def _query(request: web.Request, view: Callable[[ServiceView], Any]) -> web.Response:
    """``view`` of the service as JSON; 503 while no actor offers it."""
    try:
        document = view(request.app[_VIEW])
    except LookupError as exc:
        return _error(503, str(exc))
    return _json(document)


async def _limits(request: web.Request) -> web.Response:
    """The portfolio's limits after ``"ok": true``; ``"ok": false`` and the error when not."""
    try:
        document = request.app[_VIEW].limits()
    except LookupError as exc:
        return _json({"ok": False, "error": str(exc)}, 503)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return _json({"ok": False, "error": "internal error"}, 500)
    return _json({"ok": True, **document})


async def _positions(request: web.Request) -> web.Response:
    return _query(request, ServiceView.positions)


async def _orders(request: web.Request) -> web.Response:
    status = request.query.get("status", "open")
    if status not in _ORDER_STATUSES:
        allowed = ", ".join(_ORDER_STATUSES)
        return _error(400, f"status: expected one of {allowed}, got {status!r}")
    if status == "reconciled":
        return _query(request, ServiceView.reconciliation_adjustments)
    return _query(request, ServiceView.open_orders)


async def _risk(request: web.Request) -> web.Response:
    return _query(request, ServiceView.trading_status)


# -- controls --------------------------------------------------------------------------


def _refuse_unauthorized(
    request: web.Request, view: ServiceView, command: ControlCommand
) -> web.Response | None:
    """None when the request carries the configured bearer token, else the refusal."""
    token = view.token
    if token is None:
        log.warning(
            "control %s from %s refused: control endpoints are disabled", command, request.remote
        )
        return _error(
            403,
            f"control endpoints are disabled: set ${view.config.service.token_env}",
        )
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer":
        # RFC 6750 3.1: a request without bearer credentials gets the bare challenge.
        log.warning(
            "control %s from %s refused: no bearer token in the Authorization header",
            command,
            request.remote,
        )
        return _error(
            401,
            "no bearer token: expected the header 'Authorization: Bearer <token>'",
            {"WWW-Authenticate": "Bearer"},
        )
    # Bytes: compare_digest refuses non-ASCII str, and a header may hold anything.
    given = credentials.encode("utf-8", "surrogatepass")
    if not hmac.compare_digest(given, token.encode("utf-8", "surrogatepass")):
        log.warning("control %s from %s refused: wrong token", command, request.remote)
        return _error(401, "invalid token", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return None


async def _reason(request: web.Request) -> str | web.Response:
    """The optional ``reason`` of the JSON body, or the 400 (408) refusal of a bad body."""
    timeout = request.app[_VIEW].config.service.body_timeout_seconds
    with anyio.move_on_after(timeout) as scope:
        raw = await request.read()
    if scope.cancelled_caught:
        log.warning("control request from %s: body not received in %s s", request.remote, timeout)
        return _error(
            408,
            f"request body not received within {timeout} s; "
            "send it at once (see [service].body_timeout_seconds)",
        )
    if not raw.strip():
        return ""
    try:
        body = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        return _error(400, f"request body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        return _error(400, 'request body: expected a JSON object like {"reason": "..."}')
    unknown = sorted(key for key in body if key != "reason")
    if unknown:
        return _error(400, f"request body: unknown field {unknown[0]!r}; allowed: reason")
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        return _error(400, f"reason: expected a string, got {type(reason).__name__}")
    if len(reason) > MAX_REASON_LENGTH:
        return _error(
            400, f"reason: expected at most {MAX_REASON_LENGTH} characters, got {len(reason)}"
        )
    if not reason.isprintable():
        # It is logged and journaled: no newlines or escapes to forge log lines with.
        return _error(400, "reason: control characters are not allowed")
    return reason


def _control_handler(command: ControlCommand) -> _Handler:
    async def handle(request: web.Request) -> web.Response:
        view = request.app[_VIEW]
        refusal = _refuse_unauthorized(request, view, command)
        if refusal is not None:
            return refusal
        reason = await _reason(request)
        if isinstance(reason, web.Response):
            return reason
        if view.pipeline.supervisor.stopping:
            return _error(503, "the service is stopping: controls are no longer accepted")
        log.info("control %s from %s: %s", command, request.remote, reason or "no reason given")
        await view.control(command, reason)
        request.app[_METRICS].invalidate()
        state = view.trading_status()["trading_state"]
        return _json({"command": command, "trading_state": state})

    return handle


# -- the application and its server ----------------------------------------------------


def create_app(view: ServiceView, registry: CollectorRegistry) -> web.Application:
    """The aiohttp application of the API (tests drive it with aiohttp's test utilities).

    Parameters
    ----------
    view : ServiceView
        What the API may read and do.
    registry : CollectorRegistry
        The registry ``/metrics`` exposes.
    """
    app = web.Application(
        middlewares=[_close_after_answer, _json_errors], client_max_size=_MAX_BODY_BYTES
    )
    app[_VIEW] = view
    app[_METRICS] = _MetricsText(view, registry, view.config.service.metrics_cache_seconds)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/api/portfolio/limits", _limits)
    app.router.add_get("/api/portfolio/positions", _positions)
    app.router.add_get("/api/orders", _orders)
    app.router.add_get("/api/risk", _risk)
    for segment, command in _CONTROLS.items():
        app.router.add_post(f"/api/control/{segment}", _control_handler(command))
    return app


@final
class Server:
    """A running API server; :meth:`close` stops it and waits for in-flight requests."""

    def __init__(self, runner: web.AppRunner, port: int) -> None:
        self._runner = runner
        self.port = port
        """The bound TCP port (the one the OS picked when the config said 0)."""

    async def close(self) -> None:
        """Stop listening, let in-flight requests finish (2 s at most), free the socket."""
        await self._runner.cleanup()


async def serve(view: ServiceView, registry: CollectorRegistry, host: str, port: int) -> Server:
    """Start the API on ``host:port`` on the running event loop and return at once.

    Parameters
    ----------
    view : ServiceView
        What the API may read and do.
    registry : CollectorRegistry
        The registry ``/metrics`` exposes.
    host : str
        Address to bind (``[service].host``, loopback by default).
    port : int
        TCP port; 0 lets the OS pick one (see :attr:`Server.port`).
    """
    runner = web.AppRunner(
        create_app(view, registry),
        access_log_class=_AccessLog,
        access_log=logging.getLogger("atrium.http.access"),
        shutdown_timeout=_SHUTDOWN_TIMEOUT_SECONDS,
        # A body left unread (a refused or timed-out request) is drained this long before
        # the connection closes, instead of aiohttp's 10 s.
        lingering_time=view.config.service.body_timeout_seconds,
    )
    # Global to prometheus_client (and untyped there); nothing of ours reads _created.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    await runner.setup()
    service = view.config.service
    try:
        await GuardedSite(
            runner,
            host,
            port,
            max_connections=service.max_connections,
            header_timeout=service.header_timeout_seconds,
            max_requests_per_second=service.max_requests_per_second,
        ).start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1]
    return Server(runner, int(bound))
