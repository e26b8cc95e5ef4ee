"""The paper venue with ``[instruments]``: the symbol's tick, commission on price x multiplier."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from atrium.actors.execution.adapter import VenueEvent, VenueFilled, VenueRejected
from atrium.actors.execution.paper import PaperVenue
from atrium.config.execution import ExecutionConfig
from atrium.config.instruments import InstrumentConfig
from atrium.runtime.messages import Bar, Order

D = Decimal
DAY = 86_400 * 1_000_000_000
T0 = 19_723 * DAY
T1 = T0 + DAY
ES = {"ES": InstrumentConfig(multiplier=D(50), tick_size=D("0.25"))}


def _venue(**settings: Any) -> tuple[PaperVenue, list[VenueEvent]]:
    events: list[VenueEvent] = []
    return PaperVenue(ExecutionConfig(**settings), events.append), events


def _order(order_id: str, symbol: str, side: str, **fields: Any) -> Order:
    return Order(
        ts=T0,
        order_id=order_id,
        intent_id=f"i-{order_id}",
        strategy="s1",
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        quantity=D(2),
        reference_price=D(4000),
        reduces_position=False,
        **fields,
    )


def _bar(ts: int, symbol: str, open_: str) -> Bar:
    price = D(open_)
    return Bar(ts=ts, symbol=symbol, open=price, high=price, low=price, close=price, volume=D(10))


def _fills(events: list[VenueEvent]) -> list[tuple[str, Decimal, Decimal]]:
    return [(e.order_id, e.price, e.commission) for e in events if isinstance(e, VenueFilled)]


def test_fill_when_es_then_tick_rounded_and_bps_on_price_times_fifty() -> None:
    venue, events = _venue(
        slippage_bps=D(5),
        commission_per_share=D("2.10"),
        commission_bps=D(1),
        price_increment=D("0.01"),
        instruments=ES,
    )
    for symbol in ("ES", "NQ"):
        venue.on_bar(_bar(T0, symbol, "4000"))
    venue.submit(_order("buy", "ES", "BUY"))
    venue.submit(_order("sell", "ES", "SELL"))
    venue.submit(_order("plain", "NQ", "BUY"))
    for symbol in ("ES", "NQ"):
        venue.on_bar(_bar(T1, symbol, "4001.10"))
    assert _fills(events) == [
        # 4,001.10 x 1.0005 = 4,003.10055, up to the 0.25 tick: 4,003.25. Commission
        # 2 x 2.10 + 0.0001 x 2 x 4,003.25 x 50 = 4.20 + 40.0325.
        ("buy", D("4003.25"), D("44.2325")),
        # 4,001.10 x 0.9995 = 3,999.09945, down to 3,999.00; 4.20 + 0.0001 x 399,900.
        ("sell", D("3999"), D("44.19")),
        # No [instruments] entry: price_increment 0.01 and notional without a multiplier,
        # 4.20 + 0.0001 x 2 x 4,003.11.
        ("plain", D("4003.11"), D("5.000622")),
    ]


def test_submit_when_limit_off_the_symbol_tick_then_rejected() -> None:
    venue, events = _venue(instruments=ES)
    venue.submit(_order("o1", "ES", "BUY", order_type="LIMIT", limit_price=D("4000.10")))
    venue.submit(_order("o2", "NQ", "BUY", order_type="LIMIT", limit_price=D("4000.10")))
    rejected = [e.reason for e in events if isinstance(e, VenueRejected)]
    assert rejected == ["PRICE_NOT_ON_INCREMENT: limit_price=4000.10 price_increment=0.25"]
