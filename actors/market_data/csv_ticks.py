"""Parse and validate CSV tick rows into :class:`~runtime.messages.Tick`.

Two layouts: ``timestamp,price,size``, and an ISO bar layout holding one trade per row
(``ticksample.csv``: ``Datetime,Open,High,Low,Close,Volume,OpenInterest`` with
O = H = L = C), whose ``Close`` is the price and ``Volume`` the size. Timestamps may
repeat (several prints in one millisecond) but never go back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Final

from atrium.actors.market_data.csv_bars import NO_TIMESTAMP, Reject, UnparseableRow, parse_fields
from atrium.actors.market_data.layout import Layout
from atrium.actors.market_data.timestamps import Timestamper
from atrium.actors.market_data.validation import UNPARSEABLE, Problem, order_problem, tick_problem
from atrium.runtime.messages import Tick

__all__ = ("parse_ticks",)

_ZERO: Final = Decimal(0)
_INF: Final = Decimal("Infinity")
_TICK_ROLES: Final = ("price", "size")


def _diagnose(row: list[str], layout: Layout, stamper: Timestamper, last: int) -> Problem:
    try:
        ts, (price, size) = parse_fields(row, layout, stamper, _TICK_ROLES)
    except UnparseableRow as exc:
        return UNPARSEABLE, str(exc)
    previous = None if last == NO_TIMESTAMP else last
    problem = tick_problem(price, size) or order_problem(ts, previous, allow_equal=True)
    if problem is None:
        raise AssertionError(f"row {row} failed the fast check but passes every rule")
    return problem


def parse_ticks(
    rows: Iterable[list[str]],
    layout: Layout,
    stamper: Timestamper,
    symbol: str,
    reject: Reject,
) -> Iterator[Tick]:
    """Yield one ``Tick`` per valid row; hand every other row to ``reject``."""
    width = layout.width
    i_price, i_size = layout.fields
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
            price = dec(row[i_price])
            size = dec(row[i_size])
            ok = len(row) == width and zero < price < inf and zero <= size < inf and ts >= last
        except (ValueError, ArithmeticError, IndexError):
            ok = False
        if ok:
            last = ts
            yield Tick(ts=ts, symbol=symbol, price=price, size=size)
        else:
            reason, problem = _diagnose(row, layout, stamper, last)
            reject(reason, problem)
