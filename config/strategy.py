"""``[strategies.<name>]``: the strategy instances the strategy actor hosts.

The strategy class and its ``params`` table cannot be checked here (config imports nothing
of Atrium's actors): the strategy actor's loader imports the class and validates
``params`` against the class's own ``Params`` Struct, naming the key as
``strategies.<name>.params.<key>``. It also checks ``symbols`` (non-empty, no repeats), so
every message names the strategy; msgspec reports errors inside a table of tables without
the table's name.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from atrium.config.base import ConfigBase

__all__ = ("StrategyConfig",)


class StrategyConfig(ConfigBase, frozen=True, kw_only=True):
    """One strategy instance.

    Parameters
    ----------
    cls : str
        ``module:Class`` of the strategy (TOML key ``class``), a subclass of
        ``atrium.actors.strategy.Strategy``.
    symbols : list of str
        Symbols whose market data the strategy receives and that it may trade; at least
        one, each once.
    params : table, default {}
        Typed parameters, validated against the strategy's own ``Params`` Struct.
    enabled : bool, default true
        ``false`` keeps the entry (still validated) but does not run the strategy.
    max_restarts : int, default 3
        How many times a strategy whose callback raised is restarted (fresh instance,
        ``on_start`` again) within ``restart_window_messages``; the next failure in the
        window disables it. 0 disables it on its first failure. >= 0.
    restart_window_messages : int, default 10000
        The window of ``max_restarts``, counted in messages the strategy actor handled.
        Counted in messages rather than seconds so a replay of daily bars (days of
        simulated time per message) and a live run judge a failing strategy alike. > 0.
    close_on_disable : bool, default false
        When the strategy is disabled, send a ``close`` intent for each of its open
        positions. Off by default: an operator may prefer to manage them by hand; the
        disabling ERROR log lists them either way.
    base_dir : str, default "."
        Where the module of ``class`` is looked for when it is not on the import path
        (``my_strategy.py`` or ``my_strategy/__init__.py``), before the current directory.
        Relative to the config file's directory, so a strategy beside the config loads
        without ``PYTHONPATH``.
    """

    cls: str = msgspec.field(name="class")
    symbols: list[str] = msgspec.field(default_factory=list)
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    enabled: bool = True
    max_restarts: Annotated[int, msgspec.Meta(ge=0)] = 3
    restart_window_messages: Annotated[int, msgspec.Meta(gt=0)] = 10_000
    close_on_disable: bool = False
    base_dir: str = "."
