"""`[risk]`: settings of the risk actor."""

from __future__ import annotations

from config.base import ConfigBase

__all__ = ("RiskConfig",)


class RiskConfig(ConfigBase, frozen=True, kw_only=True):
    """Settings of the risk actor (filled in by its issue)."""
