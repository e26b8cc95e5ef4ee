"""A role's actors snapshotted to NATS, so a restart handles again only the stream's tail.

The snapshot of role ``R`` is the entry ``R`` of the key-value bucket
``<NAMESPACE>-snapshots``: every actor's state (:mod:`atrium.runtime.snapshots`, as the
single-process journal takes it), the last stream sequence that state covers, and the
bridge's count of what it sent by then (its message ids go on from there). It is written
only once that sequence is acknowledged, so it never covers a message whose consequences
were not stored. The bucket sits on the NATS server beside the stream it indexes: a role
restarted on another host finds it, where a local file would be missing, and a file
would outlive a stream that was deleted. A snapshot of another format, another Atrium or
config (the fingerprint), or one that does not decode is skipped with a log line: the
role then rebuilds from the stream's start, as without one.

The role that runs the portfolio also keeps, in entry ``R.check``, its cash and
positions as they were after the last acknowledged batch that changed them. A restart
that handles that sequence again compares: a rebuilt portfolio that differs must not
trade.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import nats.errors
import nats.js.errors
from nats.js.api import KeyValueConfig, StorageType
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from atrium.config.cluster import ClusterConfig
from atrium.runtime.actor import Actor
from atrium.runtime.capabilities import PortfolioView
from atrium.runtime.errors import SnapshotError
from atrium.runtime.snapshots import decode_states, encode_states

__all__ = ("ROLE_SNAPSHOT_FORMAT", "RoleSnapshot", "RoleState", "StateCheck")

log = logging.getLogger("atrium.cluster")

#: The layout of an entry; an entry of another is skipped (a full rebuild).
ROLE_SNAPSHOT_FORMAT: Final = 1
_CHECK = ".check"


class RoleSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of ``<NAMESPACE>-snapshots``."""

    format: int
    fingerprint: str
    #: The last stream sequence the states cover (acknowledged when written).
    seq: int
    #: The bridge's count of the messages it sent numbered by count, at ``seq``.
    exported: int
    states: bytes


class StateCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The portfolio after the stream sequence ``seq``, as the run that handled it had it."""

    seq: int
    cash: str
    positions: dict[str, str]

    def difference(self, other: StateCheck) -> str | None:
        """What differs from ``other`` (None: nothing), in words for the log."""
        parts = [] if self.cash == other.cash else [f"cash {self.cash} against {other.cash}"]
        for key in sorted(set(self.positions) | set(other.positions)):
            mine, theirs = self.positions.get(key, "0"), other.positions.get(key, "0")
            if mine != theirs:
                parts.append(f"{key} {mine} against {theirs}")
        return "; ".join(parts) or None


@dataclass
class Restored:
    """What a restart starts from: the snapshot's sequence and send count (0: none)."""

    seq: int = 0
    exported: int = 0


def portfolio_check(view: PortfolioView, seq: int) -> StateCheck:
    """The cash and non-zero positions (``strategy/symbol``) of ``view`` now."""
    positions = {
        f"{row['strategy']}/{row['symbol']}": row["quantity"]
        for row in view.positions()
        if row["quantity"] not in ("0", "-0")
    }
    return StateCheck(seq=seq, cash=str(view.limits()["cash"]), positions=positions)


