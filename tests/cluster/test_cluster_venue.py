"""A cluster's core on a live venue (ccxt against the Binance simulator), killed with an
order in flight: it rebuilds from the stream without calling the venue, reconciles, and
only then is ready, with the venue's fill booked once and no order sent twice."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats
import pytest
from cluster_kit import atrium, free_port, get, metric, nats_server, until
from venue_sim import SimThread, VenueSim, trading_toml

from atrium.actors.execution.adapter import VenueFilled, decode_events
from atrium.runtime.codec import decode
from atrium.runtime.messages import Fill, Message, PositionUpdate, VenueReport

pytestmark = pytest.mark.timeout(240)

_FILL_BOOKED = 'atrium_reconciliation_adjustments_total{kind="fill_booked"}'


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[SimThread]:
    monkeypatch.setenv("ATRIUM_CCXT_API_KEY", "sim-key")
    monkeypatch.setenv("ATRIUM_CCXT_SECRET", "sim-secret")
    venue = VenueSim(balances={"USDT": Decimal(100_000), "BTC": Decimal(0)})
    venue.add_market("BTC", "USDT", step="0.001", min_notional="10")
    venue.hold_creates = True  # market orders rest (no market price) and go unanswered
    with SimThread(venue) as thread:
        yield thread


def _config(tmp: Path, nats_url: str, venue_url: str, ports: dict[str, int]) -> Path:
    path = tmp / "venue.toml"
    path.write_text(
        f"""
{trading_toml(venue_url)}
[journal]
path = "{tmp / "journal.sqlite"}"

[cluster]
url = "{nats_url}"
namespace = "venue"
lock_ttl_seconds = 2

[cluster.roles.md]
actors = ["market_data"]
port = {ports["md"]}
[cluster.roles.strat]
actors = ["strategy"]
port = {ports["strat"]}
[cluster.roles.core]
actors = ["portfolio", "risk", "execution"]
port = {ports["core"]}
""",
        encoding="utf-8",
    )
    return path


def _last_session(journal: Path, kind: type[Message]) -> list[Any]:
    """The ``kind`` messages the journal's newest session recorded."""
    query = (
        "SELECT payload FROM events WHERE kind = ? AND seq >= "
        "(SELECT MAX(first_seq) FROM sessions) ORDER BY seq"
    )
    with closing(sqlite3.connect(f"{journal.as_uri()}?mode=ro", uri=True)) as db:
        rows = db.execute(query, (kind.__name__,)).fetchall()
    return [decode(bytes(payload)) for (payload,) in rows]


def _fills(journal: Path, order_id: str) -> list[Fill]:
    """The fills of ``order_id`` in the newest session, once its writer has them in."""

    def fills() -> list[Fill]:
        return [f for f in _last_session(journal, Fill) if f.order_id == order_id]

    until(lambda: bool(fills()), f"a fill of {order_id} in {journal.name}", 30)
    return fills()


def _venue_fills(journal: Path, source: str) -> list[VenueFilled]:
    return [
        event
        for report in _last_session(journal, VenueReport)
        if report.source == source
        for event in decode_events(report.events)
        if isinstance(event, VenueFilled)
    ]


async def _consumer_idle(url: str, durable: str) -> bool:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info("VENUE", durable)
    finally:
        await nc.close()
    return info.num_pending == 0 and info.num_ack_pending == 0


def _ready(port: int) -> bool:
    return get(port, "/readyz")[0] == 200


def _ready_noting(port: int, answers: list[tuple[int, Any]]) -> bool:
    answers.append(get(port, "/readyz"))
    return answers[-1][0] == 200


def _positions(port: int) -> dict[str, Decimal]:
    _, rows = get(port, "/api/portfolio/positions")
    return {f"{row['strategy']}/{row['symbol']}": Decimal(row["quantity"]) for row in rows or []}


