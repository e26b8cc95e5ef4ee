"""The ccxt trade feed through real ccxt (and ccxt.pro) against the Binance simulator.

The simulator serves the REST subset and the public trade stream ``watch_trades`` uses;
nothing of ccxt is mocked. Prices and sizes are chosen so a float round-trip would
change them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
import pytest
from venue_sim import VenueSim, serving

from atrium.actors.market_data import FeedStatus, Rejections
from atrium.actors.market_data.live_ccxt import CcxtTradeFeed, parse_trade
from atrium.actors.market_data.live_trades import Trade
from atrium.actors.market_data.resume import Delivered
from atrium.config import ConfigError, parse_config
from atrium.config.market_data import CcxtFeedConfig
from atrium.errors import AtriumError
from atrium.runtime.messages import Tick

LOG = logging.getLogger("atrium.market_data.test")
MS = 1_000_000


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback servers only: a proxy in the environment (CI) must not be used."""
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "*")


@pytest.fixture
async def sim() -> AsyncIterator[tuple[VenueSim, str]]:
    venue = VenueSim()
    venue.add_market("BTC", "USDT")
    venue.add_market("ETH", "USDT")
    async with serving(venue) as url:
        yield venue, url


class Running:
    """A feed running in a task group, and what it emitted."""

    def __init__(self, feed: CcxtTradeFeed, rejections: Rejections) -> None:
        self.feed = feed
        self.rejections = rejections
        self.ticks: list[Tick] = []

    async def emit(self, tick: Tick) -> None:
        self.ticks.append(tick)

    async def until(self, done: Callable[[], bool], seconds: float = 5.0) -> None:
        with anyio.fail_after(seconds):
            while not done():
                await anyio.sleep(0.01)


@asynccontextmanager
async def running(url: str, **settings: Any) -> AsyncIterator[Running]:
    values: dict[str, Any] = {"symbols": ["BTCUSDT"], "reconnect_initial_seconds": 0.05, **settings}
    config = CcxtFeedConfig(exchange="binance", base_url=url, **values)
    rejections = Rejections("skip", log=LOG)
    feed = CcxtTradeFeed(config, "ccxt", FeedStatus(config.stale_after_seconds), rejections, LOG)
    run = Running(feed, rejections)
    async with anyio.create_task_group() as group:
        group.start_soon(feed.run, run.emit)
        yield run
        group.cancel_scope.cancel()


async def subscribed(venue: VenueSim, run: Running) -> None:
    await run.until(lambda: venue.trade_streams == 1 and run.feed.status.connected)


def tick(symbol: str, ms: int, price: str, size: str) -> Tick:
    return Tick(ts=ms * MS, symbol=symbol, price=Decimal(price), size=Decimal(size))


def test_chosen_values_when_sent_through_a_float_then_they_change() -> None:
    """What the exact path protects: these prints are not floats."""
    assert Decimal(float("43210.12")) != Decimal("43210.12")
    assert Decimal(float("0.00123")) != Decimal("0.00123")


async def test_feed_when_trades_stream_then_exact_decimal_ticks_under_the_configured_symbols(
    sim: tuple[VenueSim, str],
) -> None:
    venue, url = sim
    async with running(url, symbols=["BTCUSDT", "ETH/USDT"]) as run:
        await subscribed(venue, run)
        venue.push_trade("BTCUSDT", "43210.12", "0.00123", time=1_700_000_000_100)
        venue.push_trade("ETHUSDT", "2345.67000000", "1.10000000", time=1_700_000_000_200)
        await run.until(lambda: len(run.ticks) == 2)
    assert run.ticks == [
        tick("BTCUSDT", 1_700_000_000_100, "43210.12", "0.00123"),
        tick("ETH/USDT", 1_700_000_000_200, "2345.67", "1.1"),
    ]
    assert [str(t.price) for t in run.ticks] == ["43210.12", "2345.67000000"]  # the text as sent
    assert run.feed.status.messages == 3  # the subscribe reply and two trades


