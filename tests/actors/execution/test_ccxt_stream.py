"""The ccxt venue's order-update websocket through real ccxt.pro against the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import anyio
import pytest
from prometheus_client import CollectorRegistry
from venue_sim import VenueSim, serving

from atrium.actors.execution.adapter import (
    VenueAccepted,
    VenueCancelled,
    VenueEvent,
    VenueFilled,
)
from atrium.actors.execution.ccxt_adapter import CcxtVenue
from atrium.config.execution import CcxtVenueConfig, ExecutionConfig
from atrium.runtime.messages import Order


@pytest.fixture
async def sim() -> AsyncIterator[tuple[VenueSim, str]]:
    venue = VenueSim(balances={"USDT": Decimal(10_000), "BTC": Decimal(0)})
    venue.add_market("BTC", "USDT")
    async with serving(venue) as url:
        yield venue, url


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATRIUM_CCXT_API_KEY", "sim-key")
    monkeypatch.setenv("ATRIUM_CCXT_SECRET", "sim-secret")


class Session:
    """A streaming venue (no REST check within a test) and what it reported, by source."""

    def __init__(self, url: str, **settings: Any) -> None:
        values: dict[str, Any] = {"poll_interval_s": 0.05, "check_interval_s": 3600, **settings}
        ccxt = CcxtVenueConfig(
            exchange="binance", base_url=url, order_updates="websocket", **values
        )
        self.reports: list[tuple[str, VenueEvent]] = []
        self.registry = CollectorRegistry()
        self.venue = CcxtVenue(ExecutionConfig(venue="ccxt", ccxt=ccxt), lambda _: None)

        async def run_input(apply: Any) -> None:
            apply()

        def report(events: list[VenueEvent], source: str) -> None:
            self.reports.extend((source, event) for event in events)

        self.venue.bind_input(run_input, self.registry, report)

    @property
    def events(self) -> list[VenueEvent]:
        return [event for _, event in self.reports]

    async def start(self, state: VenueSim) -> None:
        await self.venue.connect()
        await self.venue.go_live()
        await self.until(lambda: state.streams == 1)

    async def place(self, order_id: str) -> None:
        """A limit buy of 0.5 at 99, acknowledged."""
        order = Order(
            ts=1, order_id=order_id, intent_id="I1", strategy="s1", side="BUY",
            quantity=Decimal("0.5"), reference_price=Decimal(100), reduces_position=False,
            symbol="BTC/USDT", order_type="LIMIT", limit_price=Decimal(99),
        )  # fmt: skip
        self.venue.submit(order)
        await self.until(lambda: VenueAccepted(order_id=order_id) in self.events)

    async def until(self, done: Any, seconds: float = 5) -> None:
        with anyio.fail_after(seconds):
            while not done():
                await asyncio.sleep(0.01)

    def fills(self) -> list[tuple[str, str, Decimal, str]]:
        """(source, order id, quantity, venue fill id) of each fill booked."""
        return [
            (source, e.order_id, e.quantity, e.venue_fill_id)
            for source, e in self.reports
            if isinstance(e, VenueFilled)
        ]

    def sample(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


async def test_stream_when_order_fills_then_booked_from_the_websocket_without_a_poll(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    session = Session(url, poll_interval_s=3600)
    await session.start(state)
    await session.place("P00000101")
    polled = len([r for r in state.requests if r[1] == "/api/v3/myTrades"])
    state.fill("P00000101", "0.2", "99")
    state.fill("P00000101", "0.3", "98.5")
    await session.until(lambda: len(session.fills()) == 2)
    await session.venue.close()
    assert session.fills() == [
        ("websocket", "P00000101", Decimal("0.2"), "BTC/USDT:1"),
        ("websocket", "P00000101", Decimal("0.3"), "BTC/USDT:2"),
    ]
    assert [e for e in session.events if isinstance(e, VenueFilled)][1].commission == Decimal(
        "0.02955"
    )  # 0.1 % of 0.3 x 98.5 = 29.55
    assert len([r for r in state.requests if r[1] == "/api/v3/myTrades"]) == polled  # no REST
    assert session.venue.order_status() == []
    assert session.sample("atrium_venue_stream_connected") == 0.0  # closed with the session


async def test_stream_when_closed_by_venue_then_resubscribed_and_missed_fill_booked_once(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    session = Session(url)
    await session.start(state)
    await session.place("P00000102")
    await state.drop_streams()
    state.fill("P00000102", "0.2", "99")  # while the stream is down: only REST can tell
    await session.until(lambda: len(session.fills()) == 1 and state.streams == 1)
    assert session.sample("atrium_venue_errors_total", kind="websocket") == 1.0
    await session.until(lambda: session.sample("atrium_venue_stream_connected") == 1.0)
    state.fill("P00000102", "0.3", "99")  # the new stream reports it
    await session.until(lambda: len(session.fills()) == 2)
    await session.venue.poll_once()  # the REST check finds nothing more to book
    await session.venue.close()
    assert session.fills() == [
        ("reconciliation", "P00000102", Decimal("0.2"), "BTC/USDT:1"),
        ("websocket", "P00000102", Decimal("0.3"), "BTC/USDT:2"),
    ]
    assert session.venue.errors == {"websocket": 1}
    assert session.venue.order_status() == []


async def test_stream_when_silent_past_stale_after_then_reconnected_and_missed_fill_booked(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    session = Session(url, poll_interval_s=0.2, stale_after_s=0.6)  # pings every 0.2 s
    await session.start(state)
    await session.place("P00000103")
    await asyncio.sleep(0.8)  # quiet but alive: pongs keep it fresh
    assert session.venue.errors == {}
    state.silent = True  # open, but nothing comes: no report, no pong
    state.fill("P00000103", "0.2", "99")
    await session.until(lambda: session.venue.errors.get("stale") == 1)
    state.silent = False
    await session.until(lambda: len(session.fills()) == 1)
    await session.until(lambda: session.sample("atrium_venue_stream_connected") == 1.0)
    state.fill("P00000103", "0.3", "99")
    await session.until(lambda: len(session.fills()) == 2)
    await session.venue.close()
    assert session.fills() == [
        ("reconciliation", "P00000103", Decimal("0.2"), "BTC/USDT:1"),
        ("websocket", "P00000103", Decimal("0.3"), "BTC/USDT:2"),
    ]
    assert session.venue.errors == {"stale": 1}
    assert session.sample("atrium_venue_errors_total", kind="stale") == 1.0


async def test_stream_when_reports_duplicated_and_out_of_order_then_booked_once_never_back(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    state.duplicate_reports = True  # each report twice, the copy after the next report
    session = Session(url)
    await session.start(state)
    await session.place("P00000104")  # NEW
    state.fill("P00000104", "0.2", "99")  # TRADE, then the NEW again
    await session.until(lambda: len(session.fills()) == 1)
    session.venue.cancel("P00000104", "CANCEL_REQUESTED: strategy=s1")  # CANCELED, then TRADE
    await session.until(lambda: isinstance(session.events[-1], VenueCancelled))
    await session.place("P00000105")  # NEW of another order, then the CANCELED again
    state.fill("P00000105", "0.5", "98")  # TRADE (FILLED), then that NEW again
    await session.until(lambda: len(session.fills()) == 2)
    await asyncio.sleep(0.2)  # the late copies have all arrived
    await session.venue.close()
    assert session.events[1:] == [
        VenueAccepted(order_id="P00000104"),
        VenueFilled(order_id="P00000104", quantity=Decimal("0.2"), price=Decimal("99"),
                    commission=Decimal("0.0198"), venue_fill_id="BTC/USDT:1"),
        VenueCancelled(order_id="P00000104", reason="CANCEL_REQUESTED: strategy=s1"),
        VenueAccepted(order_id="P00000105"),
        VenueFilled(order_id="P00000105", quantity=Decimal("0.5"), price=Decimal("98"),
                    commission=Decimal("0.049"), venue_fill_id="BTC/USDT:2"),
    ]  # fmt: skip
    assert session.venue.order_status() == []


async def test_connect_when_exchange_has_no_websocket_in_ccxt_pro_then_error_names_the_fix(
    sim: tuple[VenueSim, str],
) -> None:
    ccxt = CcxtVenueConfig(exchange="btcbox", base_url=sim[1], order_updates="websocket")
    venue = CcxtVenue(ExecutionConfig(venue="ccxt", ccxt=ccxt), lambda _: None)
    with pytest.raises(
        ValueError,
        match=r"^execution\.ccxt\.order_updates: 'btcbox' has no websocket API in ccxt\.pro; "
        r"set order_updates = 'polling'$",
    ):
        await venue.connect()


async def test_stream_when_dropped_again_after_working_then_backoff_starts_over(
    sim: tuple[VenueSim, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, url = sim
    session = Session(url, poll_interval_s=0.1, stale_after_s=1.0)
    await session.start(state)
    for _ in range(2):  # dropped, and the first dial after it refused: backs off more
        await state.drop_streams()
        state.fail_next(1, 503)  # the only request: the stream's dial
        await session.until(lambda: session.sample("atrium_venue_stream_connected") == 0.0)
        await session.until(lambda: session.sample("atrium_venue_stream_connected") == 1.0)
    await asyncio.sleep(1.1)  # up longer than stale_after_s: it works again
    await state.drop_streams()
    await session.until(lambda: session.venue.errors.get("websocket") == 5)
    await session.until(lambda: session.sample("atrium_venue_stream_connected") == 1.0)
    await session.venue.close()
    assert [m for m in caplog.messages if m.startswith("order stream lost")] == [
        "order stream lost (websocket): resubscribing in 0.1 s",
        "order stream lost (websocket): resubscribing in 0.2 s",
        "order stream lost (websocket): resubscribing in 0.4 s",
        "order stream lost (websocket): resubscribing in 0.8 s",
        "order stream lost (websocket): resubscribing in 0.1 s",  # from the start again
    ]
