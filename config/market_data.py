"""`[market_data]`: settings of the market_data actor."""

from __future__ import annotations

from config.base import ConfigBase

__all__ = ("MarketDataConfig",)


class MarketDataConfig(ConfigBase, frozen=True, kw_only=True):
    """Settings of the market_data actor (filled in by its issue)."""
