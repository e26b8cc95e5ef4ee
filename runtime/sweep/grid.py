"""GRID.toml, the points it names, and each point's config data.

A point is a mapping from dotted config keys to values; its config is the base config's
TOML data with those keys set, validated by :func:`~atrium.config.loader.parse_config`
like any config file.
"""

from __future__ import annotations

import copy
import itertools
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from atrium.config.loader import ConfigError, describe_validation_error
from atrium.config.sweep import GridConfig

__all__ = ("check_keys", "grid_points", "load_grid", "with_params")

Params = dict[str, Any]


def load_grid(path: Path) -> GridConfig:
    """Read and validate GRID.toml; errors read ``<file>: <key path>: <problem>``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except OSError as exc:
        raise ConfigError(f"cannot read grid file {path}: {exc.strerror}", str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", str(path)) from None
    params = data.get("params")
    if isinstance(params, dict):
        for key, spec in params.items():
            if not isinstance(spec, list | dict):
                raise ConfigError(
                    f"{path}: params.{key}: expected a list of values or a table "
                    f"{{start, stop, step}}, got {spec!r}",
                    str(path),
                )
    try:
        return msgspec.convert(data, GridConfig, str_keys=True)
    except msgspec.ValidationError as exc:
        message = describe_validation_error(exc, data, GridConfig)
        raise ConfigError(f"{path}: {message}", str(path)) from None


def grid_points(grid: GridConfig) -> list[Params]:
    """Every combination of the grid's values, the first key varying slowest."""
    keys = list(grid.params)
    return [
        dict(zip(keys, combination, strict=True))
        for combination in itertools.product(*(grid.values(key) for key in keys))
    ]


def with_params(data: dict[str, Any], params: Params) -> dict[str, Any]:
    """A copy of config ``data`` with each dotted key of ``params`` set to its value."""
    result = copy.deepcopy(data)
    for key, value in params.items():
        _set(result, key, copy.deepcopy(value))
    return result


def check_keys(data: dict[str, Any], grid: GridConfig) -> None:
    """Refuse a grid key that cannot be set in ``data`` (a path through a value)."""
    for key in grid.params:
        try:
            _set(copy.deepcopy(data), key, None)
        except (KeyError, IndexError, TypeError) as exc:
            raise ConfigError(f"grid params.{key}: {exc.args[0]}") from None


def _set(node: Any, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                where = ".".join(parts[:depth])
                raise IndexError(f"{where} has {len(node)} entries; {part!r} is not one of them")
            index = int(part)
            if last:
                node[index] = value
            node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            node = node.setdefault(part, {})
        else:
            where = ".".join(parts[:depth])
            raise TypeError(f"{where} is {node!r} in the config, not a table")
