"""`[portfolio]`: settings of the portfolio actor."""

from __future__ import annotations

from config.base import ConfigBase

__all__ = ("PortfolioConfig",)


class PortfolioConfig(ConfigBase, frozen=True, kw_only=True):
    """Settings of the portfolio actor (filled in by its issue)."""
