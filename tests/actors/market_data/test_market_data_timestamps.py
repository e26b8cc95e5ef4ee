"""Timestamp text to nanoseconds: caches, time zones, fractions and formats."""

from __future__ import annotations

import pytest
from market_data_kit import ns

from atrium.actors.market_data.timestamps import Timestamper


def test_pair_when_same_date_and_time_repeat_then_same_result_from_the_caches() -> None:
    stamper = Timestamper()

    first = stamper.pair("2006-01-02", "09:01:00")
    stamper.pair("2006-01-03", "09:02:00")

    assert stamper.pair("2006-01-02", "09:01:00") == first == ns("2006-01-02T09:01:00")


def test_single_when_nanosecond_fraction_then_no_digit_lost() -> None:
    stamper = Timestamper()

    assert (
        stamper.single("2024-01-02T10:00:00.123456789") == ns("2024-01-02T10:00:00") + 123_456_789
    )
    assert stamper.single("20240102T100000.1234567") == ns("2024-01-02T10:00:00") + 123_456_700


def test_single_when_fraction_finer_than_nanoseconds_then_value_error() -> None:
    with pytest.raises(
        ValueError, match=r"^fraction of '10:00:00.1234567891' is finer than nanoseconds$"
    ):
        Timestamper().single("2024-01-02T10:00:00.1234567891")


@pytest.mark.parametrize(
    "text", ["", "2024-02-30", "2024-01-02T25:00:00", "yesterday", "1704205800"]
)
def test_single_when_text_is_not_iso_then_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        Timestamper().single(text)


def test_zone_when_local_time_is_ambiguous_then_first_occurrence() -> None:
    stamper = Timestamper("America/New_York")

    # 2024-11-03 01:30 happens twice in New York; the first is still daylight time (UTC-4).
    assert stamper.pair("2024-11-03", "01:30:00") == ns("2024-11-03T05:30:00")
    assert stamper.pair("2024-11-03", "02:30:00") == ns("2024-11-03T07:30:00")


def test_zone_when_dst_starts_on_the_hour_then_offsets_either_side_exact() -> None:
    stamper = Timestamper("Australia/Lord_Howe")  # shifts by 30 minutes at 02:00 local

    # Standard time there is UTC+10:30 and summer time UTC+11 (from 2024-10-06 02:00).
    assert stamper.pair("2024-10-06", "01:59:00") == ns("2024-10-05T15:29:00")
    assert stamper.pair("2024-10-06", "02:31:00") == ns("2024-10-05T15:31:00")


def test_zone_when_quarter_hour_holds_the_transition_then_each_row_exact() -> None:
    stamper = Timestamper("Europe/Amsterdam")

    # On 1937-07-01 at 00:00 local Amsterdam went from UTC+1:19:32 to UTC+1:20, so the
    # quarter hour 00:00-00:15 holds both offsets and is worked out row by row.
    assert stamper.pair("1937-07-01", "00:05:00") == ns("1937-06-30T22:45:00")
    assert stamper.pair("1937-07-01", "00:00:10") == ns("1937-06-30T22:40:38")
    assert stamper.pair("1937-06-30", "23:59:00") == ns("1937-06-30T22:39:28")


def test_epoch_when_not_a_whole_nanosecond_then_value_error() -> None:
    with pytest.raises(ValueError, match=r"^'1.0000000001' is not a whole number of nanoseconds$"):
        Timestamper(timestamp_format="epoch_s").single("1.0000000001")


def test_epoch_when_not_a_number_then_value_error() -> None:
    with pytest.raises(ValueError, match=r"^'abc' is not an epoch number$"):
        Timestamper(timestamp_format="epoch_ms").single("abc")
