"""The paper venue's fill rules, with hand-worked numbers, driven directly through its sink."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from atrium.actors.execution.adapter import (
    OrderStatusReport,
    VenueAccepted,
    VenueCancelled,
    VenueEvent,
    VenueExpired,
    VenueFilled,
    VenueRejected,
)
from atrium.actors.execution.paper import PaperVenue
from atrium.config.execution import ExecutionConfig
from atrium.runtime.messages import Bar, Order, Tick

D = Decimal
DAY = 86_400 * 1_000_000_000
HOUR = 3_600 * 1_000_000_000
T0 = 19_723 * DAY  # 2024-01-01T00:00Z
T1 = T0 + DAY
T2 = T0 + 2 * DAY
T3 = T0 + 3 * DAY


def _venue(**settings: Any) -> tuple[PaperVenue, list[VenueEvent]]:
    events: list[VenueEvent] = []
    return PaperVenue(ExecutionConfig(**settings), events.append), events


def _order(
    order_id: str = "o1",
    *,
    ts: int = T0,
    side: str = "BUY",
    quantity: str = "100",
    symbol: str = "NVDA",
    **fields: Any,
) -> Order:
    return Order(
        ts=ts,
        order_id=order_id,
        intent_id=f"i-{order_id}",
        strategy="s1",
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        quantity=D(quantity),
        reference_price=D("50"),
        reduces_position=False,
        **fields,
    )


def _bar(
    ts: int,
    open_: str,
    high: str,
    low: str,
    close: str,
    volume: str = "1000000",
    symbol: str = "NVDA",
) -> Bar:
    return Bar(
        ts=ts,
        symbol=symbol,
        open=D(open_),
        high=D(high),
        low=D(low),
        close=D(close),
        volume=D(volume),
    )


def _fills(events: list[VenueEvent]) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    return [
        (e.order_id, e.quantity, e.price, e.commission)
        for e in events
        if isinstance(e, VenueFilled)
    ]


# -- MARKET --------------------------------------------------------------------------------


def test_market_when_next_bar_arrives_then_fills_whole_quantity_at_its_open() -> None:
    venue, events = _venue()
    venue.on_bar(_bar(T0, "49", "50", "48", "49.5"))
    venue.submit(_order())
    venue.on_bar(_bar(T1, "50.00", "52", "47", "51"))

    assert events == [
        VenueAccepted(order_id="o1"),
        VenueFilled(
            order_id="o1", quantity=D(100), price=D("50.00"), commission=D(0), venue_fill_id="o1-1"
        ),
    ]
    assert venue.order_status() == []


@pytest.mark.parametrize("bar_ts", [T0, T0 - DAY])
def test_market_when_bar_not_after_order_then_no_fill_no_look_ahead(bar_ts: int) -> None:
    venue, events = _venue()
    venue.submit(_order(ts=T0))
    venue.on_bar(_bar(bar_ts, "50", "51", "49", "50"))

    assert events == [VenueAccepted(order_id="o1")]
    assert [r.order_id for r in venue.order_status()] == ["o1"]


def test_market_when_current_close_mode_then_fills_at_once_at_last_close() -> None:
    venue, events = _venue(market_fill="current_close")
    venue.on_bar(_bar(T0, "50", "52", "49", "51.25"))
    venue.submit(_order(ts=T0))

    assert _fills(events) == [("o1", D(100), D("51.25"), D(0))]


def test_market_when_current_close_mode_and_no_data_yet_then_waits_and_fills_at_next_close() -> (
    None
):
    venue, events = _venue(market_fill="current_close")
    venue.submit(_order(ts=T0))
    assert _fills(events) == []

    venue.on_bar(_bar(T1, "50", "53", "49", "52"))
    assert _fills(events) == [("o1", D(100), D(52), D(0))]


def test_market_when_current_close_mode_and_last_print_is_tick_then_fills_at_tick_price() -> None:
    venue, events = _venue(market_fill="current_close")
    venue.on_tick(Tick(ts=T0, symbol="NVDA", price=D("50.10"), size=D(500)))
    venue.submit(_order(ts=T0, side="SELL"))

    assert _fills(events) == [("o1", D(100), D("50.10"), D(0))]


def test_market_when_next_tick_arrives_then_fills_at_tick_price() -> None:
    venue, events = _venue()
    venue.submit(_order(ts=T0))
    venue.on_tick(Tick(ts=T0 + 1, symbol="NVDA", price=D("50.02"), size=D(300)))

    assert _fills(events) == [("o1", D(100), D("50.02"), D(0))]


def test_market_when_bar_of_other_symbol_then_no_fill() -> None:
    venue, events = _venue()
    venue.submit(_order(ts=T0))
    venue.on_bar(_bar(T1, "10", "11", "9", "10", symbol="AMD"))

    assert _fills(events) == []


# -- LIMIT ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "limit", "bar", "price"),
    [
        # BUY 49: low 48.50 touches it, open 50 above it -> the limit.
        ("BUY", "49", ("50", "51", "48.50", "50.5"), "49"),
        # BUY 49: opens at 48 below the limit (gap through) -> the open.
        ("BUY", "49", ("48", "49.5", "47", "49"), "48"),
        # BUY 49: low exactly 49 -> a touch fills.
        ("BUY", "49", ("50", "51", "49", "50.5"), "49"),
        # SELL 52: high 52.50 touches it, open 50 -> the limit.
        ("SELL", "52", ("50", "52.50", "49", "51"), "52"),
        # SELL 52: opens at 53 above the limit (gap through) -> the open.
        ("SELL", "52", ("53", "54", "52.5", "53"), "53"),
    ],
)
def test_limit_when_bar_trades_through_then_fills_at_limit_or_gap_open(
    side: str, limit: str, bar: tuple[str, str, str, str], price: str
) -> None:
    venue, events = _venue()
    venue.submit(_order(side=side, order_type="LIMIT", limit_price=D(limit)))
    venue.on_bar(_bar(T1, *bar))

    assert _fills(events) == [("o1", D(100), D(price), D(0))]


@pytest.mark.parametrize(
    ("side", "limit", "bar"),
    [
        ("BUY", "49", ("50", "51", "49.01", "50.5")),
        ("SELL", "52", ("50", "51.99", "49", "51")),
    ],
)
def test_limit_when_bar_never_touches_then_stays_open(
    side: str, limit: str, bar: tuple[str, str, str, str]
) -> None:
    venue, events = _venue()
    venue.submit(_order(side=side, order_type="LIMIT", limit_price=D(limit)))
    venue.on_bar(_bar(T1, *bar))
    venue.on_bar(_bar(T2, *bar))

    assert _fills(events) == []
    assert venue.order_status() == [
        OrderStatusReport(
            order_id="o1",
            symbol="NVDA",
            side=side,  # type: ignore[arg-type]
            quantity=D(100),
            filled_quantity=D(0),
            remaining_quantity=D(100),
            status="ACCEPTED",
        )
    ]


def test_limit_when_tick_at_or_below_buy_limit_then_fills_at_tick_price() -> None:
    venue, events = _venue()
    venue.submit(_order(order_type="LIMIT", limit_price=D("49")))
    venue.on_tick(Tick(ts=T0 + 1, symbol="NVDA", price=D("49.01"), size=D(100)))
    venue.on_tick(Tick(ts=T0 + 2, symbol="NVDA", price=D("48.95"), size=D(100)))

    assert _fills(events) == [("o1", D(100), D("48.95"), D(0))]


# -- STOP ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "trigger", "bar", "price"),
    [
        # BUY stop 51: high 51.5 crosses it, open 50 -> the trigger.
        ("BUY", "51", ("50", "51.5", "49", "51.2"), "51"),
        # BUY stop 51: opens at 52 above it (gap through) -> the open.
        ("BUY", "51", ("52", "53", "51.5", "52.5"), "52"),
        # SELL stop 48: low 47 crosses it, open 50 -> the trigger.
        ("SELL", "48", ("50", "50.5", "47", "47.5"), "48"),
        # SELL stop 48: opens at 46.80 below it (gap through) -> the open.
        ("SELL", "48", ("46.80", "47.5", "45", "46"), "46.80"),
    ],
)
def test_stop_when_bar_crosses_trigger_then_fills_at_trigger_or_gap_open(
    side: str, trigger: str, bar: tuple[str, str, str, str], price: str
) -> None:
    venue, events = _venue()
    venue.submit(_order(side=side, order_type="STOP", trigger_price=D(trigger)))
    venue.on_bar(_bar(T1, *bar))

    assert _fills(events) == [("o1", D(100), D(price), D(0))]


def test_stop_when_bar_stays_below_buy_trigger_then_stays_open() -> None:
    venue, events = _venue()
    venue.submit(_order(order_type="STOP", trigger_price=D("51")))
    venue.on_bar(_bar(T1, "50", "50.99", "49", "50.5"))

    assert _fills(events) == []
    assert [r.order_id for r in venue.order_status()] == ["o1"]


def test_stop_when_triggered_with_remainder_then_remainder_fills_at_next_open() -> None:
    # Cap 0.1 of 600 volume = 60 per bar: 60 at the trigger 51, then 40 at the next open 53
    # even though that bar never trades back at the trigger (the stop is a market order now).
    venue, events = _venue(max_volume_participation=D("0.1"))
    venue.submit(_order(order_type="STOP", trigger_price=D("51")))
    venue.on_bar(_bar(T1, "50", "51.5", "49", "51", volume="600"))
    venue.on_bar(_bar(T2, "53", "54", "52", "53.5", volume="600"))

    assert _fills(events) == [("o1", D(60), D(51), D(0)), ("o1", D(40), D(53), D(0))]


# -- slippage, rounding and commission -----------------------------------------------------


@pytest.mark.parametrize(("side", "price"), [("BUY", "50.05"), ("SELL", "49.95")])
def test_slippage_when_10_bps_then_price_moves_against_trader(side: str, price: str) -> None:
    # 50.00 x (1 +/- 0.0010) = 50.05 / 49.95
    venue, events = _venue(slippage_bps=D(10))
    venue.submit(_order(side=side))
    venue.on_bar(_bar(T1, "50.00", "51", "49", "50"))

    assert _fills(events) == [("o1", D(100), D(price), D(0))]


def test_slippage_when_limit_touched_then_fill_capped_at_limit() -> None:
    # 49 x 1.001 = 49.049 would cross the BUY limit 49: a limit never fills worse.
    venue, events = _venue(slippage_bps=D(10))
    venue.submit(_order(order_type="LIMIT", limit_price=D("49")))
    venue.on_bar(_bar(T1, "50", "51", "48.5", "50"))

    assert _fills(events) == [("o1", D(100), D(49), D(0))]


def test_slippage_when_limit_gapped_through_then_slipped_open_below_limit() -> None:
    # Open 48 < limit 49: 48 x 1.001 = 48.048, still inside the limit.
    venue, events = _venue(slippage_bps=D(10))
    venue.submit(_order(order_type="LIMIT", limit_price=D("49")))
    venue.on_bar(_bar(T1, "48", "49", "47", "48"))

    assert _fills(events) == [("o1", D(100), D("48.048"), D(0))]


def test_slippage_when_stop_gapped_then_slippage_on_gap_open() -> None:
    # SELL stop 48, open 47: 47 x (1 - 0.0020) = 46.906
    venue, events = _venue(slippage_bps=D(20))
    venue.submit(_order(side="SELL", order_type="STOP", trigger_price=D("48")))
    venue.on_bar(_bar(T1, "47", "47.5", "46", "46.5"))

    assert _fills(events) == [("o1", D(100), D("46.906"), D(0))]


@pytest.mark.parametrize(("side", "price"), [("BUY", "50.04"), ("SELL", "49.96")])
def test_rounding_when_price_increment_then_rounded_against_trader(side: str, price: str) -> None:
    # 50.00 x 1.0007 = 50.035 -> BUY rounds up to 50.04; 50.00 x 0.9993 = 49.965 -> SELL 49.96.
    venue, events = _venue(slippage_bps=D(7), price_increment=D("0.01"))
    venue.submit(_order(side=side))
    venue.on_bar(_bar(T1, "50.00", "51", "49", "50"))

    assert _fills(events) == [("o1", D(100), D(price), D(0))]


def test_rounding_when_sell_below_one_increment_then_floor_is_one_increment() -> None:
    venue, events = _venue(price_increment=D("0.01"))
    venue.submit(_order(side="SELL"))
    venue.on_bar(_bar(T1, "0.004", "0.005", "0.003", "0.004"))

    assert _fills(events) == [("o1", D(100), D("0.01"), D(0))]


@pytest.mark.parametrize(("quantity", "commission"), [("100", "1"), ("1000", "5")])
def test_commission_when_per_share_with_minimum_then_max_of_minimum_and_per_share(
    quantity: str, commission: str
) -> None:
    # 100 x 0.005 = 0.50 < 1.00 minimum -> 1.00; 1000 x 0.005 = 5.00 -> 5.00.
    venue, events = _venue(commission_per_share=D("0.005"), commission_min=D("1.00"))
    venue.submit(_order(quantity=quantity))
    venue.on_bar(_bar(T1, "50.00", "51", "49", "50"))

    assert _fills(events) == [("o1", D(quantity), D("50.00"), D(commission))]


def test_commission_when_bps_and_per_share_with_slippage_then_on_slipped_notional() -> None:
    # Fill 100 @ 50.05 (10 bps slippage): notional 5005.00; 5 bps of it = 2.5025;
    # plus 100 x 0.005 = 0.50 -> 3.0025 (above the 1.00 minimum).
    venue, events = _venue(
        slippage_bps=D(10),
        commission_per_share=D("0.005"),
        commission_bps=D(5),
        commission_min=D("1.00"),
    )
    venue.submit(_order())
    venue.on_bar(_bar(T1, "50.00", "51", "49", "50"))

    assert _fills(events) == [("o1", D(100), D("50.05"), D("3.0025"))]


# -- partial fills -------------------------------------------------------------------------


def test_partial_when_participation_cap_then_fills_over_bars_and_minimum_paid_once() -> None:
    # Cap 0.1 x volume 1000 = 100 per bar: 250 fills 100, 100, 50 at each bar's open.
    # Commission 0.005/share, minimum 1.00 per order: cumulative raw 0.50, 1.00, 1.25 ->
    # paid 1.00, 0.00, 0.25 (total 1.25 = max(1.00, 250 x 0.005)).
    venue, events = _venue(
        max_volume_participation=D("0.1"),
        commission_per_share=D("0.005"),
        commission_min=D("1.00"),
    )
    venue.submit(_order(quantity="250"))
    venue.on_bar(_bar(T1, "50", "51", "49", "50", volume="1000"))
    assert venue.order_status()[0].filled_quantity == D(100)
    assert venue.order_status()[0].status == "PARTIALLY_FILLED"
    venue.on_bar(_bar(T2, "51", "52", "50", "51", volume="1000"))
    venue.on_bar(_bar(T3, "52", "53", "51", "52", volume="1000"))

    assert _fills(events) == [
        ("o1", D(100), D(50), D(1)),
        ("o1", D(100), D(51), D(0)),
        ("o1", D(50), D(52), D("0.25")),
    ]
    assert [e.venue_fill_id for e in events if isinstance(e, VenueFilled)] == [
        "o1-1",
        "o1-2",
        "o1-3",
    ]
    assert venue.order_status() == []


def test_partial_when_two_orders_share_cap_then_first_submitted_fills_first() -> None:
    # 100 available per bar: o1 takes 80, o2 the remaining 20, then 60 on the next bar.
    venue, events = _venue(max_volume_participation=D("0.1"))
    venue.submit(_order("o1", quantity="80"))
    venue.submit(_order("o2", quantity="80"))
    venue.on_bar(_bar(T1, "50", "51", "49", "50", volume="1000"))
    venue.on_bar(_bar(T2, "51", "52", "50", "51", volume="1000"))

    assert _fills(events) == [
        ("o1", D(80), D(50), D(0)),
        ("o2", D(20), D(50), D(0)),
        ("o2", D(60), D(51), D(0)),
    ]


def test_partial_when_cap_not_lot_multiple_then_rounded_down_to_lot() -> None:
    # 0.1 x 1005 = 100.5 -> 100 with lot 1; with lot 0.5 -> 100.5.
    venue, events = _venue(max_volume_participation=D("0.1"))
    venue.submit(_order(quantity="200"))
    venue.on_bar(_bar(T1, "50", "51", "49", "50", volume="1005"))

    half, half_events = _venue(max_volume_participation=D("0.1"), lot_size=D("0.5"))
    half.submit(_order(quantity="200"))
    half.on_bar(_bar(T1, "50", "51", "49", "50", volume="1005"))

    assert _fills(events) == [("o1", D(100), D(50), D(0))]
    assert _fills(half_events) == [("o1", D("100.5"), D(50), D(0))]


def test_partial_when_bar_volume_zero_under_cap_then_nothing_fills() -> None:
    venue, events = _venue(max_volume_participation=D("0.1"))
    venue.submit(_order())
    venue.on_bar(_bar(T1, "50", "51", "49", "50", volume="0"))

    assert _fills(events) == []
    assert venue.order_status()[0].remaining_quantity == D(100)


def test_partial_when_current_close_fill_then_shares_cap_of_last_bar() -> None:
    # The last bar offers 0.1 x 1000 = 100: o1 fills 70 at once at its close, o2 right
    # after it gets the 30 left on that same bar.
    venue, events = _venue(market_fill="current_close", max_volume_participation=D("0.1"))
    venue.on_bar(_bar(T0, "50", "51", "49", "50.5", volume="1000"))
    venue.submit(_order("o1", quantity="70"))
    venue.submit(_order("o2", quantity="70"))

    assert _fills(events) == [("o1", D(70), D("50.5"), D(0)), ("o2", D(30), D("50.5"), D(0))]


# -- time in force -------------------------------------------------------------------------


def test_day_when_utc_date_changes_then_unfilled_order_expires() -> None:
    # Intraday: submitted 10:00, a 11:00 bar that does not touch the limit, then the first
    # bar of the next UTC day -> EXPIRED before matching (its low would have touched).
    venue, events = _venue()
    venue.submit(
        _order(ts=T0 + 10 * HOUR, order_type="LIMIT", limit_price=D(49), time_in_force="DAY")
    )
    venue.on_bar(_bar(T0 + 11 * HOUR, "50", "51", "49.5", "50"))
    venue.on_bar(_bar(T1 + 9 * HOUR, "50", "51", "48", "50"))

    assert events == [
        VenueAccepted(order_id="o1"),
        VenueExpired(order_id="o1", reason="DAY_EXPIRED: day=2024-01-01 filled=0 remaining=100"),
    ]
    assert venue.order_status() == []


def test_day_when_daily_bars_then_order_lives_through_next_session() -> None:
    # Decided on the T0 daily bar: its day is T1's (the first bar it can fill on); untouched
    # there, it expires at T2.
    venue, events = _venue()
    venue.submit(_order(order_type="LIMIT", limit_price=D(49), time_in_force="DAY"))
    venue.on_bar(_bar(T1, "50", "51", "49.5", "50"))
    assert events == [VenueAccepted(order_id="o1")]
    venue.on_bar(_bar(T2, "50", "51", "48", "50"))

    assert events[1:] == [
        VenueExpired(order_id="o1", reason="DAY_EXPIRED: day=2024-01-02 filled=0 remaining=100")
    ]


def test_day_when_partially_filled_then_remainder_expires() -> None:
    venue, events = _venue(max_volume_participation=D("0.1"))
    venue.submit(_order(time_in_force="DAY"))
    venue.on_bar(_bar(T1, "50", "51", "49", "50", volume="600"))
    venue.on_bar(_bar(T2, "51", "52", "50", "51", volume="600"))

    assert events[1:] == [
        VenueFilled(
            order_id="o1", quantity=D(60), price=D(50), commission=D(0), venue_fill_id="o1-1"
        ),
        VenueExpired(order_id="o1", reason="DAY_EXPIRED: day=2024-01-02 filled=60 remaining=40"),
    ]


def test_ioc_when_partially_filled_then_remainder_cancelled_at_once() -> None:
    venue, events = _venue(max_volume_participation=D("0.1"))
    venue.submit(_order(quantity="250", time_in_force="IOC"))
    venue.on_bar(_bar(T1, "50", "51", "49", "50", volume="1000"))
    venue.on_bar(_bar(T2, "50", "51", "49", "50", volume="1000"))

    assert events[1:] == [
        VenueFilled(
            order_id="o1", quantity=D(100), price=D(50), commission=D(0), venue_fill_id="o1-1"
        ),
        VenueCancelled(order_id="o1", reason="IOC_REMAINDER: filled=100 remaining=150"),
    ]


def test_ioc_when_limit_not_touched_on_first_bar_then_cancelled_unfilled() -> None:
    venue, events = _venue()
    venue.submit(_order(order_type="LIMIT", limit_price=D(49), time_in_force="IOC"))
    venue.on_bar(_bar(T0, "50", "51", "48", "50"))  # the decision bar: not an opportunity
    venue.on_bar(_bar(T1, "50", "51", "49.5", "50"))

    assert events[1:] == [
        VenueCancelled(order_id="o1", reason="IOC_REMAINDER: filled=0 remaining=100")
    ]


def test_ioc_when_current_close_fills_completely_then_no_cancel() -> None:
    venue, events = _venue(market_fill="current_close")
    venue.on_bar(_bar(T0, "50", "51", "49", "50.5"))
    venue.submit(_order(time_in_force="IOC"))

    assert [type(e).__name__ for e in events] == ["VenueAccepted", "VenueFilled"]


# -- rejections and cancels ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "fields", "reason"),
    [
        ({}, {"quantity": "10.5"}, "QUANTITY_NOT_LOT_MULTIPLE: quantity=10.5 lot_size=1"),
        (
            {"lot_size": D(100)},
            {"quantity": "150"},
            "QUANTITY_NOT_LOT_MULTIPLE: quantity=150 lot_size=100",
        ),
        (
            {"price_increment": D("0.01")},
            {"order_type": "LIMIT", "limit_price": D("49.005")},
            "PRICE_NOT_ON_INCREMENT: limit_price=49.005 price_increment=0.01",
        ),
        (
            {"price_increment": D("0.05")},
            {"order_type": "STOP", "trigger_price": D("51.02")},
            "PRICE_NOT_ON_INCREMENT: trigger_price=51.02 price_increment=0.05",
        ),
        (
            {},
            {"order_type": "STOP", "trigger_price": D(51), "limit_price": D(52)},
            "INVALID_PRICE_FIELDS: order_type=STOP limit_price=52",
        ),
        (
            {},
            {"limit_price": D(49), "trigger_price": D(48)},
            "INVALID_PRICE_FIELDS: order_type=MARKET limit_price=49 trigger_price=48",
        ),
    ],
)
def test_submit_when_order_breaks_venue_rule_then_rejected_with_reason(
    settings: dict[str, Any], fields: dict[str, Any], reason: str
) -> None:
    venue, events = _venue(**settings)
    quantity = fields.pop("quantity", "100")
    venue.submit(_order(quantity=quantity, **fields))
    venue.on_bar(_bar(T1, "50", "60", "40", "50"))

    assert events == [VenueRejected(order_id="o1", reason=reason)]
    assert venue.order_status() == []


def test_submit_when_lot_and_increment_multiples_then_accepted() -> None:
    venue, events = _venue(lot_size=D(100), price_increment=D("0.05"))
    venue.submit(_order(quantity="300", order_type="LIMIT", limit_price=D("49.95")))

    assert events == [VenueAccepted(order_id="o1")]


def test_submit_when_order_id_already_working_then_raises() -> None:
    venue, _ = _venue()
    venue.submit(_order())

    with pytest.raises(ValueError, match=r"^paper venue: order 'o1' was submitted twice$"):
        venue.submit(_order())


def test_cancel_when_working_then_cancelled_and_never_fills() -> None:
    venue, events = _venue()
    venue.submit(_order())
    venue.cancel("o1", "CANCEL_REQUESTED: strategy=s1")
    venue.on_bar(_bar(T1, "50", "51", "49", "50"))

    assert events == [
        VenueAccepted(order_id="o1"),
        VenueCancelled(order_id="o1", reason="CANCEL_REQUESTED: strategy=s1"),
    ]


def test_cancel_when_order_not_working_then_no_event() -> None:
    venue, events = _venue()
    venue.cancel("nope", "CANCEL_REQUESTED: strategy=s1")

    assert events == []


def test_order_status_when_several_working_then_submission_order_with_fills() -> None:
    venue, _ = _venue(max_volume_participation=D("0.1"))
    venue.submit(_order("b", quantity="150"))
    venue.submit(_order("a", side="SELL", symbol="AMD", order_type="LIMIT", limit_price=D(99)))
    venue.on_bar(_bar(T1, "50", "51", "49", "50", volume="1000"))

    assert venue.order_status() == [
        OrderStatusReport(
            order_id="b",
            symbol="NVDA",
            side="BUY",
            quantity=D(150),
            filled_quantity=D(100),
            remaining_quantity=D(50),
            status="PARTIALLY_FILLED",
        ),
        OrderStatusReport(
            order_id="a",
            symbol="AMD",
            side="SELL",
            quantity=D(100),
            filled_quantity=D(0),
            remaining_quantity=D(100),
            status="ACCEPTED",
        ),
    ]


def test_matching_when_several_orders_then_events_in_submission_order() -> None:
    venue, events = _venue()
    venue.submit(_order("z", order_type="LIMIT", limit_price=D(49)))
    venue.submit(_order("a"))
    venue.submit(_order("m", side="SELL", order_type="STOP", trigger_price=D("49.5")))
    venue.on_bar(_bar(T1, "50", "51", "48", "50"))

    assert [f[0] for f in _fills(events)] == ["z", "a", "m"]
