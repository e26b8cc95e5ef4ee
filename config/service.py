"""``[service]``: the long-running service (``atrium run``): HTTP API and readiness."""

from __future__ import annotations

from typing import Annotated

import msgspec

from atrium.config.base import ConfigBase

__all__ = ("ServiceConfig",)


class ServiceConfig(ConfigBase, frozen=True, kw_only=True):
    """Service settings. (When a live feed counts as stale is the feed's own
    ``stale_after_seconds``, under ``[[market_data.feeds]]``.)

    Parameters
    ----------
    host : str, default "127.0.0.1"
        Address the HTTP server binds; loopback unless you mean to expose it.
    port : int, default 8000
        HTTP port (``/metrics``, ``/healthz``, ``/readyz``, ``/api/...``). 0 picks a free one.
    token_env : str, default "ATRIUM_API_TOKEN"
        Environment variable holding the bearer token of the control endpoints. Unset or
        empty: the control endpoints answer 403 (disabled), never open.
    loop_lag_interval_seconds : float, default 0.5
        How often the event-loop lag gauge is sampled.
    max_loop_lag_seconds : float, default 1.0
        Event-loop lag past which ``/readyz`` answers 503 (``checks.event_loop``) and a
        warning names the actor and the message kind whose handler held the loop.
    max_connections : int, default 64
        Open HTTP connections at most. At the cap, a new connection closes the oldest one
        still sending its request head (a slow client), so ``/healthz`` and the controls
        stay reachable; with none such, it is answered 503.
    header_timeout_seconds : float, default 10.0
        A connection that has not sent its whole request head by then is closed.
    body_timeout_seconds : float, default 10.0
        A control request whose body is not all received by then is answered 408.
    metrics_cache_seconds : float, default 1.0
        ``/metrics`` is rendered at most once in this time; scrapes within it share the
        text. 0 renders every scrape.
    max_requests_per_second : float, default 50.0
        HTTP requests are read at most this often; the others wait unread, in order of
        arrival, so that clients hammering the API cannot take the event loop from the
        order path (each request costs it several hundred microseconds).
    """

    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8000
    token_env: str = "ATRIUM_API_TOKEN"
    loop_lag_interval_seconds: Annotated[float, msgspec.Meta(gt=0)] = 0.5
    max_loop_lag_seconds: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    max_connections: Annotated[int, msgspec.Meta(ge=1)] = 64
    header_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    body_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    metrics_cache_seconds: Annotated[float, msgspec.Meta(ge=0)] = 1.0
    max_requests_per_second: Annotated[float, msgspec.Meta(gt=0)] = 50.0
