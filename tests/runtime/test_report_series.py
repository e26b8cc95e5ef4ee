"""Chart series: bounded however long the run, extremes kept, time order kept."""

from __future__ import annotations

import pytest

from atrium.runtime.reports.series import ChartSeries


def test_add_when_fewer_points_than_buckets_then_every_point_kept() -> None:
    series = ChartSeries(buckets=4)
    for ts, value in [(1, 5.0), (2, 3.0), (3, 4.0)]:
        series.add(ts, value)
    assert series.points() == [(1, 5.0), (2, 3.0), (3, 4.0)]


def test_add_when_past_the_buckets_then_pairs_merge_keeping_low_and_high() -> None:
    series = ChartSeries(buckets=2)
    # Third point: buckets (1),(2),(3) merge to (1,2),(3) with width 2.
    for ts, value in [(1, 10.0), (2, 7.0), (3, 9.0), (4, 12.0)]:
        series.add(ts, value)
    assert series.points() == [(1, 10.0), (2, 7.0), (3, 9.0), (4, 12.0)]
    series.add(5, 8.0)  # buckets (1,2),(3,4),(5) -> (1..4),(5) with width 4
    assert series.points() == [(2, 7.0), (4, 12.0), (5, 8.0)]


def test_add_when_a_million_points_then_at_most_twice_the_buckets_and_dip_kept() -> None:
    series = ChartSeries(buckets=500)
    for ts in range(1_000_000):
        series.add(ts, -50.0 if ts == 654_321 else float(ts % 1000))
    points = series.points()
    assert len(points) <= 1000
    assert series.count == 1_000_000
    assert (654_321, -50.0) in points
    assert [ts for ts, _ in points] == sorted(ts for ts, _ in points)
    assert points[0][0] == 0


def test_buckets_when_fewer_than_two_then_rejected() -> None:
    with pytest.raises(ValueError, match=r"^buckets=1 must be >= 2$"):
        ChartSeries(buckets=1)
