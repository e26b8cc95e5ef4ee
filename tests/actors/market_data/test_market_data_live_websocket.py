"""The WebSocket trade-stream client against a real ``websockets`` server on loopback.

The server streams the recorded ticks of ``ticksample.csv`` as trade JSON; a scripted
connection may drop mid-stream, go silent, resend trades or send garbage.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import anyio
import msgspec
import pytest
from market_data_kit import read
from prometheus_client import CollectorRegistry
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from atrium.actors.market_data import FeedStatus, MarketDataActor, Rejections
from atrium.actors.market_data.live_websocket import WebSocketFeed, backoff_delay, subscribe_message
from atrium.config.market_data import FeedConfig, MarketDataConfig, WebSocketConfig
from atrium.runtime.actor import ActorContext
from atrium.runtime.clocks import LiveClock
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.messages import Message, Tick

#: The 135 trades of the real tick sample; trades 21 and 22 share one millisecond.
TICKS = [r for r in read("ticksample.csv", format="ticks", symbol="ES")[0] if isinstance(r, Tick)]
assert len(TICKS) == 135

LOG = logging.getLogger("atrium.market_data.test")
Script = Callable[[ServerConnection, int], Awaitable[None]]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback servers only: a proxy in the environment (CI) must not be used."""
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "*")


def trade(tick: Tick, *, trade_id: int | None = None, wrapped: bool = False) -> str:
    """``tick`` as the exchange sends it: decimal strings, trade time in ms."""
    data: dict[str, Any] = {
        "e": "trade",
        "E": tick.ts // 1_000_000 + 3,
        "s": tick.symbol,
        "p": str(tick.price),
        "q": str(tick.size),
        "T": tick.ts // 1_000_000,
    }
    if trade_id is not None:
        data["t"] = trade_id
    if wrapped:
        data = {"stream": f"{tick.symbol.lower()}@trade", "data": data}
    return msgspec.json.encode(data).decode()


