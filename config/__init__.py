"""Atrium's config schema (msgspec Structs) and TOML loader. Imports nothing of Atrium's."""

from atrium.config.base import ConfigBase as ConfigBase
from atrium.config.execution import ExecutionConfig as ExecutionConfig
from atrium.config.instruments import InstrumentConfig as InstrumentConfig
from atrium.config.journal import JournalConfig as JournalConfig
from atrium.config.loader import ConfigError as ConfigError
from atrium.config.loader import load_config as load_config
from atrium.config.loader import parse_config as parse_config
from atrium.config.market_data import MarketDataConfig as MarketDataConfig
from atrium.config.portfolio import PortfolioConfig as PortfolioConfig
from atrium.config.replay import ReplayConfig as ReplayConfig
from atrium.config.risk import RiskConfig as RiskConfig
from atrium.config.runtime import RuntimeConfig as RuntimeConfig
from atrium.config.schema import AtriumConfig as AtriumConfig
from atrium.config.service import ServiceConfig as ServiceConfig
from atrium.config.strategy import StrategyConfig as StrategyConfig
from atrium.config.topology import ActorSpecConfig as ActorSpecConfig
from atrium.config.topology import TopologyConfig as TopologyConfig

__all__ = (
    "ActorSpecConfig",
    "AtriumConfig",
    "ConfigBase",
    "ConfigError",
    "ExecutionConfig",
    "InstrumentConfig",
    "JournalConfig",
    "MarketDataConfig",
    "PortfolioConfig",
    "ReplayConfig",
    "RiskConfig",
    "RuntimeConfig",
    "ServiceConfig",
    "StrategyConfig",
    "TopologyConfig",
    "load_config",
    "parse_config",
)
