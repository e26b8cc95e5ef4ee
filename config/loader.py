"""Load TOML into :class:`~config.schema.AtriumConfig`, with errors that name the key.

A msgspec validation error reads ``Expected `float` > 0.0 - at `$.portfolio.max_leverage```;
we turn it into ``portfolio.max_leverage: expected a number > 0, got -1`` so an operator
sees the key path, the rule and the value they wrote.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import msgspec

from config.schema import AtriumConfig
from config.topology import default_actors

__all__ = ("ConfigError", "load_config", "parse_config")

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
# A ``__post_init__`` check names its key first (``max_order_notional: ...``).
_KEYED: Final = re.compile(r"^(?P<key>[a-z_][\w.]*): (?P<problem>.+)$", re.DOTALL)


class ConfigError(ValueError):
    """Raised when a config file cannot be read or does not validate.

    The message starts with the key path (``portfolio.max_leverage: ...``) so the fix is
    obvious; ``source`` names the file.
    """

    def __init__(self, message: str, source: str = "<config>") -> None:
        super().__init__(message)
        self.source = source


def load_config(path: str | Path) -> AtriumConfig:
    """Read and validate a TOML config file.

    Relative paths inside the file (feeds, output directories) are resolved later
    against :attr:`AtriumConfig.base_dir`, which is set to the file's directory.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror}", str(file)) from None
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}", str(file)) from None
    data.setdefault("base_dir", str(file.resolve().parent))
    return parse_config(data, source=str(file))


def parse_config(data: Mapping[str, Any], source: str = "<config>") -> AtriumConfig:
    """Validate already-parsed config data (as from TOML) into an :class:`AtriumConfig`."""
    merged = _with_default_topology(dict(data))
    try:
        return msgspec.convert(merged, AtriumConfig, str_keys=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(_humanise(str(exc), merged), source) from None


def _with_default_topology(data: dict[str, Any]) -> dict[str, Any]:
    """Let ``[topology.actors.NAME]`` override single keys of a default actor."""
    topology = data.get("topology")
    if not isinstance(topology, dict) or not isinstance(topology.get("actors"), dict):
        return data
    defaults = msgspec.to_builtins(default_actors())
    actors: dict[str, Any] = {}
    for name, spec in topology["actors"].items():
        base = defaults.get(name, {})
        actors[name] = {**base, **spec} if isinstance(spec, dict) else spec
    for name, spec in defaults.items():
        actors.setdefault(name, spec)
    return {**data, "topology": {**topology, "actors": actors}}


def _humanise(raw: str, data: Mapping[str, Any]) -> str:
    match = _AT.match(raw)
    text = match.group("text") if match else raw
    path = _dotted(match.group("path") or "") if match else ""
    if unknown := _UNKNOWN.match(text):
        return f"{_join(path, unknown.group('key'))}: unknown key (check the spelling)"
    if missing := _MISSING.match(text):
        return f"{_join(path, missing.group('key'))}: required key is missing"
    got = _lookup(data, path)
    if expected := _EXPECTED.match(text):
        want = _TYPE_WORDS.get(expected.group("want"), expected.group("want"))
        rule = _rule_words(expected.group("rule").strip())
        return f"{path or '<root>'}: expected {want}{rule}, got {_show(got)}"
    if enum := _ENUM.match(text):
        return f"{path or '<root>'}: unknown value {enum.group('got')}"
    if path and (keyed := _KEYED.match(text)):
        return f"{_join(path, keyed.group('key'))}: {keyed.group('problem')}"
    message = text[0].lower() + text[1:] if text else text
    return f"{path or '<root>'}: {message}" if path else message


def _rule_words(rule: str) -> str:
    if not rule:
        return ""
    # msgspec prints float bounds as 0.0; the user wrote 0.
    return " " + re.sub(r"(\d+)\.0\b", r"\1", rule)


def _dotted(json_path: str) -> str:
    return json_path.lstrip(".")


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
