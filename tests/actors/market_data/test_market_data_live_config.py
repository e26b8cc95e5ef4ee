"""Live feed config: the TOML tables, defaults, stale limits, errors naming the key."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from atrium.config import ConfigError, load_config, parse_config
from atrium.config.market_data import (
    FeedConfig,
    MarketDataConfig,
    SyntheticLiveConfig,
    WebSocketConfig,
)


def test_toml_when_live_tables_inline_then_typed_values_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "atrium.toml"
    path.write_text(
        """
[[market_data.feeds]]
format = "synthetic_live"
synthetic_live = { seed = 1, symbols = ["SYN"], rate_per_second = 50.0, start_price = 100, volatility = 0.2, tick_size = 0.01, size = 1 }

[[market_data.feeds]]
format = "websocket"
name = "binance"
websocket = { url = "wss://stream.binance.com:9443/ws", symbols = ["BTCUSDT"] }
""",
        encoding="utf-8",
    )

    synthetic, websocket = load_config(path).market_data.feeds

    assert synthetic.synthetic_live == SyntheticLiveConfig()
    assert (synthetic.feed_name, synthetic.is_live, synthetic.live_symbols) == (
        "synthetic_live",
        True,
        ("SYN",),
    )
    assert websocket.websocket == WebSocketConfig(
        url="wss://stream.binance.com:9443/ws",
        symbols=["BTCUSDT"],
        subscribe=True,
        subscribe_method="SUBSCRIBE",
        stream_format="{symbol}@trade",
        reconnect_initial_seconds=0.5,
        reconnect_max_seconds=30.0,
        stale_after_seconds=10.0,
        ping_interval_seconds=20.0,
        connect_timeout_seconds=10.0,
    )
    assert websocket.websocket.streams() == ["btcusdt@trade"]


def test_synthetic_live_when_defaults_then_the_documented_values() -> None:
    config = SyntheticLiveConfig()

    assert (config.seed, config.symbols, config.rate_per_second, config.volatility) == (
        1,
        ["SYN"],
        50.0,
        0.2,
    )
    assert (config.start_price, config.tick_size, config.size) == (
        Decimal(100),
        Decimal("0.01"),
        Decimal(1),
    )


@pytest.mark.parametrize(
    ("feed", "seconds"),
    [
        (FeedConfig(format="synthetic_live"), 10.0),  # 10 intervals are 0.2 s: the 10 s floor
        (
            FeedConfig(
                format="synthetic_live", synthetic_live=SyntheticLiveConfig(rate_per_second=0.5)
            ),
            20.0,  # 10 intervals of 2 s
        ),
        (
            FeedConfig(
                format="websocket",
                websocket=WebSocketConfig(url="ws://h", symbols=["A"], stale_after_seconds=3),
            ),
            3.0,
        ),
        (FeedConfig(path="abc.csv"), None),
    ],
    ids=["synthetic-fast", "synthetic-slow", "websocket", "file"],
)
def test_stale_after_when_feed_kinds_differ_then_each_its_own_limit(
    feed: FeedConfig, seconds: float | None
) -> None:
    assert feed.stale_after_seconds == seconds


def test_check_replayable_when_only_file_feeds_then_passes() -> None:
    section = MarketDataConfig(feeds=[FeedConfig(path="abc.csv"), FeedConfig(format="synthetic")])

    section.check_replayable()  # no error


def test_check_replayable_when_live_feed_then_names_it_and_the_way_to_replay() -> None:
    section = MarketDataConfig(
        feeds=[FeedConfig(path="abc.csv"), FeedConfig(format="synthetic_live")]
    )

    with pytest.raises(
        ValueError,
        match=r"^feeds\[1\]\.format: 'synthetic_live' is a live feed and cannot be replayed; "
        r"record it with `atrium run` and replay the journal$",
    ):
        section.check_replayable()


_WS = {"url": "ws://127.0.0.1:9000", "symbols": ["BTCUSDT"]}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"feeds": [{"format": "websocket"}]},
            "market_data.feeds[0].websocket: required for format = 'websocket' (a table with "
            "url and symbols)",
        ),
        (
            {"feeds": [{"format": "websocket", "websocket": {"symbols": ["A"]}}]},
            "market_data.feeds[0].websocket.url: required key is missing",
        ),
        (
            {"feeds": [{"format": "websocket", "websocket": {**_WS, "url": "https://h/ws"}}]},
            "market_data.feeds[0].websocket.url: expected a ws:// or wss:// address, got "
            "'https://h/ws'",
        ),
        (
            {"feeds": [{"format": "websocket", "websocket": {**_WS, "symbols": []}}]},
            "market_data.feeds[0].websocket.symbols: list at least one symbol",
        ),
        (
            {"feeds": [{"format": "websocket", "websocket": {**_WS, "stream_format": "{s}@t"}}]},
            "market_data.feeds[0].websocket.stream_format: '{s}@t' may contain only the field "
            "{symbol}",
        ),
        (
            {"feeds": [{"format": "websocket", "websocket": {**_WS, "stream_format": "trades"}}]},
            "market_data.feeds[0].websocket.stream_format: 'trades' must contain {symbol}",
        ),
        (
            {"feeds": [{"format": "websocket", "websocket": {**_WS, "subscribe_method": ""}}]},
            "market_data.feeds[0].websocket.subscribe_method: must be a non-empty string",
        ),
        (
            {
                "feeds": [
                    {"format": "websocket", "websocket": {**_WS, "reconnect_max_seconds": 0.25}}
                ]
            },
            "market_data.feeds[0].websocket.reconnect_max_seconds: 0.25 is below "
            "reconnect_initial_seconds 0.5",
        ),
        (
            {"feeds": [{"format": "websocket", "websocket": {**_WS, "stale_after_seconds": 0}}]},
            "market_data.feeds[0].websocket.stale_after_seconds: expected a number > 0, got 0",
        ),
        (
            {"feeds": [{"format": "websocket", "websocket": {**_WS, "ping": 5}}]},
            "market_data.feeds[0].websocket.ping: unknown key (check the spelling)",
        ),
        (
            {"feeds": [{"format": "synthetic_live", "path": "a.csv"}]},
            "market_data.feeds[0].path: a synthetic_live feed reads no file, got 'a.csv'",
        ),
        (
            {"feeds": [{"format": "synthetic_live", "symbol": "A"}]},
            "market_data.feeds[0].symbol: a synthetic_live feed carries its own symbols",
        ),
        (
            {"feeds": [{"format": "synthetic", "synthetic_live": {"seed": 2}}]},
            "market_data.feeds[0].synthetic_live: only for format = 'synthetic_live'",
        ),
        (
            {"feeds": [{"path": "a.csv", "websocket": _WS}]},
            "market_data.feeds[0].websocket: only for format = 'websocket'",
        ),
        (
            {"feeds": [{"format": "synthetic_live", "synthetic_live": {"rate_per_second": 0}}]},
            "market_data.feeds[0].synthetic_live.rate_per_second: expected a number > 0, got 0",
        ),
        (
            {"feeds": [{"format": "synthetic_live", "synthetic_live": {"size": Decimal(0)}}]},
            "market_data.feeds[0].synthetic_live.size: expected a number > 0, got 0",
        ),
        (
            {"feeds": [{"format": "synthetic_live", "synthetic_live": {"volatility": -1}}]},
            "market_data.feeds[0].synthetic_live.volatility: expected a number >= 0, got -1",
        ),
        (
            {
                "feeds": [
                    {"format": "synthetic_live", "synthetic_live": {"symbols": ["BTCUSDT"]}},
                    {"format": "websocket", "websocket": {**_WS, "symbols": ["btcusdt"]}},
                ]
            },
            "market_data.feeds[1].websocket.symbols: 'btcusdt' also comes from feeds[0]; each "
            "symbol may come from one live feed only",
        ),
        (
            {"feeds": [{"format": "synthetic_live"}, {"format": "synthetic_live"}]},
            "market_data.feeds[1].name: feed name 'synthetic_live' is already used by "
            "feeds[0]; set a distinct name",
        ),
    ],
)
def test_config_when_live_value_wrong_then_error_names_the_key_and_the_fix(
    section: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=rf"^{re.escape(message)}$"):
        parse_config({"market_data": section})
