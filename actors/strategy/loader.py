"""Load the configured strategies: import each class, check it, validate its params.

Everything is checked before any strategy runs, and every error is a
:class:`~config.loader.ConfigError` naming the key, e.g.
``strategies.trend.params.fast: expected an integer >= 1, got 0`` or
``strategies.trend.class: 'mypkg.signals:Trend' is not a Strategy subclass``. The wording
follows ``config.loader`` so a strategy's ``params`` read like every other section.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from actors.strategy.api import Strategy
from config.base import ConfigBase
from config.loader import ConfigError
from config.strategy import StrategyConfig
from runtime.loading import load_object

__all__ = ("LoadedStrategy", "load_strategies", "load_strategy_class", "validate_params")

_TYPE_WORDS: Final = {
    "float": "a number",
    "int": "an integer",
    "decimal": "a number",
    "str": "a string",
    "bool": "true or false",
    "array": "a list",
    "object": "a table",
    "null": "nothing",
}
_AT: Final = re.compile(r"^(?P<text>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_EXPECTED: Final = re.compile(
    r"^Expected `(?P<want>[^`]+)`(?P<rule>[^,]*?)(?:, got `(?P<got>[^`]+)`)?$"
)
_UNKNOWN: Final = re.compile(r"^Object contains unknown field `(?P<key>[^`]+)`$")
_MISSING: Final = re.compile(r"^Object missing required field `(?P<key>[^`]+)`$")
_ENUM: Final = re.compile(r"^Invalid enum value (?P<got>.+)$")


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
        cls = load_strategy_class(config.cls, key=f"{key}.class")
        params = validate_params(cls, config.params, key=f"{key}.params")
        loaded.append(LoadedStrategy(name, cls, params, config))
    return loaded


def load_strategy_class(path: str, *, key: str) -> type[Strategy[Any]]:
    """Import ``module:Class`` and check it is a :class:`Strategy` with a valid ``Params``."""
    try:
        obj = load_object(path, key=key)
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
        raise ConfigError(f"{key}.{_describe(str(exc), params)}") from None


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


def _describe(raw: str, data: Mapping[str, Any]) -> str:
    """Turn a msgspec message into ``<key>: <problem>`` relative to the params table.

    A ``__post_init__`` check has no ``$`` path; by convention its message already
    starts with the key (``fast: must be < slow, ...``).
    """
    match = _AT.match(raw)
    text = match.group("text") if match else raw
    path = (match.group("path") or "").lstrip(".") if match else ""
    if unknown := _UNKNOWN.match(text):
        return f"{_join(path, unknown.group('key'))}: unknown key (check the spelling)"
    if missing := _MISSING.match(text):
        return f"{_join(path, missing.group('key'))}: required key is missing"
    if expected := _EXPECTED.match(text):
        want = _TYPE_WORDS.get(expected.group("want"), expected.group("want"))
        rule = _rule_words(expected.group("rule").strip())
        return f"{path}: expected {want}{rule}, got {_show(_lookup(data, path))}"
    if enum := _ENUM.match(text):
        return f"{path}: unknown value {enum.group('got')}"
    return f"{path}: {text}" if path else text


def _rule_words(rule: str) -> str:
    # msgspec prints float bounds as 0.0; the user wrote 0.
    return " " + re.sub(r"(\d+)\.0\b", r"\1", rule) if rule else ""


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _lookup(data: Any, path: str) -> Any:
    node = data
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("[") and isinstance(node, list):
            index = int(part[1:-1])
            node = node[index] if index < len(node) else None
        elif isinstance(node, Mapping):
            node = node.get(part)
        else:
            return None
    return node


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)
