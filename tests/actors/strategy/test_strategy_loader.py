"""Loading strategies from config: class paths, params validation, symbol checks."""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from atrium.actors.strategy import LoadedStrategy, NoParams, Strategy, load_strategies
from atrium.actors.strategy.bundled.ema_cross import EmaCross, EmaCrossParams
from atrium.actors.strategy.bundled.momentum_atr import MomentumAtr, MomentumAtrParams
from atrium.config.loader import ConfigError
from atrium.config.strategy import StrategyConfig

EMA_CROSS = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
MOMENTUM = "atrium.actors.strategy.bundled.momentum_atr:MomentumAtr"


class NotConfigParams(Strategy[NoParams]):
    Params = dict  # type: ignore[assignment]


def _one(cls: str, params: dict[str, Any] | None = None, **kw: Any) -> list[LoadedStrategy]:
    config = StrategyConfig(cls=cls, symbols=kw.pop("symbols", ["NVDA"]), params=params or {}, **kw)
    return load_strategies({"trend": config})


# -- params ---------------------------------------------------------------------------------


def test_load_when_toml_table_then_params_typed_with_decimals_and_floats() -> None:
    data = tomllib.loads(
        """
        [strategies.trend]
        class = "atrium.actors.strategy.bundled.momentum_atr:MomentumAtr"
        symbols = ["NVDA", "ORCL"]
        params = { atr_stop_multiplier = 2.5, risk_pct = 0.01, allow_short = true }

        [strategies.cross]
        class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
        symbols = ["NVDA"]
        params = { fast = 5, slow = 20, quantity = 10 }
        """,
        parse_float=Decimal,
    )
    configs = msgspec.convert(data["strategies"], dict[str, StrategyConfig])

    loaded = load_strategies(configs)

    assert [(s.name, s.cls) for s in loaded] == [("trend", MomentumAtr), ("cross", EmaCross)]
    assert loaded[0].params == MomentumAtrParams(
        atr_stop_multiplier=2.5, risk_pct=Decimal("0.01"), allow_short=True
    )
    assert loaded[1].params == EmaCrossParams(fast=5, slow=20, quantity=Decimal(10))
    assert loaded[1].config.symbols == ["NVDA"]


def test_params_when_defaults_then_documented_values() -> None:
    assert msgspec.structs.asdict(EmaCrossParams()) == {
        "fast": 10,
        "slow": 30,
        "allow_short": False,
        "quantity": None,
    }
    assert msgspec.structs.asdict(MomentumAtrParams()) == {
        "fast": 12,
        "slow": 26,
        "signal": 9,
        "atr_period": 14,
        "atr_stop_multiplier": 2.0,
        "risk_pct": None,
        "allow_short": False,
        "trail_stop": False,
    }


@pytest.mark.parametrize(
    ("cls", "params", "message"),
    [
        (EMA_CROSS, {"fast": 0}, "strategies.trend.params.fast: expected an integer >= 1, got 0"),
        (EMA_CROSS, {"fast": "10"}, "strategies.trend.params.fast: expected an integer, got '10'"),
        (
            EMA_CROSS,
            {"fast": 40},
            "strategies.trend.params.fast: must be < slow, got fast=40, slow=30",
        ),
        (
            EMA_CROSS,
            {"fsat": 5},
            "strategies.trend.params.fsat: unknown key (check the spelling)",
        ),
        (
            EMA_CROSS,
            {"quantity": Decimal(-5)},
            "strategies.trend.params.quantity: expected a number > 0, got -5",
        ),
        (
            EMA_CROSS,
            {"allow_short": "yes"},
            "strategies.trend.params.allow_short: expected true or false, got 'yes'",
        ),
        (
            MOMENTUM,
            {"atr_stop_multiplier": Decimal("-2")},
            "strategies.trend.params.atr_stop_multiplier: expected a number > 0, got -2",
        ),
        (
            MOMENTUM,
            {"risk_pct": Decimal("1.5")},
            "strategies.trend.params.risk_pct: expected a number in (0, 1], got 1.5",
        ),
        (
            MOMENTUM,
            {"atr_period": 0},
            "strategies.trend.params.atr_period: expected an integer >= 1, got 0",
        ),
        (
            MOMENTUM,
            {"fast": 26},
            "strategies.trend.params.fast: must be < slow, got fast=26, slow=26",
        ),
        (
            "atrium.actors.strategy:Strategy",
            {"period": 3},
            "strategies.trend.params.period: unknown key (check the spelling)",
        ),
    ],
)
def test_load_when_params_invalid_then_config_error_names_key(
    cls: str, params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=rf"^{_escape(message)}$"):
        _one(cls, params)


def _escape(text: str) -> str:
    return re.escape(text)


# -- class paths ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "atrium.actors.strategy.bundled.ema_cross",
            "strategies.trend.class: expected 'module:Name', got "
            "'atrium.actors.strategy.bundled.ema_cross'",
        ),
        (
            "atrium.actors.strategy.bundled.ema_cross:EmaCros",
            "strategies.trend.class: module 'atrium.actors.strategy.bundled.ema_cross' has no "
            "attribute 'EmaCros'",
        ),
        (
            "atrium.actors.strategy.bundled.ema_cross:EmaCrossParams",
            "strategies.trend.class: 'atrium.actors.strategy.bundled.ema_cross:EmaCrossParams' is "
            "not a Strategy subclass",
        ),
        (
            "atrium.runtime.loading:load_object",
            "strategies.trend.class: 'atrium.runtime.loading:load_object' is not a Strategy subclass",
        ),
    ],
)
def test_load_when_class_path_bad_then_config_error(path: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{_escape(message)}$"):
        _one(path)


def test_load_when_params_not_config_struct_then_config_error() -> None:
    path = f"{__name__}:NotConfigParams"
    with pytest.raises(
        ConfigError,
        match=rf"^strategies\.trend\.class: {_escape(path)}\.Params must be a subclass of "
        r"config\.base\.ConfigBase, got <class 'dict'>$",
    ):
        _one(path)


# -- symbols and the rest of the entry ---------------------------------------------------------


def test_load_when_no_symbols_then_config_error() -> None:
    with pytest.raises(
        ConfigError, match=r"^strategies\.trend\.symbols: list at least one symbol$"
    ):
        _one(EMA_CROSS, symbols=[])


def test_load_when_symbol_repeated_then_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^strategies\.trend\.symbols: 'NVDA' is listed twice$"):
        _one(EMA_CROSS, symbols=["NVDA", "ORCL", "NVDA"])


def test_load_when_symbol_empty_then_config_error() -> None:
    with pytest.raises(
        ConfigError, match=r"^strategies\.trend\.symbols: a symbol is an empty string$"
    ):
        _one(EMA_CROSS, symbols=[""])


def test_load_when_disabled_entry_invalid_then_still_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^strategies\.trend\.params\.slow: expected"):
        _one(EMA_CROSS, {"slow": 1}, enabled=False)


def test_strategy_config_when_defaults_then_documented_values() -> None:
    config = msgspec.convert({"class": EMA_CROSS}, StrategyConfig)
    assert (
        config.symbols,
        config.params,
        config.enabled,
        config.max_restarts,
        config.restart_window_messages,
        config.close_on_disable,
    ) == ([], {}, True, 3, 10_000, False)


def test_strategy_config_when_negative_restarts_then_validation_error() -> None:
    with pytest.raises(
        msgspec.ValidationError, match=r"^Expected `int` >= 0 - at `\$\.max_restarts`$"
    ):
        msgspec.convert({"class": EMA_CROSS, "max_restarts": -1}, StrategyConfig)
