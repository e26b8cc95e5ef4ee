"""The checks every record passes before it becomes a ``Bar`` or ``Tick``.

Feeds check the fast way (a few chained comparisons per row) and call these functions
only for a row that failed, to name the first problem found. The reason codes:

=========================  ==========================================================
``UNPARSEABLE``            wrong field count, a timestamp or number that does not parse,
                           a journal payload that does not decode
``NON_FINITE_PRICE``       a price is NaN or infinite
``NON_POSITIVE_PRICE``     a price is zero or negative
``HIGH_LOW_INCONSISTENT``  high below max(open, close) or low above min(open, close)
``NON_FINITE_VOLUME``      volume (tick size) is NaN or infinite
``NEGATIVE_VOLUME``        volume (tick size) is below zero
``DUPLICATE_TIMESTAMP``    a bar repeats the timestamp of its symbol's previous bar
``OUT_OF_ORDER``           a record is earlier than its symbol's previous record
=========================  ==========================================================

Ticks may share a timestamp (several prints in one millisecond are real trading, e.g.
``ticksample.csv`` line 24); bars may not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final

__all__ = (
    "DUPLICATE_TIMESTAMP",
    "HIGH_LOW_INCONSISTENT",
    "NEGATIVE_VOLUME",
    "NON_FINITE_PRICE",
    "NON_FINITE_VOLUME",
    "NON_POSITIVE_PRICE",
    "OUT_OF_ORDER",
    "REASONS",
    "UNPARSEABLE",
    "Problem",
    "bar_problem",
    "format_ns",
    "order_problem",
    "tick_problem",
)

UNPARSEABLE: Final = "UNPARSEABLE"
NON_FINITE_PRICE: Final = "NON_FINITE_PRICE"
NON_POSITIVE_PRICE: Final = "NON_POSITIVE_PRICE"
HIGH_LOW_INCONSISTENT: Final = "HIGH_LOW_INCONSISTENT"
NON_FINITE_VOLUME: Final = "NON_FINITE_VOLUME"
NEGATIVE_VOLUME: Final = "NEGATIVE_VOLUME"
DUPLICATE_TIMESTAMP: Final = "DUPLICATE_TIMESTAMP"
OUT_OF_ORDER: Final = "OUT_OF_ORDER"
#: A CSV line longer than the feed's ``max_line_length`` (checked as the file is read).
LINE_TOO_LONG: Final = "LINE_TOO_LONG"

#: Every reason code, in the order the checks run.
REASONS: Final = (
    UNPARSEABLE,
    NON_FINITE_PRICE,
    NON_POSITIVE_PRICE,
    HIGH_LOW_INCONSISTENT,
    NON_FINITE_VOLUME,
    NEGATIVE_VOLUME,
    DUPLICATE_TIMESTAMP,
    OUT_OF_ORDER,
    LINE_TOO_LONG,
)

#: A reason code and the human sentence that goes after ``file:line:``.
Problem = tuple[str, str]

_ZERO: Final = Decimal(0)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def format_ns(ns: int) -> str:
    """``ns`` since the epoch as ISO 8601 UTC, for messages (``2006-01-02T09:01:00Z``)."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    text = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += f".{fraction:09d}".rstrip("0")
    return f"{text}Z"


def _price_problem(name: str, value: Decimal) -> Problem | None:
    if not value.is_finite():
        return NON_FINITE_PRICE, f"{name} {value} is not finite"
    if value <= _ZERO:
        return NON_POSITIVE_PRICE, f"{name} {value} is not > 0"
    return None


def _volume_problem(name: str, value: Decimal) -> Problem | None:
    if not value.is_finite():
        return NON_FINITE_VOLUME, f"{name} {value} is not finite"
    if value < _ZERO:
        return NEGATIVE_VOLUME, f"{name} {value} is negative"
    return None


def bar_problem(
    open_: Decimal, high: Decimal, low: Decimal, close: Decimal, volume: Decimal
) -> Problem | None:
    """The first thing wrong with these bar values, or ``None`` when they make a valid bar."""
    for name, value in (("open", open_), ("high", high), ("low", low), ("close", close)):
        problem = _price_problem(name, value)
        if problem is not None:
            return problem
    body_high = max(open_, close)
    if high < body_high:
        return HIGH_LOW_INCONSISTENT, f"high {high} is below max(open, close) {body_high}"
    body_low = min(open_, close)
    if low > body_low:
        return HIGH_LOW_INCONSISTENT, f"low {low} is above min(open, close) {body_low}"
    return _volume_problem("volume", volume)


def tick_problem(price: Decimal, size: Decimal) -> Problem | None:
    """The first thing wrong with a trade print, or ``None``."""
    return _price_problem("price", price) or _volume_problem("size", size)


def order_problem(ts: int, previous: int | None, *, allow_equal: bool) -> Problem | None:
    """Whether ``ts`` may follow ``previous`` (the symbol's last accepted timestamp)."""
    if previous is None or ts > previous:
        return None
    if ts == previous:
        if allow_equal:
            return None
        return DUPLICATE_TIMESTAMP, f"timestamp {format_ns(ts)} repeats the previous record's"
    return (
        OUT_OF_ORDER,
        f"timestamp {format_ns(ts)} is before the previous record's {format_ns(previous)}",
    )
