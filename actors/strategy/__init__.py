"""The strategy actor and the API strategies are written against.

Config: ``[strategies.<name>]`` tables (``class = "module:Class"``, ``symbols``,
``params``; see :class:`atrium.config.strategy.StrategyConfig`). The topology loads
:class:`StrategyActor` as ``atrium.actors.strategy:StrategyActor``. Bundled strategies live in
``atrium.actors.strategy.bundled`` (``ema_cross:EmaCross``, ``momentum_atr:MomentumAtr``).
"""

from atrium.actors.strategy.actor import StrategyActor as StrategyActor
from atrium.actors.strategy.api import NoParams as NoParams
from atrium.actors.strategy.api import Number as Number
from atrium.actors.strategy.api import Strategy as Strategy
from atrium.actors.strategy.api import StrategyContext as StrategyContext
from atrium.actors.strategy.loader import LoadedStrategy as LoadedStrategy
from atrium.actors.strategy.loader import load_strategies as load_strategies

__all__ = (
    "LoadedStrategy",
    "NoParams",
    "Number",
    "Strategy",
    "StrategyActor",
    "StrategyContext",
    "load_strategies",
)
