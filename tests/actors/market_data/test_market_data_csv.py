"""CSV bar feeds on the real files in ../shared/data, plus the layouts users bring."""

from __future__ import annotations

import itertools
import logging
import re
from decimal import Decimal
from pathlib import Path

import pytest
from market_data_kit import DATA, ns, read, write

from atrium.actors.market_data import Rejections, open_feed
from atrium.config.market_data import FeedConfig
from atrium.runtime.errors import FatalInputError
from atrium.runtime.messages import Bar


def _bar(ts: str, symbol: str, o: str, h: str, low: str, c: str, v: str) -> Bar:
    return Bar(
        ts=ns(ts),
        symbol=symbol,
        open=Decimal(o),
        high=Decimal(h),
        low=Decimal(low),
        close=Decimal(c),
        volume=Decimal(v),
    )


# -- the real files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "count", "first", "last"),
    [
        (
            "nvda-1999-2014.txt",
            4012,
            _bar("1999-01-22", "NVDA", "1.750000", "1.953125", "1.552083", "1.640625", "67867200"),
            _bar(
                "2014-12-31", "NVDA", "20.400000", "20.510000", "19.990000", "20.049999", "4157500"
            ),
        ),
        (
            "orcl-1995-2014.txt",
            5036,
            _bar("1995-01-03", "ORCL", "2.179012", "2.191358", "2.117284", "2.117284", "36301200"),
            _bar(
                "2014-12-31", "ORCL", "45.450001", "45.560001", "44.970001", "44.970001", "13269200"
            ),
        ),
        (
            "yhoo-1996-2014.txt",
            4713,
            _bar("1996-04-12", "YHOO", "1.052083", "1.791667", "1.020833", "1.375000", "408720000"),
            _bar(
                "2014-12-31", "YHOO", "51.540001", "51.680000", "50.459999", "50.509998", "9305000"
            ),
        ),
    ],
)
def test_yahoo_daily_when_read_then_every_row_is_a_bar_at_utc_midnight(
    path: str, count: int, first: Bar, last: Bar
) -> None:
    records, rejections = read(path)

    assert len(records) == count
    assert records[0] == first
    assert records[-1] == last
    assert rejections.counts() == {}


def test_yahoo_daily_when_read_then_adj_close_is_ignored_and_timestamps_increase() -> None:
    records, _ = read("nvda-1999-2014.txt")

    assert all(b.ts > a.ts for a, b in itertools.pairwise(records))
    # Adj Close of the first row is 1.518424; the bar keeps the traded close.
    assert records[0].close == Decimal("1.640625")  # type: ignore[union-attr]


@pytest.mark.parametrize("fmt", ["auto", "date_time"])
def test_minute_file_when_header_lacks_time_then_time_column_repaired_and_logged(
    fmt: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)

    records, rejections = read("2006-01-02-volume-min-001.txt", symbol="ES", format=fmt)

    assert len(records) == 30889
    assert records[0] == _bar(
        "2006-01-02T09:01:00", "ES", "3602.00", "3603.00", "3597.00", "3599.00", "5699"
    )
    assert records[-1] == _bar(
        "2006-02-27T22:00:00", "ES", "3840.00", "3840.00", "3838.00", "3838.00", "327"
    )
    assert rejections.counts() == {}
    assert [r.getMessage() for r in caplog.records] == [
        "2006-01-02-volume-min-001.txt: the header names 7 columns but rows have 8 with a "
        "time after the date; reading the columns as "
        "Date,Time,Open,High,Low,Close,Volume,OpenInterest"
    ]


def test_minute_file_when_format_says_yahoo_then_no_repair_and_first_row_refused() -> None:
    with pytest.raises(
        FatalInputError,
        match=r"^2006-01-02-volume-min-001\.txt:2: expected 7 fields, got 8$",
    ):
        read("2006-01-02-volume-min-001.txt", symbol="ES", format="yahoo", policy="fail")


def test_header_without_time_when_extra_field_is_not_a_time_then_no_repair(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "x.csv", "Date,Open,High,Low,Close", "2024-01-02,7,10,11,9,10")

    with pytest.raises(FatalInputError, match=r"^x\.csv:2: expected 5 fields, got 6$"):
        read(path, base_dir=tmp_path, policy="fail")