class RoleState:
    """Takes a role's snapshots when due, stores them, and restores the newest on start."""

    def __init__(self, stream: str, role: str, cluster: ClusterConfig) -> None:
        self.bucket = f"{stream}-snapshots"
        self.role = role
        self._cluster = cluster
        self._kv: KeyValue | None = None
        self._actors: Mapping[str, Actor] = {}
        self._fingerprint = ""
        self.portfolio: PortfolioView | None = None
        self._since = 0
        self._at = time.monotonic()
        self._last_check: StateCheck | None = None
        #: Bytes of the last snapshot written (for the log and the docs' figures).
        self.size = 0

    @property
    def on(self) -> bool:
        """Snapshots are taken (configured, and the actors are known)."""
        cluster = self._cluster
        every = cluster.snapshot_every_messages or cluster.snapshot_every_seconds
        return bool(every) and bool(self._actors)

    async def open(
        self,
        js: JetStreamContext,
        actors: Mapping[str, Actor],
        fingerprint: str,
        portfolio: PortfolioView | None,
    ) -> None:
        storage = StorageType.MEMORY if self._cluster.storage == "memory" else StorageType.FILE
        config = KeyValueConfig(bucket=self.bucket, history=1, storage=storage)
        self._kv = await js.create_key_value(config)
        self._actors, self._fingerprint, self.portfolio = actors, fingerprint, portfolio

    # -- restoring ------------------------------------------------------------------------

    async def restore(self, floor: int) -> Restored:
        """Restore the snapshot if one is usable for ``floor``; say why not otherwise."""
        raw = await self._get(self.role)
        if raw is None or not self.on:
            return Restored()
        snapshot, why = _decode(raw, self._fingerprint)
        states: dict[str, dict[str, Any]] = {}
        if snapshot is not None and snapshot.seq > floor:
            why = f"it covers sequence {snapshot.seq}, past the floor {floor}"
        elif snapshot is not None:
            try:
                states = decode_states(snapshot.states)
            except SnapshotError as exc:
                why = f"it is damaged ({exc})"
            missing = sorted(set(self._actors) - set(states))
            if not why and missing:
                why = f"it has no state for {', '.join(missing)}"
        if snapshot is None or why:
            log.warning(
                "the snapshot %s/%s is not used: %s; rebuilding from the stream's start",
                self.bucket,
                self.role,
                why,
            )
            return Restored()
        for name, actor in self._actors.items():
            actor.restore_state(states[name])
        return Restored(seq=snapshot.seq, exported=snapshot.exported)

    async def recorded_check(self) -> StateCheck | None:
        """The portfolio the previous run recorded (None: none, or no portfolio here)."""
        raw = await self._get(self.role + _CHECK) if self.portfolio is not None else None
        if raw is None:
            return None
        try:
            return msgspec.msgpack.decode(raw, type=StateCheck)
        except msgspec.DecodeError as exc:
            log.warning(
                "the state check %s/%s%s does not decode: %s", self.bucket, self.role, _CHECK, exc
            )
            return None

    async def _get(self, key: str) -> bytes | None:
        assert self._kv is not None, "open() first"
        try:
            entry = await self._kv.get(key)
        except nats.js.errors.KeyNotFoundError:
            return None
        return entry.value or None

    # -- taking ---------------------------------------------------------------------------

    def due(self, handled: int) -> bool:
        """Count ``handled`` messages; whether a snapshot is due now (by count or time)."""
        self._since += handled
        cluster = self._cluster
        by_count = (
            cluster.snapshot_every_messages and self._since >= cluster.snapshot_every_messages
        )
        by_time = (
            cluster.snapshot_every_seconds
            and time.monotonic() - self._at >= cluster.snapshot_every_seconds
        )
        return self.on and bool(by_count or by_time)

    def take(self, seq: int, exported: int) -> RoleSnapshot | None:
        """The actors' state now (the pipeline settled after ``seq``), or None when it
        cannot be snapshotted (logged once; snapshots are then off)."""
        self._since, self._at = 0, time.monotonic()
        try:
            states = encode_states({name: a.snapshot_state() for name, a in self._actors.items()})
        except SnapshotError as exc:
            log.warning("snapshots of role %s are off: %s", self.role, exc)
            self._actors = {}
            return None
        return RoleSnapshot(
            format=ROLE_SNAPSHOT_FORMAT,
            fingerprint=self._fingerprint,
            seq=seq,
            exported=exported,
            states=states,
        )

    def check(self, seq: int) -> StateCheck | None:
        """The portfolio now, after ``seq`` (None: no portfolio in this role)."""
        return None if self.portfolio is None else portfolio_check(self.portfolio, seq)

    def changed_check(self, seq: int) -> StateCheck | None:
        """:meth:`check`, or None when the portfolio is as it was at the last one taken:
        the record of that one still holds, and the core writes only what is new."""
        check, last = self.check(seq), self._last_check
        if check is None or (last and (last.cash, last.positions) == (check.cash, check.positions)):
            return None
        self._last_check = check
        return check

    async def save(self, snapshot: RoleSnapshot | None, check: StateCheck | None) -> None:
        """Write what was taken, once its sequence is acknowledged; a failure is logged
        (the previous snapshot stays, and a restart rebuilds a longer tail)."""
        assert self._kv is not None, "open() first"
        for key, item in ((self.role, snapshot), (self.role + _CHECK, check)):
            if item is None:
                continue
            payload = msgspec.msgpack.encode(item)
            try:
                await self._kv.put(key, payload)
            except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
                log.warning(
                    "could not write %s/%s (%d bytes): %r", self.bucket, key, len(payload), exc
                )
                continue
            if item is snapshot:
                self.size = len(payload)
                log.debug(
                    "snapshot of role %s at sequence %d: %d bytes",
                    self.role,
                    snapshot.seq,
                    self.size,
                )


def _decode(raw: bytes, fingerprint: str) -> tuple[RoleSnapshot | None, str]:
    """The snapshot in ``raw`` and "" when usable, or None and why not."""
    try:
        head = msgspec.msgpack.decode(raw)
    except msgspec.DecodeError as exc:
        return None, f"it does not decode ({exc})"
    found = head.get("format") if isinstance(head, dict) else None
    if found != ROLE_SNAPSHOT_FORMAT:
        return None, f"its format is {found!r}, this Atrium reads {ROLE_SNAPSHOT_FORMAT}"
    try:
        snapshot = msgspec.msgpack.decode(raw, type=RoleSnapshot)
    except msgspec.DecodeError as exc:
        return None, f"it does not decode ({exc})"
    if snapshot.fingerprint != fingerprint:
        return None, "it was taken under another Atrium version or config"
    return snapshot, ""
