"""After a restart, market data sends nothing twice and live bars go on where they were."""

from __future__ import annotations

from decimal import Decimal

from atrium.actors.market_data import MarketDataActor
from atrium.actors.market_data.live_dedup import TradeDeduplicator, Verdict
from atrium.actors.market_data.resume import Delivered
from atrium.config.market_data import FeedConfig, MarketDataConfig, WebSocketConfig
from atrium.runtime.actor import ActorContext
from atrium.runtime.clocks import LiveClock
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.messages import Bar, Tick

D = Decimal
S = 1_000_000_000
NEW, DUPLICATE = Verdict.NEW, Verdict.DUPLICATE


def _tick(ts: int, price: str = "10", size: str = "1", symbol: str = "ES") -> Tick:
    return Tick(ts=ts, symbol=symbol, price=D(price), size=D(size))


def _bar(ts: int, symbol: str = "ES") -> Bar:
    return Bar(ts=ts, symbol=symbol, open=D(1), high=D(1), low=D(1), close=D(1))


def test_resume_filter_when_feed_read_again_then_only_records_after_the_sent_ones_pass() -> None:
    delivered = Delivered()
    for record in (_tick(4), _tick(5), _tick(5), _tick(5, "11"), _bar(60), _bar(120)):
        delivered.note(record)
    again = delivered.resume_filter()

    replayed = [_tick(4), _tick(5), _tick(5), _tick(5), _tick(5, "11"), _tick(6), _bar(120)]
    passed = [record for record in replayed if not again.sent_before(record)]

    # Two prints of 10 x 1 at ts 5 were sent: a third identical one is new.
    assert passed == [_tick(5), _tick(6)]
    assert again.sent_before(_bar(180)) is False
    assert again.sent_before(_tick(1, symbol="NQ")) is False


def test_seed_when_venue_resends_from_the_start_then_only_the_unsent_trades_are_new() -> None:
    delivered = Delivered()
    for tick in (_tick(1_000), _tick(2_000), _tick(2_000, "11")):
        delivered.note(tick)
    last = delivered.last_trade("ES")
    assert last == (2_000, {(D(10), D(1)): 1, (D(11), D(1)): 1})
    dedup = TradeDeduplicator()
    dedup.seed("ES", *last)
    dedup.begin_connection()

    resend = [(1_000, "10"), (2_000, "10"), (2_000, "11"), (2_000, "11"), (3_000, "12")]
    verdicts = [dedup.admit("ES", ts, D(price), D(1)) for ts, price in resend]

    assert verdicts == [DUPLICATE, DUPLICATE, DUPLICATE, NEW, NEW]


def _live_actor() -> MarketDataActor:
    feed = FeedConfig(
        format="websocket",
        bar_seconds=10,
        websocket=WebSocketConfig(url="ws://127.0.0.1:9/ws", symbols=["ES"]),
    )
    context = ActorContext(
        name="market_data",
        config=MarketDataConfig(feeds=[feed]),
        clock=LiveClock(),
        dispatcher=Dispatcher(),
    )
    return MarketDataActor(context)


def test_restore_input_when_ticks_recorded_then_live_bar_in_progress_rebuilt() -> None:
    actor = _live_actor()
    for tick in (_tick(3 * S, "10"), _tick(12 * S, "12"), _tick(15 * S, "9")):
        actor.restore_input(tick)

    builder = actor.snapshot_state()["_builders"]["ES"]

    # The 10 s bar [10 s, 20 s) holds 12 and 9; the first tick's bar was recorded before.
    assert builder.end == 20 * S
    assert builder.flush() == Bar(
        ts=20 * S, symbol="ES", open=D(12), high=D(12), low=D(9), close=D(9), volume=D(2)
    )


def test_restore_input_when_bar_recorded_without_the_tick_that_closed_it_then_not_sent_again() -> (
    None
):
    actor = _live_actor()
    actor.restore_input(_tick(12 * S))
    # A kill after the bar was journaled, before the tick that completed it: the bar is
    # sent; the resent tick must open the next bar, not close this one a second time.
    actor.restore_input(_bar(20 * S))

    builder = actor.snapshot_state()["_builders"]["ES"]

    assert builder.end is None
    assert builder.add(_tick(21 * S)) is None
