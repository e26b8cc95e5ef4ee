"""``[portfolio]`` config: defaults of the issue, exact Decimals, errors that name the key."""

from __future__ import annotations

from decimal import Decimal

import pytest
from portfolio_kit import Harness

from atrium.config import ConfigError, parse_config
from atrium.config.portfolio import (
    CommissionConfig,
    PortfolioConfig,
    StrategyBudgetConfig,
    SymbolConfig,
)

D = Decimal


def test_defaults_when_section_empty_then_issue_defaults() -> None:
    config = parse_config({}).portfolio
    assert config.position_sizing_mode == "fixed_qty"
    assert config.initial_capital == D(100000)
    assert config.max_leverage == D("1.0")
    assert config.max_exposure_pct == D("0.8")
    assert config.max_risk_per_trade_pct == D("0.01")
    assert config.max_risk_per_strategy_pct == D("0.2")
    assert config.default_fixed_qty == D(1)
    assert config.atr_period == 14
    assert config.atr_stop_multiplier == D("2.0")
    assert config.slippage_pct == D(0)
    assert config.short_margin_pct == D("0.5")
    assert config.order_id_prefix == "O-"
    assert config.commission == CommissionConfig()
    assert config.symbol("ANY") == SymbolConfig(lot_size=D(1), max_symbol_exposure_pct=None)


