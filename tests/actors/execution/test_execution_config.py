"""``[execution]`` config: defaults, accepted values and the errors it reports.

Converted with ``msgspec.convert`` as the loader does for the section (the loader prefixes
the section path: ``execution: slippage_bps: ...``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from atrium.config.execution import CcxtVenueConfig, ExecutionConfig


def _convert(section: dict[str, Any]) -> ExecutionConfig:
    return msgspec.convert(section, ExecutionConfig, str_keys=True)


def test_defaults_when_section_missing_then_paper_next_open_without_costs() -> None:
    config = _convert({})

    assert config == ExecutionConfig()
    assert config.venue == "paper"
    assert config.venue_options == {}
    assert config.market_fill == "next_open"
    assert config.slippage_bps == Decimal(0)
    assert config.commission_per_share == Decimal(0)
    assert config.commission_bps == Decimal(0)
    assert config.commission_min == Decimal(0)
    assert config.max_volume_participation is None
    assert config.lot_size == Decimal(1)
    assert config.price_increment is None


def test_parse_when_all_keys_given_then_decimals_kept_exact() -> None:
    config = _convert(
        {
            "venue": "my_venues.ib:IbAdapter",
            "venue_options": {"account": "DU123"},
            "market_fill": "current_close",
            "slippage_bps": Decimal("2.5"),
            "commission_per_share": Decimal("0.005"),
            "commission_bps": 1,
            "commission_min": Decimal("1.00"),
            "max_volume_participation": Decimal("0.1"),
            "lot_size": Decimal("0.0001"),
            "price_increment": Decimal("0.01"),
        }
    )

    assert config.venue == "my_venues.ib:IbAdapter"
    assert config.venue_options == {"account": "DU123"}
    assert config.market_fill == "current_close"
    assert config.slippage_bps == Decimal("2.5")
    assert config.commission_per_share == Decimal("0.005")
    assert config.commission_bps == Decimal(1)
    assert config.commission_min == Decimal("1.00")
    assert config.max_volume_participation == Decimal("0.1")
    assert config.lot_size == Decimal("0.0001")
    assert config.price_increment == Decimal("0.01")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"venue": "ib"}, "venue: expected 'paper', 'ccxt' or 'module:Class', got 'ib'"),
        ({"venue": "mod:"}, "venue: expected 'paper', 'ccxt' or 'module:Class', got 'mod:'"),
        ({"market_fill": "next_close"}, "Invalid enum value 'next_close' - at `$.market_fill`"),
        (
            {"slippage_bps": -1},
            "slippage_bps: expected a number >= 0 and < 10000, got -1",
        ),
        (
            {"slippage_bps": 10000},
            "slippage_bps: expected a number >= 0 and < 10000, got 10000",
        ),
        (
            {"slippage_bps": Decimal("NaN")},
            "slippage_bps: expected a number >= 0 and < 10000, got NaN",
        ),
        (
            {"commission_per_share": Decimal("-0.01")},
            "commission_per_share: expected a number >= 0, got -0.01",
        ),
        ({"commission_bps": -2}, "commission_bps: expected a number >= 0, got -2"),
        (
            {"commission_min": Decimal("Infinity")},
            "commission_min: expected a number >= 0, got Infinity",
        ),
        (
            {"max_volume_participation": 0},
            "max_volume_participation: expected a number > 0 and <= 1 "
            "(or leave it out for no cap), got 0",
        ),
        (
            {"max_volume_participation": Decimal("1.5")},
            "max_volume_participation: expected a number > 0 and <= 1 "
            "(or leave it out for no cap), got 1.5",
        ),
        ({"lot_size": 0}, "lot_size: expected a number > 0, got 0"),
        (
            {"price_increment": Decimal("-0.01")},
            "price_increment: expected a number > 0 (or leave it out for no rounding), got -0.01",
        ),
        ({"slippage_bps": "ten"}, "Invalid decimal string - at `$.slippage_bps`"),
        ({"slipage_bps": 1}, "Object contains unknown field `slipage_bps`"),
    ],
)
def test_parse_when_value_invalid_then_error_names_key_and_value(
    section: dict[str, Any], message: str
) -> None:
    with pytest.raises(msgspec.ValidationError, match=rf"^{re.escape(message)}$"):
        _convert(section)


def test_construct_when_built_in_code_then_same_checks_as_loader() -> None:
    with pytest.raises(ValueError, match=r"^lot_size: expected a number > 0, got -1$"):
        ExecutionConfig(lot_size=Decimal(-1))


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"venue": "ccxt"},
            "ccxt: venue = 'ccxt' needs an [execution.ccxt] table with exchange = '<ccxt id>'",
        ),
        ({"venue": "ccxt", "ccxt": {}}, "Object missing required field `exchange` - at `$.ccxt`"),
        (
            {"venue": "ccxt", "ccxt": {"exchange": "Binance US"}},
            "exchange: expected a ccxt exchange id such as 'binance', got 'Binance US' - at `$.ccxt`",
        ),
        (
            {"venue": "ccxt", "ccxt": {"exchange": "binance", "api_key": "abc"}},
            "Object contains unknown field `api_key` - at `$.ccxt`",
        ),
        (
            {"venue": "ccxt", "ccxt": {"exchange": "binance", "secret_env": "my-secret"}},
            "secret_env: expected an environment variable name, got 'my-secret' - at `$.ccxt`",
        ),
        (
            {"venue": "ccxt", "ccxt": {"exchange": "binance", "poll_interval_s": -1}},
            "poll_interval_s: expected a number of seconds > 0, got -1.0 - at `$.ccxt`",
        ),
        (
            {"venue": "ccxt", "ccxt": {"exchange": "binance", "stale_after_s": 0}},
            "stale_after_s: expected a number of seconds > 0, got 0.0 - at `$.ccxt`",
        ),
        (
            {"venue": "ccxt", "ccxt": {"exchange": "binance", "order_updates": "push"}},
            "Invalid enum value 'push' - at `$.ccxt.order_updates`",
        ),
    ],
)
def test_parse_when_ccxt_section_invalid_then_error_names_field(
    section: dict[str, Any], message: str
) -> None:
    with pytest.raises(msgspec.ValidationError, match=rf"^{re.escape(message)}$"):
        _convert(section)


def test_parse_when_ccxt_section_then_credentials_are_variable_names() -> None:
    config = _convert({"venue": "ccxt", "ccxt": {"exchange": "binance", "sandbox": True}})
    assert config.ccxt == CcxtVenueConfig(exchange="binance", sandbox=True)
    assert (config.ccxt.api_key_env, config.ccxt.secret_env) == (
        "ATRIUM_CCXT_API_KEY",
        "ATRIUM_CCXT_SECRET",
    )
