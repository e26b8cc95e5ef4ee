"""Turn the timestamp text of a feed row into integer nanoseconds since the Unix epoch.

Cheap on the hot path: consecutive rows mostly share a date, so the last date's day start
is kept; intraday bars repeat a small set of times of day, so those are cached. Naive
timestamps are read in the feed's time zone; text with an offset (``Z``, ``+01:00``)
keeps its own. Fractions up to nanoseconds are kept exactly (``datetime`` alone would
cut them to microseconds).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Final

__all__ = ("Timestamper",)

_NS: Final = 1_000_000_000
_DAY_NS: Final = 86_400 * _NS
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_EPOCH_UTC: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE: Final = datetime(1970, 1, 1)
_QUARTER_HOUR_NS: Final = 900 * _NS
_TIME_CACHE_LIMIT: Final = 65_536
_EPOCH_UNITS: Final = {"epoch_s": _NS, "epoch_ms": 1_000_000, "epoch_us": 1_000, "epoch_ns": 1}


def _delta_ns(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * _NS + delta.microseconds * 1_000


def _split_nanos(text: str) -> tuple[str, int]:
    """Cut a fraction longer than microseconds to six digits; return the cut-off nanoseconds.

    ``datetime.fromisoformat`` silently drops digits past the sixth; this keeps them.
    """
    dot = text.find(".")
    if dot < 0:
        return text, 0
    end = dot + 1
    while end < len(text) and text[end].isdigit():
        end += 1
    digits = end - dot - 1
    if digits <= 6:
        return text, 0
    if digits > 9:
        raise ValueError(f"fraction of {text!r} is finer than nanoseconds")
    return text[: dot + 7] + text[end:], int(text[dot + 7 : end].ljust(3, "0"))


def _time_of_day(text: str) -> tuple[int, int | None]:
    """Nanoseconds since midnight, and the text's own UTC offset in ns if it has one."""
    short, nanos = _split_nanos(text)
    value = time.fromisoformat(short)
    ns = ((value.hour * 60 + value.minute) * 60 + value.second) * _NS
    ns += value.microsecond * 1_000 + nanos
    offset = value.utcoffset()
    return ns, None if offset is None else _delta_ns(offset)


def _fixed_offset_ns(timezone: str) -> int | None:
    """``+05:30`` style offsets and ``UTC`` in ns; ``None`` for an IANA zone name."""
    if timezone == "UTC":
        return 0
    if timezone[:1] in "+-" and len(timezone) == 6:
        sign = -1 if timezone[0] == "-" else 1
        return sign * (int(timezone[1:3]) * 3600 + int(timezone[4:6]) * 60) * _NS
    return None


class Timestamper:
    """Parses one feed's timestamps; keeps small caches, so use one per feed.

    Parameters
    ----------
    timezone : str
        ``UTC``, ``+HH:MM``/``-HH:MM``, or an IANA zone name (validated by the config).
    timestamp_format : str or None
        ``None`` for ISO text, ``epoch_s``/``epoch_ms``/``epoch_us``/``epoch_ns`` for
        numbers, or a ``strptime`` pattern.

    Every method raises ``ValueError`` for text it cannot read.
    """

    def __init__(self, timezone: str = "UTC", timestamp_format: str | None = None) -> None:
        self._fixed = _fixed_offset_ns(timezone)
        self._zone = None if self._fixed is not None else zoneinfo.ZoneInfo(timezone)
        self._zone_bucket: int | None = None
        self._zone_offset: int | None = None
        self._last_date: str | None = None
        self._last_day = 0
        self._times: dict[str, int] = {}
        self.single: Callable[[str], int]
        """Read a timestamp held in one column (a date, or a date and time)."""
        self.pair: Callable[[str, str], int]
        """Read a timestamp split over a date column and a time column."""
        if timestamp_format is None:
            self.single, self.pair = self._iso, self._date_time
        elif timestamp_format in _EPOCH_UNITS:
            unit = _EPOCH_UNITS[timestamp_format]
            self.single = lambda text: self._epoch(text, unit)
            self.pair = lambda day, clock: self._epoch(f"{day} {clock}", unit)
        else:
            pattern = timestamp_format
            self.single = lambda text: self._parsed(text, pattern)
            self.pair = lambda day, clock: self._parsed(f"{day} {clock}", pattern)

    # -- ISO (the hot paths) ---------------------------------------------------------------

    def _day(self, text: str) -> int:
        """Local midnight of an ISO date, in naive ns; the last date is remembered."""
        if text != self._last_date:
            self._last_day = (date.fromisoformat(text).toordinal() - _EPOCH_ORDINAL) * _DAY_NS
            self._last_date = text
        return self._last_day

    def _date_time(self, day: str, clock: str) -> int:
        local = self._day(day)
        tod = self._times.get(clock)
        if tod is None:
            tod, offset = _time_of_day(clock)
            if offset is not None:
                return local + tod - offset
            if len(self._times) < _TIME_CACHE_LIMIT:
                self._times[clock] = tod
        local += tod
        fixed = self._fixed
        return local - fixed if fixed is not None else self._from_zone(local)

    def _iso(self, text: str) -> int:
        if len(text) == 10:
            local = self._day(text)
            fixed = self._fixed
            return local - fixed if fixed is not None else self._from_zone(local)
        if len(text) > 11 and text[10] in "T ":
            return self._date_time(text[:10], text[11:])
        short, nanos = _split_nanos(text)
        return self._datetime_ns(datetime.fromisoformat(short)) + nanos

    # -- other formats ---------------------------------------------------------------------

    def _epoch(self, text: str, unit: int) -> int:
        try:
            return int(text) * unit
        except ValueError:
            pass
        try:
            value = Decimal(text) * unit
        except InvalidOperation:
            raise ValueError(f"{text!r} is not an epoch number") from None
        if not value.is_finite() or value != value.to_integral_value():
            raise ValueError(f"{text!r} is not a whole number of nanoseconds")
        return int(value)

    def _parsed(self, text: str, pattern: str) -> int:
        return self._datetime_ns(datetime.strptime(text, pattern))

    # -- time zones ------------------------------------------------------------------------

    def _datetime_ns(self, moment: datetime) -> int:
        if moment.tzinfo is not None:
            return _delta_ns(moment - _EPOCH_UTC)
        local = _delta_ns(moment - _EPOCH_NAIVE)
        fixed = self._fixed
        return local - fixed if fixed is not None else self._from_zone(local)

    def _from_zone(self, local: int) -> int:
        """Local wall time in the IANA zone to UTC (first occurrence when ambiguous).

        The offset is cached per quarter hour of local time when it is the same at both
        ends of that quarter; a quarter holding a transition is worked out row by row.
        """
        bucket = local // _QUARTER_HOUR_NS
        if bucket != self._zone_bucket:
            start = bucket * _QUARTER_HOUR_NS
            first = self._offset_at(start)
            last = self._offset_at(start + _QUARTER_HOUR_NS - 1)
            self._zone_bucket = bucket
            self._zone_offset = first if first == last else None
        offset = self._zone_offset
        return local - (offset if offset is not None else self._offset_at(local))

    def _offset_at(self, local: int) -> int:
        assert self._zone is not None
        wall = _EPOCH_NAIVE + timedelta(microseconds=local // 1_000)
        offset = self._zone.utcoffset(wall)
        return 0 if offset is None else _delta_ns(offset)
