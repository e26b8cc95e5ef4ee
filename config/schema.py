"""The root config: one section per actor plus the runtime's own."""

from __future__ import annotations

import msgspec

from config.base import ConfigBase
from config.cluster import ClusterConfig
from config.execution import ExecutionConfig
from config.journal import JournalConfig
from config.market_data import MarketDataConfig
from config.portfolio import PortfolioConfig
from config.replay import ReplayConfig
from config.risk import RiskConfig
from config.runtime import RuntimeConfig
from config.service import ServiceConfig
from config.strategy import StrategyConfig
from config.topology import TopologyConfig

__all__ = ("AtriumConfig",)


class AtriumConfig(ConfigBase, frozen=True, kw_only=True):
    """Everything Atrium reads from a TOML file. Every section has working defaults."""

    runtime: RuntimeConfig = msgspec.field(default_factory=RuntimeConfig)
    topology: TopologyConfig = msgspec.field(default_factory=TopologyConfig)
    market_data: MarketDataConfig = msgspec.field(default_factory=MarketDataConfig)
    strategies: dict[str, StrategyConfig] = msgspec.field(default_factory=dict)
    portfolio: PortfolioConfig = msgspec.field(default_factory=PortfolioConfig)
    risk: RiskConfig = msgspec.field(default_factory=RiskConfig)
    execution: ExecutionConfig = msgspec.field(default_factory=ExecutionConfig)
    journal: JournalConfig = msgspec.field(default_factory=JournalConfig)
    replay: ReplayConfig = msgspec.field(default_factory=ReplayConfig)
    service: ServiceConfig = msgspec.field(default_factory=ServiceConfig)
    cluster: ClusterConfig = msgspec.field(default_factory=ClusterConfig)
