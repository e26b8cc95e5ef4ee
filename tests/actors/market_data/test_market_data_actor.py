"""The market data actor in a real pipeline: replay barrier, clock, metrics, policies."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from market_data_kit import DATA, LOG, write
from prometheus_client import CollectorRegistry

from atrium.actors.market_data import MarketDataActor, Rejections, merge_feeds, open_feed
from atrium.actors.market_data.pacing import Pacer
from atrium.config.market_data import FeedConfig, MarketDataConfig, SyntheticConfig
from atrium.config.schema import AtriumConfig
from atrium.config.topology import ActorSpecConfig, TopologyConfig
from atrium.runtime.actor import Actor, ActorContext, receives
from atrium.runtime.clocks import Clock, LiveClock, SimClock
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.errors import ActorEscalation, TopologyError
from atrium.runtime.journal import Journal
from atrium.runtime.messages import Bar, Tick
from atrium.runtime.topology import Pipeline, build_pipeline


class Recorder(Actor):
    """Records every market data message with the clock and the pipeline load it saw."""

    def __init__(self, context: ActorContext) -> None:
        super().__init__(context)
        self.seen: list[tuple[int, int, Bar | Tick]] = []

    @receives(Bar)
    def _handle_bar(self, message: Bar) -> None:
        self.seen.append((self.clock.now_ns(), self.context.dispatcher.in_flight, message))

    @receives(Tick)
    def _handle_tick(self, message: Tick) -> None:
        self.seen.append((self.clock.now_ns(), self.context.dispatcher.in_flight, message))


def _pipeline(
    section: MarketDataConfig, *, clock: Clock | None = None, mode: str = "replay"
) -> Pipeline:
    topology = TopologyConfig(
        actors={
            "market_data": ActorSpecConfig(
                cls="atrium.actors.market_data:MarketDataActor", section="market_data"
            ),
            "recorder": ActorSpecConfig(
                cls="test_market_data_actor:Recorder", subscribes=["Bar", "Tick"]
            ),
        }
    )
    config = AtriumConfig(topology=topology, market_data=section)
    return build_pipeline(
        config,
        clock=clock if clock is not None else SimClock(),
        mode=mode,  # type: ignore[arg-type]
        registry=CollectorRegistry(),
    )


async def _run(pipeline: Pipeline) -> tuple[MarketDataActor, list[tuple[int, int, Bar | Tick]]]:
    await pipeline.supervisor.run(stop_when_sources_finish=True)
    source = pipeline.slots["market_data"].actor
    recorder = pipeline.slots["recorder"].actor
    assert isinstance(source, MarketDataActor) and isinstance(recorder, Recorder)
    return source, recorder.seen


def _expected(section: MarketDataConfig) -> list[Bar | Tick]:
    rejections = Rejections("skip", log=LOG)
    feeds = [
        open_feed(feed, base_dir=section.base_dir, rejections=rejections, log=LOG)
        for feed in section.feeds
    ]
    return [record for _, record in merge_feeds(feeds)]


FIVE_MINUTE = FeedConfig(path="2006-min-005.txt", symbol="ES")
SYNTHETIC = FeedConfig(
    format="synthetic",
    synthetic=SyntheticConfig(
        seed=1, symbols=["SYN"], count=300, bar_seconds=300, start="2006-01-02T09:00:00"
    ),
)


async def test_replay_when_feeds_merged_then_every_record_settles_alone_at_its_own_time() -> None:
    section = MarketDataConfig(feeds=[FIVE_MINUTE, SYNTHETIC], base_dir=str(DATA))

    source, seen = await _run(_pipeline(section))

    expected = _expected(section)
    assert len(expected) == 2142 + 300
    assert [message for _, _, message in seen] == expected
    # The clock reads each record's own timestamp while it is handled ...
    assert all(clock == message.ts for clock, _, message in seen)
    # ... and one record enters the pipeline at a time: nothing else waits beside it.
    assert {in_flight for _, in_flight, _ in seen} == {0}
    assert source.records_sent() == 2442
    assert source.progress() == (2442, 2442)
    assert source.rejected_counts() == {}


async def test_replay_when_finished_then_metrics_count_each_feed_and_its_last_timestamp() -> None:
    section = MarketDataConfig(feeds=[FIVE_MINUTE, SYNTHETIC], base_dir=str(DATA))
    pipeline = _pipeline(section)

    await _run(pipeline)

    sample = pipeline.registry.get_sample_value
    assert sample("atrium_feed_records_total", {"feed": "2006-min-005.txt"}) == 2142
    assert sample("atrium_feed_records_total", {"feed": "synthetic"}) == 300
    # 2006-01-30 17:30 UTC, the last five-minute bar; the synthetic feed's 300th bar is
    # 299 x 300 s after 2006-01-02 09:00 UTC.
    assert sample("atrium_feed_last_timestamp_seconds", {"feed": "2006-min-005.txt"}) == 1138642200
    assert sample("atrium_feed_last_timestamp_seconds", {"feed": "synthetic"}) == 1136192400 + 89700


async def test_replay_when_rows_rejected_under_skip_then_counted_in_metrics_and_summary(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "abc.csv",
        "Date,Open,High,Low,Close,Volume",
        "2024-01-02,10,11,9,10,1",
        "2024-01-03,10,11,0,10,1",
        "2024-01-04,10,11,9,10,-1",
        "2024-01-05,10,11,9,10,1",
    )
    section = MarketDataConfig(feeds=[FeedConfig(path="abc.csv")], base_dir=str(tmp_path))
    pipeline = _pipeline(section)

    source, seen = await _run(pipeline)

    assert len(seen) == 2
    assert source.rejected_counts() == {"NON_POSITIVE_PRICE": 1, "NEGATIVE_VOLUME": 1}
    sample = pipeline.registry.get_sample_value
    labels = {"feed": "abc.csv", "reason": "NEGATIVE_VOLUME"}
    assert sample("atrium_feed_records_rejected_total", labels) == 1
    assert sample("atrium_feed_records_total", {"feed": "abc.csv"}) == 2


async def test_replay_when_row_bad_under_fail_then_runtime_stops_naming_file_and_line(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "abc.csv",
        "Date,Open,High,Low,Close,Volume",
        "2024-01-02,10,11,9,10,1",
        "2024-01-03,1.5,1.2,1.1,1.3,1",
    )
    section = MarketDataConfig(
        feeds=[FeedConfig(path="abc.csv")], base_dir=str(tmp_path), on_error="fail"
    )
    pipeline = _pipeline(section)

    with pytest.raises(
        ActorEscalation,
        match=r"^actor 'market_data' stopped the runtime: abc\.csv:3: high 1\.2 is below "
        r"max\(open, close\) 1\.5$",
    ):
        await pipeline.supervisor.run(stop_when_sources_finish=True)

    recorder = pipeline.slots["recorder"].actor
    assert isinstance(recorder, Recorder)
    assert [message.ts for _, _, message in recorder.seen] == [1704153600 * 10**9]


def _overlapping(tmp_path: Path) -> None:
    header = "Datetime,Open,High,Low,Close,Volume"
    write(
        tmp_path,
        "a.csv",
        header,
        "2024-01-02T10:00:00,10,11,9,10,1",
        "2024-01-02T10:01:00,10,11,9,10,1",
    )
    write(
        tmp_path,
        "b.csv",
        header,
        "2024-01-02T10:01:00,10,11,9,10,2",
        "2024-01-02T10:02:00,10,11,9,10,2",
    )


async def test_replay_when_two_feeds_overlap_on_a_symbol_then_repeated_bar_skipped(
    tmp_path: Path,
) -> None:
    _overlapping(tmp_path)
    feeds = [FeedConfig(path="a.csv", symbol="ES"), FeedConfig(path="b.csv", symbol="ES")]
    section = MarketDataConfig(feeds=feeds, base_dir=str(tmp_path))

    source, seen = await _run(_pipeline(section))

    assert [(m.ts, m.volume) for _, _, m in seen if isinstance(m, Bar)] == [
        (1704189600 * 10**9, Decimal(1)),
        (1704189660 * 10**9, Decimal(1)),
        (1704189720 * 10**9, Decimal(2)),
    ]
    assert source.rejected_counts() == {"DUPLICATE_TIMESTAMP": 1}


async def test_replay_when_two_feeds_overlap_under_fail_then_stops_at_the_later_feeds_line(
    tmp_path: Path,
) -> None:
    _overlapping(tmp_path)
    feeds = [FeedConfig(path="a.csv", symbol="ES"), FeedConfig(path="b.csv", symbol="ES")]
    pipeline = _pipeline(MarketDataConfig(feeds=feeds, base_dir=str(tmp_path), on_error="fail"))

    with pytest.raises(
        ActorEscalation,
        match=r"^actor 'market_data' stopped the runtime: b\.csv:2: timestamp "
        r"2024-01-02T10:01:00Z repeats the previous record's; ES is in several feeds$",
    ):
        await pipeline.supervisor.run(stop_when_sources_finish=True)


async def test_replay_when_feeds_hold_distinct_symbols_then_equal_times_all_pass(
    tmp_path: Path,
) -> None:
    _overlapping(tmp_path)
    section = MarketDataConfig(
        feeds=[FeedConfig(path="a.csv"), FeedConfig(path="b.csv")], base_dir=str(tmp_path)
    )

    source, seen = await _run(_pipeline(section))

    assert [m.symbol for _, _, m in seen] == ["A", "A", "B", "B"]
    assert source.rejected_counts() == {}


async def test_replay_when_journal_of_a_replay_replayed_then_same_records_again(
    tmp_path: Path,
) -> None:
    first = _pipeline(MarketDataConfig(feeds=[FIVE_MINUTE, SYNTHETIC], base_dir=str(DATA)))
    journal = Journal(tmp_path / "journal.sqlite")
    await journal.open()
    first.dispatcher.add_tap(journal.record)
    async with anyio.create_task_group() as group:
        group.start_soon(journal.run_writer)
        _, recorded = await _run(first)
        await journal.close()

    section = MarketDataConfig(feeds=[FeedConfig(path="journal.sqlite")], base_dir=str(tmp_path))
    _, replayed = await _run(_pipeline(section))

    assert [m for _, _, m in replayed] == [m for _, _, m in recorded]
    assert len(replayed) == 2442


async def test_replay_when_a_symbol_is_behind_another_then_clock_never_goes_back(
    tmp_path: Path,
) -> None:
    write(tmp_path, "aaa.csv", "Date,Open,High,Low,Close", "2024-01-03,10,11,9,10")
    write(tmp_path, "bbb.csv", "timestamp,price,size", "2024-01-02T12:00:00,5,1")
    # Merged by time BBB comes first; listed alone in a live journal it could come later.
    pipeline = _pipeline(
        MarketDataConfig(
            feeds=[FeedConfig(path="aaa.csv"), FeedConfig(path="bbb.csv")], base_dir=str(tmp_path)
        )
    )
    clock = pipeline.clock
    assert isinstance(clock, SimClock)
    clock.advance_to(1704326400 * 10**9)  # 2024-01-04: later than both records

    _, seen = await _run(pipeline)

    assert [(now, m.symbol) for now, _, m in seen] == [
        (1704326400 * 10**9, "BBB"),
        (1704326400 * 10**9, "AAA"),
    ]


async def test_live_when_file_feed_then_records_sent_in_order_without_touching_the_clock() -> None:
    section = MarketDataConfig(feeds=[SYNTHETIC])

    source, seen = await _run(_pipeline(section, clock=LiveClock(), mode="live"))

    assert [message for _, _, message in seen] == _expected(section)
    assert all(now != message.ts for now, _, message in seen)  # wall time, not feed time
    assert source.progress() == (300, 300)


def test_replay_when_clock_is_live_then_the_pipeline_is_refused_before_it_runs() -> None:
    with pytest.raises(TopologyError, match=r"^replay needs a SimClock, got LiveClock$"):
        _pipeline(MarketDataConfig(feeds=[SYNTHETIC]), clock=LiveClock())


async def test_replay_when_no_feeds_then_finishes_at_once_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="atrium.market_data")

    source, seen = await _run(_pipeline(MarketDataConfig()))

    assert seen == []
    assert source.progress() == (0, None)
    assert [r.getMessage() for r in caplog.records if r.name == "atrium.market_data"] == [
        "no feeds configured; nothing to send"
    ]


async def test_replay_when_speed_set_then_records_still_all_delivered_in_order() -> None:
    feed = FeedConfig(format="synthetic", synthetic=SyntheticConfig(count=5, bar_seconds=1))
    # 1 s between bars at a billion times real time: nanosecond sleeps.
    section = MarketDataConfig(feeds=[feed], speed=1e9)

    _, seen = await _run(_pipeline(section))

    assert [message for _, _, message in seen] == _expected(section)


def test_actor_when_section_is_not_market_data_config_then_type_error() -> None:
    context = ActorContext(name="market_data", config={}, clock=SimClock(), dispatcher=Dispatcher())

    with pytest.raises(
        TypeError, match=r"^market_data: expected a MarketDataConfig section, got dict$"
    ):
        MarketDataActor(context)


def test_actor_when_restarted_on_the_same_registry_then_metrics_are_reused() -> None:
    registry = CollectorRegistry()
    section = MarketDataConfig(feeds=[SYNTHETIC])
    for _ in range(2):
        context = ActorContext(
            name="market_data",
            config=section,
            clock=SimClock(),
            dispatcher=Dispatcher(),
            registry=registry,
        )
        MarketDataActor(context)

    assert registry.get_sample_value("atrium_feed_records_total", {"feed": "synthetic"}) == 0


# -- pacing --------------------------------------------------------------------------------


class _FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def current(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_pacer_when_speed_two_then_sleeps_half_the_recorded_gaps() -> None:
    fake = _FakeTime()
    pacer = Pacer(2.0, now=fake.current, sleep=fake.sleep)

    await pacer.wait(0)
    await pacer.wait(4_000_000_000)  # due at 100 + 2 s
    fake.now += 0.5  # the pipeline took half a second
    await pacer.wait(6_000_000_000)  # due at 100 + 3 s, now 102.5: 0.5 s left
    fake.now += 5.0  # far behind schedule: no sleep
    await pacer.wait(8_000_000_000)

    assert fake.slept == [2.0, 0.5]


def test_pacer_when_speed_not_positive_then_value_error() -> None:
    with pytest.raises(ValueError, match=r"^speed=0\.0 must be > 0$"):
        Pacer(0.0)
