"""The synthetic live feed: a seeded, timeless price path, paced on the actor's clock."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from itertools import pairwise

import anyio
import pytest

from atrium.actors.market_data import FeedStatus, SyntheticLiveFeed
from atrium.actors.market_data.live_synthetic import SyntheticWalk
from atrium.config.market_data import SyntheticLiveConfig
from atrium.runtime.clocks import LiveClock, SimClock
from atrium.runtime.messages import Tick

MS = 1_000_000


def _prices(config: SyntheticLiveConfig, count: int) -> list[tuple[str, Decimal]]:
    walk = SyntheticWalk(config)
    return [(tick.symbol, tick.price) for tick in (walk.next(0) for _ in range(count))]


# -- the walk ------------------------------------------------------------------------------


def test_walk_when_same_seed_then_same_prices_and_another_seed_differs() -> None:
    config = SyntheticLiveConfig(seed=7, volatility=20.0)

    first = _prices(config, 500)

    assert first == _prices(config, 500)
    assert first != _prices(SyntheticLiveConfig(seed=8, volatility=20.0), 500)
    assert len({price for _, price in first}) > 10  # it does move


def test_walk_when_several_symbols_then_round_robin_each_starting_at_start_price() -> None:
    config = SyntheticLiveConfig(symbols=["A", "B", "C"], start_price=Decimal("42.5"))

    walk = SyntheticWalk(config)
    ticks = [walk.next(ts) for ts in range(7)]

    assert [tick.symbol for tick in ticks] == ["A", "B", "C", "A", "B", "C", "A"]
    assert [tick.price for tick in ticks[:3]] == [Decimal("42.50")] * 3
    assert [tick.ts for tick in ticks] == list(range(7))
    assert {tick.size for tick in ticks} == {Decimal(1)}


def test_walk_when_volatility_zero_then_price_stays_at_start() -> None:
    config = SyntheticLiveConfig(volatility=0.0, size=Decimal("0.5"))
    walk = SyntheticWalk(config)

    ticks = [walk.next(0) for _ in range(100)]

    assert {tick.price for tick in ticks} == {Decimal("100.00")}
    assert {tick.size for tick in ticks} == {Decimal("0.5")}


def test_walk_when_volatility_extreme_then_prices_stay_whole_ticks_of_at_least_one_tick() -> None:
    config = SyntheticLiveConfig(volatility=5000.0, tick_size=Decimal("0.05"), rate_per_second=1.0)

    prices = [price for _, price in _prices(config, 2000)]

    assert min(prices) == Decimal("0.05")  # the walk hit the floor ...
    assert len(set(prices)) > 20  # ... and did not stay there
    assert all(price % Decimal("0.05") == 0 for price in prices)


# -- pacing --------------------------------------------------------------------------------


def _feed(config: SyntheticLiveConfig, clock: object) -> SyntheticLiveFeed:
    return SyntheticLiveFeed(config, "synthetic_live", FeedStatus(10.0), clock)  # type: ignore[arg-type]


class _WatchedClock(SimClock):
    """A SimClock that tells when the feed has sent what is due and waits for time."""

    def __init__(self, start_ns: int = 0) -> None:
        super().__init__(start_ns)
        self._asleep = anyio.Event()

    async def sleep_until(self, at_ns: int) -> None:
        self._asleep.set()
        await super().sleep_until(at_ns)

    async def feed_waits(self) -> None:
        await self._asleep.wait()
        self._asleep = anyio.Event()


async def test_run_when_sim_clock_moves_half_a_second_at_200_per_second_then_101_ticks() -> None:
    clock = _WatchedClock(start_ns=1_000 * MS)
    feed = _feed(SyntheticLiveConfig(rate_per_second=200.0), clock)
    sent: list[Tick] = []

    async def emit(tick: Tick) -> None:
        sent.append(tick)

    with anyio.fail_after(15):
        async with anyio.create_task_group() as group:
            group.start_soon(feed.run, emit)
            await clock.feed_waits()
            assert [tick.ts for tick in sent] == [1_000 * MS]  # the first tick is due at once
            assert feed.status.connected

            clock.advance_to(1_500 * MS)
            await clock.feed_waits()
            group.cancel_scope.cancel()

    # Ticks 0..100 are due at 0, 5, ..., 500 ms; the 100 that came due while the clock
    # jumped are sent at once, stamped with the clock's time.
    assert len(sent) == 101
    assert [tick.ts for tick in sent[1:]] == [1_500 * MS] * 100
    assert sent == [
        Tick(ts=tick.ts, symbol="SYN", price=price, size=Decimal(1))
        for tick, (_, price) in zip(sent, _prices(SyntheticLiveConfig(), 101), strict=True)
    ]
    assert (feed.status.connected, feed.status.messages) == (False, 101)


async def test_run_when_a_burst_falls_due_then_other_tasks_get_a_turn_every_32_ticks() -> None:
    clock = _WatchedClock(start_ns=1_000 * MS)
    feed = _feed(SyntheticLiveConfig(rate_per_second=200.0), clock)
    sent: list[Tick] = []
    seen: list[int] = []  # how many ticks were out each time another task ran

    async def emit(tick: Tick) -> None:
        sent.append(tick)

    async def other_task() -> None:
        while True:
            seen.append(len(sent))
            await anyio.lowlevel.checkpoint()

    with anyio.fail_after(15):
        async with anyio.create_task_group() as group:
            group.start_soon(feed.run, emit)
            await clock.feed_waits()
            group.start_soon(other_task)
            clock.advance_to(1_500 * MS)  # 100 ticks fall due at once
            await clock.feed_waits()
            group.cancel_scope.cancel()

    assert len(sent) == 101
    during = sorted(set(seen))
    assert during[0] <= 1 and during[-1] == 101
    assert max(b - a for a, b in pairwise(during)) <= 32


async def test_run_when_clock_jumps_past_a_second_then_backlog_dropped_and_schedule_restarts() -> (
    None
):
    clock = _WatchedClock()
    feed = _feed(SyntheticLiveConfig(rate_per_second=200.0), clock)
    sent: list[Tick] = []

    async def emit(tick: Tick) -> None:
        sent.append(tick)

    with anyio.fail_after(15):
        async with anyio.create_task_group() as group:
            group.start_soon(feed.run, emit)
            await clock.feed_waits()
            clock.advance_to(5_000 * MS)  # 5 s stall: 999 ticks overdue
            await clock.feed_waits()
            clock.advance_to(5_010 * MS)  # the new schedule: due at 5005 and 5010 ms
            await clock.feed_waits()
            group.cancel_scope.cancel()

    assert [tick.ts for tick in sent] == [0, 5_000 * MS, 5_010 * MS, 5_010 * MS]


async def test_run_when_faster_than_1000_per_second_then_sleeps_a_millisecond_and_sends_in_bursts() -> (
    None
):
    # At 4,000/s ticks fall due every 0.25 ms, less than an event loop can sleep: the
    # feed sleeps 1 ms and then sends the four that fell due, instead of spinning.
    clock = _WatchedClock(start_ns=1_000 * MS)
    feed = _feed(SyntheticLiveConfig(rate_per_second=4_000.0), clock)
    sent: list[Tick] = []
    wakes: list[int] = []
    sleep_until = clock.sleep_until

    async def watched(at_ns: int) -> None:
        wakes.append(at_ns - clock.now_ns())
        await sleep_until(at_ns)

    clock.sleep_until = watched  # type: ignore[method-assign]

    async def emit(tick: Tick) -> None:
        sent.append(tick)

    with anyio.fail_after(15):
        async with anyio.create_task_group() as group:
            group.start_soon(feed.run, emit)
            for step in range(1, 4):
                await clock.feed_waits()
                clock.advance_to(1_000 * MS + step * MS)
            await clock.feed_waits()
            group.cancel_scope.cancel()

    assert wakes == [MS] * 4  # never a shorter sleep
    # One at start, then each millisecond the four due in it.
    assert [tick.ts for tick in sent] == [1_000 * MS] + [
        (1_000 + step) * MS for step in range(1, 4) for _ in range(4)
    ]


class _Stop(Exception):
    """Ends a feed from its emit once the test has what it needs."""


class _ScriptedClock:
    """Wall time read from a script (it may step back, as after an NTP correction)."""

    def __init__(self, readings: list[int]) -> None:
        self._readings: Iterator[int] = iter(readings)

    def now_ns(self) -> int:
        return next(self._readings)

    async def sleep_until(self, at_ns: int) -> None:
        raise AssertionError("no tick waits in this script")


async def test_run_when_wall_time_steps_back_then_ticks_never_go_back() -> None:
    # 200/s: due at 0, 5, 10 ms. Start 0; tick 0 at 0; tick 1 late at 500 ms; then the
    # wall clock steps back to 10 ms, when tick 2 is due: it keeps 500 ms.
    clock = _ScriptedClock([0, 0, 500 * MS, 10 * MS])
    feed = _feed(SyntheticLiveConfig(rate_per_second=200.0), clock)
    sent: list[Tick] = []

    async def emit(tick: Tick) -> None:
        sent.append(tick)
        if len(sent) == 3:
            raise _Stop

    with anyio.fail_after(15), pytest.raises(_Stop):
        await feed.run(emit)

    assert [tick.ts for tick in sent] == [0, 500 * MS, 500 * MS]


async def test_run_when_wall_time_steps_back_far_then_schedule_restarts_without_waiting() -> None:
    # 1/s: start 10 s, tick 0 at 10 s; the clock steps back to 5 s, six seconds before
    # tick 1 is due: the schedule restarts at 5 s and tick 1 goes at once, keeping 10 s.
    second = 1_000 * MS
    clock = _ScriptedClock([10 * second, 10 * second, 5 * second, 5 * second])
    feed = _feed(SyntheticLiveConfig(rate_per_second=1.0), clock)
    sent: list[Tick] = []

    async def emit(tick: Tick) -> None:
        sent.append(tick)
        if len(sent) == 2:
            raise _Stop

    with anyio.fail_after(15), pytest.raises(_Stop):
        await feed.run(emit)

    assert [tick.ts for tick in sent] == [10 * second, 10 * second]


async def test_run_when_live_clock_at_200_per_second_for_half_a_second_then_about_100_ticks() -> (
    None
):
    feed = _feed(SyntheticLiveConfig(rate_per_second=200.0), LiveClock())
    sent: list[Tick] = []

    async def emit(tick: Tick) -> None:
        sent.append(tick)

    with anyio.move_on_after(0.5):
        await feed.run(emit)

    # At most ticks 0..100 are due in 0.5 s; a loaded machine catches up on late ones.
    assert 50 <= len(sent) <= 102
    assert [tick.ts for tick in sent] == sorted(tick.ts for tick in sent)
