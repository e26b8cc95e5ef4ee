"""``[service]``: the long-running service (``atrium run``): HTTP API and readiness."""

from __future__ import annotations

from typing import Annotated

import msgspec

from config.base import ConfigBase

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
    """

    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8000
    token_env: str = "ATRIUM_API_TOKEN"
    loop_lag_interval_seconds: Annotated[float, msgspec.Meta(gt=0)] = 0.5
