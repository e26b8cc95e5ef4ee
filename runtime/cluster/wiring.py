"""``[cluster.roles]`` turned into the config of one process (``--role NAME``).

A role keeps its own actors from ``[topology.actors]`` and gains the bridge actor, which
subscribes to every kind some other role's actors subscribe to (so what is published
here and wanted elsewhere leaves over NATS) and consumes the subjects of every kind its
own actors subscribe to. A role that only hosts strategies consumes only the market data
of their symbols and the order flow of those strategies.

A namespace may hold several cores (roles running the portfolio, risk and execution
actors), one per account, each taking the orders of the strategies it lists. Cores never
consume each other's output: each takes the market data of its strategies' symbols, their
order flow, and the account-wide kinds under its own name (see
:mod:`~atrium.runtime.cluster.subjects`); its order ids carry its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

import msgspec

from atrium.config.cluster import ClusterConfig
from atrium.config.execution import ExecutionConfig
from atrium.config.loader import ACCOUNT_SECTIONS, ConfigError
from atrium.config.portfolio import PortfolioConfig
from atrium.config.risk import RiskConfig
from atrium.config.schema import AtriumConfig
from atrium.config.topology import ActorSpecConfig
from atrium.runtime.cluster.subjects import SubjectMap
from atrium.runtime.codec import MESSAGE_TYPES

__all__ = (
    "BRIDGE",
    "RoleWiring",
    "check_one_process",
    "check_replay_roles",
    "core_roles",
    "role_config",
)

#: The bridge actor's name in every role's topology.
BRIDGE = "nats"
_STRATEGIES = "strategies"
_EXECUTION = "execution"
_MARKET_DATA = "market_data"
_PORTFOLIO = "portfolio"
#: The sections of the actors that keep one account's state: a core runs them together.
_CORE = frozenset(ACCOUNT_SECTIONS)
#: The live venue that re-runs its reports quietly and then reconciles.
_RECONCILING = "ccxt"
_MARKET_KINDS = frozenset({"Bar", "Tick"})
_Section = TypeVar("_Section", PortfolioConfig, RiskConfig, ExecutionConfig)


@dataclass(frozen=True)
class LocalReplay:
    """A role's part in a replay whose roles read the feeds themselves
    (``cluster.replay_market_data = "local"``, :mod:`atrium.runtime.cluster.steps`)."""

    part: Literal["coordinator", "core", "follower"]
    #: The role of the core (whose lock tells the others it still runs).
    core: str = ""
    #: The core: each strategy role and the strategies it hosts.
    followers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: A strategy role: the symbols its strategies trade (the records it takes).
    symbols: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RoleWiring:
    """What the bridge of one role needs to know about the whole cluster."""

    role: str
    cluster: ClusterConfig
    subjects: SubjectMap
    #: Filter subjects of this role's consumer (empty: it consumes nothing).
    imports: tuple[str, ...]
    #: Durable consumer names of every role that consumes (the replay barrier waits for
    #: all of them to be idle).
    consumers: tuple[str, ...]
    #: This role runs a source (market data): in a replay it drives the cluster.
    driver: bool
    #: Why this role may not rebuild by handling its input again (a venue that cannot
    #: stay quiet while it rebuilds would receive its orders twice); None: it may.
    no_rebuild: str | None = None
    #: This role's execution actor trades on a live venue that reconciles (ccxt): what
    #: the venue reports is input kept on the stream, and the venue is quiet until the
    #: rebuild is done.
    venue_input: bool = False
    #: Every strategy of the config, in its order: a replay releases the held order flow
    #: of one event in this order, as one strategy actor would have sent it.
    strategy_order: tuple[str, ...] = ()
    #: This role hosts the venue and other roles want market data: it passes each bar
    #: or tick on once the fills it caused are settled.
    passes_market_data_on: bool = False
    #: Where a stop that could not store everything keeps the rest (beside the journal).
    unsent: str = "atrium-unsent"
    #: Plain subjects of the market data this role's actors want, straight from the
    #: source (``cluster.market_data = "subjects"``, live).
    market: tuple[str, ...] = ()
    #: Live market data travels on plain subjects: the stream keeps only the order flow.
    plain_market: bool = False
    #: This role hosts strategies and nothing else.
    strategies_only: bool = False
    #: Live, with market data on plain subjects: this role keeps the market data it takes
    #: on the stream and handles it when it comes back (the core: see
    #: :mod:`atrium.runtime.cluster.marks`).
    keeps_marks: bool = False
    #: A replay whose roles read the feeds themselves: this role's part (None: not one).
    local: LocalReplay | None = None

    def live_subjects(self) -> RoleWiring:
        """This wiring for a live run with market data on plain subjects: the consumer
        takes the order flow, and nothing is passed on after the venue. A role that
        consumes and keeps more than strategies also takes back the market data it kept,
        so a restart rebuilds its state from the stream exactly."""
        subjects = self.subjects
        imports = tuple(subject for subject in self.imports if not subjects.is_market(subject))
        keeps = bool(imports and self.market) and not self.strategies_only
        if keeps:
            imports = tuple(sorted((*imports, subjects.marks(self.role))))
        return replace(
            self,
            imports=imports,
            plain_market=True,
            passes_market_data_on=False,
            keeps_marks=keeps,
        )

    @property
    def stream_subjects(self) -> list[str]:
        subjects = self.subjects
        if self.plain_market or self.local is not None:
            return subjects.flow_subjects
        return subjects.stream_subjects

    @property
    def stream(self) -> str:
        return stream_name(self.cluster)

    @property
    def market_stream(self) -> str:
        """The stream that records plain-subject market data (``record_market_data_bytes``)."""
        return f"{self.stream}_MD"

    @property
    def durable(self) -> str:
        return consumer_name(self.cluster, self.role)


def stream_name(cluster: ClusterConfig) -> str:
    return cluster.namespace.upper().replace("-", "_")


def consumer_name(cluster: ClusterConfig, role: str) -> str:
    return f"{cluster.namespace}-{role}"


def role_config(
    config: AtriumConfig,
    role: str,
    *,
    sources: frozenset[str] = frozenset({"market_data"}),
    replay: bool = False,
) -> tuple[AtriumConfig, RoleWiring]:
    """The config of the process running ``role``, and its bridge's wiring.

    ``sources`` names the actors that produce input of their own (they make a role the
    driver of a replay). ``replay``: for ``atrium replay --role``, where with
    ``replay_market_data = "local"`` every role reads the feeds itself. Raises
    :class:`ConfigError` naming the key when the roles do not cover the topology or the
    portfolio would have two owners.
    """
    _check_role_name(config, role)
    _check_roles(config)
    mine = config.cluster.roles[role]
    cores = core_roles(config)
    # A core among several runs on its own account's sections (its venue too).
    account = _account_config(config, role) if len(cores) > 1 and role in cores else config
    wanted_elsewhere = _wanted_elsewhere(config, role, cores)
    venue_role = _venue_role(config) if len(cores) < 2 else None
    subjects = SubjectMap(config.cluster.namespace, origin=role if len(cores) > 1 else None)
    imports = _imports(
        config, role, subjects, after_venue=venue_role is not None and venue_role != role
    )
    market = _imports(config, role, subjects, after_venue=False, market_only=True)
    wiring = RoleWiring(
        role=role,
        cluster=config.cluster,
        subjects=subjects,
        imports=imports,
        market=market,
        consumers=_consumers(config),
        driver=any(name in sources for name in mine.actors),
        no_rebuild=_no_rebuild(account, mine.actors),
        venue_input=_trades(account, mine.actors) and account.execution.venue == _RECONCILING,
        strategy_order=tuple(config.strategies),
        strategies_only=all(
            config.topology.actors[name].section == _STRATEGIES for name in mine.actors
        ),
        passes_market_data_on=role == venue_role
        and any(kind in _MARKET_KINDS for kind in wanted_elsewhere),
    )
    process = _process_config(account, role, wanted_elsewhere)
    wiring = replace(wiring, unsent=f"{process.journal.path}.unsent")
    if replay and config.cluster.replay_market_data == "local":
        return local_replay_role(config, process, wiring)
    return process, wiring


def local_replay_role(
    config: AtriumConfig, process: AtriumConfig, wiring: RoleWiring
) -> tuple[AtriumConfig, RoleWiring]:
    """``process`` and ``wiring`` for a replay whose roles read the feeds themselves.

    The market data role only starts the replay and waits for its end; the core and each
    strategy role run a market data actor of their own. No market data crosses: the
    bridges carry order flow and the step markers (:mod:`atrium.runtime.cluster.steps`).
    """
    actors, roles, role = config.topology.actors, config.cluster.roles, wiring.role
    subjects = wiring.subjects
    readers = {name: spec for name, spec in actors.items() if spec.section == _MARKET_DATA}
    topology = dict(process.topology.actors)
    core = core_roles(config)[0]
    if any(name in readers for name in roles[role].actors):
        local = LocalReplay("coordinator", core=core)
        topology = {BRIDGE: msgspec.structs.replace(topology[BRIDGE], subscribes=[])}
        imports: tuple[str, ...] = ()
    elif role == core:
        followers = {
            other: tuple(spec.strategies or config.strategies)
            for other, spec in sorted(roles.items())
            if other != role and all(actors[name].section == _STRATEGIES for name in spec.actors)
        }
        local = LocalReplay("core", core=core, followers=followers)
        imports = (subjects.start,)  # the order flow comes on plain subjects (step_wire)
    else:
        hosted = roles[role].strategies
        symbols = frozenset(_symbols(config, None if hosted is None else list(hosted)))
        local = LocalReplay("follower", core=core, symbols=symbols)
        imports = (subjects.start,)
    if local.part != "coordinator":
        topology.update(readers)
        bridge = topology[BRIDGE]
        exported = [kind for kind in bridge.subscribes if kind not in _MARKET_KINDS]
        topology[BRIDGE] = msgspec.structs.replace(bridge, subscribes=exported)
    process = msgspec.structs.replace(
        process, topology=msgspec.structs.replace(process.topology, actors=topology)
    )
    wiring = replace(
        wiring, imports=imports, driver=False, passes_market_data_on=False, local=local
    )
    return process, wiring


def core_roles(config: AtriumConfig) -> list[str]:
    """The roles that run the portfolio actor: one core per account."""
    actors = config.topology.actors
    return [
        name
        for name, spec in config.cluster.roles.items()
        if any(actor in actors and actors[actor].section == _PORTFOLIO for actor in spec.actors)
    ]


def _account_config(config: AtriumConfig, role: str) -> AtriumConfig:
    """The process of one core among several: its account's sections, and its name in its
    order ids, so the orders of two accounts never share an id in the namespace."""
    mine = config.cluster.roles[role]
    portfolio = _resolved(mine.portfolio, config.portfolio)
    return msgspec.structs.replace(
        config,
        portfolio=msgspec.structs.replace(
            portfolio, order_id_prefix=f"{portfolio.order_id_prefix}{role}-"
        ),
        risk=_resolved(mine.risk, config.risk),
        execution=_resolved(mine.execution, config.execution),
    )


def _resolved(table: dict[str, Any] | None, current: _Section) -> _Section:
    """A core's section as the loader resolved it (``table``), else the file's."""
    if table is None:
        return current
    resolved = msgspec.convert(table, type(current), str_keys=True)
    return msgspec.structs.replace(resolved, instruments=current.instruments)


def _check_role_name(config: AtriumConfig, role: str) -> None:
    roles = config.cluster.roles
    if not roles:
        raise ConfigError("--role: the config has no [cluster.roles]")
    if role not in roles:
        known = ", ".join(sorted(roles))
        raise ConfigError(f"--role {role!r}: no such role in [cluster.roles]; roles: {known}")


def _wanted_elsewhere(config: AtriumConfig, role: str, cores: list[str]) -> list[str]:
    """Kinds the actors of the other roles subscribe to: what the bridge sends out. A core
    sends nothing for another core (each account's flow stays its own)."""
    actors = config.topology.actors
    peers = set(cores) - {role} if role in cores else set()
    return sorted(
        {
            kind
            for other, spec in config.cluster.roles.items()
            if other != role and other not in peers
            for name in spec.actors
            for kind in actors[name].subscribes
        }
    )


def _venue_role(config: AtriumConfig) -> str | None:
    """The first role, by name, that runs an execution actor."""
    actors = config.topology.actors
    return next(
        (
            name
            for name, spec in sorted(config.cluster.roles.items())
            if any(actors[actor].section == _EXECUTION for actor in spec.actors)
        ),
        None,
    )


def _imports(
    config: AtriumConfig,
    role: str,
    subjects: SubjectMap,
    *,
    after_venue: bool,
    market_only: bool = False,
) -> tuple[str, ...]:
    """Filter subjects of what ``role``'s actors subscribe to.

    A role of strategy actors only takes the market data of its strategies' symbols and
    the order flow of those strategies; so does a core among several, which takes the
    account-wide kinds of its own account only.
    """
    actors = config.topology.actors
    mine = config.cluster.roles[role]
    hosted = None if mine.strategies is None else list(mine.strategies)
    subscribed_here = {kind for name in mine.actors for kind in actors[name].subscribes}
    if market_only:
        subscribed_here &= _MARKET_KINDS
    own_account = subjects.origin is not None and role in core_roles(config)
    narrow = own_account or all(actors[name].section == _STRATEGIES for name in mine.actors)
    imports = subjects.filters(
        [MESSAGE_TYPES[kind] for kind in sorted(subscribed_here)],
        symbols=_symbols(config, hosted) if narrow else None,
        strategies=hosted if narrow else None,
        after_venue=after_venue,
        own_account=own_account,
    )
    return tuple(imports)


def _consumers(config: AtriumConfig) -> tuple[str, ...]:
    """Durable consumer names of every role whose actors subscribe to anything."""
    actors = config.topology.actors
    return tuple(
        consumer_name(config.cluster, name)
        for name, spec in sorted(config.cluster.roles.items())
        if any(actors[actor].subscribes for actor in spec.actors)
    )


def _process_config(config: AtriumConfig, role: str, wanted_elsewhere: list[str]) -> AtriumConfig:
    """``config`` cut to ``role``: its actors plus the bridge, its journal, strategies, port."""
    mine = config.cluster.roles[role]
    topology = {name: config.topology.actors[name] for name in mine.actors}
    topology[BRIDGE] = ActorSpecConfig(
        cls="atrium.runtime.cluster.bridge:NatsBridge",
        section="cluster",
        subscribes=wanted_elsewhere,
        restart="escalate",
    )
    changes: dict[str, object] = {
        "topology": msgspec.structs.replace(config.topology, actors=topology),
        "journal": msgspec.structs.replace(
            config.journal, path=mine.journal or _beside(config.journal.path, role)
        ),
    }
    if mine.strategies is not None:
        changes["strategies"] = {name: config.strategies[name] for name in mine.strategies}
    if mine.feeds is not None:
        feeds = [feed for feed in config.market_data.feeds if feed.feed_name in mine.feeds]
        changes["market_data"] = msgspec.structs.replace(config.market_data, feeds=feeds)
    service = {
        key: value for key, value in (("port", mine.port), ("host", mine.host)) if value is not None
    }
    if service:
        changes["service"] = msgspec.structs.replace(config.service, **service)
    return msgspec.structs.replace(config, **changes)


def _trades(config: AtriumConfig, names: list[str]) -> bool:
    return any(config.topology.actors[name].section == _EXECUTION for name in names)


def _no_rebuild(config: AtriumConfig, names: list[str]) -> str | None:
    """The paper venue rebuilds with the role, and ccxt stays quiet until it reconciles;
    a venue of another factory might send its orders again."""
    venue = config.execution.venue
    if _trades(config, names) and venue not in ("paper", _RECONCILING):
        return f"its execution actor trades on {venue}, which would receive its orders again"
    return None


def _beside(path: str, role: str) -> str:
    head, sep, tail = path.rpartition("/")
    return f"{head}{sep}{role}-{tail}"


def _symbols(config: AtriumConfig, hosted: list[str] | None) -> list[str]:
    names = hosted if hosted is not None else list(config.strategies)
    return sorted({symbol for name in names for symbol in config.strategies[name].symbols})


def _check_roles(config: AtriumConfig) -> None:
    actors = config.topology.actors
    placed: dict[str, list[str]] = {}
    for role, spec in config.cluster.roles.items():
        _check_role(config, role)
        for name in spec.actors:
            placed.setdefault(name, []).append(role)
    missing = [name for name in actors if name not in placed]
    if missing:
        raise ConfigError(f"cluster.roles: no role runs {', '.join(missing)}")
    cores = core_roles(config)
    if len(cores) > 1:
        _check_cores(config, cores, placed)
    else:
        _check_one_core(config, cores)
    for name, where in placed.items():
        section = actors[name].section
        if section == _STRATEGIES:
            _check_shards(config, where)
        elif section == _MARKET_DATA:
            _check_feed_shards(config, where)
        elif len(where) > 1 and not (len(cores) > 1 and section in _CORE):
            raise ConfigError(
                f"cluster.roles: {name} is in roles {', '.join(where)}; it owns state "
                "and runs in exactly one role (only strategy and market data actors are "
                "sharded, and the core's actors over several cores, one per account)"
            )


def _check_role(config: AtriumConfig, role: str) -> None:
    """The keys of one role that can be checked without the others."""
    actors = config.topology.actors
    spec = config.cluster.roles[role]
    key = f"cluster.roles.{role}"
    if not spec.actors:
        raise ConfigError(f"{key}.actors: a role runs at least one actor")
    for name in spec.actors:
        if name not in actors:
            known = ", ".join(actors)
            raise ConfigError(f"{key}.actors: unknown actor {name!r}; actors: {known}")
    sections = {actors[name].section for name in spec.actors}
    if spec.strategies is not None:
        if not sections & {_STRATEGIES, _PORTFOLIO}:
            raise ConfigError(
                f"{key}.strategies: this role runs no strategy actor (nor the portfolio, "
                "as a core among several)"
            )
        for strategy in spec.strategies:
            if strategy not in config.strategies:
                known = ", ".join(config.strategies) or "none"
                raise ConfigError(
                    f"{key}.strategies: unknown strategy {strategy!r}; strategies: {known}"
                )
    if spec.feeds is not None and _MARKET_DATA not in sections:
        raise ConfigError(f"{key}.feeds: this role runs no market data actor")
    for section in ACCOUNT_SECTIONS:
        if getattr(spec, section) is not None and section not in sections:
            raise ConfigError(
                f"{key}.{section}: this role runs no {section} actor (an account's "
                "settings go to the core that keeps it)"
            )


def _check_one_core(config: AtriumConfig, cores: list[str]) -> None:
    """One core takes every strategy's orders: its ``strategies`` may only say which it
    hosts, when it runs the strategy actor too."""
    actors = config.topology.actors
    for role in cores:
        spec = config.cluster.roles[role]
        if spec.strategies is not None and not any(
            actors[name].section == _STRATEGIES for name in spec.actors
        ):
            raise ConfigError(
                f"cluster.roles.{role}.strategies: this role runs no strategy actor, and "
                "the only core takes every strategy's orders (a core lists strategies "
                "when several run, one per account)"
            )


def _check_cores(config: AtriumConfig, cores: list[str], placed: dict[str, list[str]]) -> None:
    """Several cores, one per account: each runs all the core's actors and no other role
    runs any; every enabled strategy trades through exactly one; order ids differ."""
    actors = config.topology.actors
    core_actors = [name for name, spec in actors.items() if spec.section in _CORE]
    for name in core_actors:
        if placed[name] != cores:
            raise ConfigError(
                f"cluster.roles: {name} is in roles {', '.join(placed[name])}; with several "
                f"cores (the portfolio runs in {', '.join(cores)}, one per account) each "
                f"core runs {', '.join(core_actors)} and no other role does"
            )
    owner: dict[str, str] = {}
    for role in cores:
        spec = config.cluster.roles[role]
        key = f"cluster.roles.{role}.strategies"
        if spec.strategies is None:
            raise ConfigError(
                f"{key}: the portfolio runs in several roles ({', '.join(cores)}), one core "
                "per account, so each must list the strategies whose orders it takes"
            )
        for strategy in spec.strategies:
            if strategy in owner:
                raise ConfigError(
                    f"{key}: strategy {strategy!r} already trades through core "
                    f"{owner[strategy]!r}; a strategy's orders go to exactly one core"
                )
            owner[strategy] = role
    untraded = [name for name, s in config.strategies.items() if s.enabled and name not in owner]
    if untraded:
        raise ConfigError(
            f"cluster.roles: no core takes the orders of strategy {', '.join(untraded)}; "
            f"list it in the strategies of one of {', '.join(cores)}"
        )
    _check_order_ids(config, cores)


def _check_order_ids(config: AtriumConfig, cores: list[str]) -> None:
    """Each core numbers its orders under its prefix and name: two must never coincide."""
    seen: dict[str, str] = {}
    for role in cores:
        prefix = _account_config(config, role).portfolio.order_id_prefix
        if prefix in seen:
            raise ConfigError(
                f"cluster.roles.{role}.portfolio.order_id_prefix: its order ids would start "
                f"{prefix!r} as those of core {seen[prefix]!r} do; give another prefix"
            )
        seen[prefix] = role


def _check_feed_shards(config: AtriumConfig, where: list[str]) -> None:
    """Every feed read by exactly one of the roles ``where`` (one process per venue)."""
    names = [feed.feed_name for feed in config.market_data.feeds]
    owner: dict[str, str] = {}
    for role in where:
        spec = config.cluster.roles[role]
        key = f"cluster.roles.{role}.feeds"
        if spec.feeds is None:
            if len(where) == 1:
                return  # one role reads them all
            raise ConfigError(
                f"{key}: the market data actor runs in several roles ({', '.join(where)}), "
                "so each must list the feeds it reads"
            )
        for name in spec.feeds:
            if name not in names:
                raise ConfigError(f"{key}: unknown feed {name!r}; feeds: {', '.join(names)}")
            if name in owner:
                raise ConfigError(f"{key}: feed {name!r} is already read by role {owner[name]!r}")
            owner[name] = role
    unread = [name for name in names if name not in owner]
    if unread:
        raise ConfigError(f"cluster.roles: no role reads feed {', '.join(unread)}")


def check_one_process(config: AtriumConfig) -> None:
    """Without ``--role`` a file runs in one process, with one portfolio: refuse a file
    of several cores, whose accounts would silently become one."""
    cores = core_roles(config)
    if len(cores) > 1:
        raise ConfigError(
            f"cluster.roles: the portfolio runs in roles {', '.join(cores)}, one core per "
            "account; one process has one portfolio: start each role with --role"
        )


def check_replay_roles(config: AtriumConfig) -> None:
    """A replay across processes has one driver and one core: refuse market data in
    several roles, and several cores (their accounts' flows would meet the driver's
    barrier in no order one process has). With local market data, the core runs every
    actor but the strategies' and market data's, and the other roles strategies only."""
    actors = config.topology.actors
    if config.cluster.replay_market_data == "local":
        _check_local_replay_roles(config)
    drivers = [
        role
        for role, spec in config.cluster.roles.items()
        if any(actors[name].section == _MARKET_DATA for name in spec.actors)
    ]
    if len(drivers) > 1:
        raise ConfigError(
            f"cluster.roles: the market data actor runs in roles {', '.join(drivers)}; a "
            "replay across processes is driven by one of them: replay with one market data "
            "role (several run live only)"
        )
    cores = core_roles(config)
    if len(cores) > 1:
        raise ConfigError(
            f"cluster.roles: the portfolio runs in roles {', '.join(cores)}, one core per "
            "account; a replay across processes is that of one process, which has one "
            "portfolio: replay each account with a config of its own (several cores run "
            "live only)"
        )


def _check_local_replay_roles(config: AtriumConfig) -> None:
    actors = config.topology.actors
    cores = core_roles(config)
    for role, spec in config.cluster.roles.items():
        sections = {actors[name].section for name in spec.actors}
        if role in cores or sections <= {_STRATEGIES} or sections <= {_MARKET_DATA}:
            continue
        raise ConfigError(
            f"cluster.roles.{role}: runs {', '.join(spec.actors)}; a replay in which every "
            "role reads the feeds itself needs the portfolio's role to run every actor but "
            "the strategies and market data, and the others strategies or market data "
            'only; replay this config with [cluster] replay_market_data = "driver"'
        )


def _check_shards(config: AtriumConfig, where: list[str]) -> None:
    """Every enabled strategy hosted by exactly one of the roles ``where``."""
    if len(where) == 1 and config.cluster.roles[where[0]].strategies is None:
        return  # one role hosts them all
    owner: dict[str, str] = {}
    for role in where:
        spec = config.cluster.roles[role]
        if spec.strategies is None:
            raise ConfigError(
                f"cluster.roles.{role}.strategies: the strategy actor runs in several roles "
                f"({', '.join(where)}), so each must list the strategies it hosts"
            )
        for strategy in spec.strategies:
            if strategy in owner:
                raise ConfigError(
                    f"cluster.roles.{role}.strategies: {strategy!r} is already hosted by "
                    f"role {owner[strategy]!r}"
                )
            owner[strategy] = role
    unhosted = [name for name, s in config.strategies.items() if s.enabled and name not in owner]
    if unhosted:
        raise ConfigError(f"cluster.roles: no role hosts strategy {', '.join(unhosted)}")
