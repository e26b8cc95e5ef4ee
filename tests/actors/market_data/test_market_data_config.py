"""``[market_data]`` config: defaults, derived names and symbols, errors naming the key."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from atrium.config import ConfigError, parse_config
from atrium.config.market_data import (
    FeedConfig,
    MarketDataConfig,
    SyntheticConfig,
    symbol_from_path,
)


def test_defaults_when_section_empty_then_no_feeds_skip_policy_full_speed() -> None:
    section = parse_config({}).market_data

    assert section == MarketDataConfig(feeds=[], on_error="skip", speed=0.0, base_dir=".")


def test_feed_when_only_path_given_then_auto_utc_and_names_from_the_file() -> None:
    feed = parse_config({"market_data": {"feeds": [{"path": "data/nvda-1999-2014.txt"}]}})
    (only,) = feed.market_data.feeds

    assert (only.format, only.timezone, only.bar_seconds) == ("auto", "UTC", None)
    assert (only.feed_name, only.feed_symbol) == ("nvda-1999-2014.txt", "NVDA")


def test_synthetic_when_table_given_then_typed_values_including_decimal_price() -> None:
    config = parse_config(
        {
            "market_data": {
                "feeds": [
                    {
                        "format": "synthetic",
                        "synthetic": {
                            "seed": 5,
                            "symbols": ["A", "B"],
                            "start_price": Decimal("12.5"),
                        },
                    }
                ]
            }
        }
    )
    (feed,) = config.market_data.feeds

    assert feed.feed_name == "synthetic"
    assert feed.synthetic == SyntheticConfig(
        seed=5, symbols=["A", "B"], start_price=Decimal("12.5")
    )


@pytest.mark.parametrize(
    ("path", "symbol"),
    [
        ("nvda-1999-2014.txt", "NVDA"),
        ("/data/orcl_daily.csv", "ORCL"),
        ("es.csv", "ES"),
        ("BRK.B-2020.csv", "BRK"),
        ("2006-01-02-volume-min-001.txt", None),
        ("_x.csv", None),
    ],
)
def test_symbol_from_path_when_file_named_then_leading_word_upper_cased(
    path: str, symbol: str | None
) -> None:
    assert symbol_from_path(path) == symbol


def test_start_ns_when_offset_or_naive_then_utc_nanoseconds() -> None:
    assert SyntheticConfig(start="2024-01-02T01:00:00+01:00").start_ns == 1704153600 * 10**9
    assert SyntheticConfig(start="2024-01-02").start_ns == 1704153600 * 10**9


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"feeds": [{"path": "2006-01-02-volume-min-001.txt"}]},
            "market_data.feeds[0].symbol: cannot derive a symbol from the file name "
            "'2006-01-02-volume-min-001.txt'; set symbol (or format = 'journal' for an Atrium "
            "journal)",
        ),
        (
            {"feeds": [{"format": "yahoo"}]},
            "market_data.feeds[0].path: required for a 'yahoo' feed",
        ),
        (
            {"feeds": [{"format": "synthetic", "path": "a.csv"}]},
            "market_data.feeds[0].path: a synthetic feed reads no file, got 'a.csv'",
        ),
        (
            {"feeds": [{"path": "a.csv", "synthetic": {"seed": 1}}]},
            "market_data.feeds[0].synthetic: only for format = 'synthetic'",
        ),
        (
            {"feeds": [{"path": "a.sqlite", "format": "journal", "symbol": "A"}]},
            "market_data.feeds[0].symbol: a journal feed carries its own symbols",
        ),
        (
            {"feeds": [{"path": "a.csv", "format": "yahoo", "bar_seconds": 60}]},
            "market_data.feeds[0].bar_seconds: only tick feeds are aggregated, format is 'yahoo'",
        ),
        (
            {"feeds": [{"path": "a.csv", "bar_seconds": 0}]},
            "market_data.feeds[0].bar_seconds: expected an integer >= 1, got 0",
        ),
        (
            {"feeds": [{"path": "a.csv", "columns": {"px": "Price"}}]},
            "market_data.feeds[0].columns: unknown role 'px'; roles are timestamp, date, time, "
            "open, high, low, close, volume, price, size, adj_close",
        ),
        (
            {"feeds": [{"path": "a.csv", "delimiter": "||"}]},
            "market_data.feeds[0].delimiter: expected one character, got '||'",
        ),
        (
            {"feeds": [{"path": "a.csv", "timezone": "Mars/Olympus"}]},
            "market_data.feeds[0].timezone: unknown time zone 'Mars/Olympus'; use 'UTC', an "
            "offset like '+05:30' or an IANA name like 'America/New_York'",
        ),
        (
            {"feeds": [{"path": "a.csv", "timestamp_format": "epoch_minutes"}]},
            "market_data.feeds[0].timestamp_format: unknown epoch unit 'epoch_minutes'; use one "
            "of epoch_s, epoch_ms, epoch_us, epoch_ns",
        ),
        (
            {"feeds": [{"path": "a.csv", "format": "xlsx"}]},
            "market_data.feeds[0].format: unknown value 'xlsx'",
        ),
        (
            {"feeds": [{"path": "a.csv"}, {"path": "other/a.csv"}]},
            "market_data.feeds[1].name: feed name 'a.csv' is already used by feeds[0]; set a "
            "distinct name",
        ),
        (
            {"feeds": [{"format": "synthetic", "synthetic": {"symbols": ["A", "A"]}}]},
            "market_data.feeds[0].synthetic.symbols: listed twice in ['A', 'A']",
        ),
        (
            {"feeds": [{"format": "synthetic", "synthetic": {"tick_size": Decimal(0)}}]},
            "market_data.feeds[0].synthetic.tick_size: expected a number > 0, got 0",
        ),
        (
            {"feeds": [{"format": "synthetic", "synthetic": {"start": "tomorrow"}}]},
            "market_data.feeds[0].synthetic.start: expected an ISO timestamp, got 'tomorrow'",
        ),
        ({"speed": -1}, "market_data.speed: expected a number >= 0, got -1"),
        ({"on_error": "ignore"}, "market_data.on_error: unknown value 'ignore'"),
    ],
)
def test_config_when_value_wrong_then_error_names_the_key_and_the_fix(
    section: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=rf"^{re.escape(message)}$"):
        parse_config({"market_data": section})


def test_feed_when_two_feeds_share_a_file_name_then_a_name_tells_them_apart() -> None:
    section = MarketDataConfig(
        feeds=[FeedConfig(path="a/es.csv"), FeedConfig(path="b/es.csv", name="es-b")]
    )

    assert [feed.feed_name for feed in section.feeds] == ["es.csv", "es-b"]
