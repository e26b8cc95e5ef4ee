"""A restarted role restores its snapshot and handles again only the stream after it."""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec
import nats
import pytest
from cluster_kit import (
    LiveRoles,
    consumers_idle,
    free_port,
    get,
    live_config,
    metric,
    nats_server,
    quiet,
    until,
    with_cluster_lines,
)

from atrium.config.loader import load_config
from atrium.runtime.cluster.state import RoleSnapshot, StateCheck
from atrium.runtime.cluster.watch import subject_matches
from atrium.runtime.cluster.wiring import role_config
from atrium.runtime.snapshots import decode_states, encode_states

pytestmark = pytest.mark.timeout(240)

# The actors' state types, declared on import, for decoding snapshots here.
for _module in ("execution.actor", "portfolio.actor", "risk.actor", "strategy.bundled.ema_cross"):
    importlib.import_module(f"atrium.actors.{_module}")

_BUCKET = "LIVE-snapshots"
_ROLES = ("core", "strat-a", "strat-b", "md")


async def _kv_get(url: str, key: str) -> bytes:
    nc = await nats.connect(url)
    try:
        kv = await nc.jetstream().key_value(_BUCKET)
        return (await kv.get(key)).value or b""
    finally:
        await nc.close()


async def _kv_put(url: str, key: str, value: bytes) -> None:
    nc = await nats.connect(url)
    try:
        await (await nc.jetstream().key_value(_BUCKET)).put(key, value)
    finally:
        await nc.close()


async def _handled(url: str, config: Path, role: str, after: int) -> int:
    """Messages after ``after`` that ``role`` handles when it rebuilds: those its consumer
    matches, less its own output (an input it applied itself, a control, is handled)."""
    _, wiring = role_config(load_config(config), role)
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        last = int((await js.stream_info("LIVE")).state.last_seq)
        count = 0
        for seq in range(after + 1, last + 1):
            msg = await js.get_msg("LIVE", seq)
            headers = msg.headers or {}
            own = headers.get("Atrium-Role") == role and "Atrium-Input-Run" not in headers
            if not own and any(subject_matches(msg.subject or "", f) for f in wiring.imports):
                count += 1
        return count
    finally:
        await nc.close()


def _snapshot(url: str, role: str) -> RoleSnapshot:
    return msgspec.msgpack.decode(asyncio.run(_kv_get(url, role)), type=RoleSnapshot)


def _comparable(snapshot: RoleSnapshot) -> bytes:
    """Every actor's state, byte for byte, but the times risk approved orders at: a
    rebuild reads the wall clock there (the rate limit's window), not the first run's."""
    states = decode_states(snapshot.states)
    states.get("risk", {}).pop("_approved_ns", None)
    return encode_states(states)


def _difference(rebuilt: RoleSnapshot, final: RoleSnapshot) -> str:
    """Which actors' states differ, with both, for a failure's message."""
    mine, theirs = decode_states(rebuilt.states), decode_states(final.states)
    names = sorted(name for name in {*mine, *theirs} if mine.get(name) != theirs.get(name))
    return "; ".join(f"{name}: {mine.get(name)!r} against {theirs.get(name)!r}" for name in names)


class _Cluster(LiveRoles):
    """The four roles of the kit's live config, with ``extra`` in its ``[cluster]``."""

    def __init__(self, tmp: Path, url: str, extra: str) -> None:
        ports = {role: free_port() for role in _ROLES}
        super().__init__(tmp, url, with_cluster_lines(live_config(tmp, url, ports), extra), ports)


@contextmanager
def _cluster(tmp: Path, extra: str) -> Iterator[_Cluster]:
    """Four live roles with ``extra`` in ``[cluster]``, run until the core placed orders
    and then without new market data, every role quiet."""
    with nats_server(tmp) as server:
        cluster = _Cluster(tmp, server.url, extra)
        try:
            for role in _ROLES:
                cluster.start(role)
            core = cluster.ports["core"]
            until(lambda: metric(core, "atrium_orders_total") >= 20, "orders at the core")
            yield cluster
        finally:
            cluster.stop_all()


def _settle(cluster: _Cluster) -> None:
    """Market data stops; every other role handles all the stream holds for it."""
    cluster.stop("md")
    followers = ("core", "strat-a", "strat-b")
    until(lambda: consumers_idle(cluster.url, "live", followers), "every consumer idle")
    quiet([cluster.ports[role] for role in followers], "atrium_cluster_received_messages_total")


