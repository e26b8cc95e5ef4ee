"""Recovery: a restarted service rebuilds every actor from its journal before it trades.

The journal is the truth, and the actors are deterministic, so the state they had is
the state they reach by handling the recorded session again. On start, when the journal
already holds events:

1. **Snapshot.** The newest snapshot whose fingerprint matches this Atrium and config
   restores each actor's state as it was after the snapshot's ``seq``; without one the
   actors start fresh from ``seq`` 0. Snapshots only save time: they are taken every
   ``[journal].snapshot_every`` events at a settled point (:class:`Snapshotter`).
2. **Re-run.** Every event after that point is taken in order. Market data and operator
   controls (the inputs) are published again on their senders' behalf; the source actors
   are told what they had sent (:meth:`~runtime.actor.Actor.restore_input`). Everything
   else is what the actors publish in response, and each message they publish is
   compared byte for byte with the journaled one at its position, while the clock reads
   the recorded times. A difference stops the start with :class:`RecoveryError` naming
   the ``seq``: an actor that would not reach the recorded state must not trade.
3. **The cut.** A crash can fall between commits, inside the effects of the last input.
   What the re-run publishes past the journal's end is appended to the journal: the
   uninterrupted run would have published it, and nothing of it had been committed, so
   nothing of it had reached the venue (orders are committed before execution sees them).
   They are stamped with the time of the last recorded event, as the rest of that
   input's effects were: an order appended there fills on the next recorded bar, as it
   would have.
4. **Reconciliation.** Every actor that offers a ``RECONCILER`` checks its state against
   the outside world (execution: its open orders against the venue's order-status
   report); on any disagreement :func:`resume_session` publishes (and journals) a
   ``halt`` control with source ``recovery``, so the service comes up with trading
   halted for an operator to check.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import msgspec

from atrium.config.schema import AtriumConfig
from atrium.runtime.actor import Actor
from atrium.runtime.capabilities import RECONCILER
from atrium.runtime.clocks import Clock, LiveClock
from atrium.runtime.codec import decode, encode
from atrium.runtime.dispatch import OPERATOR
from atrium.runtime.errors import JournalError, RecoveryError, SnapshotError
from atrium.runtime.journal import JOURNAL_SCHEMA_VERSION, Journal
from atrium.runtime.journal_market import iter_records
from atrium.runtime.messages import MESSAGE_SCHEMA_VERSION, Control, Message
from atrium.runtime.snapshots import SNAPSHOT_FORMAT_VERSION, decode_states, encode_states
from atrium.runtime.topology import Pipeline
from atrium.runtime.venue_session import go_live
from atrium.runtime.version import atrium_version

__all__ = (
    "RecoveryError",
    "RecoveryReport",
    "Snapshotter",
    "fingerprint",
    "record_session",
    "recover",
    "resume_session",
)

log = logging.getLogger("atrium.recovery")

#: Kinds the pipeline takes from outside; every other kind is published by an actor.
INPUT_KINDS: Final = frozenset({"Bar", "Tick", "Control", "VenueReport"})
#: The ``source`` of the halt recovery publishes when the venue disagrees with the journal.
RECOVERY_SOURCE: Final = "recovery"

Row = tuple[int, int, str, bytes]


@dataclass(frozen=True)
class RecoveryReport:
    """What a recovery did (logged, and shown by ``/readyz``)."""

    snapshot_seq: int
    replayed: int
    appended: int
    last_seq: int
    seconds: float
    discrepancies: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "snapshot_seq": self.snapshot_seq,
            "replayed_events": self.replayed,
            "appended_events": self.appended,
            "last_seq": self.last_seq,
            "seconds": round(self.seconds, 3),
            "discrepancies": list(self.discrepancies),
        }


def fingerprint(config: AtriumConfig, version: str) -> str:
    """What a snapshot is only valid under: Atrium and Python versions, schemas, config.

    The ``service`` and ``journal`` sections (port, token variable, file path, batch
    size) do not change what actors do and are left out, so moving the port or the
    journal file keeps the snapshots usable. Feed files count by what they hold, not where
    they are: ``[market_data].base_dir`` (absolute once loaded) is left out and each feed's
    ``path`` stands as its file name and a digest of its content, so moving the config
    with its data keeps the snapshots usable too, and editing a feed file does not. A
    strategy's ``base_dir`` (where its module is looked for) is left out likewise.
    """
    sections = msgspec.to_builtins(config)
    for name in ("service", "journal"):
        sections.pop(name, None)
    market_data = sections.get("market_data") or {}
    base_dir = market_data.pop("base_dir", ".")
    for feed in market_data.get("feeds", ()):
        if feed.get("path"):
            feed["path"] = _content_identity(Path(base_dir, feed["path"]))
    for strategy in (sections.get("strategies") or {}).values():
        strategy.pop("base_dir", None)
    parts = [
        version,
        f"{sys.version_info.major}.{sys.version_info.minor}",
        str(JOURNAL_SCHEMA_VERSION),
        str(MESSAGE_SCHEMA_VERSION),
        str(SNAPSHOT_FORMAT_VERSION),
        msgspec.json.encode(sections, order="sorted").decode(),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _content_identity(path: Path) -> str:
    """A feed file as its name and the SHA-256 of its bytes (``missing`` when unreadable)."""
    try:
        stat = path.stat()
    except OSError:
        return f"{path.name} missing"
    return f"{path.name} sha256:{_digest(path.resolve(), stat.st_size, stat.st_mtime_ns)}"


@functools.lru_cache(maxsize=64)
def _digest(path: Path, size: int, mtime_ns: int) -> str:
    """SHA-256 of the file (size and mtime key the cache: the fingerprint is taken twice)."""
    del size, mtime_ns
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return "unreadable"
    return digest.hexdigest()


class Snapshotter:
    """Records every actor's state in the journal every ``every`` events (a bus hook).

    Runs when the pipeline has settled (every message handled, the sources between two
    records), so the states agree with the journal up to its last event.
    """

    def __init__(
        self, journal: Journal, pipeline: Pipeline, *, every: int, fingerprint: str
    ) -> None:
        self._journal = journal
        self._pipeline = pipeline
        self._every = every
        self._fingerprint = fingerprint
        self._last = journal.next_seq - 1
        self.taken = 0

    def __call__(self) -> None:
        if self._journal.next_seq - 1 - self._last >= self._every:
            self.take()

    def take(self) -> None:
        """Snapshot now (the caller knows the pipeline is settled)."""
        journal = self._journal
        self._last = journal.next_seq - 1
        try:
            payload = encode_states(_states(self._pipeline))
        except SnapshotError as exc:
            log.warning("snapshots are off: %s", exc)
            self._pipeline.dispatcher.on_settled = None
            return
        journal.record_snapshot(self._pipeline.clock.now_ns(), self._fingerprint, payload)
        self.taken += 1


def _actors(pipeline: Pipeline) -> dict[str, Actor]:
    actors = {}
    for name, slot in pipeline.slots.items():
        if slot.actor is None:
            raise RecoveryError(f"actor {name} is not running; cannot recover")
        actors[name] = slot.actor
    return actors


def _states(pipeline: Pipeline) -> dict[str, dict[str, Any]]:
    return {name: actor.snapshot_state() for name, actor in _actors(pipeline).items()}


async def recover(
    pipeline: Pipeline, journal: Journal, *, fingerprint: str, clock: LiveClock
) -> RecoveryReport | None:
    """Rebuild the actors of ``pipeline`` from ``journal`` (None: the journal is empty).

    Call it with every actor started and before any source runs (the supervisor's
    ``before_sources``), and before the journal is tapped: what the re-run publishes is
    checked against the journal, not recorded again.
    """
    last_seq = journal.next_seq - 1
    if last_seq == 0:
        return None
    started = time.perf_counter()
    actors = _actors(pipeline)
    problems = [
        f"{name}: {problem}"
        for name, actor in actors.items()
        if (problem := actor.recovery_problem()) is not None
    ]
    if problems:
        raise RecoveryError(
            f"{journal.path}: holds a session, and it cannot be recovered: "
            + "; ".join(problems)
            + ". Move the journal aside to start a new session."
        )
    connection = _open(journal.path)
    try:
        snapshot_seq = _restore_snapshot(connection, journal.path, actors, fingerprint)
        rerun = _Rerun(pipeline, journal, clock, _rows(connection, journal.path, snapshot_seq))
        await rerun.run()
    finally:
        connection.close()
    discrepancies = tuple(_reconcile(pipeline))
    for line in discrepancies:
        log.error("reconciliation: %s", line)
    report = RecoveryReport(
        snapshot_seq=snapshot_seq,
        replayed=rerun.replayed,
        appended=rerun.appended,
        last_seq=last_seq,
        seconds=time.perf_counter() - started,
        discrepancies=discrepancies,
    )
    log.info(
        "recovered %s through seq %d in %.2fs: snapshot at seq %d, %d events re-run, %d appended",
        journal.path,
        last_seq,
        report.seconds,
        snapshot_seq,
        rerun.replayed,
        rerun.appended,
    )
    return report


async def resume_session(
    pipeline: Pipeline, journal: Journal, config: AtriumConfig, *, clock: LiveClock
) -> RecoveryReport | None:
    """Recover from ``journal``, then journal and snapshot what the pipeline does next.

    The service's start (the supervisor's ``before_sources``): the commit barrier goes
    up first, so even what recovery appends is committed before execution acts on it.
    """
    digest = fingerprint(config, atrium_version())
    pipeline.dispatcher.barrier = journal
    report = await recover(pipeline, journal, fingerprint=digest, clock=clock)
    await record_session(pipeline, journal, config)
    if report is not None and report.discrepancies:
        halt = Control(
            ts=pipeline.clock.now_ns(),
            command="halt",
            reason="RECONCILIATION: " + "; ".join(report.discrepancies),
            source=RECOVERY_SOURCE,
        )
        await pipeline.dispatcher.publish(halt, OPERATOR)  # journaled: the next recovery sees it
        await pipeline.dispatcher.wait_settled()
    await go_live(pipeline)  # a live venue reconciles, journaled, before any source runs
    return report


async def record_session(pipeline: Pipeline, journal: Journal, config: AtriumConfig) -> None:
    """Journal (and snapshot) what the pipeline does from now on, as a new session.

    Alone, without :func:`resume_session`'s recovery, for a cluster role: its state is
    rebuilt from the JetStream stream, and its journal is the record of what it did.
    """
    version = atrium_version()
    digest = fingerprint(config, version)
    pipeline.dispatcher.barrier = journal
    pipeline.dispatcher.add_tap(journal.record)
    pipeline.dispatcher.add_gate(journal)
    await journal.begin_session(mode="live", version=version, fingerprint=digest)
    if config.journal.snapshot_every:
        pipeline.dispatcher.on_settled = Snapshotter(
            journal, pipeline, every=config.journal.snapshot_every, fingerprint=digest
        )


def _open(path: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise RecoveryError(f"{path}: cannot read the journal to recover: {exc}") from None


def _restore_snapshot(
    connection: sqlite3.Connection, path: Path, actors: dict[str, Actor], fingerprint: str
) -> int:
    """Restore the newest matching snapshot; return its ``seq`` (0: none)."""
    try:
        row = connection.execute(
            "SELECT seq, payload FROM snapshots WHERE fingerprint = ? ORDER BY seq DESC LIMIT 1",
            (fingerprint,),
        ).fetchone()
        others = connection.execute(
            "SELECT COUNT(*) FROM snapshots WHERE fingerprint != ?", (fingerprint,)
        ).fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise RecoveryError(f"{path}: cannot read its snapshots: {exc}") from None
    if others:
        log.warning(
            "%s: %d snapshots were taken under another Atrium version or config and are not used",
            path,
            others,
        )
    if row is None:
        return 0
    seq, payload = int(row[0]), bytes(row[1])
    try:
        states = decode_states(payload)
    except SnapshotError as exc:
        raise RecoveryError(
            f"{path}: the snapshot at seq {seq} is damaged ({exc}); it was not loaded. "
            "Run `atrium journal salvage` on the journal (it copies the events, not the "
            "snapshots) and start on the salvaged journal"
        ) from None
    missing = sorted(set(actors) - set(states))
    if missing:
        raise RecoveryError(f"{path}: the snapshot at seq {seq} has no state for {missing}")
    for name, actor in actors.items():
        actor.restore_state(states[name])
    return seq


def _rows(connection: sqlite3.Connection, path: Path, after: int) -> Iterator[Row]:
    """Every event after ``after`` in ``seq`` order, market data blocks merged in."""
    reached = after
    try:
        for seq, ts, kind, payload in iter_records(connection, str(path), after_seq=after):
            reached = int(seq)
            yield reached, int(ts), str(kind), bytes(payload)
    except (JournalError, sqlite3.DatabaseError) as exc:
        raise RecoveryError(
            f"{path}: cannot read the journal to recover after seq {reached} ({exc}); run "
            "`atrium journal salvage` on the journal and start on the salvaged journal"
        ) from None


class _Rerun:
    """Publishes the recorded inputs again and checks what the actors publish."""

    def __init__(self, pipeline: Pipeline, journal: Journal, clock: Clock, rows: Iterator[Row]):
        self._dispatcher = pipeline.dispatcher
        self._journal = journal
        self._clock = clock
        self._rows = rows
        self._next: Row | None = next(rows, None)
        self._ts = self._next[1] if self._next is not None else 0
        self._sources = [
            (name, slot.actor)
            for name, slot in pipeline.slots.items()
            if slot.cls.is_source() and slot.actor is not None
        ]
        self.divergence: str | None = None
        #: Why the journal could not be read past some point (damage met mid-way).
        self.unreadable: str | None = None
        self.replayed = 0
        self.appended = 0

    def _now(self) -> int:
        """The recorded time of the next event (the time its publisher read)."""
        return self._ts

    def _take(self) -> Row:
        row = self._next
        assert row is not None
        try:
            self._next = next(self._rows, None)
        except RecoveryError as exc:  # in an actor's publish: noted, raised by run()
            self._next = None
            self.unreadable = str(exc)
        if self._next is not None:
            self._ts = self._next[1]
        return row

    def tap(self, message: Message) -> None:
        """The bus tap while re-running: check against the journal, never raise."""
        if self.unreadable is not None:  # the rest is unknown: check nothing, append nothing
            return
        if self._next is None:  # past the journal's end: the rest of the last input
            self._journal.record(message)
            self.appended += 1
            return
        seq, _, kind, payload = self._take()
        self.replayed += 1
        if self.divergence is None and encode(message) != payload:
            self.divergence = _difference(self._journal.path, seq, kind, payload, message)

    async def run(self) -> None:
        if not isinstance(self._clock, LiveClock):
            raise RecoveryError("recovery needs the service's LiveClock")
        sender = self._sources[0][0] if self._sources else "market_data"
        bus = self._dispatcher
        bus.add_tap(self.tap)
        self._clock.follow(self._now)
        try:
            while self._next is not None:
                seq, _, kind, payload = self._next
                if kind not in INPUT_KINDS:
                    raise RecoveryError(
                        f"{self._journal.path}: seq {seq} holds a {kind} that the re-run did "
                        "not publish; the journal was written by another configuration or "
                        "another Atrium version"
                    )
                try:
                    message = decode(payload)
                except msgspec.DecodeError as exc:
                    raise RecoveryError(
                        f"{self._journal.path}: seq {seq} does not decode ({exc}); run `atrium "
                        "journal salvage` on the journal and start on the salvaged journal"
                    ) from None
                if kind in ("Control", "VenueReport"):  # a live venue's report: execution's
                    await bus.publish(message, OPERATOR)
                else:
                    for _, source in self._sources:
                        source.restore_input(message)
                    await bus.publish(message, sender)
                await bus.wait_settled()
                if self.divergence is not None:
                    raise RecoveryError(self.divergence)
            if self.unreadable is not None:
                raise RecoveryError(self.unreadable)
        finally:
            self._clock.follow(None)
            bus.remove_tap(self.tap)


def _difference(path: Path, seq: int, kind: str, payload: bytes, message: Message) -> str:
    try:
        recorded: Any = decode(payload)
    except msgspec.DecodeError as exc:
        recorded = f"an undecodable {kind} ({exc})"
    return (
        f"{path}: seq {seq}: the re-run published {message!r} where the journal holds "
        f"{recorded!r}; the journal was written by another configuration or Atrium version "
        "(or a clock-dependent decision went another way), so the actors cannot be rebuilt "
        "exactly. Start with the configuration that wrote it, or move the journal aside "
        "to start a new session"
    )


def _reconcile(pipeline: Pipeline) -> Iterator[str]:
    for reconciler in pipeline.capabilities.every(RECONCILER):
        yield from reconciler.reconcile()