def test_five_minute_file_when_read_then_date_and_time_combine_into_the_timestamp() -> None:
    records, rejections = read("2006-min-005.txt", symbol="ES")

    assert len(records) == 2142
    assert records[0] == _bar(
        "2006-01-02T09:05:00", "ES", "3578.73", "3587.88", "3578.73", "3582.99", "0"
    )
    assert records[-1] == _bar(
        "2006-01-30T17:30:00", "ES", "3679.29", "3679.40", "3676.31", "3677.52", "0"
    )
    assert rejections.counts() == {}


def test_tick_sample_when_read_as_iso_bars_then_repeated_millisecond_is_a_duplicate_bar() -> None:
    records, rejections = read("ticksample.csv", symbol="ES")

    assert len(records) == 134
    assert records[0] == _bar(
        "2015-09-23T20:57:42.146", "ES", "3067.00", "3067.00", "3067.00", "3067.00", "180"
    )
    assert rejections.counts() == {"DUPLICATE_TIMESTAMP": 1}


def test_feed_when_read_to_the_end_then_progress_is_file_size_in_bytes() -> None:
    rejections = Rejections("skip", log=logging.getLogger("t"))
    feed = open_feed(
        FeedConfig(path="nvda-1999-2014.txt"),
        base_dir=str(DATA),
        rejections=rejections,
        log=logging.getLogger("t"),
    )
    assert feed.progress() == (0, None)
    stream = iter(feed)
    next(stream)
    done, size = feed.progress()
    assert size == 272573
    assert 0 < done <= size

    for _ in stream:
        pass

    assert feed.progress() == (272573, 272573)


# -- layouts, time zones, timestamp formats ------------------------------------------------


def test_time_zone_when_iana_then_naive_dates_are_local_midnight_with_dst() -> None:
    records, _ = read("nvda-1999-2014.txt", timezone="America/New_York")

    # 1999-01-22 is winter (UTC-5); 2014-07-01 is summer (UTC-4).
    assert records[0].ts == ns("1999-01-22T05:00:00")
    july = next(r for r in records if r.ts >= ns("2014-07-01"))
    assert july.ts == ns("2014-07-01T04:00:00")


def test_time_zone_when_fixed_offset_then_subtracted_from_naive_times(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "es.csv",
        "Date,Time,Open,High,Low,Close,Volume",
        "2024-03-01,09:30:00,10,11,9,10,5",
    )

    records, _ = read(path, base_dir=tmp_path, timezone="+05:30")

    assert records[0].ts == ns("2024-03-01T04:00:00")


def test_time_zone_when_dst_change_inside_a_day_then_each_row_gets_its_own_offset(
    tmp_path: Path,
) -> None:
    # New York moved from UTC-5 to UTC-4 at 02:00 local on 2024-03-10.
    path = write(
        tmp_path,
        "es.csv",
        "Date,Time,Open,High,Low,Close,Volume",
        "2024-03-10,01:45:00,10,11,9,10,5",
        "2024-03-10,03:15:00,10,11,9,10,5",
    )

    records, _ = read(path, base_dir=tmp_path, timezone="America/New_York")

    assert [r.ts for r in records] == [ns("2024-03-10T06:45:00"), ns("2024-03-10T07:15:00")]


def test_iso_timestamps_when_offset_given_then_it_wins_over_the_feed_time_zone(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "x.csv",
        "Datetime,Open,High,Low,Close,Volume",
        "2024-01-02T09:30:00+01:00,10,11,9,10,5",
        "2024-01-02T09:31:00Z,10,11,9,10,5",
        "2024-01-02 09:32:00.123456789,10,11,9,10,5",
    )

    records, _ = read(path, base_dir=tmp_path, timezone="-03:00")

    assert [r.ts for r in records] == [
        ns("2024-01-02T08:30:00"),
        ns("2024-01-02T09:31:00"),
        ns("2024-01-02T12:32:00") + 123_456_789,
    ]


