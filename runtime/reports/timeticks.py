"""Time-axis ticks (UTC) at a step that suits the span, with concise labels.

A chart may cover fifteen years of daily bars or five minutes of ticks. The step is the
smallest of a fixed ladder (seconds, minutes, hours, days of the month, months, years)
that gives at most :data:`MOST_TICKS` ticks, each on a round boundary of its unit. A
label names only what changed since the previous tick (the first names everything), so
a day's ticks read ``15 Mar 2024 14:00``, ``16:00``, ..., ``16 Mar 00:00``.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Final, NamedTuple

__all__ = ("MONTHS", "MOST_TICKS", "time_ticks")

#: Ticks at most: a first label with its full date needs about 110 px of a 900 px axis.
MOST_TICKS: Final = 8
_SECOND: Final = 1_000_000_000
_MINUTE: Final = 60 * _SECOND
_HOUR: Final = 60 * _MINUTE
_DAY: Final = 24 * _HOUR
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# Fixed names: %b follows the process locale, and the same run must render the same bytes.
MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


class _Step(NamedTuple):
    unit: str  # "second" and "minute" steps are fixed lengths; the others follow the calendar
    every: int  # units per step
    #: Length in ns (a month counts 30.44 days, a year 365.25): only to choose the step.
    nominal: int


_STEPS: Final = (
    *(_Step("second", n, n * _SECOND) for n in (1, 2, 5, 10, 15, 30)),
    *(_Step("minute", n, n * _MINUTE) for n in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720)),
    *(_Step("day", n, n * _DAY) for n in (1, 2, 5, 10, 15)),
    *(_Step("month", n, n * _DAY * 3044 // 100) for n in (1, 2, 3, 6)),
    *(_Step("year", n, n * _DAY * 36525 // 100) for n in (1, 2, 5, 10, 20, 50, 100)),
)


def time_ticks(start_ns: int, end_ns: int) -> list[tuple[int, str]]:
    """Ticks ``(ts_ns, label)`` within ``[start_ns, end_ns]``, in time order."""
    span = end_ns - start_ns
    step = next((s for s in _STEPS if span < MOST_TICKS * s.nominal), _STEPS[-1])
    if step.unit in ("second", "minute"):
        first = -(-start_ns // step.nominal) * step.nominal
        times = [_time(ts) for ts in range(first, end_ns + 1, step.nominal)]
    else:
        start, end = _time(start_ns), _time(end_ns)
        times = [t for t in _calendar(step, start, end) if start <= t <= end]
    labels: list[str] = []
    previous: list[str] = []
    for moment in times:
        fields = _fields(moment, step.unit)
        changed = next(
            (i for i, text in enumerate(fields) if i >= len(previous) or text != previous[i]),
            len(fields) - 1,
        )
        labels.append(_label(fields[changed:], step.unit))
        previous = fields
    return [(_ns(moment), label) for moment, label in zip(times, labels, strict=True)]


def _calendar(step: _Step, start: datetime, end: datetime) -> list[datetime]:
    """Candidate ticks around ``[start, end]``: years, months or days that are multiples
    of the step (days of the month 1, 1 + n, ..., none too close to the next month's 1)."""
    if step.unit == "year":
        years = range(start.year - start.year % step.every, end.year + 1, step.every)
        return [datetime(year, 1, 1, tzinfo=UTC) for year in years]
    months = [(y, m) for y in range(start.year, end.year + 1) for m in range(1, 13)]
    if step.unit == "month":
        return [datetime(y, m, 1, tzinfo=UTC) for y, m in months if (m - 1) % step.every == 0]
    return [
        datetime(y, m, d, tzinfo=UTC)
        for y, m in months
        for d in range(1, 32 - step.every // 2, step.every)
        if d <= calendar.monthrange(y, m)[1]
    ]


def _fields(moment: datetime, unit: str) -> list[str]:
    """The label's parts from coarsest to finest, down to the step's unit."""
    year, month = str(moment.year), MONTHS[moment.month - 1]
    if unit == "year":
        return [year]
    if unit == "month":
        return [year, month]
    if unit == "day":
        return [year, month, str(moment.day)]
    clock = f"{moment:%H:%M:%S}" if unit == "second" else f"{moment:%H:%M}"
    return [year, f"{moment.day} {month}", clock]


def _label(shown: list[str], unit: str) -> str:
    # Dates read day-month-year; a clock time goes last.
    if unit in ("second", "minute"):
        return " ".join([*reversed(shown[:-1]), shown[-1]])
    return " ".join(reversed(shown))


def _time(ts_ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ts_ns // 1000)


def _ns(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000
