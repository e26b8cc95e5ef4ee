"""``[strategies.<name>]``: the strategy instances the strategy actor hosts."""

from __future__ import annotations

from typing import Any

import msgspec

from config.base import ConfigBase

__all__ = ("StrategyConfig",)


class StrategyConfig(ConfigBase, frozen=True, kw_only=True):
    """One strategy instance.

    Parameters
    ----------
    cls : str
        ``module:Class`` of the strategy (TOML key ``class``).
    symbols : list of str
        Symbols whose market data the strategy receives.
    params : table
        Typed parameters, validated against the strategy's own ``Params`` Struct.
    """

    cls: str = msgspec.field(name="class")
    symbols: list[str] = msgspec.field(default_factory=list)
    params: dict[str, Any] = msgspec.field(default_factory=dict)
