"""The market data actor with live feeds in a real pipeline: tasks, status, metrics, errors."""

from __future__ import annotations

import itertools
from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from market_data_kit import write
from prometheus_client import CollectorRegistry

from atrium.actors.market_data import MarketDataActor
from atrium.actors.market_data.live_synthetic import SyntheticWalk
from atrium.config.market_data import (
    FeedConfig,
    MarketDataConfig,
    SyntheticLiveConfig,
    WebSocketConfig,
)
from atrium.config.schema import AtriumConfig
from atrium.config.topology import ActorSpecConfig, TopologyConfig
from atrium.runtime.actor import Actor, ActorContext, receives
from atrium.runtime.clocks import Clock, LiveClock, SimClock
from atrium.runtime.dispatch import Dispatcher
from atrium.runtime.errors import ActorEscalation
from atrium.runtime.messages import Bar, Message, Tick
from atrium.runtime.topology import Pipeline, build_pipeline

LIVE = FeedConfig(
    format="synthetic_live",
    synthetic_live=SyntheticLiveConfig(rate_per_second=500.0, volatility=20.0),
)


class LiveRecorder(Actor):
    """Records every market data message it handles."""

    def __init__(self, context: ActorContext) -> None:
        super().__init__(context)
        self.seen: list[Bar | Tick] = []

    @receives(Bar)
    def _handle_bar(self, message: Bar) -> None:
        self.seen.append(message)

    @receives(Tick)
    def _handle_tick(self, message: Tick) -> None:
        self.seen.append(message)


def _pipeline(section: MarketDataConfig, *, clock: Clock, mode: str) -> Pipeline:
    topology = TopologyConfig(
        actors={
            "market_data": ActorSpecConfig(
                cls="atrium.actors.market_data:MarketDataActor", section="market_data"
            ),
            "recorder": ActorSpecConfig(
                cls="test_market_data_live_actor:LiveRecorder", subscribes=["Bar", "Tick"]
            ),
        }
    )
    return build_pipeline(
        AtriumConfig(topology=topology, market_data=section),
        clock=clock,
        mode=mode,  # type: ignore[arg-type]
        registry=CollectorRegistry(),
    )


class _Count:
    """A bus tap that fires ``event`` once ``target`` ticks were published."""

    def __init__(self, target: int) -> None:
        self.ticks = 0
        self.target = target
        self.event = anyio.Event()

    def __call__(self, message: Message) -> None:
        if isinstance(message, Tick):
            self.ticks += 1
            if self.ticks == self.target:
                self.event.set()


def _bars(tmp_path: Path) -> MarketDataConfig:
    write(
        tmp_path,
        "abc.csv",
        "Date,Open,High,Low,Close,Volume",
        "2024-01-02,10,11,9,10,1",
        "2024-01-03,10,12,9,11,1",
        "2024-01-04,11,12,10,12,1",
    )
    return MarketDataConfig(feeds=[FeedConfig(path="abc.csv"), LIVE], base_dir=str(tmp_path))