async def test_feed_when_stream_dropped_and_trade_resent_then_resubscribes_and_delivers_once(
    sim: tuple[VenueSim, str],
) -> None:
    venue, url = sim
    venue.resend_trades = 1  # each new subscription first gets the last trade again
    async with running(url) as run:
        await subscribed(venue, run)
        venue.push_trade("BTCUSDT", "43210.12", "0.00123", time=1_700_000_000_100)
        await run.until(lambda: len(run.ticks) == 1)
        await venue.drop_trade_streams()
        await run.until(lambda: run.feed.status.reconnects == 1)
        await subscribed(venue, run)
        await run.until(lambda: run.feed.status.duplicates == 1)  # the resend, dropped
        venue.push_trade("BTCUSDT", "43210.13", "0.5", time=1_700_000_000_200)
        await run.until(lambda: len(run.ticks) == 2)
    assert run.ticks == [
        tick("BTCUSDT", 1_700_000_000_100, "43210.12", "0.00123"),
        tick("BTCUSDT", 1_700_000_000_200, "43210.13", "0.5"),
    ]
    assert (run.feed.status.reconnects, run.feed.status.duplicates) == (1, 1)


async def test_feed_when_stream_goes_silent_then_reconnected_after_stale_after_seconds(
    sim: tuple[VenueSim, str],
) -> None:
    venue, url = sim
    async with running(url, stale_after_seconds=0.4) as run:
        await subscribed(venue, run)
        venue.push_trade("BTCUSDT", "43210.12", "0.00123", time=1_700_000_000_100)
        await run.until(lambda: len(run.ticks) == 1)
        venue.silent = True  # open, but nothing comes: no trade, no pong
        start = anyio.current_time()
        await run.until(lambda: run.feed.status.reconnects == 1)
        waited = anyio.current_time() - start
        venue.silent = False
        await subscribed(venue, run)
        venue.push_trade("BTCUSDT", "43210.14", "0.002", time=1_700_000_000_300)
        await run.until(lambda: len(run.ticks) == 2)
    assert 0.4 <= waited < 2.0
    assert run.ticks[1] == tick("BTCUSDT", 1_700_000_000_300, "43210.14", "0.002")


async def test_feed_when_resumed_after_a_restart_then_the_venue_resend_is_not_sent_again(
    sim: tuple[VenueSim, str],
) -> None:
    venue, url = sim
    venue.resend_trades = 2
    venue.push_trade("BTCUSDT", "43210.12", "0.00123", time=1_700_000_000_100)
    venue.push_trade("BTCUSDT", "43210.13", "0.5", time=1_700_000_000_200)
    delivered = Delivered()  # what the previous life sent: the first of the two
    delivered.note(tick("BTCUSDT", 1_700_000_000_100, "43210.12", "0.00123"))
    config = CcxtFeedConfig(exchange="binance", symbols=["BTCUSDT"], base_url=url)
    rejections = Rejections("skip", log=LOG)
    feed = CcxtTradeFeed(config, "ccxt", FeedStatus(30.0), rejections, LOG)
    feed.resume(delivered)
    run = Running(feed, rejections)
    async with anyio.create_task_group() as group:
        group.start_soon(feed.run, run.emit)
        await run.until(lambda: len(run.ticks) == 1 and feed.status.duplicates == 1)
        group.cancel_scope.cancel()
    assert run.ticks == [tick("BTCUSDT", 1_700_000_000_200, "43210.13", "0.5")]


async def test_feed_when_trades_malformed_then_counted_logged_skipped_and_stream_goes_on(
    sim: tuple[VenueSim, str], caplog: pytest.LogCaptureFixture
) -> None:
    venue, url = sim
    caplog.set_level(logging.WARNING, LOG.name)
    async with running(url) as run:
        await subscribed(venue, run)
        venue.push_trade("BTCUSDT", "-5", "0.1", time=1_700_000_000_100)
        venue.push_raw({"e": "trade", "s": "BTCUSDT", "t": 2, "q": "0.1", "T": 1_700_000_000_200})
        # ccxt's own parser raises on this one (Precise("abc")), inside its receive loop
        venue.push_raw({"e": "trade", "s": "BTCUSDT", "t": 3, "p": "abc", "q": "1", "T": 5})
        venue.push_trade("BTCUSDT", "43210.12", "0.00123", time=1_700_000_000_300)
        await run.until(lambda: len(run.ticks) == 1)
    assert run.ticks == [tick("BTCUSDT", 1_700_000_000_300, "43210.12", "0.00123")]
    assert run.rejections.counts("ccxt") == {"NON_POSITIVE_PRICE": 1, "UNPARSEABLE": 2}
    assert (run.feed.status.messages, run.feed.status.reconnects) == (5, 0)  # no reconnect
    warnings = sorted(r.getMessage() for r in caplog.records if "skipped" in r.getMessage())
    assert warnings[:2] == [
        "ccxt BTCUSDT trade 1: price -5 is not > 0 (NON_POSITIVE_PRICE); row skipped",
        "ccxt BTCUSDT trade 2: field price: expected decimal text, got None (UNPARSEABLE); "
        "row skipped",
    ]
    # the 4th message of the feed (the 1st is the subscribe reply)
    assert warnings[2].startswith("ccxt message 4: ccxt cannot parse it: ValueError: ")
    assert len(warnings) == 3


