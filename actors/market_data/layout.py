"""Read a CSV header: which format the file is in and which column plays which role.

Headers are matched without regard to case or surrounding blanks, through the usual names
(``Date``, ``Time``, ``Datetime``, ``Open`` ... ``Volume``, ``price``, ``size``) or the
names a feed's ``columns`` table gives.

One real-world quirk is repaired on purpose: intraday files whose header leaves out the
``Time`` column although every row has it (``2006-01-02-volume-min-001.txt``:
``Date,Open,High,Low,Close,Volume,OpenInterest`` over rows
``2006-01-02,09:01:00,3602.00,...``). When the header has a date but no time, and the
first row has exactly one field more with a time of day right after the date, a ``Time``
column is taken to follow ``Date``. The caller logs that it happened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from typing import Final, Literal

from atrium.runtime.errors import FatalInputError

__all__ = ("Layout", "resolve_layout")

_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "timestamp": ("datetime", "timestamp", "date_time", "date time", "time_stamp", "ts"),
    "date": ("date", "day"),
    "time": ("time",),
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close", "last"),
    "volume": ("volume", "vol"),
    "price": ("price", "last", "close"),
    "size": ("size", "volume", "qty", "quantity"),
    "adj_close": ("adj close", "adj_close", "adjclose", "adjusted close", "adjusted_close"),
}


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a feed's values sit in each row.

    ``stamp`` holds one index (a date, or a full timestamp) or two (date, time).
    ``fields`` holds the indices of open, high, low, close, volume (volume ``-1`` when the
    file has none: volume 0) for bars, or of price, size for ticks. ``width`` is the
    number of fields every row must have. ``adj_close`` is the index of a Yahoo
    ``Adj Close`` column (-1: none), read only when the feed adjusts its prices.
    """

    format: Literal["yahoo", "date_time", "iso", "ticks"]
    header: tuple[str, ...]
    width: int
    stamp: tuple[int, ...]
    fields: tuple[int, ...]
    repaired: bool = False
    adj_close: int = -1

    @property
    def is_ticks(self) -> bool:
        return self.format == "ticks"


def _looks_like_time(text: str) -> bool:
    if ":" not in text:
        return False
    try:
        time.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


class _Header:
    """Case-insensitive lookup of role columns in one header."""

    def __init__(self, header: Sequence[str], columns: Mapping[str, str], source: str) -> None:
        self.header = tuple(header)
        self._names = [name.strip().lower() for name in header]
        self._columns = columns
        self._source = source

    def find(self, role: str) -> int | None:
        wanted = self._columns.get(role)
        if wanted is not None:
            key = wanted.strip().lower()
            if key not in self._names:
                raise FatalInputError(
                    f"{self._source}: columns.{role} names {wanted!r}, which is not in the "
                    f"header {','.join(self.header)}"
                )
            return self._names.index(key)
        for alias in _ALIASES[role]:
            if alias in self._names:
                return self._names.index(alias)
        return None

    def names_ticks(self) -> bool:
        """Whether the header says ticks on its own: a ``price`` column (named or mapped)."""
        return "price" in self._columns or "price" in self._names

    def require(self, role: str, fmt: str) -> int:
        index = self.find(role)
        if index is None:
            raise FatalInputError(
                f"{self._source}: header {','.join(self.header)} has no {role} column for "
                f"format {fmt!r}; name it with columns.{role}"
            )
        return index


def _repair_missing_time(
    header: Sequence[str], first_row: Sequence[str] | None, date_index: int
) -> list[str] | None:
    if first_row is None or len(first_row) != len(header) + 1:
        return None
    if not _looks_like_time(first_row[date_index + 1]):
        return None
    return [*header[: date_index + 1], "Time", *header[date_index + 1 :]]


def resolve_layout(
    header: Sequence[str],
    first_row: Sequence[str] | None,
    *,
    fmt: str,
    columns: Mapping[str, str],
    source: str,
) -> Layout:
    """The layout of a CSV file from its header (and first row, for the quirk above).

    Parameters
    ----------
    header, first_row : list of str
        The first two rows as the csv module read them (``first_row`` None: no data).
    fmt : str
        The configured format: ``auto``, ``yahoo``, ``date_time``, ``iso`` or ``ticks``.
    columns : mapping
        Role to header name overrides from the feed config.
    source : str
        The file as the user named it, for error messages.

    Raises
    ------
    FatalInputError
        When the header lacks a column the format needs or the format cannot be detected.
    """
    names = _Header(header, columns, source)
    repaired = False
    date_index = names.find("date")
    if (
        fmt in ("auto", "date_time")
        and date_index is not None
        and names.find("time") is None
        and names.find("timestamp") is None
    ):
        fixed = _repair_missing_time(header, first_row, date_index)
        if fixed is not None:
            names, repaired = _Header(fixed, columns, source), True
    if fmt == "auto":
        fmt = _detect(names, source)
    if fmt == "ticks":
        stamp = _tick_stamp(names)
        fields = (names.require("price", fmt), names.require("size", fmt))
        return Layout("ticks", names.header, len(names.header), stamp, fields, repaired)
    if fmt == "yahoo":
        return _bar_layout(names, "yahoo", (names.require("date", fmt),), repaired)
    if fmt == "date_time":
        stamp = (names.require("date", fmt), names.require("time", fmt))
        return _bar_layout(names, "date_time", stamp, repaired)
    if fmt == "iso":
        return _bar_layout(names, "iso", (_single_stamp(names, fmt),), repaired)
    raise ValueError(f"not a CSV format: {fmt!r}")


def _bar_layout(
    names: _Header,
    fmt: Literal["yahoo", "date_time", "iso"],
    stamp: tuple[int, ...],
    repaired: bool,
) -> Layout:
    volume = names.find("volume")
    fields = (
        names.require("open", fmt),
        names.require("high", fmt),
        names.require("low", fmt),
        names.require("close", fmt),
        -1 if volume is None else volume,
    )
    adj = names.find("adj_close")
    width = len(names.header)
    return Layout(fmt, names.header, width, stamp, fields, repaired, -1 if adj is None else adj)


def _single_stamp(names: _Header, fmt: str) -> int:
    """A full timestamp column; a lone ``time`` column counts when there is no date."""
    timestamp = names.find("timestamp")
    if timestamp is not None:
        return timestamp
    time_index = names.find("time")
    if time_index is not None and names.find("date") is None:
        return time_index
    return names.require("timestamp", fmt)


def _detect(names: _Header, source: str) -> str:
    if names.names_ticks():
        return "ticks"
    has_date = names.find("date") is not None
    has_time = names.find("time") is not None
    if has_date and has_time:
        return "date_time"
    if names.find("timestamp") is not None or has_time:
        return "iso"
    if has_date:
        return "yahoo"
    raise FatalInputError(
        f"{source}: cannot tell the format from the header {','.join(names.header)}; "
        "set format (yahoo, date_time, iso or ticks) and columns"
    )


def _tick_stamp(names: _Header) -> tuple[int, ...]:
    date_index, time_index = names.find("date"), names.find("time")
    if names.find("timestamp") is None and date_index is not None and time_index is not None:
        return (date_index, time_index)
    return (_single_stamp(names, "ticks"),)