@pytest.mark.parametrize("role", ["strat-a", "core"])
def test_a_restarted_role_handles_again_only_what_came_after_its_snapshot(
    tmp_path: Path, role: str
) -> None:
    with _cluster(tmp_path, "snapshot_every_messages = 50\nsnapshot_every_seconds = 0") as cluster:
        url, port = cluster.url, cluster.ports[role]
        until(lambda: metric(port, "atrium_cluster_received_messages_total") >= 200, "traffic")
        # A periodic snapshot, taken while the role ran on: a crash just after it is what
        # putting it back before the restart stands for.
        early = _snapshot(url, role)
        assert early.seq > 0
        _settle(cluster)
        positions = get(port, "/api/portfolio/positions")
        cluster.stop(role)
        # The graceful stop snapshotted what the uninterrupted run had at the end.
        final = _snapshot(url, role)
        assert final.seq > early.seq, cluster.logs[role].read_text()[-3000:]
        tail = asyncio.run(_handled(url, cluster.config, role, early.seq))
        full = asyncio.run(_handled(url, cluster.config, role, 0))
        assert 0 < tail < full

        asyncio.run(_kv_put(url, role, msgspec.msgpack.encode(early)))
        log = cluster.restart(role)
        text = log.read_text()[-3000:]  # what a failure shows
        assert metric(port, "atrium_cluster_rebuilt_messages_total") == tail, text
        assert f"restored the snapshot at stream sequence {early.seq}" in log.read_text()
        assert get(port, "/api/portfolio/positions") == positions, text
        cluster.stop(role)
        rebuilt = _snapshot(url, role)
        assert (rebuilt.seq, rebuilt.exported) == (final.seq, final.exported), text
        assert _comparable(rebuilt) == _comparable(final), _difference(rebuilt, final)


@pytest.mark.parametrize("damage", ["old_format", "garbage"])
def test_a_snapshot_that_cannot_be_used_falls_back_to_the_full_rebuild(
    tmp_path: Path, damage: str
) -> None:
    with _cluster(tmp_path, "snapshot_every_messages = 50") as cluster:
        url, port = cluster.url, cluster.ports["core"]
        _settle(cluster)
        positions = get(port, "/api/portfolio/positions")
        cluster.stop("core")
        final = _snapshot(url, "core")
        if damage == "old_format":
            unusable = msgspec.msgpack.encode(msgspec.structs.replace(final, format=0))
            why = "its format is 0, this Atrium reads 1"
        else:
            unusable = b"\xc1 not a snapshot"
            why = "it does not decode"
        asyncio.run(_kv_put(url, "core", unusable))
        log = cluster.restart("core")
        full = asyncio.run(_handled(url, cluster.config, "core", 0))
        assert metric(port, "atrium_cluster_rebuilt_messages_total") == full
        text = log.read_text()
        assert f"the snapshot {_BUCKET}/core is not used: {why}" in text
        assert "rebuilding from the stream's start" in text
        assert get(port, "/api/portfolio/positions") == positions
        cluster.stop("core")
        assert _comparable(_snapshot(url, "core")) == _comparable(final)


def test_a_rebuilt_portfolio_that_differs_from_the_recorded_one_is_not_ready(
    tmp_path: Path,
) -> None:
    off = "snapshot_every_messages = 0\nsnapshot_every_seconds = 0"
    with _cluster(tmp_path, off) as cluster:
        url, port = cluster.url, cluster.ports["core"]
        _settle(cluster)
        cluster.stop("core")
        # The same portfolio rebuilt: ready.
        cluster.restart("core")
        cluster.stop("core")
        recorded = msgspec.msgpack.decode(asyncio.run(_kv_get(url, "core.check")), type=StateCheck)
        assert recorded.positions
        altered = msgspec.structs.replace(recorded, cash=recorded.cash + "1")
        asyncio.run(_kv_put(url, "core.check", msgspec.msgpack.encode(altered)))
        log = cluster.start("core")

        def refused() -> bool:
            _, body = get(port, "/readyz")
            return bool(body and body["checks"]["cluster"].get("state_check"))

        until(refused, "the state check fails")
        status, body = get(port, "/readyz")
        assert status == 503
        difference = f"cash {recorded.cash} against {altered.cash}"
        assert difference in body["checks"]["cluster"]["state_check"]
        text = log.read_text()
        assert f"the portfolio rebuilt from the stream up to sequence {recorded.seq}" in text
        assert f"{difference}; not going live" in text
        assert metric(port, "atrium_orders_total") == 0


def test_with_market_data_on_plain_subjects_a_restarted_strategy_keeps_its_indicators(
    tmp_path: Path,
) -> None:
    """The stream holds no market data there: only the snapshot carries the indicators."""
    with nats_server(tmp_path) as server:
        cluster = _Cluster(tmp_path, server.url, "snapshot_every_seconds = 1")
        cluster.config.write_text(
            cluster.config.read_text().replace('market_data = "stream"', 'market_data = "subjects"')
        )
        try:
            for role in ("strat-a", "md"):
                cluster.start(role)
            port = cluster.ports["strat-a"]
            until(lambda: metric(port, "atrium_cluster_received_messages_total") >= 200, "ticks")
            cluster.stop("md")
            time.sleep(1.0)
            cluster.stop("strat-a")
            before = _snapshot(server.url, "strat-a")
            warm = decode_states(before.states)["strategy"]
            assert warm["seen"] >= 200  # the ticks it handled, none of them on the stream
            assert "AAA" in warm["strategies"]["fast_a"]["attributes"]["_crossings"]
            cluster.restart("strat-a")
            assert metric(port, "atrium_cluster_rebuilt_messages_total") == 0
            cluster.stop("strat-a")
            # Nothing came in since: what it stopped with is what it was restored to.
            assert _comparable(_snapshot(server.url, "strat-a")) == _comparable(before)
        finally:
            cluster.stop_all()
