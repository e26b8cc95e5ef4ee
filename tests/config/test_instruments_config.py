"""``[instruments.<symbol>]``: checked with the key path, one table copied to three actors."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from atrium.config import ConfigError, InstrumentConfig, load_config, parse_config

D = Decimal
ROOT = Path(__file__).resolve().parents[2]


def test_parse_when_instruments_then_portfolio_risk_and_execution_each_get_the_table() -> None:
    config = parse_config(
        {"instruments": {"ES": {"multiplier": D(50), "tick_size": D("0.25"), "currency": "USD"}}}
    )
    spec = InstrumentConfig(multiplier=D(50), tick_size=D("0.25"), currency="USD")
    assert config.instruments == {"ES": spec}
    assert config.portfolio.instruments == {"ES": spec}
    assert config.risk.instruments == {"ES": spec}
    assert config.execution.instruments == {"ES": spec}
    assert config.portfolio.multiplier("ES") == D(50)
    assert config.portfolio.multiplier("NVDA") == D(1)


def test_parse_when_no_instruments_then_every_multiplier_is_one() -> None:
    config = parse_config({})
    assert config.instruments == {} and config.portfolio.instruments == {}
    assert InstrumentConfig() == InstrumentConfig(multiplier=D(1), tick_size=None, currency=None)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"multiplier": D(0)}, "instruments.ES.multiplier: expected a number > 0, got 0"),
        ({"multiplier": D(-50)}, "instruments.ES.multiplier: expected a number > 0, got -50"),
        ({"tick_size": D(0)}, "instruments.ES.tick_size: expected a number > 0, got 0"),
        ({"multiplier": True}, "instruments.ES.multiplier: expected a number, got true"),
        ({"lot": D(1)}, "instruments.ES.lot: unknown key"),
        ({"currency": ""}, "instruments.ES.currency: expected a currency code"),
    ],
)
def test_parse_when_instrument_invalid_then_error_names_the_key(
    entry: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config({"instruments": {"ES": entry}})


def test_parse_when_float_multiplier_from_python_then_refused() -> None:
    with pytest.raises(ValueError, match="multiplier: expected a finite Decimal"):
        InstrumentConfig(multiplier=50.0)  # type: ignore[arg-type]


def test_parse_when_other_currency_than_account_then_refused_no_fx() -> None:
    with pytest.raises(ConfigError, match=r"instruments\.FGBL\.currency: 'EUR' is not the account"):
        parse_config({"instruments": {"FGBL": {"multiplier": D(1000), "currency": "EUR"}}})
    # In an EUR account the same instrument is fine, and a USD one is not.
    config = parse_config(
        {
            "portfolio": {"account_currency": "EUR"},
            "instruments": {"FGBL": {"multiplier": D(1000), "currency": "EUR"}},
        }
    )
    assert config.portfolio.multiplier("FGBL") == D(1000)
    with pytest.raises(ConfigError, match="no FX conversion"):
        parse_config(
            {"portfolio": {"account_currency": "EUR"}, "instruments": {"ES": {"currency": "USD"}}}
        )


@pytest.mark.parametrize("section", ["portfolio", "risk", "execution"])
def test_parse_when_instruments_inside_an_actor_section_then_refused(section: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{section}\.instruments: set the root"):
        parse_config({section: {"instruments": {"ES": {"multiplier": D(50)}}}})


def test_futures_example_when_loaded_then_valid_with_es_multiplier() -> None:
    config = load_config(ROOT / "config" / "futures-example.toml")
    assert config.portfolio.multiplier("ES") == D(50)
    assert config.risk.instruments["ES"].tick_size == D("0.25")