def test_parse_when_toml_numbers_then_exact_decimals() -> None:
    config = parse_config(
        {
            "portfolio": {
                "initial_capital": 250000,
                "max_exposure_pct": D("0.7"),
                "symbols": {"ES": {"lot_size": 25, "max_symbol_exposure_pct": D("0.1")}},
                "strategy_budgets": {
                    "trend": {
                        "capital_pct": D("0.3"),
                        "fixed_qty": 50,
                        "sizing_mode": "fixed_risk_atr",
                        "risk_per_trade_pct": D("0.005"),
                    }
                },
                "commission": {"per_share": D("0.005"), "minimum": 1},
            }
        }
    ).portfolio
    assert config.initial_capital == D(250000)
    assert isinstance(config.initial_capital, D)
    assert config.max_exposure_pct == D("0.7")
    assert config.symbol("ES") == SymbolConfig(lot_size=D(25), max_symbol_exposure_pct=D("0.1"))
    assert config.strategy_budgets["trend"] == StrategyBudgetConfig(
        capital_pct=D("0.3"),
        fixed_qty=D(50),
        sizing_mode="fixed_risk_atr",
        risk_per_trade_pct=D("0.005"),
    )
    assert config.commission == CommissionConfig(per_share=D("0.005"), minimum=D(1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial_capital": D(0)}, r"^initial_capital: expected a number > 0, got 0$"),
        ({"max_leverage": D(-1)}, r"^max_leverage: expected a number > 0, got -1$"),
        (
            {"max_exposure_pct": D("1.5")},
            r"^max_exposure_pct: expected a number in \(0, 1\], got 1\.5$",
        ),
        (
            {"max_risk_per_trade_pct": D(0)},
            r"^max_risk_per_trade_pct: expected a number in \(0, 1\], got 0$",
        ),
        (
            {"max_risk_per_strategy_pct": D("-0.1")},
            r"^max_risk_per_strategy_pct: expected a number >= 0, got -0\.1$",
        ),
        ({"default_fixed_qty": D(0)}, r"^default_fixed_qty: expected a number > 0, got 0$"),
        ({"atr_stop_multiplier": D(0)}, r"^atr_stop_multiplier: expected a number > 0, got 0$"),
        ({"slippage_pct": D(1)}, r"^slippage_pct: expected a number in \[0, 1\), got 1$"),
        ({"short_margin_pct": D(0)}, r"^short_margin_pct: expected a number > 0, got 0$"),
        ({"max_leverage": D("NaN")}, r"^max_leverage: expected a finite number, got NaN$"),
        ({"max_leverage": 2.0}, r"^max_leverage: expected a Decimal, got 2\.0 \(float\)$"),
        (
            {"commission": CommissionConfig(per_share=D(-1))},
            r"^commission\.per_share: expected a number >= 0, got -1$",
        ),
        (
            {"commission": CommissionConfig(pct_of_notional=D(1))},
            r"^commission\.pct_of_notional: expected a number in \[0, 1\), got 1$",
        ),
        (
            {"commission": CommissionConfig(minimum=D(-2))},
            r"^commission\.minimum: expected a number >= 0, got -2$",
        ),
        (
            {"symbols": {"ES": SymbolConfig(lot_size=D(0))}},
            r"^symbols\.ES\.lot_size: expected a number > 0, got 0$",
        ),
        (
            {"symbols": {"ES": SymbolConfig(max_symbol_exposure_pct=D(0))}},
            r"^symbols\.ES\.max_symbol_exposure_pct: expected a number > 0, got 0$",
        ),
        ({"symbols": {"": SymbolConfig()}}, r"^symbols: a key must be a non-empty name$"),
        (
            {"strategy_budgets": {"trend": StrategyBudgetConfig(capital_pct=D("-0.3"))}},
            r"^strategy_budgets\.trend\.capital_pct: expected a number >= 0, got -0\.3$",
        ),
        (
            {"strategy_budgets": {"trend": StrategyBudgetConfig(capital_pct=D(1), fixed_qty=D(0))}},
            r"^strategy_budgets\.trend\.fixed_qty: expected a number > 0, got 0$",
        ),
        (
            {
                "strategy_budgets": {
                    "trend": StrategyBudgetConfig(capital_pct=D(1), risk_per_trade_pct=D("0.02"))
                }
            },
            r"^strategy_budgets\.trend\.risk_per_trade_pct: 0\.02 exceeds "
            r"max_risk_per_trade_pct=0\.01; lower it or raise \[portfolio\]\.max_risk_per_trade_pct$",
        ),
    ],
)
def test_construct_when_value_invalid_then_error_names_key(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        PortfolioConfig(**kwargs)  # type: ignore[arg-type]


def test_parse_when_value_invalid_then_config_error_names_full_key_path() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^portfolio\.strategy_budgets\.trend\.capital_pct: expected a number >= 0, "
        r"got -0\.1$",
    ):
        parse_config({"portfolio": {"strategy_budgets": {"trend": {"capital_pct": D("-0.1")}}}})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"portfolio": {"atr_period": 0}},
            r"^portfolio\.atr_period: expected an integer >= 1, got 0$",
        ),
        (
            {"portfolio": {"position_sizing_mode": "kelly"}},
            r"^portfolio\.position_sizing_mode: unknown value 'kelly'$",
        ),
        (
            {"portfolio": {"max_leverag": 2}},
            r"^portfolio\.max_leverag: unknown key \(check the spelling\)$",
        ),
        (
            {"portfolio": {"max_leverage": -1}},
            r"^portfolio\.max_leverage: expected a number > 0, got -1$",
        ),
        (
            {"portfolio": {"strategy_budgets": {"trend": {"fixed_qty": 5}}}},
            r"^portfolio\.strategy_budgets\.trend\.capital_pct: required key is missing$",
        ),
        (
            {"portfolio": {"order_id_prefix": ""}},
            r"^portfolio\.order_id_prefix: expected a string of length >= 1, got ''$",
        ),
    ],
)
def test_parse_when_schema_violated_then_loader_names_key_path(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_sizing_when_only_execution_sets_costs_then_percent_equity_pays_them() -> None:
    config = parse_config(
        {
            "portfolio": {
                "position_sizing_mode": "percent_equity",
                "strategy_budgets": {"s1": {"capital_pct": 1}},
            },
            "execution": {"commission_per_share": D(1), "slippage_bps": D(100)},
        }
    )
    harness = Harness(config.portfolio)
    harness.bar("X", 100)
    # 10 % of 100,000 at 101 (1 % slippage) plus 1 a share: 10,000 // 102 = 98, not 100.
    assert harness.sized("X", "BUY", weight="0.1").quantity == D(98)