def test_columns_when_mapped_then_custom_header_names_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "abc.csv",
        "when;o;h;l;c;adj;qty",
        "2024-01-02T10:00:00;10.5;11;10;10.75;9.99;300",
    )

    records, _ = read(
        path,
        base_dir=tmp_path,
        format="iso",
        delimiter=";",
        columns={
            "timestamp": "WHEN",
            "open": "o",
            "high": "h",
            "low": "l",
            "close": "c",
            "volume": "qty",
        },
    )

    assert records == [_bar("2024-01-02T10:00:00", "ABC", "10.5", "11", "10", "10.75", "300")]


def test_columns_when_volume_absent_then_bars_have_zero_volume(tmp_path: Path) -> None:
    path = write(tmp_path, "idx.csv", "Date,Open,High,Low,Close", "2024-01-02,10,11,9,10.5")

    records, _ = read(path, base_dir=tmp_path)

    assert records == [_bar("2024-01-02", "IDX", "10", "11", "9", "10.5", "0")]


def test_timestamp_format_when_strptime_pattern_then_us_dates_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "us.csv",
        "Date,Time,Open,High,Low,Close,Volume",
        "01/02/2024,09:30,10,11,9,10,5",
    )

    records, _ = read(path, base_dir=tmp_path, timestamp_format="%m/%d/%Y %H:%M")

    assert [r.ts for r in records] == [ns("2024-01-02T09:30:00")]


def test_file_when_it_has_a_byte_order_mark_and_blank_lines_then_both_are_ignored(
    tmp_path: Path,
) -> None:
    (tmp_path / "bom.csv").write_bytes(
        b"\xef\xbb\xbfDate,Open,High,Low,Close,Volume\r\n\r\n2024-01-02,10,11,9,10,5\r\n\r\n"
    )

    records, rejections = read("bom.csv", base_dir=tmp_path)

    assert records == [_bar("2024-01-02", "BOM", "10", "11", "9", "10", "5")]
    assert rejections.counts() == {}


# -- whole-file problems stop the run under either policy -----------------------------------


@pytest.mark.parametrize(
    ("lines", "settings", "message"),
    [
        (
            ["Date,Open,High,Low,Volume", "2024-01-02,1,2,1,5"],
            {},
            "bad.csv: header Date,Open,High,Low,Volume has no close column for format "
            "'yahoo'; name it with columns.close",
        ),
        (
            ["when,a,b", "x,1,2"],
            {},
            "bad.csv: cannot tell the format from the header when,a,b; set format "
            "(yahoo, date_time, iso or ticks) and columns",
        ),
        (
            ["Date,Open,High,Low,Close", "2024-01-02,1,2,1,1"],
            {"columns": {"close": "Last Price"}},
            "bad.csv: columns.close names 'Last Price', which is not in the header "
            "Date,Open,High,Low,Close",
        ),
        (
            ["Date,Open,High,Low,Close", "2024-01-02,1,2,1,1"],
            {"bar_seconds": 60},
            "bad.csv: bar_seconds aggregates ticks, but the file holds yahoo bars; drop "
            "bar_seconds or set format = 'ticks'",
        ),
        ([], {}, "bad.csv: empty file; expected a header row"),
    ],
)
@pytest.mark.parametrize("policy", ["skip", "fail"])
def test_file_when_header_unusable_then_fatal_under_both_policies(
    tmp_path: Path, lines: list[str], settings: dict[str, object], message: str, policy: str
) -> None:
    path = write(tmp_path, "bad.csv", *lines)

    with pytest.raises(FatalInputError, match=rf"^{re.escape(message)}$"):
        read(path, base_dir=tmp_path, policy=policy, **settings)  # type: ignore[arg-type]


def test_file_when_missing_then_fatal_naming_it(tmp_path: Path) -> None:
    with pytest.raises(
        FatalInputError, match=r"^nope\.csv: cannot open feed: No such file or directory$"
    ):
        read("nope.csv", base_dir=tmp_path)


def test_file_when_not_utf8_then_fatal_naming_it(tmp_path: Path) -> None:
    (tmp_path / "bin.csv").write_bytes(b"Date,Open,High,Low,Close\n\xff\xfe,1,2,3\n")

    with pytest.raises(FatalInputError, match=r"^bin\.csv: not UTF-8 text: invalid start byte$"):
        read("bin.csv", base_dir=tmp_path)
