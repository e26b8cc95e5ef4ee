"""The k-way merge: timestamp order across feeds, stable for equal timestamps."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal

from market_data_kit import DATA, LOG

from atrium.actors.market_data import Rejections, merge_feeds, open_feed
from atrium.config.market_data import FeedConfig
from atrium.runtime.messages import Bar, Tick

ONE = Decimal(1)


def _tick(ts: int, symbol: str) -> Tick:
    return Tick(ts=ts, symbol=symbol, price=ONE, size=ONE)


def _order(merged: Iterator[tuple[int, Bar | Tick]]) -> list[tuple[int, int, str]]:
    return [(index, record.ts, record.symbol) for index, record in merged]


def test_merge_when_timestamps_interleave_then_ascending_with_feed_index() -> None:
    a = [_tick(1, "A"), _tick(4, "A"), _tick(6, "A")]
    b = [_tick(2, "B"), _tick(3, "B"), _tick(7, "B")]
    c = [_tick(5, "C")]

    assert _order(merge_feeds([a, b, c])) == [
        (0, 1, "A"),
        (1, 2, "B"),
        (1, 3, "B"),
        (0, 4, "A"),
        (2, 5, "C"),
        (0, 6, "A"),
        (1, 7, "B"),
    ]


def test_merge_when_timestamps_tie_then_earlier_feed_first_and_feed_order_kept() -> None:
    a = [_tick(5, "A1"), _tick(5, "A2"), _tick(9, "A3")]
    b = [_tick(1, "B1"), _tick(5, "B2"), _tick(5, "B3")]
    c = [_tick(5, "C1")]

    assert _order(merge_feeds([c, a, b])) == [
        (2, 1, "B1"),
        (0, 5, "C1"),
        (1, 5, "A1"),
        (1, 5, "A2"),
        (2, 5, "B2"),
        (2, 5, "B3"),
        (1, 9, "A3"),
    ]


def test_merge_when_feeds_empty_or_single_then_passes_through() -> None:
    only = [_tick(3, "X"), _tick(2, "X")]  # a single feed is not reordered

    assert _order(merge_feeds([[], only, []])) == [(1, 3, "X"), (1, 2, "X")]
    assert _order(merge_feeds([])) == []


def test_merge_when_closed_early_then_every_feed_generator_is_closed() -> None:
    closed: list[str] = []

    def feed(name: str, start: int) -> Iterator[Tick]:
        try:
            for ts in range(start, 100, 2):
                yield _tick(ts, name)
        finally:
            closed.append(name)

    merged = merge_feeds([feed("A", 0), feed("B", 1)])
    assert _order(merged.__next__() for _ in range(3)) == [(0, 0, "A"), (1, 1, "B"), (0, 2, "A")]

    merged.close()

    assert closed == ["A", "B"]


def test_merge_when_three_daily_files_then_dates_ascend_and_same_day_in_config_order() -> None:
    rejections = Rejections("fail", log=LOG)
    feeds = [
        open_feed(FeedConfig(path=name), base_dir=str(DATA), rejections=rejections, log=LOG)
        for name in ("yhoo-1996-2014.txt", "nvda-1999-2014.txt", "orcl-1995-2014.txt")
    ]

    merged = [(index, record.ts, record.symbol) for index, record in merge_feeds(feeds)]

    assert [sum(1 for m in merged if m[0] == index) for index in range(3)] == [4713, 4012, 5036]
    # (timestamp, feed index) strictly ascends: time order, ties in config order.
    assert all((a[1], a[0]) < (b[1], b[0]) for a, b in itertools.pairwise(merged))
    same_day = [m for m in merged if m[1] == merged[-1][1]]
    assert [symbol for _, _, symbol in same_day] == ["YHOO", "NVDA", "ORCL"]
    assert merged[0][2] == "ORCL"  # 1995-01-03, before YHOO (1996) and NVDA (1999)
