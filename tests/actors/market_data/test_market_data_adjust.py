"""``adjust``: prices from a Yahoo ``Adj Close`` column, checked at NVDA's split dates.

``nvda-1999-2014.txt`` is already split-adjusted in its Close column (as Yahoo's files
are now): NVDA split 2 for 1 on 2000-06-27, yet the close goes 13.828125 -> 11.875, the
day's own -14 %. Its Adj Close differs from Close only by dividends (from 2012-11-20 on),
so Adj Close / Close on 2000-06-27 is 10.990492 / 11.875 = 0.9255151..., the product of
every later dividend. A file with the 2000-06-27 split left in (prices before it doubled,
volumes halved, as traded then) checks that ``splits`` takes the split back out.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from market_data_kit import DATA, LOG, ns, read, write

from atrium.actors.market_data import Rejections, open_feed
from atrium.config.market_data import FeedConfig
from atrium.runtime.errors import FatalInputError
from atrium.runtime.messages import Bar

D = Decimal
NVDA = DATA / "nvda-1999-2014.txt"
HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
#: NVDA around its 2000-06-27 split, with the split in: rows before it as traded then.
UNSPLIT = (
    HEADER,
    "2000-06-23,26.520834,26.854166,24.666666,24.677084,11.419507,7592400",
    "2000-06-26,25.166666,27.812500,24.770834,27.656250,12.798139,7728600",
    "2000-06-27,13.708333,13.937500,11.510417,11.875000,10.990492,15115200",
    "2000-06-28,12.125000,12.583333,11.083333,11.416667,10.566298,14665200",
)


def _bar(day: str, o: str, h: str, lo: str, c: str, v: str) -> Bar:
    return Bar(ts=ns(day), symbol="NVDA", open=D(o), high=D(h), low=D(lo), close=D(c), volume=D(v))


def _nvda(tmp_path: Path, adjust: str) -> dict[int, Bar]:
    if not NVDA.exists():
        pytest.skip(f"{NVDA} not present")
    shutil.copyfile(NVDA, tmp_path / "nvda.txt")
    records, rejections = read("nvda.txt", base_dir=tmp_path, adjust=adjust)
    assert rejections.counts() == {}
    return {bar.ts: bar for bar in records if isinstance(bar, Bar)}


def test_adjust_when_splits_dividends_then_split_date_scaled_by_adj_close(tmp_path: Path) -> None:
    bars = _nvda(tmp_path, "splits_dividends")
    # 2000-06-27: O 13.708333 H 13.9375 L 11.510417 C 11.875 AdjC 10.990492 V 15115200.
    # f = 10.990492 / 11.875; 13.708333 * f = 12.6872694..., 15115200 / f = 16331661.95
    assert bars[ns("2000-06-27")] == _bar(
        "2000-06-27", "12.687269", "12.899367", "10.653065", "10.990492", "16331662"
    )
    # The last row's factor is 1: nothing after it to adjust for.
    assert bars[ns("2014-12-31")].close == D("19.425875")
    assert bars[ns("2014-12-31")].open == D(
        "19.764981"
    )  # 20.40 * 19.425875 / 20.049999 = 19.7649807...


def test_adjust_when_splits_on_split_adjusted_file_then_bars_as_read(tmp_path: Path) -> None:
    """No jump of Adj Close / Close reaches 25 % in the NVDA file: no split to take out."""
    adjusted = _nvda(tmp_path, "splits")
    raw = _nvda(tmp_path, "none")
    assert adjusted == raw
    assert raw[ns("2000-06-26")].close == D("13.828125")
    assert raw[ns("2000-06-27")].close == D("11.875000")


def test_adjust_when_splits_and_split_in_file_then_prices_halved_before_it(
    tmp_path: Path,
) -> None:
    name = write(tmp_path, "nvda-unsplit.csv", *UNSPLIT)
    records, _ = read(name, base_dir=tmp_path, adjust="splits")
    assert records == [
        _bar("2000-06-23", "13.260417", "13.427083", "12.333333", "12.338542", "15184800"),
        _bar("2000-06-26", "12.583333", "13.906250", "12.385417", "13.828125", "15457200"),
        _bar("2000-06-27", "13.708333", "13.937500", "11.510417", "11.875000", "15115200"),
        _bar("2000-06-28", "12.125000", "12.583333", "11.083333", "11.416667", "14665200"),
    ]


def test_adjust_when_splits_dividends_and_split_in_file_then_close_is_adj_close(
    tmp_path: Path,
) -> None:
    name = write(tmp_path, "nvda-unsplit.csv", *UNSPLIT)
    records, _ = read(name, base_dir=tmp_path, adjust="splits_dividends")
    first = records[0]
    assert isinstance(first, Bar)
    # f = 11.419507 / 24.677084: open 26.520834 * f = 12.2727162..., volume 7592400 / f
    assert (first.open, first.close, first.volume) == (
        D("12.272716"),
        D("11.419507"),
        D("16406863"),
    )


def test_adjust_when_adj_close_bad_then_row_rejected_with_line(tmp_path: Path) -> None:
    name = write(
        tmp_path,
        "nvda-bad.csv",
        UNSPLIT[0],
        UNSPLIT[3],
        "2000-06-28,12.125,12.583333,11.083333,11.416667,x,14665200",
    )
    rejections = Rejections("fail", log=LOG)
    feed = open_feed(
        FeedConfig(path=name, adjust="splits_dividends"),
        base_dir=str(tmp_path),
        rejections=rejections,
        log=LOG,
    )
    with pytest.raises(FatalInputError, match=r"nvda-bad.csv:3.*adj close 'x' is not a number"):
        list(feed)


def test_adjust_when_no_adj_close_column_then_stops_naming_the_setting(tmp_path: Path) -> None:
    name = write(tmp_path, "abc.csv", "Date,Open,High,Low,Close,Volume", "2000-01-03,1,2,1,2,10")
    with pytest.raises(FatalInputError, match=r"abc.csv: adjust = 'splits' needs an Adj Close"):
        read(name, base_dir=tmp_path, adjust="splits")


def test_adjust_when_tick_feed_then_config_error_names_field() -> None:
    with pytest.raises(ValueError, match=r"adjust: only CSV bar feeds are adjusted"):
        FeedConfig(path="t.csv", format="ticks", adjust="splits")
