"""Time-axis ticks of the report's charts: a step that suits the span, concise labels.

Every expected list is worked out by hand from the ladder of steps in timeticks.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from atrium.runtime.reports.timeticks import time_ticks


def _ns(*moment: int) -> int:
    return int(datetime(*moment, tzinfo=UTC).timestamp()) * 1_000_000_000


def _labels(start: tuple[int, ...], end: tuple[int, ...]) -> list[str]:
    return [label for _, label in time_ticks(_ns(*start), _ns(*end))]


def test_time_ticks_when_fifteen_years_of_daily_bars_then_every_second_year() -> None:
    # The bundled NVDA file: 5,822 days; 8 one-year steps are 2,922 days, 8 two-year
    # steps 5,844: every second year, on 1 January.
    ticks = time_ticks(_ns(1999, 1, 22), _ns(2014, 12, 31))
    assert [label for _, label in ticks] == [str(year) for year in range(2000, 2015, 2)]
    assert ticks[0][0] == 946_684_800_000_000_000  # 2000-01-01T00:00:00Z


def test_time_ticks_when_one_day_of_minutes_then_every_three_hours() -> None:
    # 1,439 minutes: under 8 x 3 h (1,440) but not 8 x 2 h.
    assert _labels((2024, 3, 15, 0, 0), (2024, 3, 15, 23, 59)) == [
        "15 Mar 2024 00:00",
        "03:00",
        "06:00",
        "09:00",
        "12:00",
        "15:00",
        "18:00",
        "21:00",
    ]


def test_time_ticks_when_a_session_of_minutes_then_hourly_on_the_hour() -> None:
    # 14:30..21:00 UTC is 390 minutes, under 8 hours.
    assert _labels((2024, 3, 15, 14, 30), (2024, 3, 15, 21, 0)) == [
        "15 Mar 2024 15:00",
        "16:00",
        "17:00",
        "18:00",
        "19:00",
        "20:00",
        "21:00",
    ]


def test_time_ticks_when_past_midnight_then_the_new_date_is_named() -> None:
    # 8 hours is not under 8 x 1 h: every 2 hours.
    assert _labels((2024, 3, 15, 20, 0), (2024, 3, 16, 4, 0)) == [
        "15 Mar 2024 20:00",
        "22:00",
        "16 Mar 00:00",
        "02:00",
        "04:00",
    ]


def test_time_ticks_when_a_few_minutes_then_every_minute() -> None:
    # 300 s: 8 x 30 s is 240 s, 8 x 1 min is 480 s.
    ticks = time_ticks(_ns(2024, 3, 15, 14, 30), _ns(2024, 3, 15, 14, 35))
    assert [label for _, label in ticks] == [
        "15 Mar 2024 14:30",
        "14:31",
        "14:32",
        "14:33",
        "14:34",
        "14:35",
    ]
    assert [ts - ticks[0][0] for ts, _ in ticks] == [n * 60_000_000_000 for n in range(6)]


def test_time_ticks_when_ninety_seconds_then_every_fifteen_seconds_with_seconds() -> None:
    assert _labels((2024, 3, 15, 14, 30, 0), (2024, 3, 15, 14, 31, 30)) == [
        "15 Mar 2024 14:30:00",
        "14:30:15",
        "14:30:30",
        "14:30:45",
        "14:31:00",
        "14:31:15",
        "14:31:30",
    ]


def test_time_ticks_when_six_months_then_monthly_and_the_new_year_named() -> None:
    # 182 days: 8 x 15 days is 120; 8 months about 243.5 days.
    assert _labels((2023, 11, 1), (2024, 5, 1)) == [
        "Nov 2023",
        "Dec",
        "Jan 2024",
        "Feb",
        "Mar",
        "Apr",
        "May",
    ]


def test_time_ticks_when_ten_day_steps_then_the_31st_is_left_to_the_next_1st() -> None:
    # 41 days: 8 x 5 days is 40, so days 1, 11 and 21 of each month; 31 January would
    # crowd 1 February.
    assert _labels((2024, 1, 10), (2024, 2, 20)) == ["11 Jan 2024", "21", "1 Feb", "11"]


def test_time_ticks_when_daily_across_new_year_then_the_year_is_named() -> None:
    assert _labels((2024, 12, 30), (2025, 1, 3)) == ["30 Dec 2024", "31", "1 Jan 2025", "2", "3"]
