"""The ccxt exchange a ccxt feed reads: public data only, numbers kept as decimal text.

Actors never import each other, so this is market data's twin of the execution side's
``make_exchange`` (``actors/execution/ccxt_session.py``): the same redirect of every URL
to ``base_url`` and the same symbol rule (a unified symbol or the exchange's own id,
resolved by ccxt's ``market``). The tests of both run against one simulator.
"""

from __future__ import annotations

from typing import Any

import ccxt.async_support as ccxt
import ccxt.pro as ccxt_pro

from atrium.actors.ccxt_urls import point_at

__all__ = ("make_public_exchange", "market_of")


def make_public_exchange(
    exchange_id: str, *, streaming: bool, sandbox: bool, base_url: str | None, timeout_s: float
) -> Any:
    """A ccxt exchange without credentials, ccxt.pro's when ``streaming``, whose numbers
    stay the exchange's own decimal text (``number = str``): a price never passes through
    a float on its way to a Decimal."""
    cls = getattr(ccxt_pro if streaming else ccxt, exchange_id, None)
    if cls is None:
        raise ValueError(f"{exchange_id!r} is not a ccxt exchange id")
    exchange = cls(
        {
            "enableRateLimit": True,
            "timeout": int(timeout_s * 1000),
            "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False},
        }
    )
    exchange.number = str
    if sandbox:
        exchange.set_sandbox_mode(True)
    if base_url is not None:
        point_at(exchange, base_url.rstrip("/"))
    return exchange


def market_of(exchange: Any, symbol: str) -> Any:
    """ccxt's market for ``symbol``: a unified symbol (``BTC/USDT``) or the exchange's own
    id (``BTCUSDT``), as ``[execution.ccxt].symbols`` takes them."""
    try:
        return exchange.market(symbol)
    except ccxt.BadSymbol:
        raise ValueError(
            f"market_data.feeds.ccxt.symbols: {symbol!r} is not a market of {exchange.id}"
        ) from None
