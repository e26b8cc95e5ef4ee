"""Parse and validate CSV bar rows into :class:`~runtime.messages.Bar` (the hot path).

A row passes when a handful of chained comparisons hold; only a row that fails is looked
at again, field by field, to name its first problem. The fast test is equivalent to the
full one: ``0 < low <= min(open, close)`` and ``max(open, close) <= high < inf`` make all
four prices finite and positive, and comparing a NaN raises, which also sends the row to
the slow path. Prices go straight from text to ``Decimal``, so they are exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Final

from atrium.actors.market_data.layout import Layout
from atrium.actors.market_data.timestamps import Timestamper
from atrium.actors.market_data.validation import (
    UNPARSEABLE,
    Problem,
    bar_problem,
    order_problem,
)
from atrium.runtime.messages import Bar

__all__ = ("NO_TIMESTAMP", "Reject", "UnparseableRow", "parse_bars", "parse_fields")

#: Called with a reason code and a problem sentence for a row that is not used.
Reject = Callable[[str, str], None]

_ZERO: Final = Decimal(0)
_INF: Final = Decimal("Infinity")
_BAR_ROLES: Final = ("open", "high", "low", "close", "volume")
#: "No record yet": below every timestamp, so the first row always passes the order check.
NO_TIMESTAMP: Final = -(1 << 127)


class UnparseableRow(ValueError):
    """Raised by :func:`parse_fields` with the sentence that says what did not parse."""


def parse_fields(
    row: list[str], layout: Layout, stamper: Timestamper, roles: tuple[str, ...]
) -> tuple[int, list[Decimal]]:
    """Parse one row field by field (the slow path): its timestamp and its values.

    ``roles`` names the values in ``layout.fields`` order; a missing column (index -1)
    reads as 0.

    Raises
    ------
    UnparseableRow
        Naming the first field that does not parse.
    """
    if len(row) != layout.width:
        raise UnparseableRow(f"expected {layout.width} fields, got {len(row)}")
    stamp = layout.stamp
    try:
        if len(stamp) == 2:
            ts = stamper.pair(row[stamp[0]], row[stamp[1]])
        else:
            ts = stamper.single(row[stamp[0]])
    except ValueError:
        text = " ".join(row[index] for index in stamp)
        raise UnparseableRow(f"timestamp {text!r} cannot be read") from None
    values: list[Decimal] = []
    for role, index in zip(roles, layout.fields, strict=True):
        text = row[index] if index >= 0 else "0"
        try:
            values.append(Decimal(text))
        except ArithmeticError:
            raise UnparseableRow(f"{role} {text!r} is not a number") from None
    return ts, values


def _diagnose(row: list[str], layout: Layout, stamper: Timestamper, last: int) -> Problem:
    try:
        ts, values = parse_fields(row, layout, stamper, _BAR_ROLES)
    except UnparseableRow as exc:
        return UNPARSEABLE, str(exc)
    previous = None if last == NO_TIMESTAMP else last
    problem = bar_problem(*values) or order_problem(ts, previous, allow_equal=False)
    if problem is None:
        raise AssertionError(f"row {row} failed the fast check but passes every rule")
    return problem


def parse_bars(
    rows: Iterable[list[str]],
    layout: Layout,
    stamper: Timestamper,
    symbol: str,
    reject: Reject,
) -> Iterator[Bar]:
    """Yield one ``Bar`` per valid row; hand every other row to ``reject``.

    Blank lines are not records and are passed over. Timestamps must strictly increase.
    """
    width = layout.width
    i_open, i_high, i_low, i_close, i_volume = layout.fields
    has_volume = i_volume >= 0
    paired = len(layout.stamp) == 2
    i_stamp = layout.stamp[0]
    i_clock = layout.stamp[1] if paired else 0
    single, pair = stamper.single, stamper.pair
    zero, inf, dec = _ZERO, _INF, Decimal
    last = NO_TIMESTAMP
    for row in rows:
        if not row:  # a blank line is no record
            continue
        try:
            ts = pair(row[i_stamp], row[i_clock]) if paired else single(row[i_stamp])
            open_ = dec(row[i_open])
            high = dec(row[i_high])
            low = dec(row[i_low])
            close = dec(row[i_close])
            volume = dec(row[i_volume]) if has_volume else zero
            body_low, body_high = (close, open_) if close < open_ else (open_, close)
            ok = (
                len(row) == width
                and zero < low <= body_low
                and body_high <= high < inf
                and zero <= volume < inf
                and ts > last
            )
        except (ValueError, ArithmeticError, IndexError):
            ok = False
        if ok:
            last = ts
            yield Bar(
                ts=ts, symbol=symbol, open=open_, high=high, low=low, close=close, volume=volume
            )
        else:
            reason, problem = _diagnose(row, layout, stamper, last)
            reject(reason, problem)
