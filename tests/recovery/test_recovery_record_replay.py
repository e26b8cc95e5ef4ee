"""Record a live ``atrium run`` session from a loopback exchange, replay its journal, compare.

The session: 500 one-minute bars of real data sent as 2,000 trades by a
:class:`~loopback_feed.LoopbackTradeServer`; the service aggregates them into 60-second
bars, an EMA cross trades them on the paper venue, and everything is journaled. Once
the journal holds every tick the service is stopped with SIGTERM, and ``atrium replay``
runs the same config over that journal. The replay must see exactly the recorded input
and, on the paper venue, reproduce the recorded orders and fills (all but ``ts``: a live
message carries wall time, a replayed one the recorded market time).

Both processes run once per module (about 5 s); the tests read their journals.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from loopback_feed import (
    MINUTE_BARS,
    LoopbackTradeServer,
    free_port,
    trades_from_minute_bars,
    write_service_config,
)
from websockets.sync.client import connect

from atrium.runtime.codec import decode
from atrium.runtime.errors import JournalError
from atrium.runtime.journal_market import iter_records
from atrium.runtime.journal_read import open_readonly
from atrium.runtime.messages import Bar, Fill, Message, Order, Tick

SYMBOL = "ES"
BARS = 500
#: Generous bounds for a loaded machine; the whole module takes about 5 s.
RECORD_SECONDS = 30.0
STOP_SECONDS = 15.0


@dataclass(frozen=True)
class Session:
    """What the module's live run and replay left behind."""

    recorded: list[Message]
    replayed: list[Message]
    subscriptions: list[str]
    live_exit: int
    live_log: str


def _tick_rows(journal: Path) -> int:
    """Ticks in the journal of a running service (0 before it made its tables)."""
    if not journal.exists():
        return 0
    try:
        # Read-only: WAL lets a reader in while the service writes.
        with closing(sqlite3.connect(f"{journal.as_uri()}?mode=ro", uri=True)) as db:
            count = sum(1 for _ in iter_records(db, str(journal), kinds=["Tick"]))
    except (sqlite3.OperationalError, JournalError):  # the file exists, the schema not yet
        return 0
    return int(count)


def _events(journal: Path) -> list[Message]:
    """Every message in ``seq`` order, market data in rows (live) or blocks (the replay)."""
    with closing(open_readonly(journal)) as db:
        return [decode(payload) for *_, payload in iter_records(db, str(journal))]


def _record(config: Path, journal: Path, ticks: int, workdir: Path) -> tuple[int, str]:
    """Run ``atrium run`` until ``journal`` holds ``ticks`` ticks, then SIGTERM it."""
    stderr = workdir / "run-stderr.log"
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "atrium.runtime.cli", "run", "--config", str(config)],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + RECORD_SECONDS
        while _tick_rows(journal) < ticks:
            if process.poll() is not None:
                raise AssertionError(f"atrium run exited early:\n{stderr.read_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the journal did not hold {ticks} ticks within {RECORD_SECONDS} s:\n"
                    f"{stderr.read_text()}"
                )
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=STOP_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    return code, stderr.read_text()


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    workdir = tmp_path_factory.mktemp("record-replay")
    journal = workdir / "run" / "journal.sqlite"
    journal.parent.mkdir()
    trades = trades_from_minute_bars(MINUTE_BARS, SYMBOL, BARS)
    with LoopbackTradeServer(trades) as server:
        config = write_service_config(
            workdir / "atrium.toml",
            url=server.url,
            symbol=SYMBOL,
            journal=journal,
            port=free_port(),
        )
        code, log = _record(config, journal, len(trades), workdir)
        subscriptions = list(server.subscriptions)
    replay = subprocess.run(
        [
            sys.executable,
            "-m",
            "atrium.runtime.cli",
            "replay",
            "--config",
            str(config),
            "--feed",
            str(journal),
            "--out",
            str(workdir / "replay"),
            "--no-progress",
        ],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RECORD_SECONDS,
        check=False,
    )
    assert replay.returncode == 0, replay.stderr
    yield Session(
        recorded=_events(journal),
        replayed=_events(workdir / "replay" / "journal.sqlite"),
        subscriptions=subscriptions,
        live_exit=code,
        live_log=log,
    )


