"""``atrium run`` on a ccxt venue killed with SIGKILL while an order is in flight.

Real ``atrium run`` processes trade through real ccxt against the Binance simulator
(served from a thread of the test). The simulator books the first order but never
answers its request; the process is killed then, the simulator fills the order while
nothing runs, and the restart must reconcile: book that fill exactly once (a journaled
``VenueReport`` of source ``reconciliation``), never send the order again, and answer
``/readyz`` only once reconciled. A second restart finds nothing more to adjust.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from loopback_feed import atrium_run, free_port
from venue_sim import SimThread, VenueSim, trading_toml

from atrium.actors.execution.adapter import VenueFilled, decode_events
from atrium.runtime.codec import decode
from atrium.runtime.messages import Fill, Message, Order, VenueReport

ENV = {"ATRIUM_CCXT_API_KEY": "sim-key", "ATRIUM_CCXT_SECRET": "sim-secret"}


@pytest.fixture
def sim() -> Iterator[SimThread]:
    venue = VenueSim(balances={"USDT": Decimal(100_000), "BTC": Decimal(0)})
    venue.add_market("BTC", "USDT", step="0.001", min_notional="10")
    venue.hold_creates = True  # market orders rest (no market price) and go unanswered
    with SimThread(venue) as thread:
        yield thread


def _config(path: Path, url: str, journal: Path, port: int, snapshot_every: int = 0) -> Path:
    path.write_text(
        f"""
[runtime]
log_level = "INFO"
shutdown_grace_seconds = 5.0

[service]
host = "127.0.0.1"
port = {port}

[journal]
path = "{journal}"
snapshot_every = {snapshot_every}

{trading_toml(url)}""",
        encoding="utf-8",
    )
    return path


def _events(journal: Path) -> list[Message]:
    # read-only: a closing read-write connection would checkpoint away the killed run's -wal
    with closing(sqlite3.connect(f"{journal.as_uri()}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT payload FROM events ORDER BY seq").fetchall()
    return [decode(bytes(payload)) for (payload,) in rows]


def _get(port: int, path: str) -> tuple[int, dict[str, Any]] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return None


def _wait(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _ready(port: int) -> bool:
    answer = _get(port, "/readyz")
    return answer is not None and answer[0] == 200


def _reconciled_fills(journal: Path) -> list[VenueFilled]:
    return [
        event
        for message in _events(journal)
        if isinstance(message, VenueReport) and message.source == "reconciliation"
        for event in decode_events(message.events)
        if isinstance(event, VenueFilled)
    ]


@pytest.mark.parametrize("snapshot_every", [0, 50])
def test_restart_when_killed_with_order_in_flight_then_venue_fill_booked_once_never_resent(
    sim: SimThread, tmp_path: Path, snapshot_every: int
) -> None:
    """Also with snapshots (every 50 events: the ticks are journaled), which hold the
    adapter's orders as the journaled reports left them."""
    journal, port = tmp_path / "j.sqlite", free_port()
    config = _config(tmp_path / "live.toml", sim.url, journal, port, snapshot_every)
    log = tmp_path / "atrium.log"
    with atrium_run(config, log, env=ENV) as process:
        _wait(lambda: sim.venue.created, 60, "the first order at the venue")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    (order_id,) = sim.venue.created
    orders = [m for m in _events(journal) if isinstance(m, Order)]
    assert [o.order_id for o in orders] == [order_id]  # committed before it was sent
    assert not [m for m in _events(journal) if isinstance(m, Fill)]
    sim.call(setattr, sim.venue, "hold_creates", False)
    sim.call(sim.venue.fill, order_id, "1", "101.5")  # filled while nothing runs

    with atrium_run(config, log, env=ENV) as process:
        _wait(lambda: _ready(port), 30, "/readyz 200 on the restart")
        fills = [m for m in _events(journal) if isinstance(m, Fill) and m.order_id == order_id]
        assert [(f.quantity, f.price, f.commission, f.leaves_quantity) for f in fills] == [
            (Decimal("1"), Decimal("101.5"), Decimal("0.1015"), Decimal("0"))
        ]
        assert [(e.order_id, e.venue_fill_id) for e in _reconciled_fills(journal)] == [
            (order_id, "BTC/USDT:1")
        ]
        adjusted = _get(port, "/api/orders?status=reconciled")
        assert adjusted == (200, [
            {"kind": "order_acknowledged", "order_id": order_id, "detail": ""},
            {"kind": "fill_booked", "order_id": order_id, "detail": "BTC/USDT:1"},
        ])  # fmt: skip
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
        assert 'atrium_reconciliation_adjustments_total{kind="fill_booked"} 1.0' in metrics
        (restored,) = re.findall(r"snapshot at seq (\d+)", log.read_text())
        assert (int(restored) > 0) == bool(snapshot_every), log.read_text()[-3000:]
        assert "snapshots are off" not in log.read_text()
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    with atrium_run(config, log, env=ENV) as process:  # again: nothing more to adjust
        _wait(lambda: _ready(port), 30, "/readyz 200 on the second restart")
        fills = [m for m in _events(journal) if isinstance(m, Fill) and m.order_id == order_id]
        assert len(fills) == 1
        assert len(_reconciled_fills(journal)) == 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    assert sim.venue.created.count(order_id) == 1  # never sent twice
    assert len(sim.venue.created) == len(set(sim.venue.created))
    creates = [r for r in sim.venue.requests if r == ("POST", "/api/v3/order")]
    assert len(creates) == len(sim.venue.created)  # no resend, refused or not


