"""Chart series of bounded size, filled one point at a time.

A replay of ten million bars cannot hold its equity curve point by point for a chart
that shows two thousand. :class:`ChartSeries` keeps consecutive points in buckets and
remembers each bucket's lowest and highest point, so dips and spikes stay visible; when
it holds too many buckets it merges neighbours pairwise, doubling the bucket width.
"""

from __future__ import annotations

from typing import Final

__all__ = ("ChartSeries",)

Point = tuple[int, float]

#: Buckets kept at most; each gives up to two points.
DEFAULT_BUCKETS: Final = 1000


class _Bucket:
    __slots__ = ("count", "high", "low")

    def __init__(self, point: Point) -> None:
        self.low = self.high = point
        self.count = 1

    def take(self, point: Point) -> None:
        if point[1] < self.low[1]:
            self.low = point
        elif point[1] > self.high[1]:
            self.high = point
        self.count += 1

    def absorb(self, later: _Bucket) -> None:
        if later.low[1] < self.low[1]:
            self.low = later.low
        if later.high[1] > self.high[1]:
            self.high = later.high
        self.count += later.count


class ChartSeries:
    """At most ``2 * buckets`` points of a series of ``(ts_ns, value)``, in time order."""

    __slots__ = ("_buckets", "_limit", "_width", "count")

    def __init__(self, buckets: int = DEFAULT_BUCKETS) -> None:
        if buckets < 2:
            raise ValueError(f"buckets={buckets!r} must be >= 2")
        self._limit = buckets
        self._width = 1
        self._buckets: list[_Bucket] = []
        #: Points added so far.
        self.count = 0

    def add(self, ts: int, value: float) -> None:
        self.count += 1
        buckets = self._buckets
        if buckets and buckets[-1].count < self._width:
            buckets[-1].take((ts, value))
            return
        buckets.append(_Bucket((ts, value)))
        if len(buckets) > self._limit:
            merged = buckets[::2]
            for first, second in zip(merged, buckets[1::2], strict=False):
                first.absorb(second)
            self._buckets = merged
            self._width *= 2

    def points(self) -> list[Point]:
        """Each bucket's lowest and highest point, in time order."""
        kept: list[Point] = []
        for bucket in self._buckets:
            kept.extend(sorted({bucket.low, bucket.high}))
        return kept

    def __bool__(self) -> bool:
        return self.count > 0
