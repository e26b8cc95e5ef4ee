"""Atrium's config schema (msgspec Structs) and TOML loader. Imports nothing of Atrium's."""

from config.base import ConfigBase as ConfigBase
from config.execution import ExecutionConfig as ExecutionConfig
from config.journal import JournalConfig as JournalConfig
from config.loader import ConfigError as ConfigError
from config.loader import load_config as load_config
from config.loader import parse_config as parse_config
from config.market_data import MarketDataConfig as MarketDataConfig
from config.portfolio import PortfolioConfig as PortfolioConfig
from config.replay import ReplayConfig as ReplayConfig
from config.risk import RiskConfig as RiskConfig
from config.runtime import RuntimeConfig as RuntimeConfig
from config.schema import AtriumConfig as AtriumConfig
from config.service import ServiceConfig as ServiceConfig
from config.strategy import StrategyConfig as StrategyConfig
from config.topology import ActorSpecConfig as ActorSpecConfig
from config.topology import TopologyConfig as TopologyConfig

__all__ = (
    "ActorSpecConfig",
    "AtriumConfig",
    "ConfigBase",
    "ConfigError",
    "ExecutionConfig",
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
