"""Tick feeds (the real ticksample.csv and the plain layout) and tick-to-bar aggregation."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from market_data_kit import ns, read, write

from atrium.actors.market_data import aggregate_ticks
from atrium.runtime.messages import Bar, Tick


def _tick(ts: str, price: str, size: str, symbol: str = "ES") -> Tick:
    return Tick(ts=ns(ts), symbol=symbol, price=Decimal(price), size=Decimal(size))


def _bar(ts: str, o: str, h: str, low: str, c: str, v: str, symbol: str = "ES") -> Bar:
    return Bar(
        ts=ns(ts),
        symbol=symbol,
        open=Decimal(o),
        high=Decimal(h),
        low=Decimal(low),
        close=Decimal(c),
        volume=Decimal(v),
    )


def test_tick_sample_when_format_ticks_then_close_is_price_and_volume_is_size() -> None:
    records, rejections = read("ticksample.csv", format="ticks", symbol="ES")

    assert len(records) == 135
    assert records[:2] == [
        _tick("2015-09-23T20:57:42.146", "3067.00", "180"),
        _tick("2015-09-23T20:57:46.151", "3066.00", "2"),
    ]
    # Lines 23 and 24 are two prints in the same millisecond: both kept, in file order.
    assert records[21:23] == [
        _tick("2015-09-23T20:58:22.316", "3068.00", "60"),
        _tick("2015-09-23T20:58:22.316", "3069.00", "1"),
    ]
    assert records[-1] == _tick("2015-09-23T21:00:00.238", "3069.00", "1")
    assert rejections.counts() == {}


def test_tick_sample_when_aggregated_to_minutes_then_bars_end_stamped_and_hand_checked() -> None:
    records, _ = read("ticksample.csv", format="ticks", symbol="ES", bar_seconds=60)

    assert [r.ts for r in records] == [
        ns("2015-09-23T20:58:00"),
        ns("2015-09-23T20:59:00"),
        ns("2015-09-23T21:00:00"),
        ns("2015-09-23T21:01:00"),
    ]
    # Lines 2-6 (20:57:42.146 .. 20:57:57.330): 3067x180, 3066x2, 3066x1, 3066x2, 3066x1.
    assert records[0] == _bar(
        "2015-09-23T20:58:00", "3067.00", "3067.00", "3066.00", "3066.00", "186"
    )
    # Line 136, 21:00:00.238, is alone in its minute.
    assert records[-1] == _bar(
        "2015-09-23T21:01:00", "3069.00", "3069.00", "3069.00", "3069.00", "1"
    )


#: Sum of the Volume column of ticksample.csv (awk -F, 'NR>1{s+=$6}').
VOLUME_OF_ALL_PRINTS = 2599


def test_tick_sample_when_aggregated_then_volume_sums_every_print() -> None:
    ticks, _ = read("ticksample.csv", format="ticks", symbol="ES")
    bars, _ = read("ticksample.csv", format="ticks", symbol="ES", bar_seconds=60, name="agg")

    assert sum(b.volume for b in bars if isinstance(b, Bar)) == VOLUME_OF_ALL_PRINTS
    assert sum(t.size for t in ticks if isinstance(t, Tick)) == VOLUME_OF_ALL_PRINTS


def test_plain_layout_when_auto_then_detected_as_ticks_with_symbol_from_file_name(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path, "aapl-trades.csv", "timestamp,price,size", "2024-01-02T14:30:00.5,185.25,100"
    )

    records, _ = read(path, base_dir=tmp_path)

    assert records == [_tick("2024-01-02T14:30:00.5", "185.25", "100", symbol="AAPL")]


@pytest.mark.parametrize(
    ("unit", "text", "expected"),
    [
        ("epoch_s", "1704205800", 1704205800 * 10**9),
        ("epoch_s", "1704205800.25", 1704205800 * 10**9 + 250_000_000),
        ("epoch_ms", "1704205800250", 1704205800 * 10**9 + 250_000_000),
        ("epoch_us", "1704205800250001", 1704205800 * 10**9 + 250_001_000),
        ("epoch_ns", "1704205800250001002", 1704205800 * 10**9 + 250_001_002),
    ],
)
def test_plain_layout_when_epoch_timestamps_then_read_exactly_in_their_unit(
    tmp_path: Path, unit: str, text: str, expected: int
) -> None:
    path = write(tmp_path, "x.csv", "time,price,size", f"{text},10,1")

    records, _ = read(path, base_dir=tmp_path, timestamp_format=unit)

    assert [r.ts for r in records] == [expected]


def test_aggregate_when_ticks_span_intervals_then_ohlcv_worked_by_hand(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "es.csv",
        "timestamp,price,size",
        "2024-01-02T10:00:00.000,100.00,5",  # first in [10:00, 10:01): open
        "2024-01-02T10:00:10.000,101.50,2",  # high
        "2024-01-02T10:00:20.000,99.75,1",  # low
        "2024-01-02T10:00:59.999,100.25,4",  # close; volume 5+2+1+4 = 12
        "2024-01-02T10:01:00.000,100.50,3",  # exactly on the boundary: next bar
        "2024-01-02T10:03:30.000,102.00,7",  # 10:02 had no ticks: no bar
    )

    records, _ = read(path, base_dir=tmp_path, bar_seconds=60)

    assert records == [
        _bar("2024-01-02T10:01:00", "100.00", "101.50", "99.75", "100.25", "12"),
        _bar("2024-01-02T10:02:00", "100.50", "100.50", "100.50", "100.50", "3"),
        _bar("2024-01-02T10:04:00", "102.00", "102.00", "102.00", "102.00", "7"),
    ]


def test_aggregate_when_no_ticks_then_no_bars() -> None:
    assert list(aggregate_ticks([], 60 * 10**9)) == []


def test_aggregate_when_interval_not_positive_then_value_error() -> None:
    with pytest.raises(ValueError, match=r"^interval_ns=0 must be > 0$"):
        list(aggregate_ticks([], 0))
