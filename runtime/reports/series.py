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
    # Times and values apart, not as points: a point tuple per add is what cost most.
    __slots__ = ("count", "high", "high_ts", "low", "low_ts")

    def __init__(self, ts: int, value: float) -> None:
        self.low_ts = self.high_ts = ts
        self.low = self.high = value
        self.count = 1

    def absorb(self, later: _Bucket) -> None:
        if later.low < self.low:
            self.low_ts, self.low = later.low_ts, later.low
        if later.high > self.high:
            self.high_ts, self.high = later.high_ts, later.high
        self.count += later.count


class ChartSeries:
    """At most ``2 * buckets`` points of a series of ``(ts_ns, value)``, in time order."""

    __slots__ = ("_buckets", "_last", "_limit", "_width", "count")

    def __init__(self, buckets: int = DEFAULT_BUCKETS) -> None:
        if buckets < 2:
            raise ValueError(f"buckets={buckets!r} must be >= 2")
        self._limit = buckets
        self._width = 1
        self._buckets: list[_Bucket] = []
        # The bucket being filled (the last one), or None before the first point.
        self._last: _Bucket | None = None
        #: Points added so far.
        self.count = 0

    def add(self, ts: int, value: float) -> None:
        """Take the next point; it runs for every bar, hence the inlined bucket update."""
        self.count += 1
        last = self._last
        if last is not None and last.count < self._width:
            if value < last.low:
                last.low_ts, last.low = ts, value
            elif value > last.high:
                last.high_ts, last.high = ts, value
            last.count += 1
            return
        buckets = self._buckets
        buckets.append(_Bucket(ts, value))
        if len(buckets) > self._limit:
            merged = buckets[::2]
            for first, second in zip(merged, buckets[1::2], strict=False):
                first.absorb(second)
            self._buckets = buckets = merged
            self._width *= 2
        self._last = buckets[-1]

    def points(self) -> list[Point]:
        """Each bucket's lowest and highest point, in time order."""
        kept: list[Point] = []
        for bucket in self._buckets:
            kept.extend(sorted({(bucket.low_ts, bucket.low), (bucket.high_ts, bucket.high)}))
        return kept

    def __bool__(self) -> bool:
        return self.count > 0
