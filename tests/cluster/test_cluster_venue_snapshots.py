"""A cluster's core on ccxt takes snapshots: killed with SIGKILL, it restores the newest,
rebuilds only the stream's tail, and books every fill of the venue exactly once, whether
the adapter found the fill after the snapshot (the tail brings its report back) or found
it before the snapshot and died before its report was stored (the reconciliation finds
it again, since the snapshot holds the adapter's state as applied, not as found)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import msgspec
import nats
import nats.js.errors
import pytest
from cluster_kit import atrium, free_port, get, metric, nats_server, until
from test_cluster_venue import _consumer_idle, _fills, _positions, _told, _venue_fills
from venue_sim import SimThread, VenueSim, trading_toml

from atrium.actors.execution.adapter import VenueFilled, decode_events
from atrium.config.loader import load_config
from atrium.runtime.cluster.state import RoleSnapshot
from atrium.runtime.cluster.watch import subject_matches
from atrium.runtime.cluster.wiring import role_config
from atrium.runtime.codec import decode
from atrium.runtime.messages import VenueReport

pytestmark = pytest.mark.timeout(180)

_STREAM, _BUCKET = "VENUE", "VENUE-snapshots"
_FILL_BOOKED = 'atrium_reconciliation_adjustments_total{kind="fill_booked"}'
_REBUILT = "atrium_cluster_rebuilt_messages_total"
_TICKER = ("GET", "/api/v3/ticker/24hr")


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimThread]:
    monkeypatch.setenv("ATRIUM_CCXT_API_KEY", "sim-key")
    monkeypatch.setenv("ATRIUM_CCXT_SECRET", "sim-secret")
    venue = VenueSim(balances={"USDT": Decimal(100_000), "BTC": Decimal(0), "BNB": Decimal(1)})
    venue.add_market("BTC", "USDT", step="0.001", min_notional="10")
    venue.add_market("BNB", "USDT", step="0.001", min_notional="10")
    venue.market_price["BNBUSDT"] = Decimal(300)  # values a fee paid in BNB
    with SimThread(venue) as thread:  # market orders rest: no BTC price is quoted
        yield thread


class _Core:
    """Three roles on the simulator; the core can be killed and started again."""

    def __init__(self, tmp: Path, url: str, venue_url: str, snapshots: str) -> None:
        self.tmp, self.url, self.runs = tmp, url, 0
        self.ports = {role: free_port() for role in ("md", "strat", "core")}
        self.config = tmp / "venue.toml"
        toml = trading_toml(venue_url).replace("poll_interval_s = 30.0", "poll_interval_s = 0.2")
        self.config.write_text(
            f"""
{toml}
[journal]
path = "{tmp / "journal.sqlite"}"

[cluster]
url = "{url}"
namespace = "venue"
lock_ttl_seconds = 2
{snapshots}

[cluster.roles.md]
actors = ["market_data"]
port = {self.ports["md"]}
[cluster.roles.strat]
actors = ["strategy"]
port = {self.ports["strat"]}
[cluster.roles.core]
actors = ["portfolio", "risk", "execution"]
port = {self.ports["core"]}
""",
            encoding="utf-8",
        )
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, role: str) -> Path:
        self.runs += 1
        log = self.tmp / f"{role}-{self.runs}.log"
        self.running[role] = atrium("run", "--config", str(self.config), "--role", role, log=log)
        return log

    def kill_core(self) -> None:
        process = self.running.pop("core")
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def trade_until_an_order_rests(self, sim: SimThread) -> str:
        """Run until the core's first order rests at the venue, then stop market data
        (no new intents) and wait until the core acknowledged everything."""
        for role in ("core", "strat", "md"):
            self.start(role)
        core = self.ports["core"]
        until(lambda: bool(sim.venue.created), "the first order at the venue")
        order_id = sim.venue.created[0]
        until(lambda: _open(core, order_id), "the order acknowledged at the core")
        md = self.running.pop("md")
        md.send_signal(signal.SIGTERM)
        assert md.wait(30) == 0
        until(lambda: asyncio.run(_consumer_idle(self.url, "venue-core")), "the core idle")
        return order_id

    def stop_all(self) -> None:
        for process in self.running.values():
            process.kill()
            process.wait(10)


@contextmanager
def _cluster(tmp: Path, sim: SimThread, snapshots: str) -> Iterator[_Core]:
    with nats_server(tmp) as server:
        cluster = _Core(tmp, server.url, sim.url, snapshots)
        try:
            yield cluster
        finally:
            cluster.stop_all()


def _open(port: int, order_id: str) -> bool:
    _, rows = get(port, "/api/orders")
    return any(
        row.get("order_id") == order_id and row.get("status") == "ACCEPTED" for row in rows or []
    )


async def _snapshot_entry(url: str) -> tuple[int, RoleSnapshot] | None:
    """The core's snapshot entry: its revision and content (None: none yet)."""
    nc = await nats.connect(url)
    try:
        kv = await nc.jetstream().key_value(_BUCKET)
        try:
            entry = await kv.get("core")
        except nats.js.errors.KeyNotFoundError:
            return None
        snapshot = msgspec.msgpack.decode(entry.value or b"", type=RoleSnapshot)
        return int(entry.revision or 0), snapshot
    finally:
        await nc.close()


