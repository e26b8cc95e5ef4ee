"""``[risk]`` config: defaults, bounds and the errors an operator sees."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from atrium.config import ConfigError, parse_config
from atrium.config.risk import RiskConfig, SymbolRiskConfig

D = Decimal


def test_defaults_when_section_empty_then_documented_values() -> None:
    risk = parse_config({}).risk

    assert risk == RiskConfig(
        initial_state="ACTIVE",
        max_order_notional=None,
        symbols={},
        max_order_rate=100,
        order_rate_window_seconds=1.0,
        price_band_pct=0.10,
        max_drawdown_pct=None,
        drawdown_action="halt",
        max_daily_loss_pct=None,
        daily_loss_action="halt",
        daily_loss_resets_next_day=True,
    )


def test_parse_when_toml_values_then_money_stays_decimal() -> None:
    risk = parse_config(
        {
            "risk": {
                "max_order_notional": D("100000.50"),
                "symbols": {"NVDA": {"max_order_notional": 25000}},
                "price_band_pct": D("0.05"),
                "max_drawdown_pct": D("0.2"),
                "drawdown_action": "reduce",
                "max_order_rate": None,
            }
        }
    ).risk

    assert risk.max_order_notional == D("100000.50")
    assert risk.symbols == {"NVDA": SymbolRiskConfig(max_order_notional=D(25000))}
    assert risk.price_band_pct == 0.05
    assert risk.max_drawdown_pct == 0.2
    assert risk.drawdown_action == "reduce"
    assert risk.max_order_rate is None


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"price_band_pct": -1}, "risk.price_band_pct: expected a number > 0, got -1"),
        ({"price_band_pct": D("1.5")}, "risk.price_band_pct: expected a number <= 1, got 1.5"),
        ({"max_drawdown_pct": 0}, "risk.max_drawdown_pct: expected a number > 0, got 0"),
        (
            {"max_daily_loss_pct": D("Infinity")},
            "risk.max_daily_loss_pct: expected a number <= 1, got Infinity",
        ),
        ({"max_order_rate": 0}, "risk.max_order_rate: expected an integer >= 1, got 0"),
        (
            {"order_rate_window_seconds": D("0.0001")},
            "risk.order_rate_window_seconds: expected a number >= 0.001, got 0.0001",
        ),
        ({"drawdown_action": "stop"}, "risk.drawdown_action: unknown value 'stop'"),
        ({"initial_state": "active"}, "risk.initial_state: unknown value 'active'"),
        ({"max_order_size": 5}, "risk.max_order_size: unknown key (check the spelling)"),
    ],
)
def test_parse_when_value_out_of_bounds_then_error_names_key(
    section: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        parse_config({"risk": section})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_order_notional": D(-1)}, "max_order_notional: expected a number > 0, got -1"),
        ({"max_order_notional": D(0)}, "max_order_notional: expected a number > 0, got 0"),
        ({"max_order_notional": D("NaN")}, "max_order_notional: expected a number > 0, got NaN"),
        (
            {"symbols": {"NVDA": SymbolRiskConfig(max_order_notional=D("-2.5"))}},
            "symbols.NVDA.max_order_notional: expected a number > 0, got -2.5",
        ),
        (
            {"symbols": {"": SymbolRiskConfig(max_order_notional=D(5))}},
            "symbols: a symbol name must not be empty",
        ),
    ],
)
def test_construct_when_money_cap_invalid_then_value_error_names_key(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        RiskConfig(**kwargs)  # type: ignore[arg-type]


def test_parse_when_symbol_table_lacks_cap_then_required_key_error() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^risk\.symbols\.NVDA\.max_order_notional: required key is missing$",
    ):
        parse_config({"risk": {"symbols": {"NVDA": {}}}})
