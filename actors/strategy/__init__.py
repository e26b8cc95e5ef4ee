"""The strategy actor and the API strategies are written against.

Config: ``[strategies.<name>]`` tables (``class = "module:Class"``, ``symbols``,
``params``; see :class:`config.strategy.StrategyConfig`). The topology loads
:class:`StrategyActor` as ``actors.strategy:StrategyActor``. Bundled strategies live in
``actors.strategy.bundled`` (``ema_cross:EmaCross``, ``momentum_atr:MomentumAtr``).
"""

from actors.strategy.actor import StrategyActor as StrategyActor
from actors.strategy.api import NoParams as NoParams
from actors.strategy.api import Number as Number
from actors.strategy.api import Strategy as Strategy
from actors.strategy.api import StrategyContext as StrategyContext
from actors.strategy.loader import LoadedStrategy as LoadedStrategy
from actors.strategy.loader import load_strategies as load_strategies

__all__ = (
    "LoadedStrategy",
    "NoParams",
    "Number",
    "Strategy",
    "StrategyActor",
    "StrategyContext",
    "load_strategies",
)
