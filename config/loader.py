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
from typing import Annotated, Any, Final, Union, get_args, get_origin

import msgspec

from atrium.config.instruments import check_currencies
from atrium.config.portfolio import CommissionConfig
from atrium.config.schema import AtriumConfig
from atrium.config.topology import default_actors
from atrium.errors import AtriumError

__all__ = (
    "ConfigError",
    "describe_validation_error",
    "load_config",
    "load_config_data",
    "parse_config",
)

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
_KEYED: Final = re.compile(r"^(?P<key>[a-z_][\w.\[\]]*): (?P<problem>.+)$", re.DOTALL)
_BPS: Final = Decimal(10_000)


class ConfigError(AtriumError, ValueError):
    """Raised when a config file cannot be read or does not validate.

    The message starts with the key path (``portfolio.max_leverage: ...``) so the fix is
    obvious; ``source`` names the file.
    """

    def __init__(self, message: str, source: str = "<config>") -> None:
        super().__init__(message)
        self.source = source


def load_config(path: str | Path) -> AtriumConfig:
    """Read and validate a TOML config file.

    Relative feed paths and strategy modules are anchored at the file's directory (through
    ``[market_data].base_dir`` and ``[strategies.<name>].base_dir``), so a config works
    from any working directory.
    """
    return parse_config(load_config_data(path), source=str(path))