async def test_feed_when_polling_then_each_trade_once_though_every_poll_lists_it_again(
    sim: tuple[VenueSim, str],
) -> None:
    venue, url = sim
    venue.push_trade("BTCUSDT", "43210.12", "0.00123", time=1_700_000_000_100)
    async with running(url, mode="polling", poll_interval_seconds=0.05) as run:
        await run.until(lambda: len(run.ticks) == 1)
        venue.push_trade("BTCUSDT", "43210.13", "0.5", time=1_700_000_000_200)
        await run.until(lambda: len(run.ticks) == 2)
        await run.until(lambda: run.feed.status.duplicates >= 3)  # later polls list both
    assert run.ticks == [
        tick("BTCUSDT", 1_700_000_000_100, "43210.12", "0.00123"),
        tick("BTCUSDT", 1_700_000_000_200, "43210.13", "0.5"),
    ]
    assert venue.trade_streams == 0  # REST only
    assert ("GET", "/api/v3/aggTrades") in venue.requests


async def test_feed_when_a_poll_answer_does_not_parse_then_counted_and_polled_again(
    sim: tuple[VenueSim, str],
) -> None:
    venue, url = sim
    venue.push_raw({"e": "trade", "s": "BTCUSDT", "t": 1, "p": "abc", "q": "1", "T": 5})
    async with running(
        url, mode="polling", poll_interval_seconds=0.05, reconnect_initial_seconds=0.5
    ) as run:
        await run.until(lambda: run.rejections.counts("ccxt") == {"UNPARSEABLE": 2})
        assert run.feed.status.reconnects == 1  # counted in the first session and the second
        venue.public_trades.clear()  # the venue stops listing it
        venue.push_trade("BTCUSDT", "43210.12", "0.00123", time=1_700_000_000_100)
        await run.until(lambda: len(run.ticks) == 1)
    assert run.ticks == [tick("BTCUSDT", 1_700_000_000_100, "43210.12", "0.00123")]


async def test_feed_when_venue_unreachable_then_waits_double_from_initial() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 4:
            raise anyio.get_cancelled_exc_class()

    config = CcxtFeedConfig(
        exchange="binance", symbols=["BTCUSDT"], base_url="http://127.0.0.1:9",
        reconnect_initial_seconds=0.25, reconnect_max_seconds=1.0,
    )  # fmt: skip
    status = FeedStatus(config.stale_after_seconds)
    feed = CcxtTradeFeed(config, "ccxt", status, Rejections("skip", log=LOG), LOG, sleep=sleep)

    async def emit(tick: Tick) -> None:
        raise AssertionError(tick)

    with pytest.raises(anyio.get_cancelled_exc_class()):
        await feed.run(emit)
    assert waits == [0.25, 0.5, 1.0, 1.0]
    assert (status.connected, status.reconnects) == (False, 0)


async def test_feed_when_symbol_not_a_market_then_error_names_the_field(
    sim: tuple[VenueSim, str],
) -> None:
    _, url = sim
    config = CcxtFeedConfig(exchange="binance", symbols=["DOGE/USDT"], base_url=url)
    feed = CcxtTradeFeed(config, "ccxt", FeedStatus(1.0), Rejections("skip", log=LOG), LOG)

    async def emit(tick: Tick) -> None:
        raise AssertionError(tick)

    with pytest.raises(AtriumError) as raised:
        await feed.run(emit)
    assert str(raised.value) == (
        "market_data.feeds.ccxt.symbols: 'DOGE/USDT' is not a market of binance"
    )


