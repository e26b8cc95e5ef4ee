"""Load the configured strategies: import each class, check it, validate its params.

Everything is checked before any strategy runs, and every error is a
:class:`~config.loader.ConfigError` naming the key, e.g.
``strategies.trend.params.fast: expected an integer >= 1, got 0`` or
``strategies.trend.class: 'mypkg.signals:Trend' is not a Strategy subclass``. The wording
follows ``atrium.config.loader`` so a strategy's ``params`` read like every other section.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from atrium.actors.strategy.api import Strategy
from atrium.config.base import ConfigBase
from atrium.config.loader import ConfigError, describe_validation_error
from atrium.config.strategy import StrategyConfig
from atrium.runtime.loading import load_object

__all__ = ("LoadedStrategy", "load_strategies", "load_strategy_class", "validate_params")


@dataclass(frozen=True, slots=True)
class LoadedStrategy:
    """A checked ``[strategies.<name>]`` entry, ready to instantiate.

    Parameters
    ----------
    name : str
        The key under ``[strategies]``.
    cls : type
        The :class:`~actors.strategy.api.Strategy` subclass.
    params : ConfigBase
        The validated ``cls.Params`` instance.
    config : StrategyConfig
        The entry itself (symbols, restart limits).
    """

    name: str
    cls: type[Strategy[Any]]
    params: ConfigBase
    config: StrategyConfig


def load_strategies(configs: Mapping[str, StrategyConfig]) -> list[LoadedStrategy]:
    """Check every entry (disabled ones too) and return them in config order.

    Raises
    ------
    ConfigError
        The first problem found, naming its key.
    """
    loaded: list[LoadedStrategy] = []
    for name, config in configs.items():
        key = f"strategies.{name}"
        _check_symbols(config.symbols, key=f"{key}.symbols")
        search = (Path(config.base_dir), Path.cwd())
        cls = load_strategy_class(config.cls, key=f"{key}.class", search=search)
        params = validate_params(cls, config.params, key=f"{key}.params")
        loaded.append(LoadedStrategy(name, cls, params, config))
    return loaded


def load_strategy_class(path: str, *, key: str, search: Sequence[Path] = ()) -> type[Strategy[Any]]:
    """Import ``module:Class`` and check it is a :class:`Strategy` with a valid ``Params``.

    A module not on the import path is looked for in the ``search`` directories.
    """
    try:
        obj = load_object(path, key=key, search=search)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not (isinstance(obj, type) and issubclass(obj, Strategy)):
        raise ConfigError(f"{key}: {path!r} is not a Strategy subclass")
    params = obj.Params
    if not (isinstance(params, type) and issubclass(params, ConfigBase)):
        raise ConfigError(
            f"{key}: {path}.Params must be a subclass of config.base.ConfigBase, got {params!r}"
        )
    return obj


def validate_params(cls: type[Strategy[Any]], params: Mapping[str, Any], *, key: str) -> ConfigBase:
    """Convert the ``params`` table into ``cls.Params``; errors name ``key.<field>``."""
    try:
        return msgspec.convert(dict(params), cls.Params, str_keys=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, params, cls.Params, prefix=key)) from None


def _check_symbols(symbols: list[str], *, key: str) -> None:
    if not symbols:
        raise ConfigError(f"{key}: list at least one symbol")
    seen: set[str] = set()
    for symbol in symbols:
        if not symbol:
            raise ConfigError(f"{key}: a symbol is an empty string")
        if symbol in seen:
            raise ConfigError(f"{key}: {symbol!r} is listed twice")
        seen.add(symbol)