def _told(journal: Path) -> dict[str, Decimal]:
    """The positions the strategies were told of (their role's journal), the newest each."""
    told: dict[str, Decimal] = {}
    with closing(sqlite3.connect(f"{journal.as_uri()}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT payload FROM events WHERE kind = 'PositionUpdate' ORDER BY seq")
        for (payload,) in rows.fetchall():
            update: PositionUpdate = decode(bytes(payload))
            told[f"{update.strategy}/{update.symbol}"] = update.quantity
    return told


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(10)


def test_core_killed_with_an_order_in_flight_rebuilds_quietly_then_books_the_fill_once(
    sim: SimThread, tmp_path: Path
) -> None:
    ports = {"md": free_port(), "strat": free_port(), "core": free_port()}
    with nats_server(tmp_path) as server:
        config = _config(tmp_path, server.url, sim.url, ports)
        roles: dict[str, subprocess.Popen[bytes]] = {}

        def start(role: str, run: int) -> subprocess.Popen[bytes]:
            log = tmp_path / f"{role}-{run}.log"
            roles[role] = atrium("run", "--config", str(config), "--role", role, log=log)
            return roles[role]

        try:
            _trade_kill_and_restart(sim, tmp_path, server.url, ports, start)
        finally:
            for process in roles.values():
                if process.poll() is None:
                    process.kill()
                    process.wait(10)


def _trade_kill_and_restart(
    sim: SimThread, tmp: Path, url: str, ports: dict[str, int], start: Any
) -> None:
    core_journal, core = tmp / "core-journal.sqlite", ports["core"]
    first = start("core", 1)
    start("strat", 1)
    md = start("md", 1)
    until(lambda: bool(sim.venue.created), "the first order at the venue")
    md.send_signal(signal.SIGTERM)  # no new intents: the core takes all there is
    assert md.wait(30) == 0
    until(lambda: asyncio.run(_consumer_idle(url, "venue-core")), "the core acknowledged all")
    _kill(first)  # the order's create request is still unanswered
    order_id = sim.venue.created[0]
    sim.call(setattr, sim.venue, "hold_creates", False)
    sim.call(sim.venue.fill, order_id, "1", "101.5")  # filled while the core is down

    sim.call(setattr, sim.venue, "delay", 0.3)  # every answer late: reconciling takes a while
    second = start("core", 2)
    answers: list[tuple[int, Any]] = []
    until(lambda: _ready_noting(core, answers), "the restarted core ready")
    sim.call(setattr, sim.venue, "delay", 0.0)
    # Rebuilt, connected, and still 503 until reconciled; then the fill is booked already.
    assert (503, False, False) in [
        (status, body["checks"]["cluster"]["rebuilding"], body["checks"]["cluster"]["reconciled"])
        for status, body in answers
        if body and "cluster" in body["checks"]
    ]
    assert _positions(core) == {"cross/BTC/USDT": Decimal(1)}
    fills = _fills(core_journal, order_id)
    assert [(f.quantity, f.price, f.leaves_quantity) for f in fills] == [
        (Decimal(1), Decimal("101.5"), Decimal(0))
    ]
    assert [e.order_id for e in _venue_fills(core_journal, "reconciliation")] == [order_id]
    assert metric(core, _FILL_BOOKED) == 1
    until(lambda: _told(tmp / "strat-journal.sqlite") == _positions(core), "strategies told")

    # Again: the fill now comes back from the stream, rebuilt, and nothing is reconciled.
    until(lambda: asyncio.run(_consumer_idle(url, "venue-core")), "the core acknowledged all")
    _kill(second)
    start("core", 3)
    until(lambda: _ready(core), "the core ready again")
    assert _positions(core) == {"cross/BTC/USDT": Decimal(1)}
    assert len(_fills(core_journal, order_id)) == 1
    assert metric(core, _FILL_BOOKED) == 0
    assert _told(tmp / "strat-journal.sqlite") == _positions(core)

    assert sim.venue.created.count(order_id) == 1
    assert len(sim.venue.created) == len(set(sim.venue.created))
    creates = [r for r in sim.venue.requests if r == ("POST", "/api/v3/order")]
    assert len(creates) == len(sim.venue.created)  # nothing sent again, refused or not
    assert not [r for r in sim.venue.requests if r[0] == "DELETE"]