async def test_live_when_file_and_synthetic_live_feeds_then_both_sent_and_status_ready(
    tmp_path: Path,
) -> None:
    pipeline = _pipeline(_bars(tmp_path), clock=LiveClock(), mode="live")
    count = _Count(30)
    pipeline.dispatcher.add_tap(count)
    sample = pipeline.registry.get_sample_value
    labels = {"feed": "synthetic_live"}

    with anyio.fail_after(15):
        async with anyio.create_task_group() as group:
            group.start_soon(pipeline.supervisor.run)
            await count.event.wait()
            source = pipeline.slots["market_data"].actor
            assert isinstance(source, MarketDataActor)
            status = source.feed_status()
            assert list(status) == ["synthetic_live"]  # file feeds have no connection
            assert (status["synthetic_live"]["connected"], status["synthetic_live"]["ready"]) == (
                True,
                True,
            )
            assert sample("atrium_feed_connected", labels) == 1.0
            assert 0.0 <= (sample("atrium_feed_staleness_seconds", labels) or -1.0) < 10.0
            assert source.progress() == (source.records_sent(), None)  # live: no end
            pipeline.supervisor.request_stop("test done")

    recorder = pipeline.slots["recorder"].actor
    assert isinstance(recorder, LiveRecorder)
    bars = [message for message in recorder.seen if isinstance(message, Bar)]
    assert [(bar.ts, bar.close) for bar in bars] == [
        (1704153600 * 10**9, Decimal(10)),
        (1704240000 * 10**9, Decimal(11)),
        (1704326400 * 10**9, Decimal(12)),
    ]
    ticks = [message for message in recorder.seen if isinstance(message, Tick)]
    walk = SyntheticWalk(LIVE.synthetic_live or SyntheticLiveConfig())
    assert [tick.price for tick in ticks] == [walk.next(0).price for _ in ticks]
    assert all(later.ts >= earlier.ts for earlier, later in itertools.pairwise(ticks))
    assert sample("atrium_feed_records_total", {"feed": "abc.csv"}) == 3
    assert sample("atrium_feed_records_total", labels) == len(ticks)
    assert sample("atrium_feed_connected", labels) == 0.0  # stopped
    stopped = pipeline.slots["market_data"].actor
    assert isinstance(stopped, MarketDataActor)
    assert stopped.feed_status()["synthetic_live"]["ready"] is False


async def test_replay_when_a_live_feed_is_configured_then_runtime_stops_with_a_clear_error(
    tmp_path: Path,
) -> None:
    section = _bars(tmp_path)
    section = MarketDataConfig(
        feeds=[
            *section.feeds[:1],
            FeedConfig(format="websocket", websocket=WebSocketConfig(url="ws://x", symbols=["A"])),
        ],
        base_dir=section.base_dir,
    )
    pipeline = _pipeline(section, clock=SimClock(), mode="replay")

    with pytest.raises(
        ActorEscalation,
        match=r"^actor 'market_data' stopped the runtime: market_data\.feeds\[1\]\.format: "
        r"'websocket' is a live feed and cannot be replayed; record it with `atrium run` and "
        r"replay the journal$",
    ):
        await pipeline.supervisor.run(stop_when_sources_finish=True)

    recorder = pipeline.slots["recorder"].actor
    assert isinstance(recorder, LiveRecorder)
    assert recorder.seen == []  # refused before the file feed sent anything


async def test_live_when_file_feed_fails_beside_a_live_feed_then_its_own_error_stops_the_runtime(
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
        feeds=[FeedConfig(path="abc.csv"), LIVE], base_dir=str(tmp_path), on_error="fail"
    )
    pipeline = _pipeline(section, clock=LiveClock(), mode="live")

    with (
        anyio.fail_after(15),
        pytest.raises(
            ActorEscalation,
            match=r"^actor 'market_data' stopped the runtime: abc\.csv:3: high 1\.2 is below "
            r"max\(open, close\) 1\.5$",
        ),
    ):
        await pipeline.supervisor.run()


def test_actor_when_restarted_on_the_same_registry_then_live_gauges_read_the_new_status() -> None:
    registry = CollectorRegistry()
    section = MarketDataConfig(feeds=[LIVE])

    def make() -> MarketDataActor:
        context = ActorContext(
            name="market_data",
            config=section,
            clock=LiveClock(),
            dispatcher=Dispatcher(),
            registry=registry,
        )
        return MarketDataActor(context)

    first = make()
    first._statuses[0].opened()
    assert registry.get_sample_value("atrium_feed_connected", {"feed": "synthetic_live"}) == 1.0

    make()

    assert registry.get_sample_value("atrium_feed_connected", {"feed": "synthetic_live"}) == 0.0
    assert (
        registry.get_sample_value("atrium_feed_reconnects_total", {"feed": "synthetic_live"}) == 0
    )


def test_feed_status_when_only_file_feeds_then_empty() -> None:
    context = ActorContext(
        name="market_data",
        config=MarketDataConfig(feeds=[FeedConfig(path="abc.csv")]),
        clock=SimClock(),
        dispatcher=Dispatcher(),
    )

    assert MarketDataActor(context).feed_status() == {}