def load_config_data(path: str | Path) -> dict[str, Any]:
    """The TOML of a config file as a dict, its relative paths anchored (not yet validated).

    A sweep changes keys of this dict for each point and validates each with
    :func:`parse_config`.
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
    _anchor_paths(data, file.resolve().parent)
    return data


def _anchor_paths(data: dict[str, Any], config_dir: Path) -> None:
    market_data = data.get("market_data")
    if market_data is None:
        market_data = data["market_data"] = {}
    if isinstance(market_data, dict):
        base = market_data.get("base_dir", ".")
        if isinstance(base, str):
            market_data["base_dir"] = str(config_dir / base)
    strategies = data.get("strategies")
    if isinstance(strategies, dict):
        for entry in strategies.values():
            if isinstance(entry, dict) and isinstance(entry.get("base_dir", "."), str):
                entry["base_dir"] = str(config_dir / entry.get("base_dir", "."))


def parse_config(data: Mapping[str, Any], source: str = "<config>") -> AtriumConfig:
    """Validate already-parsed config data (as from TOML) into an :class:`AtriumConfig`.

    The portfolio sizes with the venue's costs (``[execution]`` ``commission_*`` and
    ``slippage_bps``) unless ``[portfolio.commission]`` or ``[portfolio].slippage_pct`` is
    set, so one setting serves both; set the portfolio's apart to size on other costs.
    """
    merged = _with_default_topology(dict(data))
    try:
        config = msgspec.convert(merged, AtriumConfig, str_keys=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(_explain(exc, merged, AtriumConfig), source) from None
    portfolio = merged.get("portfolio")
    config = _with_venue_costs(config, portfolio if isinstance(portfolio, Mapping) else {}, source)
    config = _with_instruments(config, merged, source)
    return _with_accounts(config, merged, source)


#: The sections a core role may set for its own account (``[cluster.roles.X.portfolio]``).
ACCOUNT_SECTIONS: Final = ("portfolio", "risk", "execution")


def _with_accounts(config: AtriumConfig, data: Mapping[str, Any], source: str) -> AtriumConfig:
    """``config`` with each role's account tables resolved into whole sections.

    A role's tables are merged over the file's sections and the result validated as a file
    of its own, so what is derived (the portfolio's costs from the venue's) follows the
    account's settings and an error names the role's key. A role that sets any of them
    then holds all three (without ``instruments``, which stay the root's).
    """
    roles = config.cluster.roles
    given = [name for name, role in roles.items() if _account_tables(role)]
    if not given:
        return config
    base = _without_accounts(data)
    resolved = dict(roles)
    for name in given:
        account = _account(base, name, _account_tables(roles[name]), source)
        sections = {
            section: {
                key: value
                for key, value in msgspec.to_builtins(getattr(account, section)).items()
                if key != "instruments"
            }
            for section in ACCOUNT_SECTIONS
        }
        resolved[name] = msgspec.structs.replace(roles[name], **sections)
    cluster = msgspec.structs.replace(config.cluster, roles=resolved)
    return msgspec.structs.replace(config, cluster=cluster)


def _account_tables(role: Any) -> dict[str, dict[str, Any]]:
    return {
        section: table
        for section in ACCOUNT_SECTIONS
        if (table := getattr(role, section)) is not None
    }


def _without_accounts(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` without the roles' account tables: the file's own sections."""
    cluster = dict(data["cluster"])
    cluster["roles"] = {
        name: {key: value for key, value in role.items() if key not in ACCOUNT_SECTIONS}
        for name, role in cluster["roles"].items()
    }
    return {**data, "cluster": cluster}


def _account(
    base: dict[str, Any], role: str, tables: dict[str, dict[str, Any]], source: str
) -> AtriumConfig:
    data = {
        **base,
        **{section: _merged(base.get(section), table) for section, table in tables.items()},
    }
    try:
        return parse_config(data, source)
    except ConfigError as exc:
        message = str(exc)
        where = f"cluster.roles.{role}"
        named = message.split(":", 1)[0].split(".", 1)[0] in tables
        raise ConfigError(
            f"{where}.{message}" if named else f"{where}: {message}", source
        ) from None


def _merged(base: Any, over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged key by key into the table ``base`` (tables within too)."""
    merged = dict(base) if isinstance(base, Mapping) else {}
    for key, value in over.items():
        merged[key] = _merged(merged.get(key), value) if isinstance(value, Mapping) else value
    return merged


#: The sections that receive a copy of the root ``[instruments]`` table.
_INSTRUMENT_READERS: Final = ("portfolio", "risk", "execution")


def _with_instruments(config: AtriumConfig, data: Mapping[str, Any], source: str) -> AtriumConfig:
    """``config`` with ``[instruments]`` copied into each actor section that reads it.

    Actors get only their own section, so each receives the table at construction; it is
    written once, at the root, so the three copies can never disagree.
    """
    for section in _INSTRUMENT_READERS:
        table = data.get(section)
        if isinstance(table, Mapping) and "instruments" in table:
            raise ConfigError(
                f"{section}.instruments: set the root [instruments.<symbol>] tables instead "
                "(one table read by portfolio, risk and execution)",
                source,
            )
    instruments = config.instruments
    try:
        check_currencies(instruments, config.portfolio.account_currency)
    except ValueError as exc:
        raise ConfigError(str(exc), source) from None
    if not instruments:
        return config
    return msgspec.structs.replace(
        config,
        portfolio=msgspec.structs.replace(config.portfolio, instruments=instruments),
        risk=msgspec.structs.replace(config.risk, instruments=instruments),
        execution=msgspec.structs.replace(config.execution, instruments=instruments),
    )


def _with_venue_costs(
    config: AtriumConfig, portfolio: Mapping[str, Any], source: str
) -> AtriumConfig:
    """``config`` with the portfolio's unset cost estimates taken from ``[execution]``."""
    execution = config.execution
    changes: dict[str, Any] = {}
    if "commission" not in portfolio:
        changes["commission"] = CommissionConfig(
            per_share=execution.commission_per_share,
            pct_of_notional=execution.commission_bps / _BPS,
            minimum=execution.commission_min,
        )
    if "slippage_pct" not in portfolio:
        changes["slippage_pct"] = execution.slippage_bps / _BPS
    try:
        resolved = msgspec.structs.replace(config.portfolio, **changes)
    except ValueError as exc:
        raise ConfigError(
            f"portfolio.{exc} (taken from [execution]); set [portfolio.commission] to size "
            "on other costs than the venue's",
            source,
        ) from None
    return msgspec.structs.replace(config, portfolio=resolved)


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


def describe_validation_error(
    exc: msgspec.ValidationError, data: Any, target: Any, prefix: str = ""
) -> str:
    """Word a msgspec error as ``<prefix>.<key path>: <problem>, got <value>``.

    ``data`` is what was converted into ``target`` (a Struct type). Other packages that
    validate a sub-table of the config (a strategy's ``params``) use this so every
    error in Atrium reads the same.
    """
    return _explain(exc, data, target, prefix)


def _explain(exc: msgspec.ValidationError, data: Any, target: Any, prefix: str = "") -> str:
    """Word ``exc``; where msgspec hides a table key (``[...]``), find the entry at fault."""
    match = _AT.match(str(exc))
    path = match.group("path") or "" if match else ""
    head, hidden, _ = path.partition("[...]")
    if hidden:
        head = _dotted(head)
        entries = _lookup(data, head)
        entry_type = _table_value_type(target, head)
        if isinstance(entries, Mapping) and entry_type is not None:
            for key, entry in entries.items():
                try:
                    msgspec.convert(entry, entry_type, str_keys=True)
                except msgspec.ValidationError as inner:
                    return _explain(inner, entry, entry_type, _join(prefix, _join(head, str(key))))
    return _humanise(str(exc), data, prefix)


def _table_value_type(target: Any, dotted: str) -> Any:
    """The value type of the ``dict`` field at ``dotted`` inside Struct ``target``."""
    current = target
    for part in dotted.split(".") if dotted else []:
        if not (isinstance(current, type) and issubclass(current, msgspec.Struct)):
            return None
        by_name = {field.encode_name: field.type for field in msgspec.structs.fields(current)}
        if part not in by_name:
            return None
        current = _unwrap(by_name[part])
    if get_origin(current) is dict:
        return get_args(current)[1]
    return None


def _unwrap(annotation: Any) -> Any:
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) is Union:
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        annotation = options[0] if len(options) == 1 else annotation
    return annotation


def _humanise(raw: str, data: Mapping[str, Any], prefix: str = "") -> str:
    match = _AT.match(raw)
    text = match.group("text") if match else raw
    local = _dotted(match.group("path") or "") if match else ""
    path = _join(prefix, local) if local else prefix
    if unknown := _UNKNOWN.match(text):
        return f"{_join(path, unknown.group('key'))}: unknown key (check the spelling)"
    if missing := _MISSING.match(text):
        return f"{_join(path, missing.group('key'))}: required key is missing"
    got = _lookup(data, local)
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
    if not key:
        return path
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
