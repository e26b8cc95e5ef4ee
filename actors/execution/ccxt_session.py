"""ccxt at the boundary: building the exchange, classifying its errors, and its numbers
as exact Decimals. Pure helpers of :mod:`~atrium.actors.execution.ccxt_adapter`."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any, Final

import ccxt.async_support as ccxt
import ccxt.pro as ccxt_pro

from atrium.actors.ccxt_urls import point_at
from atrium.config.execution import CcxtVenueConfig
from atrium.runtime.errors import VenuePriceMissing, VenueStreamStale

__all__ = ("commission", "dec", "error_kind", "make_exchange", "optional", "step")

_ZERO: Final = Decimal(0)


def error_kind(exc: Exception) -> str:
    """What kind of venue error ``exc`` is (HTTP 429/418 are ``rate_limit``, 5xx
    ``network`` or ``maintenance``), the label of the error counter."""
    if isinstance(exc, VenuePriceMissing):
        return "no_price"
    if isinstance(exc, VenueStreamStale):
        return "stale"
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return "rate_limit"
    if isinstance(exc, ccxt.RequestTimeout):
        return "timeout"
    if isinstance(exc, ccxt.OnMaintenance | ccxt.ExchangeNotAvailable):
        return "maintenance"
    if isinstance(exc, ccxt.OperationFailed):
        return "network"
    if isinstance(exc, ccxt.AuthenticationError | ccxt.PermissionDenied):
        return "auth"
    return "exchange"


def dec(value: Any) -> Decimal:
    """A ccxt number (float, str or None) as an exact Decimal, at the boundary."""
    return _ZERO if value is None else Decimal(str(value))


def optional(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def step(precision: Any, mode: int) -> Decimal | None:
    """ccxt precision as a step: a tick size already, or a count of decimal places."""
    if precision is None:
        return None
    if mode == ccxt.TICK_SIZE:
        return Decimal(str(precision))
    return Decimal(1).scaleb(-int(precision))


def commission(trade: dict[str, Any], price: Decimal, market: Any) -> Decimal | None:
    """The fee in the quote currency (a fee in the base asset is valued at the fill price);
    None for a fee in a third currency, which this trade alone cannot value."""
    fee = trade.get("fee") or {}
    cost = dec(fee.get("cost"))
    currency = fee.get("currency")
    if currency is None or cost == _ZERO or currency == market["quote"]:
        return cost
    if currency == market["base"]:
        return cost * price
    return None


def make_exchange(settings: CcxtVenueConfig) -> Any:
    """A ccxt exchange with credentials from the environment (never logged); ccxt.pro's
    (REST and websockets) when order updates come by websocket."""
    streaming = settings.order_updates == "websocket"
    cls = getattr(ccxt_pro if streaming else ccxt, settings.exchange, None)
    if cls is None and streaming and hasattr(ccxt, settings.exchange):
        raise ValueError(
            f"execution.ccxt.order_updates: {settings.exchange!r} has no websocket API in "
            f"ccxt.pro; set order_updates = 'polling'"
        )
    if cls is None:
        raise ValueError(
            f"execution.ccxt.exchange: {settings.exchange!r} is not a ccxt exchange id"
        )
    exchange = cls(
        {
            "apiKey": _credential(settings.api_key_env, "api_key_env"),
            "secret": _credential(settings.secret_env, "secret_env"),
            "enableRateLimit": True,  # ccxt spaces requests by the exchange's rate limit
            "timeout": int(settings.request_timeout_s * 1000),
            "options": {
                "fetchMarkets": {"types": ["spot"]},
                "fetchMargins": False,
                "fetchCurrencies": False,
            },
        }
    )
    if streaming and not exchange.has.get("watchOrders"):
        raise ValueError(
            f"execution.ccxt.order_updates: {settings.exchange!r} cannot watch orders in "
            f"ccxt.pro; set order_updates = 'polling'"
        )
    if streaming:  # pings every third of stale_after_s keep a quiet stream from going stale
        exchange.streaming["keepAlive"] = int(settings.stale_after_s * 1000 / 3)
        exchange.streaming["maxPingPongMisses"] = 4  # our staleness check decides first
    if settings.sandbox:
        exchange.set_sandbox_mode(True)
    if settings.base_url is not None:
        point_at(exchange, settings.base_url.rstrip("/"))
    return exchange


def _credential(name: str, key: str) -> str:
    """The value of environment variable ``name``; only its name ever reaches a message."""
    value = os.environ.get(name, "")
    if not value:
        raise ValueError(
            f"execution.ccxt.{key}: environment variable {name} is not set; export the "
            f"exchange credential there (it is never read from the config file)"
        )
    return value