def _of(kind: type[Message], messages: list[Message]) -> list[Message]:
    return [message for message in messages if type(message) is kind]


def _untimed(kind: type[Message], messages: list[Message]) -> list[Message]:
    return [msgspec.structs.replace(message, ts=0) for message in _of(kind, messages)]


def _ns(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


def test_server_when_client_reconnects_then_resends_every_trade_from_the_first() -> None:
    trades = trades_from_minute_bars(MINUTE_BARS, SYMBOL, 2)
    received: list[list[str]] = []
    with LoopbackTradeServer(trades) as server:
        for request in ("subscribe 1", "subscribe 2"):
            with connect(server.url) as client:
                client.send(request)
                received.append([str(client.recv(timeout=5)) for _ in trades])
        connections, subscriptions = server.connections, list(server.subscriptions)
    # 09:01 and 09:02 of 2006-01-02 (Unix 1136192460 s): open, high, low, close each.
    first = '{"e":"trade","s":"ES","p":"3602.00","q":"1424","T":1136192460000,"t":1}'
    last = '{"e":"trade","s":"ES","p":"3599.00","q":"223","T":1136192565000,"t":8}'
    assert (received[0][0], received[0][-1]) == (first, last)
    assert received[1] == received[0]
    assert (connections, subscriptions) == (2, ["subscribe 1", "subscribe 2"])


def test_run_when_loopback_trades_sent_then_exits_0_and_journal_holds_every_tick_and_bar(
    session: Session,
) -> None:
    assert session.live_exit == 0, session.live_log
    assert "Traceback" not in session.live_log
    assert session.subscriptions == ['{"method":"SUBSCRIBE","params":["es@trade"],"id":1}']
    ticks = _of(Tick, session.recorded)
    bars = _of(Bar, session.recorded)
    # Four trades a minute; a live bar is sent when a tick opens the next minute, so the
    # 500th minute is still open when the service stops.
    assert (len(ticks), len(bars)) == (2_000, 499)
    # 2006-01-02 09:01 is 3602.00/3603.00/3597.00/3599.00 with volume 5699: four trades
    # of 5699 // 4 = 1424 at +0, +15, +30, +45 s, one bar stamped at the minute's end.
    first_minute = (
        ("09:01:00", "3602.00"),
        ("09:01:15", "3603.00"),
        ("09:01:30", "3597.00"),
        ("09:01:45", "3599.00"),
    )
    assert ticks[:4] == [
        Tick(ts=_ns(f"2006-01-02T{clock}"), symbol="ES", price=Decimal(price), size=Decimal(1424))
        for clock, price in first_minute
    ]
    assert bars[0] == Bar(
        ts=_ns("2006-01-02T09:02:00"),
        symbol="ES",
        open=Decimal("3602.00"),
        high=Decimal("3603.00"),
        low=Decimal("3597.00"),
        close=Decimal("3599.00"),
        volume=Decimal(5696),
    )


def test_replay_when_live_session_recorded_then_same_bars_and_ticks(session: Session) -> None:
    assert _of(Bar, session.replayed) == _of(Bar, session.recorded)
    assert _of(Tick, session.replayed) == _of(Tick, session.recorded)


def test_replay_when_live_session_recorded_then_same_orders_and_fills(session: Session) -> None:
    recorded_orders = _untimed(Order, session.recorded)
    recorded_fills = _untimed(Fill, session.recorded)
    assert len(recorded_orders) >= 10
    assert len(recorded_fills) >= 10
    assert _untimed(Order, session.replayed) == recorded_orders
    assert _untimed(Fill, session.replayed) == recorded_fills
