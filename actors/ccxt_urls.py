"""Point a ccxt exchange at another origin: a venue simulator, or a proxy.

Shared by the ccxt venue (execution) and the ccxt feed (market data), which may not import
each other: each is an actor of its own.
"""

from __future__ import annotations

from typing import Any

__all__ = ("point_at",)


def point_at(exchange: Any, origin: str) -> None:
    """Send every REST call of ``exchange`` to ``origin`` and every websocket to its
    ``ws://`` (``wss://``) twin, keeping each URL's path."""
    ws_origin = origin.replace("http", "ws", 1)
    tables = [exchange.urls["api"]]
    while tables:
        table = tables.pop()
        for key, url in list(table.items()):
            if isinstance(url, dict):
                tables.append(url)
            elif isinstance(url, str) and url.startswith(("https://", "wss://")):
                base = origin if url.startswith("https://") else ws_origin
                table[key] = base + "/" + [*url.split("/", 3), ""][3]
