"""Message validation at construction and the msgpack round trip of the whole union."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from atrium.runtime.codec import MESSAGE_TYPES, decode, encode
from atrium.runtime.messages import (
    AccountBalances,
    Bar,
    CancelOrder,
    Control,
    DeadLetter,
    Fill,
    InstrumentRules,
    Order,
    OrderDenied,
    OrderIntent,
    OrderUpdate,
    PortfolioSnapshot,
    PositionUpdate,
    SizedOrder,
    SizingExplanation,
    SymbolPosition,
    Tick,
    TradingStateChanged,
    VenueHolding,
    VenueReport,
)

D = Decimal


def _bar(**overrides: object) -> Bar:
    fields: dict[str, object] = {
        "ts": 1,
        "symbol": "NVDA",
        "open": D("10"),
        "high": D("12"),
        "low": D("9"),
        "close": D("11"),
        "volume": D("1000"),
    }
    fields.update(overrides)
    return Bar(**fields)  # type: ignore[arg-type]


SIZING = SizingExplanation(
    mode="fixed_risk_atr",
    equity=D("100000"),
    price=D("50"),
    raw_quantity=D("600"),
    final_quantity=D("600"),
    binding_cap=None,
    risk_pct=D("0.03"),
    atr=D("2.50"),
    stop_distance=D("5.00"),
)

ONE_OF_EACH = [
    _bar(),
    Tick(ts=2, symbol="ES", price=D("3067.25"), size=D("3")),
    OrderIntent(
        ts=3,
        intent_id="trend-1",
        strategy="trend",
        symbol="NVDA",
        side="BUY",
        risk_pct=D("0.03"),
        risk_per_share=D("5"),
        tag="entry",
    ),
    SizedOrder(
        ts=4,
        order_id="O-00000001",
        intent_id="trend-1",
        strategy="trend",
        symbol="NVDA",
        side="BUY",
        quantity=D("600"),
        reference_price=D("50"),
        reduces_position=False,
        sizing=SIZING,
    ),
    Order(
        ts=5,
        order_id="O-00000001",
        intent_id="trend-1",
        strategy="trend",
        symbol="NVDA",
        side="BUY",
        quantity=D("600"),
        reference_price=D("50"),
        reduces_position=False,
        order_type="LIMIT",
        limit_price=D("49.5"),
    ),
    CancelOrder(ts=6, order_id="O-00000001", strategy="trend", reason="stale"),
    OrderDenied(
        ts=7,
        intent_id="trend-2",
        strategy="trend",
        symbol="NVDA",
        side="SELL",
        reason="ORDER_RATE_EXCEEDED",
        source="risk",
        detail="rate=101 limit=100",
    ),
    OrderUpdate(
        ts=8,
        order_id="O-00000001",
        strategy="trend",
        symbol="NVDA",
        status="PARTIALLY_FILLED",
        filled_quantity=D("100"),
        remaining_quantity=D("500"),
        avg_fill_price=D("49.5"),
    ),
    Fill(
        leaves_quantity=D(0),
        ts=9,
        fill_id="O-00000001-1",
        order_id="O-00000001",
        strategy="trend",
        symbol="NVDA",
        side="BUY",
        quantity=D("100"),
        price=D("49.5"),
        commission=D("1.00"),
    ),
    PositionUpdate(
        ts=10,
        strategy="trend",
        symbol="NVDA",
        quantity=D("-100"),
        avg_price=D("49.5"),
        realized_pnl=D("0"),
    ),
    PortfolioSnapshot(
        ts=11,
        equity=D("100000"),
        cash=D("95050"),
        gross_exposure=D("4950"),
        net_exposure=D("4950"),
        realized_pnl=D("0"),
        unrealized_pnl=D("0"),
        peak_equity=D("100000"),
        drawdown=D("0"),
        positions=(SymbolPosition(symbol="NVDA", quantity=D("100"), mark_price=D("49.5")),),
    ),
    Control(ts=12, command="halt", reason="operator"),
    TradingStateChanged(ts=13, state="HALTED", previous="ACTIVE", reason="kill switch"),
    DeadLetter(ts=14, actor="risk", message_kind="Bar", payload=b"\x80", error="KeyError: 'X'"),
    InstrumentRules(ts=15, symbol="BTC/USDT", quantity_step=D("0.001"), min_notional=D("10")),
    VenueReport(ts=16, events=b"\x91\x81\xa4type\xadVenueAccepted", source="reconciliation"),
    AccountBalances(
        ts=17,
        currency="USDT",
        cash=D("1000"),
        holdings=(VenueHolding(symbol="BTC/USDT", asset="BTC", quantity=D("0.5"), price=D("100")),),
    ),
]


def test_round_trip_when_every_message_kind_then_decodes_to_equal_message() -> None:
    assert sorted(type(m).__name__ for m in ONE_OF_EACH) == sorted(MESSAGE_TYPES)
    for message in ONE_OF_EACH:
        payload = encode(message)
        decoded = decode(payload)
        assert decoded == message
        assert type(decoded) is type(message)
        assert encode(decoded) == payload


def test_round_trip_when_decimal_has_trailing_zeros_then_exact_digits_kept() -> None:
    bar = _bar(open=D("10.500"), close=D("11.0"))
    decoded = decode(encode(bar))
    assert isinstance(decoded, Bar)
    assert str(decoded.open) == "10.500"
    assert str(decoded.close) == "11.0"


def test_messages_when_assigned_then_frozen() -> None:
    bar = _bar()
    with pytest.raises(AttributeError):
        bar.close = D("1")  # type: ignore[misc]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"open": D("0")}, r"^Bar\.open must be a finite number > 0, got 0$"),
        ({"low": D("-1")}, r"^Bar\.low must be a finite number > 0, got -1$"),
        ({"close": D("NaN")}, r"^Bar\.close must be a finite number > 0, got NaN$"),
        ({"high": D("Infinity")}, r"^Bar\.high must be a finite number > 0, got Infinity$"),
        ({"volume": D("-5")}, r"^Bar\.volume must be a finite number >= 0, got -5$"),
        (
            {"high": D("10.5")},
            r"^Bar\.high must be >= max\(open, close\); got high=10\.5, open=10, close=11$",
        ),
        (
            {"low": D("10.5")},
            r"^Bar\.low must be <= min\(open, close\); got low=10\.5, open=10, close=11$",
        ),
        ({"symbol": ""}, r"^Bar\.symbol must be a non-empty string$"),
    ],
)
def test_bar_when_value_invalid_then_rejected_with_message(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _bar(**overrides)


def test_tick_when_price_not_positive_then_rejected() -> None:
    with pytest.raises(ValueError, match=r"^Tick\.price must be a finite number > 0, got -1$"):
        Tick(ts=1, symbol="ES", price=D("-1"), size=D("1"))


def _intent(**overrides: object) -> OrderIntent:
    fields: dict[str, object] = {
        "ts": 1,
        "intent_id": "s-1",
        "strategy": "s",
        "symbol": "NVDA",
        "side": "BUY",
    }
    fields.update(overrides)
    return OrderIntent(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"side": "HOLD"}, r"^OrderIntent\.side must be one of BUY, SELL; got 'HOLD'$"),
        ({"quantity": D("0")}, r"^OrderIntent\.quantity must be a finite number > 0, got 0$"),
        (
            {"risk_per_share": D("-2.5")},
            r"^OrderIntent\.risk_per_share must be a finite number > 0, got -2\.5$",
        ),
        ({"risk_pct": D("0")}, r"^OrderIntent\.risk_pct must be in \(0, 1\], got 0$"),
        ({"risk_pct": D("1.5")}, r"^OrderIntent\.risk_pct must be in \(0, 1\], got 1\.5$"),
        ({"weight": D("-0.1")}, r"^OrderIntent\.weight must be a finite number >= 0, got -0\.1$"),
        ({"order_type": "LIMIT"}, r"^OrderIntent\.limit_price is required for a LIMIT order$"),
        ({"order_type": "STOP"}, r"^OrderIntent\.trigger_price is required for a STOP order$"),
        (
            {"order_type": "ICEBERG"},
            r"^OrderIntent\.order_type must be one of LIMIT, MARKET, STOP; got 'ICEBERG'$",
        ),
    ],
)
def test_intent_when_value_invalid_then_rejected_with_message(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _intent(**overrides)


def test_fill_when_side_unknown_then_rejected() -> None:
    with pytest.raises(ValueError, match=r"^Fill\.side must be one of BUY, SELL; got 'buy'$"):
        Fill(
            leaves_quantity=D(0),
            ts=1,
            fill_id="f",
            order_id="o",
            strategy="s",
            symbol="X",
            side="buy",  # type: ignore[arg-type]
            quantity=D("1"),
            price=D("1"),
        )


def test_denied_when_reason_not_upper_snake_then_rejected() -> None:
    with pytest.raises(
        ValueError, match=r"^OrderDenied\.reason must be an UPPER_SNAKE code, got 'too big'$"
    ):
        OrderDenied(
            ts=1,
            intent_id="i",
            strategy="s",
            symbol="X",
            side="BUY",
            reason="too big",
            source="risk",
        )


def test_decode_when_payload_violates_rule_then_validation_error_names_rule() -> None:
    payload = msgspec.msgpack.encode(
        {
            "kind": "Bar",
            "ts": 1,
            "symbol": "X",
            "open": "1",
            "high": "0.5",
            "low": "0.4",
            "close": "1",
        }
    )
    with pytest.raises(
        msgspec.ValidationError,
        match=r"^Bar\.high must be >= max\(open, close\); got high=0\.5, open=1, close=1$",
    ):
        decode(payload)


def test_decode_when_kind_unknown_then_validation_error() -> None:
    payload = msgspec.msgpack.encode({"kind": "Teleport", "ts": 1})
    with pytest.raises(
        msgspec.ValidationError, match=r"^Invalid value 'Teleport' - at `\$\.kind`$"
    ):
        decode(payload)
