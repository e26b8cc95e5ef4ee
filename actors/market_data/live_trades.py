"""Parse one message of the exchange trade-stream JSON format into a trade, exactly.

A trade reads ``{"e": "trade", "s": "BTCUSDT", "p": "0.001", "q": "100", "T": 1672515782136}``
(price and quantity as decimal strings, ``T`` the trade time in ms; ``t``, the trade id,
optional), bare or inside the combined-stream wrapper ``{"stream": "...", "data": {...}}``.
Numbers are read as ``Decimal`` from their text (a JSON number too, through msgspec's
``float_hook``), never through a float. Checks and reason codes are those of the CSV
path (:mod:`atrium.actors.market_data.validation`): a message that is not JSON, not an object,
or lacks a field or has one of the wrong type is ``UNPARSEABLE``; then the price and
quantity checks. Replies to the subscribe request and other events are not trades; a
venue error reply is returned so it can be logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeAlias

import msgspec

from atrium.actors.market_data.validation import UNPARSEABLE, Problem, tick_problem

__all__ = ("Parsed", "Trade", "VenueError", "parse_message")

_MS: Final = 1_000_000
_decoder: Final = msgspec.json.Decoder(float_hook=Decimal)


@dataclass(frozen=True, slots=True)
class Trade:
    """A valid trade print; ``ts`` is the venue's trade time in ns."""

    symbol: str
    ts: int
    price: Decimal
    size: Decimal
    trade_id: int | None


@dataclass(frozen=True, slots=True)
class VenueError:
    """The venue refused a request (``{"error": ..., "id": n}``); ``text`` describes it."""

    text: str


#: A trade, a reason code and problem, a venue error, or ``None`` for other messages.
Parsed: TypeAlias = Trade | Problem | VenueError | None


def _decimal(data: dict[str, Any], key: str) -> Decimal | str:
    """Field ``key`` as a Decimal, or the problem with it."""
    value = data.get(key)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            pass
    elif isinstance(value, Decimal):
        return value
    elif isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if key not in data:
        return f"field {key} is missing"
    return f"field {key}: expected a decimal number, got {value!r}"


def _integer(data: dict[str, Any], key: str, what: str) -> int | str | None:
    """Field ``key`` as an int >= 0, ``None`` when absent, or the problem with it."""
    if key not in data:
        return None
    value = data[key]
    if not isinstance(value, int) or isinstance(value, bool):
        return f"field {key}: expected {what}, got {value!r}"
    if value < 0:
        return f"field {key}: expected {what} >= 0, got {value}"
    return value


def parse_message(raw: str | bytes) -> Parsed:
    """Read one WebSocket message."""
    try:
        data = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        return UNPARSEABLE, f"message is not JSON: {exc}"
    if isinstance(data, dict) and "stream" in data and "data" in data:
        data = data["data"]
    if not isinstance(data, dict):
        return UNPARSEABLE, f"expected a JSON object, got {type(data).__name__}"
    event = data.get("e")
    if event is None:
        if "error" in data:
            return VenueError(f"venue error {data['error']!r} (request id {data.get('id')!r})")
        return None  # the reply to a subscribe: {"result": null, "id": 1}
    if event != "trade":
        return None
    symbol = data.get("s")
    if not isinstance(symbol, str) or not symbol:
        return UNPARSEABLE, f"field s: expected a symbol, got {symbol!r}"
    price = _decimal(data, "p")
    if isinstance(price, str):
        return UNPARSEABLE, price
    size = _decimal(data, "q")
    if isinstance(size, str):
        return UNPARSEABLE, size
    ms = _integer(data, "T", "integer milliseconds")
    if ms is None:
        return UNPARSEABLE, "field T is missing"
    if isinstance(ms, str):
        return UNPARSEABLE, ms
    trade_id = _integer(data, "t", "an integer trade id")
    if isinstance(trade_id, str):
        return UNPARSEABLE, trade_id
    problem = tick_problem(price, size)
    if problem is not None:
        return problem
    return Trade(symbol, ms * _MS, price, size, trade_id)
