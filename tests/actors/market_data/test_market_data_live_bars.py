"""Live feeds with ``bar_seconds``: ticks go out, and a bar each time a tick opens a new interval."""

from __future__ import annotations

from decimal import Decimal

import pytest

from atrium.actors.market_data.aggregate import BarBuilder
from atrium.config import parse_config
from atrium.runtime.messages import Bar, Tick

D = Decimal
SECOND = 1_000_000_000


def _tick(seconds: float, price: str, size: str = "1") -> Tick:
    return Tick(ts=int(seconds * SECOND), symbol="SYN", price=D(price), size=D(size))


def test_builder_when_tick_opens_next_interval_then_previous_bar_returned() -> None:
    builder = BarBuilder(60 * SECOND)
    assert builder.add(_tick(1, "100.00", "2")) is None
    assert builder.add(_tick(20, "101.50")) is None
    assert builder.add(_tick(40, "99.25", "3")) is None
    assert builder.add(_tick(59.999, "100.10")) is None
    bar = builder.add(_tick(60, "100.20"))
    assert bar == Bar(
        ts=60 * SECOND,
        symbol="SYN",
        open=D("100.00"),
        high=D("101.50"),
        low=D("99.25"),
        close=D("100.10"),
        volume=D("7"),
    )
    # An empty interval (60..120 holds one tick, 120..180 none) gives no bar of its own.
    assert builder.add(_tick(185, "100.30")) == Bar(
        ts=120 * SECOND,
        symbol="SYN",
        open=D("100.20"),
        high=D("100.20"),
        low=D("100.20"),
        close=D("100.20"),
        volume=D("1"),
    )
    assert builder.flush() == Bar(
        ts=240 * SECOND,
        symbol="SYN",
        open=D("100.30"),
        high=D("100.30"),
        low=D("100.30"),
        close=D("100.30"),
        volume=D("1"),
    )
    assert builder.flush() is None


def test_builder_when_interval_not_positive_then_error() -> None:
    with pytest.raises(ValueError, match=r"^interval_ns=0 must be > 0$"):
        BarBuilder(0)


def test_config_when_live_feed_has_bar_seconds_then_accepted() -> None:
    config = parse_config(
        {"market_data": {"feeds": [{"format": "synthetic_live", "bar_seconds": 5}]}}
    )
    assert config.market_data.feeds[0].bar_seconds == 5