class Exchange:
    """A loopback venue: records each subscribe request, then runs ``script`` per connection."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.subscriptions: list[Any] = []
        self.connections = 0

    async def handle(self, connection: ServerConnection) -> None:
        index = self.connections
        self.connections += 1
        self.subscriptions.append(msgspec.json.decode(await connection.recv()))
        await self.script(connection, index)


@asynccontextmanager
async def exchange(script: Script) -> AsyncIterator[tuple[Exchange, str]]:
    venue = Exchange(script)
    async with serve(venue.handle, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        yield venue, f"ws://127.0.0.1:{port}"


def ws_config(url: str, **settings: Any) -> WebSocketConfig:
    return WebSocketConfig(
        url=url, symbols=["ES"], **{"reconnect_initial_seconds": 0.05, **settings}
    )


class Tap:
    """Records every published tick; ``reached(n)`` fires once ``n`` have arrived."""

    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self._waits: dict[int, anyio.Event] = {}

    def __call__(self, message: Message) -> None:
        assert isinstance(message, Tick)
        self.ticks.append(message)
        event = self._waits.get(len(self.ticks))
        if event is not None:
            event.set()

    def reached(self, count: int) -> anyio.Event:
        return self._waits.setdefault(count, anyio.Event())


def live_actor(
    config: WebSocketConfig,
    registry: CollectorRegistry,
    tap: Tap,
    *,
    on_error: str = "skip",
) -> MarketDataActor:
    bus = Dispatcher()
    bus.add_tap(tap)
    section = MarketDataConfig(
        feeds=[FeedConfig(format="websocket", name="exchange", websocket=config)],
        on_error=on_error,  # type: ignore[arg-type]
    )
    context = ActorContext(
        name="market_data",
        config=section,
        clock=LiveClock(),
        dispatcher=bus,
        registry=registry,
        mode="live",
    )
    return MarketDataActor(context)


async def run_until(actor: MarketDataActor, event: anyio.Event) -> None:
    """Run the actor until ``event`` (generous limit for a loaded machine), then stop it."""
    with anyio.fail_after(15):
        async with anyio.create_task_group() as group:
            group.start_soon(actor.run)
            await event.wait()
            group.cancel_scope.cancel()


# -- reconnect, resubscribe, resend --------------------------------------------------------


@pytest.mark.parametrize(
    ("with_ids", "wrapped"),
    [(False, False), (True, True)],
    ids=["bare-trades-without-ids", "combined-stream-with-trade-ids"],
)
async def test_stream_when_dropped_mid_stream_and_resent_then_every_tick_once_in_order(
    with_ids: bool, wrapped: bool
) -> None:
    # The first connection sends trades 0..21 and is dropped without a close frame; the
    # second resends 19..21 (as exchanges do) and goes on. Trade 22 shares trade 21's
    # millisecond, so the resend ends inside a millisecond that continues afterwards.
    cut, resent = 22, 3
    registry = CollectorRegistry()
    tap = Tap()

    def message(index: int) -> str:
        return trade(TICKS[index], trade_id=1000 + index if with_ids else None, wrapped=wrapped)

    async def script(connection: ServerConnection, index: int) -> None:
        if index == 0:
            for position in range(cut):
                await connection.send(message(position))
            await tap.reached(cut).wait()  # the client has them: now drop it
            connection.transport.abort()
            return
        for position in range(cut - resent, len(TICKS)):
            await connection.send(message(position))
        await connection.wait_closed()

    async with exchange(script) as (venue, url):
        actor = live_actor(ws_config(url), registry, tap)
        await run_until(actor, tap.reached(len(TICKS)))

    assert tap.ticks == TICKS
    assert venue.subscriptions == [
        {"method": "SUBSCRIBE", "params": ["es@trade"], "id": 1},
        {"method": "SUBSCRIBE", "params": ["es@trade"], "id": 2},
    ]
    status = actor.feed_status()["exchange"]
    assert (status["reconnects"], status["duplicates"], status["messages"]) == (1, 3, 138)
    assert status["connected"] is False  # stopped
    sample = registry.get_sample_value
    assert sample("atrium_feed_reconnects_total", {"feed": "exchange"}) == 1
    assert sample("atrium_feed_duplicates_total", {"feed": "exchange"}) == 3
    assert sample("atrium_feed_records_total", {"feed": "exchange"}) == 135
    # 2015-09-23T21:00:00.238Z, the last trade's venue time.
    last = sample("atrium_feed_last_timestamp_seconds", {"feed": "exchange"})
    assert last == pytest.approx(1443042000.238, abs=1e-6)
    assert actor.rejected_counts() == {}


async def test_stream_when_venue_goes_silent_then_stale_connection_replaced() -> None:
    async def script(connection: ServerConnection, index: int) -> None:
        start = 5 * index
        for position in range(start, start + 5):
            await connection.send(trade(TICKS[position]))
        await connection.wait_closed()  # silent, but answers the closing handshake

    async with exchange(script) as (venue, url):
        tap = Tap()
        actor = live_actor(ws_config(url, stale_after_seconds=0.3), CollectorRegistry(), tap)
        await run_until(actor, tap.reached(10))

    assert tap.ticks == TICKS[:10]
    assert venue.connections == 2
    assert actor.feed_status()["exchange"]["reconnects"] == 1


async def test_stream_when_messages_malformed_then_counted_and_logged_and_stream_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="atrium.market_data")
    good = trade(TICKS[0])
    messages = [
        '{"result": null, "id": 1}',  # the subscribe reply: no trade, no problem
        good,
        "not json",
        "[1, 2]",
        '{"e": "trade", "s": "ES", "p": "abc", "q": "1", "T": 1443041862146}',
        '{"e": "trade", "s": "ES", "p": "3066.00", "q": "1"}',
        '{"e": "trade", "s": "ES", "p": "-1", "q": "1", "T": 1443041862147}',
        '{"e": "trade", "s": "ES", "p": "NaN", "q": "1", "T": 1443041862147}',
        '{"e": "trade", "s": "ES", "p": "3066", "q": "-2", "T": 1443041862147}',
        '{"e": "24hrTicker", "s": "ES"}',  # another event: not a trade, not an error
        '{"error": {"code": 2, "msg": "Invalid request"}, "id": 7}',
        trade(TICKS[1]),
    ]

    async def script(connection: ServerConnection, index: int) -> None:
        for text in messages:
            await connection.send(text)
        await connection.wait_closed()

    registry = CollectorRegistry()
    async with exchange(script) as (_, url):
        # on_error = "fail" stops file feeds; a live feed skips regardless.
        tap = Tap()
        actor = live_actor(ws_config(url), registry, tap, on_error="fail")
        await run_until(actor, tap.reached(2))

    assert tap.ticks == TICKS[:2]
    assert actor.rejected_counts() == {
        "UNPARSEABLE": 4,
        "NON_POSITIVE_PRICE": 1,
        "NON_FINITE_PRICE": 1,
        "NEGATIVE_VOLUME": 1,
    }
    labels = {"feed": "exchange", "reason": "UNPARSEABLE"}
    assert registry.get_sample_value("atrium_feed_records_rejected_total", labels) == 4
    status = actor.feed_status()["exchange"]
    assert (status["messages"], status["reconnects"]) == (12, 0)
    logged = [r.getMessage() for r in caplog.records if r.name == "atrium.market_data"]
    assert logged[:7] == [
        "exchange message 3: message is not JSON: JSON is malformed: invalid character "
        "(byte 4) (UNPARSEABLE); row skipped",
        "exchange message 4: expected a JSON object, got list (UNPARSEABLE); row skipped",
        "exchange message 5: field p: expected a decimal number, got 'abc' (UNPARSEABLE); "
        "row skipped",
        "exchange message 6: field T is missing (UNPARSEABLE); row skipped",
        "exchange message 7: price -1 is not > 0 (NON_POSITIVE_PRICE); row skipped",
        "exchange message 8: price NaN is not finite (NON_FINITE_PRICE); row skipped",
        "exchange message 9: size -2 is negative (NEGATIVE_VOLUME); row skipped",
    ]
    assert "feed exchange: venue error {'code': 2, 'msg': 'Invalid request'} (request id 7)" in (
        logged
    )


# -- backoff -------------------------------------------------------------------------------


def test_backoff_delay_when_attempts_grow_then_doubles_from_initial_up_to_max() -> None:
    assert [backoff_delay(attempt, 0.5, 30.0) for attempt in range(8)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        30.0,
        30.0,
    ]
    assert backoff_delay(10_000, 0.5, 30.0) == 30.0  # no float overflow after a long outage


class _Stop(Exception):
    """Ends a feed from its sleep once the test has seen enough waits."""


class _Sleeps:
    def __init__(self, limit: int) -> None:
        self.delays: list[float] = []
        self._limit = limit

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if len(self.delays) == self._limit:
            raise _Stop
        await anyio.lowlevel.checkpoint()


def _feed(config: WebSocketConfig, sleeps: _Sleeps) -> WebSocketFeed:
    rejections = Rejections("skip", log=LOG)
    return WebSocketFeed(config, "exchange", FeedStatus(10.0), rejections, LOG, sleep=sleeps)


async def _ignore(tick: Tick) -> None:
    del tick


async def test_client_when_venue_unreachable_then_waits_grow_exponentially() -> None:
    with anyio.fail_after(15):
        async with exchange(_never_called) as (_, url):
            pass  # the server is closed again: its port now refuses connections
        sleeps = _Sleeps(limit=5)
        feed = _feed(ws_config(url, reconnect_initial_seconds=0.5, reconnect_max_seconds=4), sleeps)
        with pytest.raises(_Stop):
            await feed.run(_ignore)

    assert sleeps.delays == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert (feed.status.connected, feed.status.reconnects) == (False, 0)


async def _never_called(connection: ServerConnection, index: int) -> None:
    raise AssertionError("no connection expected")


async def test_client_when_a_connection_delivers_a_trade_then_backoff_starts_over() -> None:
    async def script(connection: ServerConnection, index: int) -> None:
        if index == 2:
            await connection.send(trade(TICKS[0]))
        await connection.close()

    sleeps = _Sleeps(limit=4)
    with anyio.fail_after(15):
        async with exchange(script) as (venue, url):
            feed = _feed(ws_config(url, reconnect_initial_seconds=0.5), sleeps)
            with pytest.raises(_Stop):
                await feed.run(_ignore)

    # Closed at once, closed at once, one trade then closed, closed at once.
    assert sleeps.delays == [0.5, 1.0, 0.5, 1.0]
    assert venue.connections == 4
    assert feed.status.reconnects == 3


# -- the subscribe message -----------------------------------------------------------------


def test_subscribe_message_when_custom_method_and_stream_format_then_lower_case_streams() -> None:
    config = WebSocketConfig(
        url="wss://venue.example/ws",
        symbols=["BTCUSDT", "EthUsdt"],
        subscribe_method="subscribe",
        stream_format="trade.{symbol}",
    )

    assert subscribe_message(config, 3) == (
        '{"method":"subscribe","params":["trade.btcusdt","trade.ethusdt"],"id":3}'
    )


async def test_client_when_subscribe_off_then_sends_nothing_and_still_streams() -> None:
    received: list[str] = []

    async def handle(connection: ServerConnection) -> None:
        await connection.send(trade(TICKS[0], wrapped=True))
        # A subscribe would be sent before the client reads anything, so it would come
        # before the close that ends this wait.
        with contextlib.suppress(ConnectionClosed):
            received.append(str(await connection.recv()))

    got: list[Tick] = []
    arrived = anyio.Event()

    async def emit(tick: Tick) -> None:
        got.append(tick)
        arrived.set()

    async with serve(handle, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        feed = _feed(ws_config(f"ws://127.0.0.1:{port}", subscribe=False), _Sleeps(limit=1))
        with anyio.fail_after(15):
            async with anyio.create_task_group() as group:
                group.start_soon(feed.run, emit)
                await arrived.wait()
                group.cancel_scope.cancel()

    assert got == [TICKS[0]]
    assert received == []
    assert got[0].price == Decimal("3067.00")
