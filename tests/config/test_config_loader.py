"""Config loading: defaults for a first run, and errors that name the key path and value."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from atrium.config import AtriumConfig, ConfigError, load_config, parse_config
from atrium.config.portfolio import CommissionConfig
from atrium.errors import AtriumError
from atrium.runtime.errors import AtriumError as RuntimeAtriumError
from atrium.runtime.errors import JournalError


def test_parse_when_empty_then_every_section_has_defaults() -> None:
    config = parse_config({})
    assert isinstance(config, AtriumConfig)
    assert config.runtime.max_batch == 256
    assert list(config.topology.actors) == [
        "market_data",
        "strategy",
        "portfolio",
        "risk",
        "execution",
    ]
    assert config.topology.actors["portfolio"].restart == "escalate"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"runtime": {"max_batch": -1}}, r"^runtime\.max_batch: expected an integer >= 1, got -1$"),
        (
            {"runtime": {"shutdown_grace_seconds": "soon"}},
            r"^runtime\.shutdown_grace_seconds: expected a number, got 'soon'$",
        ),
        ({"runtime": {"max_bach": 5}}, r"^runtime\.max_bach: unknown key \(check the spelling\)$"),
        ({"runtimes": {}}, r"^runtimes: unknown key \(check the spelling\)$"),
        ({"runtime": {"log_level": "LOUD"}}, r"^runtime\.log_level: unknown value 'LOUD'$"),
        ({"runtime": 5}, r"^runtime: expected a table, got 5$"),
    ],
)
def test_parse_when_value_invalid_then_error_names_key_path(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_topology_when_one_key_overridden_then_rest_of_default_actor_kept() -> None:
    config = parse_config({"topology": {"actors": {"risk": {"mailbox_capacity": 64}}}})
    risk = config.topology.actors["risk"]
    assert risk.mailbox_capacity == 64
    assert risk.cls == "atrium.actors.risk:RiskActor"
    assert "SizedOrder" in risk.subscribes
    assert list(config.topology.actors) == [
        "risk",
        "market_data",
        "strategy",
        "portfolio",
        "execution",
    ]


def test_load_when_file_valid_then_feed_paths_anchored_at_file_directory(tmp_path: Path) -> None:
    path = tmp_path / "atrium.toml"
    path.write_text("[runtime]\nshutdown_grace_seconds = 2.5\n", encoding="utf-8")
    config = load_config(path)
    assert config.runtime.shutdown_grace_seconds == 2.5
    assert config.market_data.base_dir == str(tmp_path.resolve() / ".")


def test_load_when_base_dir_relative_then_resolved_against_file_directory(tmp_path: Path) -> None:
    path = tmp_path / "atrium.toml"
    path.write_text('[market_data]\nbase_dir = "data"\n', encoding="utf-8")
    assert load_config(path).market_data.base_dir == str(tmp_path.resolve() / "data")


def test_load_when_toml_broken_then_error_names_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[runtime\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{path}: not valid TOML: .*line 1"):
        load_config(path)


def test_load_when_file_missing_then_error_names_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(
        ConfigError, match=rf"^cannot read config file {path}: No such file or directory$"
    ):
        load_config(path)


@pytest.mark.parametrize("name", ["example.toml", "live-demo.toml", "live-ccxt.toml"])
def test_shipped_config_when_loaded_then_valid(name: str) -> None:
    config = load_config(Path(__file__).resolve().parents[2] / "config" / name)
    assert config.strategies
    assert config.market_data.feeds


def test_portfolio_costs_when_only_execution_sets_them_then_taken_from_the_venue() -> None:
    execution = {
        "commission_per_share": Decimal("0.005"),
        "commission_bps": Decimal(5),
        "commission_min": Decimal(1),
        "slippage_bps": Decimal(10),
    }
    portfolio = parse_config({"execution": execution}).portfolio
    assert portfolio.commission == CommissionConfig(
        per_share=Decimal("0.005"), pct_of_notional=Decimal("0.0005"), minimum=Decimal(1)
    )
    assert portfolio.slippage_pct == Decimal("0.001")


def test_portfolio_costs_when_set_apart_then_the_portfolio_keeps_its_own() -> None:
    config = parse_config(
        {
            "execution": {"commission_per_share": Decimal("0.005"), "slippage_bps": Decimal(10)},
            "portfolio": {"commission": {"minimum": Decimal(2)}, "slippage_pct": Decimal(0)},
        }
    )
    assert config.portfolio.commission == CommissionConfig(minimum=Decimal(2))
    assert config.portfolio.slippage_pct == Decimal(0)
    assert config.execution.commission_per_share == Decimal("0.005")


def test_portfolio_costs_when_venue_bps_make_a_pct_of_one_or_more_then_error_says_where() -> None:
    with pytest.raises(
        ConfigError,
        match=(
            r"^portfolio\.commission\.pct_of_notional: expected a number in \[0, 1\), got 1 "
            r"\(taken from \[execution\]\); set \[portfolio\.commission\] to size on other "
            r"costs than the venue's$"
        ),
    ):
        parse_config({"execution": {"commission_bps": Decimal(10_000)}})


def test_config_error_when_caught_as_atrium_error_then_one_family_with_runtime_errors() -> None:
    with pytest.raises(AtriumError) as raised:
        parse_config({"portfolio": {"max_leverage": -1}})
    assert isinstance(raised.value, ConfigError)
    assert isinstance(raised.value, ValueError)  # callers that caught ValueError still do
    assert RuntimeAtriumError is AtriumError
    assert issubclass(JournalError, AtriumError)
