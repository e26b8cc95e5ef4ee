"""Adjusted prices from a Yahoo-style ``Adj Close`` column (``adjust`` of a bar feed).

A long daily backtest on raw prices sees every split as a crash and every dividend as a
loss. Yahoo files carry ``Adj Close``: the close scaled back by every later split and
dividend, so the factor ``f = Adj Close / Close`` of a row is the product of the
adjustments after it (1 on the last row).

``splits_dividends`` scales a row's open, high, low and close by its ``f`` (the close
becomes ``Adj Close``) and its volume by ``1 / f``, so price × volume is kept. This needs
nothing from later rows.

``splits`` keeps dividends out. A split of k for 1 on day s makes ``f`` jump by k from
day s-1 to day s (the close halves, ``Adj Close`` does not); a dividend moves it by its
yield, a few per cent. A jump of 25 % or more either way is taken as a split, its ratio
rounded to the nearest fraction with a denominator of at most 10 (2, 3/2, 1/10 ...), and
each row is divided by the product of the splits after it. Those need the whole file, so
the feed reads its ``Close`` and ``Adj Close`` columns once before the run
(:func:`split_events`).

Adjusted prices are rounded half-even to 6 decimal places (Yahoo's own precision) and
volumes to whole units, so every adjusted bar keeps ``low <= open, close <= high``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Final

from atrium.actors.market_data.timestamps import Timestamper
from atrium.actors.market_data.validation import (
    NON_FINITE_PRICE,
    NON_POSITIVE_PRICE,
    UNPARSEABLE,
)
from atrium.runtime.messages import Bar

__all__ = ("SPLIT_THRESHOLD", "RowTap", "adjust_bars", "split_events")

#: The smallest jump of ``Adj Close / Close`` between two rows read as a split.
SPLIT_THRESHOLD: Final = Fraction(5, 4)
_PRICE_STEP: Final = Decimal("0.000001")
_UNIT: Final = Decimal(1)
_ONE: Final = Fraction(1)

#: ``reject(reason, problem)`` for the row read last.
Reject = Callable[[str, str], None]


class RowTap:
    """Passes rows on and remembers the last one, which is the row of the bar just parsed.

    The bar parser takes one row and yields its bar (or rejects it) before taking the
    next, so when a bar comes out, ``last`` is its row.
    """

    def __init__(self, rows: Iterable[list[str]]) -> None:
        self._rows = rows
        self.last: list[str] = []

    def __iter__(self) -> Iterator[list[str]]:
        for row in self._rows:
            self.last = row
            yield row


def _adj_close(text: str, reject: Reject) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        reject(UNPARSEABLE, f"adj close {text!r} is not a number")
        return None
    if not value.is_finite():
        reject(NON_FINITE_PRICE, f"adj close {text!r} is not finite")
        return None
    if value <= 0:
        reject(NON_POSITIVE_PRICE, f"adj close {text!r} is not above zero")
        return None
    return value


def _scaled(bar: Bar, factor: Fraction) -> Bar:
    """``bar`` with prices × ``factor`` and volume ÷ ``factor``, rounded as documented."""
    num, den = Decimal(factor.numerator), Decimal(factor.denominator)

    def price(value: Decimal) -> Decimal:
        return (value * num / den).quantize(_PRICE_STEP, ROUND_HALF_EVEN)

    return Bar(
        ts=bar.ts,
        symbol=bar.symbol,
        open=price(bar.open),
        high=price(bar.high),
        low=price(bar.low),
        close=price(bar.close),
        volume=(bar.volume * den / num).quantize(_UNIT, ROUND_HALF_EVEN),
    )


def adjust_bars(
    bars: Iterable[Bar],
    tap: RowTap,
    adj_index: int,
    splits: list[tuple[int, Fraction]] | None,
    reject: Reject,
) -> Iterator[Bar]:
    """The bars adjusted: by ``splits`` (``[(ts, ratio)]`` from :func:`split_events`) when
    given, else by each row's own ``Adj Close / Close`` (its column is ``adj_index``).

    A row whose ``Adj Close`` is not a positive number goes to ``reject`` in
    ``splits_dividends`` mode (it cannot be adjusted); ``splits`` mode does not read it.
    """
    if splits is not None:
        yield from _split_adjusted(bars, splits)
        return
    for bar in bars:
        adj = _adj_close(tap.last[adj_index], reject)
        if adj is None:
            continue
        yield _scaled(bar, Fraction(adj) / Fraction(bar.close))


def _split_adjusted(bars: Iterable[Bar], splits: list[tuple[int, Fraction]]) -> Iterator[Bar]:
    later = _ONE
    for _, ratio in splits:
        later *= ratio
    pending = iter(splits)
    upcoming = next(pending, None)
    for bar in bars:
        while upcoming is not None and bar.ts >= upcoming[0]:
            later /= upcoming[1]
            upcoming = next(pending, None)
        yield bar if later == _ONE else _scaled(bar, 1 / later)


def split_events(
    path: Path,
    *,
    delimiter: str,
    max_line_length: int,
    stamp: tuple[int, ...],
    close_index: int,
    adj_index: int,
    stamper: Timestamper,
) -> list[tuple[int, Fraction]]:
    """The splits a Yahoo file implies: ``(timestamp of the first day after, k)`` per split.

    Rows that do not parse are passed over here; the feed itself rejects them.
    """
    events: list[tuple[int, Fraction]] = []
    previous: Fraction | None = None
    with path.open(encoding="utf-8-sig", newline="") as handle:
        lines = _short_lines(handle, max_line_length)
        reader = csv.reader(lines, delimiter=delimiter)
        next(reader, None)  # the header
        for row in reader:
            try:
                stamps = [row[i] for i in stamp]
                ts = stamper.pair(*stamps) if len(stamps) == 2 else stamper.single(stamps[0])
                factor = Fraction(Decimal(row[adj_index])) / Fraction(Decimal(row[close_index]))
            except (ValueError, ArithmeticError, IndexError):
                continue
            if factor <= 0:
                continue
            if previous is not None:
                jump = factor / previous
                if jump >= SPLIT_THRESHOLD or jump <= 1 / SPLIT_THRESHOLD:
                    events.append((ts, jump.limit_denominator(10)))
            previous = factor
    return events


def _short_lines(handle: io.TextIOBase, cap: int) -> Iterator[str]:
    """The file's lines, less any over ``cap`` characters (the feed rejects those)."""
    while line := handle.readline(cap + 1):
        if len(line) > cap and not line.endswith(("\n", "\r")):
            while line and not line.endswith(("\n", "\r")):
                line = handle.readline(1 << 16)
            continue
        yield line