def test_live_ccxt_config_when_run_on_the_simulator_then_limits_show_the_venue_balances(
    tmp_path: Path,
) -> None:
    """config/live-ccxt.toml as shipped, pointed at the simulator, whose trade stream
    prints once at the venue's price (the feed is ready on its first trade)."""
    venue = VenueSim(balances={"USDT": Decimal(1000), "BTC": Decimal("0.5")})
    venue.add_market("BTC", "USDT", step="0.001", min_notional="10")
    venue.market_price["BTCUSDT"] = Decimal("40000")
    venue.resend_trades = 1  # the trade below reaches the feed when it subscribes
    venue.push_trade("BTCUSDT", "40000", "0.01", time=int(time.time() * 1000))
    shipped = (Path(__file__).parents[2] / "config" / "live-ccxt.toml").read_text("utf-8")
    journal, port = tmp_path / "j.sqlite", free_port()
    with SimThread(venue) as sim:
        text = (
            shipped.replace("sandbox = true ", f'base_url = "{sim.url}" ')
            .replace('"atrium-ccxt-journal.sqlite"', f'"{journal}"')
            .replace("port = 8000", f"port = {port}")
        )
        assert text.count(sim.url) == 2  # market data and execution
        assert text.count(str(journal)) == 1
        config = tmp_path / "live-ccxt.toml"
        config.write_text(text, encoding="utf-8")
        with atrium_run(config, tmp_path / "atrium.log", env=ENV) as process:
            _wait(lambda: _get(port, "/api/portfolio/limits") is not None, 30, "the service")
            _wait(lambda: _ready(port), 30, "/readyz 200 once reconciled")
            status, limits = _get(port, "/api/portfolio/limits") or (0, {})
            _, positions = _get(port, "/api/portfolio/positions") or (0, {})
            process.send_signal(signal.SIGTERM)
            assert process.wait(20) == 0
    assert status == 200
    assert (limits["cash"], limits["equity"]) == ("1000", "21000")  # 1000 + 0.5 x 40000
    assert limits["per_symbol"]["BTCUSDT"]["exposure"] == "20000"
    assert [(p["strategy"], p["quantity"], p["mark"]) for p in positions] == [
        ("venue", "0.5", "40000")
    ]


def test_start_when_venue_fails_first_requests_then_readyz_503_until_retried_and_reconciled(
    sim: SimThread, tmp_path: Path
) -> None:
    journal, port = tmp_path / "j.sqlite", free_port()
    config = _config(tmp_path / "live.toml", sim.url, journal, port)
    config.write_text(
        config.read_text("utf-8").replace("poll_interval_s = 30.0", "poll_interval_s = 0.2"),
        encoding="utf-8",
    )
    sim.call(sim.venue.fail_next, 4, 503)  # retried after 0.2, 0.4, 0.8 and 1.6 s
    log = tmp_path / "atrium.log"
    answers: list[tuple[int, str]] = []

    def ready() -> bool:
        answer = _get(port, "/readyz")
        if answer is not None:
            answers.append((answer[0], answer[1]["checks"]["recovery"]["state"]))
        return answer is not None and answer[0] == 200

    with atrium_run(config, log, env=ENV) as process:
        _wait(ready, 30, "/readyz 200 once the venue answers")
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    assert (503, "running") in answers  # not ready while the venue was unreachable
    assert answers[-1] == (200, "new")
    text = log.read_text("utf-8")
    assert text.count("venue unreachable at start (loading markets: network)") == 4
