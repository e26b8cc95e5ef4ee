"""The root config: one section per actor plus the runtime's own."""

from __future__ import annotations

import msgspec

from atrium.config.base import ConfigBase
from atrium.config.cluster import ClusterConfig
from atrium.config.execution import ExecutionConfig
from atrium.config.instruments import InstrumentConfig
from atrium.config.journal import JournalConfig
from atrium.config.market_data import MarketDataConfig
from atrium.config.portfolio import PortfolioConfig
from atrium.config.replay import ReplayConfig
from atrium.config.risk import RiskConfig
from atrium.config.runtime import RuntimeConfig
from atrium.config.service import ServiceConfig
from atrium.config.strategy import StrategyConfig
from atrium.config.topology import TopologyConfig

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
    #: Contract terms per symbol; the loader copies them into portfolio, risk, execution.
    instruments: dict[str, InstrumentConfig] = msgspec.field(default_factory=dict)