async def test_feed_when_exchange_unknown_then_error_names_the_field() -> None:
    config = CcxtFeedConfig(exchange="nosuchvenue", symbols=["BTC/USDT"])
    feed = CcxtTradeFeed(config, "ccxt", FeedStatus(1.0), Rejections("skip", log=LOG), LOG)

    async def emit(tick: Tick) -> None:
        raise AssertionError(tick)

    with pytest.raises(AtriumError) as raised:
        await feed.run(emit)
    assert str(raised.value) == (
        "market_data.feeds.ccxt.exchange: 'nosuchvenue' is not a ccxt exchange id"
    )


@pytest.mark.parametrize(
    ("trade", "expected"),
    [
        (
            {"price": "43210.12", "amount": "0.00123", "timestamp": 1_700_000_000_100, "id": "7"},
            Trade("BTCUSDT", 1_700_000_000_100 * MS, Decimal("43210.12"), Decimal("0.00123"), 7),
        ),
        (
            {"price": "1", "amount": "2", "timestamp": 5, "id": "a-7"},
            Trade("BTCUSDT", 5 * MS, Decimal(1), Decimal(2), None),
        ),
        (
            {"price": 43210.12, "amount": "1", "timestamp": 5},
            ("UNPARSEABLE", "field price: expected decimal text, got 43210.12"),
        ),
        (
            {"price": "1", "amount": "x", "timestamp": 5},
            ("UNPARSEABLE", "field amount: expected decimal text, got 'x'"),
        ),
        (
            {"price": "1", "amount": "1", "timestamp": None},
            ("UNPARSEABLE", "field timestamp: expected integer milliseconds, got None"),
        ),
        ({"price": "1", "amount": "-1", "timestamp": 5}, ("NEGATIVE_VOLUME", "size -1 is negative")),
        ({"price": "NaN", "amount": "1", "timestamp": 5}, ("NON_FINITE_PRICE", "price NaN is not finite")),
    ],
)  # fmt: skip
def test_parse_trade_when_given_ccxt_trade_then_exact_trade_or_reason(
    trade: dict[str, Any], expected: Trade | tuple[str, str]
) -> None:
    assert parse_trade(trade, "BTCUSDT") == expected


_CCXT = {"exchange": "binance", "symbols": ["BTC/USDT"]}


@pytest.mark.parametrize(
    ("feed", "message"),
    [
        ({"format": "ccxt"},
         "ccxt: required for format = 'ccxt' (a table with exchange and symbols)"),
        ({"format": "websocket", "ccxt": _CCXT}, "ccxt: only for format = 'ccxt'"),
        ({"format": "ccxt", "ccxt": {**_CCXT, "exchange": "Binance!"}},
         "ccxt.exchange: expected a ccxt exchange id such as 'binance', got 'Binance!'"),
        ({"format": "ccxt", "ccxt": {**_CCXT, "symbols": []}},
         "ccxt.symbols: list at least one symbol"),
        ({"format": "ccxt", "ccxt": {**_CCXT, "base_url": "ws://h"}},
         "ccxt.base_url: expected an http:// or https:// origin, got 'ws://h'"),
        ({"format": "ccxt", "ccxt": {**_CCXT, "mode": "fix"}},
         "ccxt.mode: unknown value 'fix'"),
        ({"format": "ccxt", "ccxt": {**_CCXT, "reconnect_initial_seconds": 5,
                                     "reconnect_max_seconds": 1}},
         "ccxt.reconnect_max_seconds: 1 is below reconnect_initial_seconds 5"),
    ],
)  # fmt: skip
def test_config_when_ccxt_feed_malformed_then_error_names_field_and_problem(
    feed: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=rf"^{re.escape('market_data.feeds[0].' + message)}$"):
        parse_config({"market_data": {"feeds": [feed]}})


def test_config_when_ccxt_feed_given_then_live_with_its_symbols_and_staleness() -> None:
    section = {"feeds": [{"format": "ccxt", "ccxt": {**_CCXT, "stale_after_seconds": 45}}]}
    (feed,) = parse_config({"market_data": section}).market_data.feeds
    assert (feed.is_live, feed.live_symbols, feed.stale_after_seconds) == (
        True,
        ("BTC/USDT",),
        45.0,
    )
    assert feed.feed_name == "ccxt"
