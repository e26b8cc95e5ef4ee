"""``[cluster]``: the actors split over processes that talk through NATS JetStream.

Without ``[cluster.roles]`` everything runs in one process, as before. With roles, each
process is started with ``--role NAME`` and runs only that role's actors; a message kind
whose publisher and subscriber sit in different roles travels over a NATS subject, every
other kind stays in process. The checks that need the topology (every actor in a role,
the portfolio in exactly one) are made when a role is wired (``atrium.runtime.cluster.wiring``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

from atrium.config.base import ConfigBase

__all__ = ("ClusterConfig", "ClusterTlsConfig", "RoleConfig")

_Name = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]+$")]
#: The name of an environment variable (a secret is never written in the config).
_EnvName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Seconds = Annotated[float, msgspec.Meta(gt=0)]


class RoleConfig(ConfigBase, frozen=True, kw_only=True):
    """One process of the cluster.

    Parameters
    ----------
    actors : list of str
        Names from ``[topology.actors]`` this process runs. Every actor is in exactly one
        role, except the strategy actor, which may be in several (sharded by strategy),
        and, live, the market data actor (sharded by feed: one process per venue).
    strategies : list of str or None, default None
        For a role running the strategy actor: the ``[strategies]`` entries it hosts.
        ``None``: all of them (only allowed when one role runs the strategy actor). For a
        core (a role running the portfolio actor) of several in the namespace, one per
        account: the strategies whose orders it takes; every enabled strategy goes to
        exactly one core.
    feeds : list of str or None, default None
        For a role running the market data actor: the ``[[market_data.feeds]]`` it reads,
        by name (a feed's ``name``, else its file name or format). ``None``: all of them
        (only allowed when one role runs the market data actor). Several such roles run
        live only: a replay has one driver.
    port : int or None, default None
        The HTTP port of this process (``atrium run``); default ``[service].port``.
    host : str or None, default None
        The address its HTTP server binds, e.g. ``"0.0.0.0"`` for a Prometheus on another
        host; default ``[service].host`` (loopback).
    journal : str or None, default None
        This process's journal file (``atrium run``); default ``<role>-<[journal].path>``.
    portfolio, risk, execution : table or None, default None
        For a core: its account's settings, merged key by key over the file's
        ``[portfolio]``, ``[risk]`` and ``[execution]`` (initial capital, venue, limits),
        so each account is validated as a file of its own would be. After loading, a role
        that gives any of them holds all three, each the whole section as resolved for it.
    """

    actors: list[str]
    strategies: list[str] | None = None
    feeds: list[str] | None = None
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] | None = None
    host: str | None = None
    journal: str | None = None
    portfolio: dict[str, Any] | None = None
    risk: dict[str, Any] | None = None
    execution: dict[str, Any] | None = None


class ClusterTlsConfig(ConfigBase, frozen=True, kw_only=True):
    """TLS to the NATS server (``[cluster.tls]``); its presence turns TLS on.

    Parameters
    ----------
    ca_file : str or None, default None
        PEM file of the CA that signed the server's certificate; default: the system's.
    cert_file, key_file : str or None, default None
        This process's client certificate and key (PEM), for a server that verifies
        clients; both or neither.
    verify_hostname : bool, default True
        Check that the server's certificate names the host of ``url``. Off only for a
        certificate made for another name; the chain is verified either way.
    """

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    verify_hostname: bool = True

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            given = "cert_file" if self.key_file is None else "key_file"
            raise ValueError(f"{given}: a client certificate needs both cert_file and key_file")


class ClusterConfig(ConfigBase, frozen=True, kw_only=True):
    """How the processes of a cluster find each other and what they do when cut off.

    Parameters
    ----------
    url : str, default "nats://127.0.0.1:4222"
        NATS server(s), comma-separated.
    namespace : str, default "atrium"
        First token of every subject (``<namespace>.md.<symbol>``) and, upper-cased, the
        JetStream stream's name. Two clusters on one NATS server need two namespaces.
    roles : table of RoleConfig, default {}
        The processes; empty: single process, no NATS.
    storage : {"file", "memory"}, default "file"
        Where JetStream keeps the stream (``file`` survives a NATS restart).
    max_age_seconds : float, default 604800
        How long the stream keeps messages (one week): a restarted process rebuilds its
        state from them, so keep at least one trading session.
    duplicate_window_seconds : float, default 3600
        JetStream drops a message whose id it saw within this window: a process restarted
        after a crash re-sends what it had sent but not yet acknowledged, under the same
        ids, and the copies are dropped.
    fetch_batch : int, default 256
        Most messages a process takes from its consumer at once.
    ack_wait_seconds : float, default 60
        How long a taken message may stay unacknowledged before NATS redelivers it.
    connect_timeout_seconds : float, default 2
    reconnect_wait_seconds : float, default 0.5
        First wait before reconnecting; doubled after each failed attempt.
    max_reconnect_wait_seconds : float, default 10
        The longest wait between reconnect attempts (attempts never stop).
    on_disconnect : {"reduce_only", "halt", "none"}, default "reduce_only"
        What a process running the risk actor tells risk while it cannot reach NATS.
    resume_on_reconnect : bool, default False
        Send ``resume`` when the connection is back. Off: an operator resumes by hand
        (``POST /api/control/resume``) after checking what happened.
    barrier_poll_seconds : float, default 0.25
        Replay: the driver learns that every process is idle from their progress reports;
        when none came for this long (one lost to a reconnect), it asks JetStream.
    max_bytes : int, default -1
        The most bytes the stream keeps (-1: no limit of its own). Set it below the NATS
        server's store (``max_file_store`` or ``max_memory_store``): a full stream then
        refuses new messages (discard policy ``new``: old ones are never dropped, a
        restart rebuilds from them), which each role logs as an error, shows on
        ``/readyz`` and retries, instead of the server's store filling up.
    stop_timeout_seconds : float, default 10
        How long a graceful stop waits for JetStream to store what the role still holds
        (below systemd's ``TimeoutStopSec`` and compose's ``stop_grace_period``, 30 s);
        what is not stored by then is kept beside the journal and sent on the next start.
    lock_ttl_seconds : float, default 6
        How long a role's single-instance lock outlives a process that died (a running
        process renews it every third of this): a restart waits at most this long, and
        a second copy of a running role is refused.
    market_data : {"subjects", "stream"}, default "subjects"
        How live market data travels. ``subjects``: plain NATS subjects, fire and
        forget, one message per tick to each subscriber; a role behind takes the latest
        per symbol, gaps are counted. The core keeps what it takes on the stream in
        batches (so a restart rebuilds its portfolio exactly); a restarted strategy role
        misses the ticks since its snapshot. ``stream``: every tick stored in JetStream
        with the order flow and passed on by the venue's role, so a restarted strategy
        role rebuilds its indicators from it too, at several times the cost per tick. A
        replay does not use this setting (see ``replay_market_data``).
    replay_market_data : {"local", "driver"}, default "local"
        How a replay across processes (``atrium replay --role``) gets its market data.
        ``local``: the core and every strategy role read the recorded feeds themselves
        (each needs the files, and they must be the same: checked at the start) and only
        order flow crosses processes; a strategy role with no order open runs ahead.
        ``driver``: the market data role sends every record over the stream and waits
        until the cluster settled it (only its host needs the files; a few hundred bars
        a second). Both give the output of one process, byte for byte.
    record_market_data_bytes : int, default 0
        With ``market_data = "subjects"``: above 0, a stream of its own,
        ``<NAMESPACE>_MD``, keeps the market data for ``atrium cluster record``, at most
        this many bytes (the oldest dropped first), without slowing the source down
        (nothing is acknowledged to it). 0: not kept.
    max_market_data_age_seconds : float or None, default 60
        Live: market data from NATS whose timestamp is older than this by the role's
        wall clock (a restarted role catching up on what it missed) still updates the
        strategies, but the intents it causes are held back and counted. Keep it above a
        bar's length for a feed that stamps bars with their open. ``None``: off. A
        replay is never affected.
    user : str or None, default None
        The NATS user; with ``password_env``.
    password_env : str or None, default None
        The environment variable holding the user's password.
    nkey_seed_env : str or None, default None
        The environment variable holding an nkey seed (``SU...``), instead of a password.
    creds_file : str or None, default None
        A credentials file (JWT and nkey seed, as ``nsc`` writes it), instead of either.
    tls : ClusterTlsConfig or None, default None
        TLS to the server (``[cluster.tls]``); ``None``: plain TCP, or as ``tls://`` says.
    snapshot_every_messages : int, default 10000
        A role that consumes snapshots its actors into the key-value bucket
        ``<NAMESPACE>-snapshots`` once this many messages of the stream were handled and
        acknowledged since the last one; a restart restores the newest and handles again
        only what came after it. 0: not by count.
    snapshot_every_seconds : float, default 60
        Also snapshot when this long passed since the last one (and at a graceful stop),
        so market data on plain subjects keeps a restarted strategy's indicators warm.
        0: not by time. Both 0: no snapshots, a restart rebuilds from the stream's start.
    """

    url: str = "nats://127.0.0.1:4222"
    namespace: _Name = "atrium"
    roles: dict[_Name, RoleConfig] = msgspec.field(default_factory=dict)
    storage: Literal["file", "memory"] = "file"
    max_age_seconds: Seconds = 604_800.0
    duplicate_window_seconds: Seconds = 3_600.0
    fetch_batch: Annotated[int, msgspec.Meta(gt=0)] = 256
    ack_wait_seconds: Seconds = 60.0
    connect_timeout_seconds: Seconds = 2.0
    reconnect_wait_seconds: Seconds = 0.5
    max_reconnect_wait_seconds: Seconds = 10.0
    on_disconnect: Literal["reduce_only", "halt", "none"] = "reduce_only"
    resume_on_reconnect: bool = False
    barrier_poll_seconds: Seconds = 0.25
    max_bytes: Annotated[int, msgspec.Meta(ge=-1)] = -1
    stop_timeout_seconds: Seconds = 10.0
    lock_ttl_seconds: Seconds = 6.0
    market_data: Literal["subjects", "stream"] = "subjects"
    replay_market_data: Literal["local", "driver"] = "local"
    record_market_data_bytes: Annotated[int, msgspec.Meta(ge=0)] = 0
    max_market_data_age_seconds: Seconds | None = 60.0
    user: str | None = None
    password_env: _EnvName | None = None
    nkey_seed_env: _EnvName | None = None
    creds_file: str | None = None
    tls: ClusterTlsConfig | None = None
    snapshot_every_messages: Annotated[int, msgspec.Meta(ge=0)] = 10_000
    snapshot_every_seconds: Annotated[float, msgspec.Meta(ge=0)] = 60.0

    def __post_init__(self) -> None:
        if any(urlsplit(server).password is not None for server in self.servers):
            raise ValueError(
                "url: holds a password, which a config never does; give user and "
                "password_env (the variable holding it)"
            )
        if (self.user is None) != (self.password_env is None):
            given = "user" if self.password_env is None else "password_env"
            raise ValueError(f"{given}: a user and a password go together (user, password_env)")
        ways = [
            key
            for key, value in (
                ("password_env", self.password_env),
                ("nkey_seed_env", self.nkey_seed_env),
                ("creds_file", self.creds_file),
            )
            if value is not None
        ]
        if len(ways) > 1:
            raise ValueError(f"{ways[1]}: give one way to authenticate, not {' and '.join(ways)}")

    @property
    def servers(self) -> list[str]:
        return [url.strip() for url in self.url.split(",") if url.strip()]
