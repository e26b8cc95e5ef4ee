"""Risk denies what the venue's instrument rules would reject, with a reason code."""

from __future__ import annotations

from decimal import Decimal as D  # noqa: N817

import pytest
from test_risk_actor import DAY1, Harness, _denied, _kinds, _order

from atrium.actors.risk.instruments import check_instrument_rules
from atrium.config.risk import RiskConfig
from atrium.runtime.messages import InstrumentRules

RULES = InstrumentRules(
    ts=1,
    symbol="NVDA",
    quantity_step=D("0.001"),
    min_quantity=D("0.001"),
    price_tick=D("0.01"),
    min_notional=D("10"),
)


@pytest.mark.parametrize(
    ("quantity", "limit", "refusal"),
    [
        ("0.0005", None, ("QUANTITY_BELOW_MINIMUM", "quantity=0.0005 min_quantity=0.001")),
        ("0.0015", None, ("QUANTITY_NOT_STEP_MULTIPLE", "quantity=0.0015 quantity_step=0.001")),
        ("0.5", "100.005", ("PRICE_NOT_ON_TICK", "limit_price=100.005 price_tick=0.01")),
        ("0.05", None, ("NOTIONAL_BELOW_MINIMUM", "notional=5.00 min_notional=10")),
        ("0.1", "99.99", ("NOTIONAL_BELOW_MINIMUM", "notional=9.999 min_notional=10")),
        ("0.1", None, None),
        ("0.101", "100.01", None),
    ],
)
def test_check_when_order_against_rules_then_first_broken_rule(
    quantity: str, limit: str | None, refusal: tuple[str, str] | None
) -> None:
    order = _order(
        quantity=quantity, order_type="MARKET" if limit is None else "LIMIT", limit=limit
    )
    assert check_instrument_rules(order, RULES) == refusal


def test_sized_order_when_rules_published_then_denied_with_code_and_counted() -> None:
    h = Harness(RiskConfig(price_band_pct=None))
    h.actor.handle(RULES)
    order = _order(quantity="0.0015")
    h.actor.handle(order)
    assert h.take() == [
        _denied(order, DAY1, "QUANTITY_NOT_STEP_MULTIPLE", "quantity=0.0015 quantity_step=0.001")
    ]
    assert h.sample("atrium_risk_denials_total", reason="QUANTITY_NOT_STEP_MULTIPLE") == 1.0
    assert h.sample("atrium_risk_denials_total", reason="NOTIONAL_BELOW_MINIMUM") == 0.0


def test_sized_order_when_rules_of_other_symbol_then_approved() -> None:
    h = Harness(RiskConfig(price_band_pct=None))
    h.actor.handle(RULES)
    h.actor.handle(_order(quantity="0.0015", symbol="AAPL"))
    assert _kinds(h.take()) == ["Order"]


def test_snapshot_when_rules_received_then_restored_actor_denies_by_them() -> None:
    h = Harness(RiskConfig(price_band_pct=None))
    h.actor.handle(RULES)
    state = h.actor.snapshot_state()
    assert state["_instruments"] == {"NVDA": RULES}
    restored = Harness(RiskConfig(price_band_pct=None))
    restored.actor.restore_state(state)
    order = _order(quantity="0.0015")
    restored.actor.handle(order)
    assert restored.take() == [
        _denied(order, DAY1, "QUANTITY_NOT_STEP_MULTIPLE", "quantity=0.0015 quantity_step=0.001")
    ]