def _snapshot(url: str) -> tuple[int, RoleSnapshot]:
    entry = asyncio.run(_snapshot_entry(url))
    assert entry is not None, "no snapshot of the core"
    return entry


async def _handled(url: str, config: Path, after: int) -> int:
    """The messages after ``after`` the core handles when it rebuilds: those its consumer
    matches, less its own output (a report of the venue, an input, is handled). Market
    data travels on plain subjects (the default): the core takes back the batches it kept."""
    wiring = role_config(load_config(config), "core")[1].live_subjects()
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        last = int((await js.stream_info(_STREAM)).state.last_seq)
        count = 0
        for seq in range(after + 1, last + 1):
            msg = await js.get_msg(_STREAM, seq)
            headers = msg.headers or {}
            own = headers.get("Atrium-Role") == "core" and "Atrium-Input-Run" not in headers
            matched = any(subject_matches(msg.subject or "", pattern) for pattern in wiring.imports)
            if not own and matched:
                count += 1
        return count
    finally:
        await nc.close()


async def _filled_after(url: str, after: int) -> list[str]:
    """The venue trade ids of the fills the stream's venue reports after ``after`` hold."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        last = int((await js.stream_info(_STREAM)).state.last_seq)
        found = []
        for seq in range(after + 1, last + 1):
            msg = await js.get_msg(_STREAM, seq)
            if ".marks." in (msg.subject or ""):
                continue  # the market data the core kept, in batches
            message = decode(msg.data or b"")
            if isinstance(message, VenueReport):
                events = decode_events(message.events)
                found += [e.venue_fill_id for e in events if isinstance(e, VenueFilled)]
        return found
    finally:
        await nc.close()


def _restart(cluster: _Core, seq: int, settled: Callable[[], bool]) -> tuple[Path, int]:
    """Start the core again after a kill; its log and the messages it had to handle again."""
    tail = asyncio.run(_handled(cluster.url, cluster.config, seq))
    full = asyncio.run(_handled(cluster.url, cluster.config, 0))
    assert tail < full
    log = cluster.start("core")
    core = cluster.ports["core"]
    until(lambda: get(core, "/readyz")[0] == 200, "the restarted core ready", 60)
    until(settled, "the fills booked after the restart", 30)
    text = log.read_text()
    assert f"restored the snapshot at stream sequence {seq}" in text, text[-3000:]
    assert "snapshots of role core are off" not in text
    return log, tail


def _one_create_each(venue: VenueSim) -> None:
    assert len(venue.created) == len(set(venue.created))
    creates = [r for r in venue.requests if r == ("POST", "/api/v3/order")]
    assert len(creates) == len(venue.created)
    assert not [r for r in venue.requests if r[0] == "DELETE"]


def test_a_fill_found_after_the_snapshot_comes_back_from_the_tail_once(
    sim: SimThread, tmp_path: Path
) -> None:
    # Snapshots by count only: none after market data stops, so the fill is in the tail.
    snapshots = "snapshot_every_messages = 100\nsnapshot_every_seconds = 0"
    with _cluster(tmp_path, sim, snapshots) as cluster:
        core = cluster.ports["core"]
        order_id = cluster.trade_until_an_order_rests(sim)
        sim.call(sim.venue.fill, order_id, "1", "101.5")  # the running core's poll finds it
        until(lambda: _positions(core) == {"cross/BTC/USDT": Decimal(1)}, "the fill booked")
        until(lambda: asyncio.run(_consumer_idle(cluster.url, "venue-core")), "the core idle")
        cluster.kill_core()
        _, snapshot = _snapshot(cluster.url)
        assert asyncio.run(_filled_after(cluster.url, snapshot.seq)) == ["BTC/USDT:1"]

        journal = tmp_path / "core-journal.sqlite"
        _, tail = _restart(
            cluster, snapshot.seq, lambda: _positions(core) == {"cross/BTC/USDT": Decimal(1)}
        )
        assert metric(core, _REBUILT) == tail > 0
        assert metric(core, _FILL_BOOKED) == 0  # the tail held it: nothing to reconcile
        assert [(f.quantity, f.price) for f in _fills(journal, order_id)] == [
            (Decimal(1), Decimal("101.5"))
        ]
        until(lambda: _told(tmp_path / "strat-journal.sqlite") == _positions(core), "told")
        _one_create_each(sim.venue)


def test_a_fill_found_but_not_applied_at_the_snapshot_is_found_again_after_a_kill(
    sim: SimThread, tmp_path: Path
) -> None:
    snapshots = "snapshot_every_messages = 0\nsnapshot_every_seconds = 1"
    with _cluster(tmp_path, sim, snapshots) as cluster:
        core = cluster.ports["core"]
        order_id = cluster.trade_until_an_order_rests(sim)
        # Two trades in one poll: the first is found (its fee is in USDT), then the poll
        # waits on valuing the second's BNB fee; its report is never stored.
        asked = sim.venue.requests.count(_TICKER)

        def two_trades() -> None:  # at once: no poll between them
            sim.venue.hold_tickers.add("BNBUSDT")
            sim.venue.fill(order_id, "0.4", "101.5")
            sim.venue.fee_asset = "BNB"
            sim.venue.fill(order_id, "0.6", "101.6")

        sim.call(two_trades)
        until(lambda: sim.venue.requests.count(_TICKER) > asked, "the poll valuing the fee")
        revision, _ = _snapshot(cluster.url)
        # A snapshot taken while the first trade is found and not applied.
        until(lambda: _snapshot(cluster.url)[0] > revision, "a snapshot meanwhile", 10)
        _, snapshot = _snapshot(cluster.url)
        cluster.kill_core()
        assert asyncio.run(_filled_after(cluster.url, 0)) == []  # no report was stored
        sim.call(sim.venue.hold_tickers.clear)

        journal = tmp_path / "core-journal.sqlite"
        _, tail = _restart(
            cluster, snapshot.seq, lambda: _positions(core) == {"cross/BTC/USDT": Decimal(1)}
        )
        assert metric(core, _REBUILT) == tail
        assert metric(core, _FILL_BOOKED) == 2  # both found again by the reconciliation
        until(lambda: len(_fills(journal, order_id)) == 2, "both fills journaled")
        fills = _fills(journal, order_id)
        assert [(f.quantity, f.price) for f in fills] == [
            (Decimal("0.4"), Decimal("101.5")),
            (Decimal("0.6"), Decimal("101.6")),
        ]
        assert fills[-1].commission == Decimal("0.15")  # 0.0005 BNB at 300
        trade_ids = [e.venue_fill_id for e in _venue_fills(journal, "reconciliation")]
        assert sorted(trade_ids) == ["BTC/USDT:1", "BTC/USDT:2"]
        until(lambda: _told(tmp_path / "strat-journal.sqlite") == _positions(core), "told")
        _one_create_each(sim.venue)
