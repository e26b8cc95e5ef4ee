"""The ccxt venue through real ccxt against the local Binance simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import anyio
import ccxt.async_support as ccxt_errors
import pytest
from venue_sim import VenueSim, serving

from atrium.actors.execution.adapter import (
    VenueAccepted,
    VenueBalances,
    VenueCancelled,
    VenueConnectionChanged,
    VenueEvent,
    VenueExpired,
    VenueFilled,
    VenueInstrument,
    VenueRejected,
)
from atrium.actors.execution.ccxt_adapter import CcxtVenue, error_kind
from atrium.config.execution import CcxtVenueConfig, ExecutionConfig
from atrium.runtime.errors import VenueUnreachable
from atrium.runtime.messages import Order, VenueHolding


@pytest.fixture
async def sim() -> AsyncIterator[tuple[VenueSim, str]]:
    venue = VenueSim(balances={"USDT": Decimal(10_000), "BTC": Decimal(0)})
    venue.add_market("BTC", "USDT")
    async with serving(venue) as url:
        yield venue, url


def _venue(url: str, events: list[VenueEvent], **settings: Any) -> CcxtVenue:
    ccxt = CcxtVenueConfig(exchange="binance", base_url=url, poll_interval_s=3600, **settings)
    return CcxtVenue(ExecutionConfig(venue="ccxt", ccxt=ccxt), events.append)


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATRIUM_CCXT_API_KEY", "sim-key")
    monkeypatch.setenv("ATRIUM_CCXT_SECRET", "sim-secret")
    monkeypatch.setenv("SIM_KEY", "sim-key-2")


def _order(order_id: str, quantity: str = "0.5", **fields: Any) -> Order:
    values: dict[str, Any] = {"symbol": "BTC/USDT", **fields}
    return Order(
        ts=1, order_id=order_id, intent_id="I1", strategy="s1", side="BUY",
        quantity=Decimal(quantity), reference_price=Decimal(100), reduces_position=False,
        **values,
    )  # fmt: skip


async def _settle(venue: CcxtVenue) -> None:
    while venue._tasks:
        await asyncio.gather(*list(venue._tasks))


async def _resting_limit(url: str, events: list[VenueEvent], order_id: str) -> CcxtVenue:
    """A connected venue holding ``order_id``: a limit buy of 0.5 at 99, sent and settled."""
    venue = _venue(url, events)
    await venue.connect()
    venue.submit(_order(order_id, order_type="LIMIT", limit_price=Decimal(99)))
    await _settle(venue)
    return venue


async def test_limit_order_when_partly_then_fully_filled_then_fills_booked_once_each(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    events: list[VenueEvent] = []
    venue = _venue(url, events, api_key_env="SIM_KEY")
    await venue.connect()
    venue.submit(_order("P00000001", order_type="LIMIT", limit_price=Decimal("100.5")))
    await _settle(venue)
    assert state.order("P00000001").price == Decimal("100.5")
    state.fill("P00000001", "0.2", "100.5")
    await venue.poll_once()
    await venue.poll_once()  # nothing new: no fill twice
    assert [r.filled_quantity for r in venue.order_status()] == [Decimal("0.2")]
    state.fill("P00000001", "0.3", "100.4")
    await venue.poll_once()
    await venue.close()
    assert events == [
        VenueConnectionChanged(connected=True, detail="binance"),
        VenueAccepted(order_id="P00000001"),
        VenueFilled(order_id="P00000001", quantity=Decimal("0.2"), price=Decimal("100.5"),
                    commission=Decimal("0.0201"), venue_fill_id="BTC/USDT:1"),
        VenueFilled(order_id="P00000001", quantity=Decimal("0.3"), price=Decimal("100.4"),
                    commission=Decimal("0.03012"), venue_fill_id="BTC/USDT:2"),
    ]  # fmt: skip
    assert venue.order_status() == []


async def test_market_order_when_venue_fills_at_once_then_accepted_and_one_fill(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    state.market_price["BTCUSDT"] = Decimal("101")
    events: list[VenueEvent] = []
    venue = _venue(url, events)
    await venue.connect()
    venue.submit(_order("P00000002"))
    await _settle(venue)
    await venue.poll_once()
    await venue.close()
    assert events[1:] == [
        VenueAccepted(order_id="P00000002"),
        VenueFilled(order_id="P00000002", quantity=Decimal("0.5"), price=Decimal("101"),
                    commission=Decimal("0.0505"), venue_fill_id="BTC/USDT:1"),
    ]  # fmt: skip
    assert state.balances["BTC"] == Decimal("0.5")


async def test_cancel_when_partly_filled_then_cancelled_after_its_fill(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    events: list[VenueEvent] = []
    venue = await _resting_limit(url, events, "P00000003")
    state.fill("P00000003", "0.1", "99")
    venue.cancel("P00000003", "CANCEL_REQUESTED: strategy=s1")
    await _settle(venue)
    await venue.close()
    assert [type(e).__name__ for e in events[1:]] == [
        "VenueAccepted", "VenueFilled", "VenueCancelled",
    ]  # fmt: skip
    assert events[-1] == VenueCancelled(
        order_id="P00000003", reason="CANCEL_REQUESTED: strategy=s1"
    )
    assert state.order("P00000003").status == "CANCELED"


async def test_cancel_when_venue_trades_lag_its_status_then_cancelled_only_after_the_fill(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    events: list[VenueEvent] = []
    venue = await _resting_limit(url, events, "P00000013")
    state.fill("P00000013", "0.1", "99")
    state.hidden_trades = 1
    venue.cancel("P00000013", "CANCEL_REQUESTED: strategy=s1")
    await _settle(venue)
    assert [type(e).__name__ for e in events[1:]] == ["VenueAccepted"]
    state.hidden_trades = 0
    await venue.poll_once()
    await venue.close()
    assert [type(e).__name__ for e in events[1:]] == [
        "VenueAccepted", "VenueFilled", "VenueCancelled",
    ]  # fmt: skip
    assert events[-1] == VenueCancelled(
        order_id="P00000013", reason="CANCEL_REQUESTED: strategy=s1"
    )


async def test_order_when_venue_refuses_then_rejected_with_its_error(
    sim: tuple[VenueSim, str],
) -> None:
    _state, url = sim
    events: list[VenueEvent] = []
    venue = _venue(url, events)
    await venue.connect()
    venue.submit(_order("P00000004", symbol="ETH/USDT"))
    venue.submit(_order("P00000005", order_type="LIMIT", limit_price=Decimal(99),
                        time_in_force="DAY"))  # fmt: skip
    await _settle(venue)
    await venue.close()
    assert sorted(events[1:], key=lambda e: e.order_id) == [  # type: ignore[union-attr]
        VenueRejected(order_id="P00000004", reason="VENUE_REJECTED: error=BadSymbol detail="
                      "'binance does not have market symbol ETH/USDT'"),
        VenueRejected(order_id="P00000005",
                      reason="UNSUPPORTED_ORDER: order_type=LIMIT time_in_force=DAY"),
    ]  # fmt: skip


async def test_resend_when_venue_already_has_the_client_id_then_not_placed_twice(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    events: list[VenueEvent] = []
    first = _venue(url, [])
    await first.connect()
    first.submit(_order("P00000006", order_type="LIMIT", limit_price=Decimal(99)))
    await _settle(first)
    await first.close()  # the process dies here; the restart sends the order again
    venue = await _resting_limit(url, events, "P00000006")
    state.fill("P00000006", "0.5", "99")
    await venue.poll_once()
    await venue.close()
    assert state.created == ["P00000006"]
    assert [type(e).__name__ for e in events[1:]] == ["VenueAccepted", "VenueFilled"]


async def test_order_when_venue_expires_it_then_expired_event(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    events: list[VenueEvent] = []
    venue = await _resting_limit(url, events, "P00000007")
    state.expire("P00000007")
    await venue.poll_once()
    await venue.close()
    assert events[-1] == VenueExpired(order_id="P00000007", reason="VENUE_EXPIRED")


async def test_order_when_ack_never_comes_then_rejected_after_timeout(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    events: list[VenueEvent] = []
    venue = _venue(url, events, ack_timeout_s=1.0)
    await venue.connect()
    state.create_fault = 503  # every attempt is lost on the way
    venue.submit(_order("P00000008", order_type="LIMIT", limit_price=Decimal(99)))
    await _settle(venue)
    await venue.poll_once()  # not at the venue: sent again, lost again
    assert events[1:] == []
    await asyncio.sleep(1.05)
    await venue.poll_once()
    await venue.close()
    assert events[1:] == [VenueRejected(order_id="P00000008", reason="ACK_TIMEOUT: seconds=1")]
    assert state.created == []
    assert venue.errors == {"network": 2}


@pytest.mark.parametrize(
    ("status", "kind"), [(429, "rate_limit"), (418, "rate_limit"), (503, "network")]
)
async def test_order_when_create_answered_with_error_then_resent_and_placed_once(
    sim: tuple[VenueSim, str], status: int, kind: str
) -> None:
    state, url = sim
    events: list[VenueEvent] = []
    venue = _venue(url, events)
    await venue.connect()
    state.fail_next(1, status)
    venue.submit(_order("P00000009", order_type="LIMIT", limit_price=Decimal(99)))
    await _settle(venue)
    assert state.created == []
    await venue.poll_once()
    await venue.poll_once()
    await venue.close()
    assert state.created == ["P00000009"]
    assert events[1:] == [VenueAccepted(order_id="P00000009")]
    assert venue.errors == {kind: 1}


async def test_poll_when_venue_fails_repeatedly_then_down_then_reconciled_fill_booked_once(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    events: list[VenueEvent] = []
    ccxt = CcxtVenueConfig(exchange="binance", base_url=url, poll_interval_s=0.02)
    venue = CcxtVenue(ExecutionConfig(venue="ccxt", ccxt=ccxt), events.append)
    await venue.connect()
    venue.submit(_order("P00000010", order_type="LIMIT", limit_price=Decimal(99)))
    await _settle(venue)
    state.fail_next(3, 429)
    state.fill("P00000010", "0.5", "99")  # fills while the venue refuses us
    with anyio.fail_after(5):
        while events[-1] != VenueConnectionChanged(connected=True, detail="reconciled"):
            await asyncio.sleep(0.01)
    await venue.close()
    assert [type(e).__name__ for e in events] == [
        "VenueConnectionChanged", "VenueAccepted", "VenueConnectionChanged", "VenueFilled",
        "VenueConnectionChanged",
    ]  # fmt: skip
    assert events[2] == VenueConnectionChanged(connected=False, detail="rate_limit")
    assert events[3] == VenueFilled(order_id="P00000010", quantity=Decimal("0.5"),
                                    price=Decimal("99"), commission=Decimal("0.0495"),
                                    venue_fill_id="BTC/USDT:1")  # fmt: skip
    assert venue.errors == {"rate_limit": 3}


async def test_poll_when_trade_updates_duplicated_and_out_of_order_then_each_booked_once(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    events: list[VenueEvent] = []
    venue = await _resting_limit(url, events, "P00000011")
    state.duplicate_trades = True
    state.fill("P00000011", "0.1", "99")
    state.fill("P00000011", "0.2", "98.5")
    await venue.poll_once()
    state.fill("P00000011", "0.2", "98")
    await venue.poll_once()
    await venue.close()
    fills = [(e.quantity, e.price) for e in events if isinstance(e, VenueFilled)]
    assert fills == [
        (Decimal("0.1"), Decimal("99")), (Decimal("0.2"), Decimal("98.5")),
        (Decimal("0.2"), Decimal("98")),
    ]  # fmt: skip
    assert venue.order_status() == []


async def test_poll_when_venue_slower_than_request_timeout_then_timeout_counted(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    venue = _venue(url, [], request_timeout_s=0.2)
    await venue.connect()
    venue.submit(_order("P00000012", order_type="LIMIT", limit_price=Decimal(99)))
    await _settle(venue)
    state.delay = 0.5
    with pytest.raises(ccxt_errors.RequestTimeout):
        await venue.poll_once()
    state.delay = 0
    await venue.close()
    assert venue.errors == {}
    assert error_kind(ccxt_errors.RequestTimeout("x")) == "timeout"
    assert error_kind(ccxt_errors.OnMaintenance("x")) == "maintenance"


async def test_connect_when_secret_not_in_environment_then_error_names_field_and_variable(
    sim: tuple[VenueSim, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ATRIUM_CCXT_SECRET")
    venue = _venue(sim[1], [])
    with pytest.raises(
        ValueError,
        match=r"^execution\.ccxt\.secret_env: environment variable ATRIUM_CCXT_SECRET is not "
        r"set; export the exchange credential there \(it is never read from the config file\)$",
    ):
        await venue.connect()


async def test_connect_when_symbols_configured_then_rules_from_the_venue_markets(
    sim: tuple[VenueSim, str],
) -> None:
    _state, url = sim
    events: list[VenueEvent] = []
    venue = _venue(url, events, symbols=["BTC/USDT"])
    await venue.connect()
    await venue.close()
    assert events[1:] == [
        VenueInstrument(symbol="BTC/USDT", quantity_step=Decimal("0.001"),
                        min_quantity=Decimal("0.001"), price_tick=Decimal("0.01"),
                        min_notional=Decimal("10"))
    ]  # fmt: skip


async def test_connect_when_symbol_not_listed_then_error_names_field(
    sim: tuple[VenueSim, str],
) -> None:
    venue = _venue(sim[1], [], symbols=["DOGE/USDT"])
    with pytest.raises(
        ValueError, match=r"^execution\.ccxt\.symbols: 'DOGE/USDT' is not a market of binance$"
    ):
        await venue.connect()
    await venue.close()


async def test_fee_in_third_currency_when_venue_quotes_it_then_valued_at_its_last_price(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    state.add_market("BNB", "USDT")
    state.market_price["BNBUSDT"] = Decimal("312.5")
    state.fee_asset = "BNB"  # 0.0005 BNB a trade
    events: list[VenueEvent] = []
    venue = await _resting_limit(url, events, "P00000020")
    state.fill("P00000020", "0.5", "99")
    await venue.poll_once()
    await venue.close()
    (fill,) = [e for e in events if isinstance(e, VenueFilled)]
    assert (fill.commission, fill.fee_currency, fill.unvalued_fee) == (
        Decimal("0.15625"),
        "BNB",
        None,
    )  # 0.0005 BNB x 312.5 USDT, not 0.0005 "USDT"


async def test_fee_in_third_currency_when_venue_has_no_price_then_kept_apart_not_guessed(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    state.fee_asset = "BNB"  # no BNB/USDT market: nothing to value it with
    events: list[VenueEvent] = []
    venue = await _resting_limit(url, events, "P00000021")
    state.fill("P00000021", "0.5", "99")
    await venue.poll_once()
    await venue.close()
    (fill,) = [e for e in events if isinstance(e, VenueFilled)]
    assert (fill.commission, fill.fee_currency, fill.unvalued_fee) == (
        Decimal("0"),
        "BNB",
        Decimal("0.0005"),
    )


async def test_trade_ids_when_order_closes_then_dropped_and_its_trades_never_booked_again(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    state.duplicate_trades = True
    events: list[VenueEvent] = []
    venue = _venue(url, events)
    await venue.connect()
    venue.submit(_order("P00000022", order_type="LIMIT", limit_price=Decimal(99)))
    venue.submit(_order("P00000023", order_type="LIMIT", limit_price=Decimal(98)))
    await _settle(venue)
    state.fill("P00000022", "0.2", "99")
    state.fill("P00000023", "0.1", "98")
    await venue.poll_once()
    assert venue.kept_trade_ids == 2
    state.fill("P00000022", "0.3", "99")  # P00000022 complete: its ids go
    await venue.poll_once()
    assert venue.kept_trade_ids == 1
    for _ in range(3):  # the venue keeps repeating every trade: none is booked again
        await venue.poll_once()
    await venue.close()
    fills = [(e.order_id, e.quantity) for e in events if isinstance(e, VenueFilled)]
    assert fills == [
        ("P00000022", Decimal("0.2")), ("P00000023", Decimal("0.1")),
        ("P00000022", Decimal("0.3")),
    ]  # fmt: skip
    assert venue.kept_trade_ids == 1


def _starting_venue(url: str, events: list[VenueEvent], **settings: Any) -> CcxtVenue:
    ccxt = CcxtVenueConfig(
        exchange="binance", base_url=url, poll_interval_s=0.02, symbols=["BTC/USDT"], **settings
    )
    return CcxtVenue(ExecutionConfig(venue="ccxt", ccxt=ccxt), events.append)


async def test_start_when_venue_fails_first_requests_then_retried_with_backoff_and_started(
    sim: tuple[VenueSim, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, url = sim
    state.balances["BTC"] = Decimal("0.25")
    state.market_price["BTCUSDT"] = Decimal(200)
    events: list[VenueEvent] = []
    venue = _starting_venue(url, events)
    state.fail_next(3, 503)  # loading markets fails three times
    await venue.connect()
    state.fail_next(2, 429)  # then reconciliation twice
    await venue.go_live()
    await venue.close()
    assert venue.errors == {"network": 3, "rate_limit": 2}  # binance: 503 is a network error
    retries = [r.getMessage() for r in caplog.records if "unreachable at start" in r.getMessage()]
    assert retries == [
        "venue unreachable at start (loading markets: network): retrying in 0.0 s",
        "venue unreachable at start (loading markets: network): retrying in 0.0 s",
        "venue unreachable at start (loading markets: network): retrying in 0.1 s",
        "venue unreachable at start (reconciliation: rate_limit): retrying in 0.0 s",
        "venue unreachable at start (reconciliation: rate_limit): retrying in 0.0 s",
    ]  # 0.02, 0.04, 0.08 s: doubling from poll_interval_s
    assert events[-1] == VenueBalances(
        currency="USDT",
        cash=Decimal(10_000),
        holdings=(VenueHolding(symbol="BTC/USDT", asset="BTC", quantity=Decimal("0.25"),
                               price=Decimal(200)),),
    )  # fmt: skip


async def test_start_when_venue_down_past_start_retry_s_then_error_names_venue_and_bound(
    sim: tuple[VenueSim, str],
) -> None:
    state, url = sim
    venue = _starting_venue(url, [], start_retry_s=0.1)
    state.fail_next(100, 502)
    started = asyncio.get_running_loop().time()
    with pytest.raises(VenueUnreachable) as caught:
        await venue.connect()
    elapsed = asyncio.get_running_loop().time() - started
    assert str(caught.value) == (
        "venue binance unreachable at start (loading markets: network, OperationFailed) for "
        "[execution.ccxt].start_retry_s = 0.1 s; check the venue and start again"
    )
    # retried (after 0.02 s, then 0.04 s) until the next wait would pass 0.1 s; how many
    # attempts fit depends on ccxt's own request spacing (enableRateLimit)
    assert venue.errors["network"] in (2, 3)
    assert elapsed < 1.0


async def test_reconnect_when_venue_quotes_no_price_then_counted_retried_and_reconciled(
    sim: tuple[VenueSim, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, url = sim
    state.balances["BTC"] = Decimal("0.25")
    state.market_price["BTCUSDT"] = Decimal(200)
    events: list[VenueEvent] = []
    venue = _starting_venue(url, events)
    await venue.connect()  # not bound to a journal: live at once, polling every 0.02 s
    venue.submit(_order("P00000030", order_type="LIMIT", limit_price=Decimal(99)))
    await _settle(venue)  # an open order, so the polls ask the venue
    state.market_price["BTCUSDT"] = Decimal(0)  # no last price to value the BTC with
    state.fail_next(3, 429)  # the session goes down; coming back reconciles the balances
    with anyio.fail_after(5):
        while venue.errors.get("no_price", 0) < 2:
            await asyncio.sleep(0.01)

    assert venue._poller is not None and not venue._poller.done()  # retried, not ended
    state.market_price["BTCUSDT"] = Decimal(210)
    with anyio.fail_after(10):
        while events[-1] != VenueConnectionChanged(connected=True, detail="reconciled"):
            await asyncio.sleep(0.01)
    await venue.close()
    assert venue.errors["rate_limit"] == 3
    assert events[-2] == VenueBalances(
        currency="USDT",
        cash=Decimal(10_000),
        holdings=(VenueHolding(symbol="BTC/USDT", asset="BTC", quantity=Decimal("0.25"),
                               price=Decimal(210)),),
    )  # fmt: skip
    assert "venue error no_price: VenuePriceMissing" in caplog.messages


async def test_snapshot_holds_trades_as_applied_so_a_trade_found_and_not_applied_is_found_again(
    sim: tuple[VenueSim, str],
) -> None:
    """What a poll found and the actor has not applied is not in the snapshot: a restart
    from it books the trade by reconciliation; once applied, it is, and nothing is."""
    state, url = sim
    reports: list[tuple[list[VenueEvent], str]] = []

    async def run_input(apply: Callable[[], None]) -> None:
        apply()

    def started(found: list[tuple[list[VenueEvent], str]]) -> CcxtVenue:
        venue = _venue(url, [])
        venue.bind_input(run_input, report=lambda events, source: found.append((events, source)))
        return venue

    def apply(venue: CcxtVenue) -> None:
        for events, _ in reports:
            for event in events:
                venue.replay(event)
        reports.clear()

    first = started(reports)
    await first.connect()
    await first.go_live()
    first.submit(_order("P00000031", order_type="LIMIT", limit_price=Decimal(99)))
    await _settle(first)
    apply(first)  # the acknowledgement
    state.fill("P00000031", "0.2", "99")
    await first.poll_once()
    assert [type(e) for events, _ in reports for e in events] == [VenueFilled]
    found = first.snapshot_state()  # found, not applied
    assert [(o["acked"], o["booked"], o["trade_ids"]) for o in found["orders"]] == [
        (True, Decimal(0), [])
    ]
    apply(first)
    booked = first.snapshot_state()
    assert [(o["booked"], o["trade_ids"]) for o in booked["orders"]] == [
        (Decimal("0.2"), ["BTC/USDT:1"])
    ]
    await first.close()

    for snapshot, expected in ((found, [("BTC/USDT:1", "reconciliation")]), (booked, [])):
        again: list[tuple[list[VenueEvent], str]] = []
        restarted = started(again)
        restarted.restore_state(snapshot)
        await restarted.connect()
        await restarted.go_live()
        await restarted.close()
        fills = [
            (e.venue_fill_id, s)
            for events, s in again
            for e in events
            if isinstance(e, VenueFilled)
        ]
        assert fills == expected
    assert state.created == ["P00000031"]
