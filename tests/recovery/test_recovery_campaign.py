"""A fault campaign: ``atrium run`` killed with SIGKILL at seeded random moments, over and
over, on one journal, and the journal checked after every restart by code of its own.

Two feeds trade at once: the loopback exchange trade stream (EMA cross on one-minute
bars of ES) and a ``synthetic_live`` tick feed (a strategy that buys and closes SYN
every 20 ticks). Each start is killed at one of three moments, chosen at random (half
of them while trading):

- ``trading``: a random time after ``/readyz`` answered 200;
- ``recovery``: as soon as ``/readyz`` reports the journal's recovery still running;
- ``control``: right after an operator control (halt, resume, reduce-only, flatten) was
  answered over HTTP.

After every start and every kill the journal is read with sqlite3 and decoded, nothing
else: seqs run 1, 2, 3, ... with no gap; no order id twice; no fill beyond its order's
quantity; no reconciliation halt. Every start is ready within ``READY_SECONDS``, and
then the portfolio's positions, commission and cash (``/api/portfolio/*``) equal those
recomputed from the journal's fills (quantity, price, commission). The campaign ends
with a SIGTERM stop, a restart, and a second SIGTERM stop, both exiting 0.

``ATRIUM_CAMPAIGN_KILLS`` sets the number of kills (15 by default, under a minute;
the issue's target is 50 of 50) and ``ATRIUM_CAMPAIGN_SEED`` the seed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from loopback_feed import (
    MINUTE_BARS,
    LoopbackTradeServer,
    atrium_run,
    free_port,
    trades_from_minute_bars,
    write_service_config,
)

from atrium.runtime.codec import decode
from atrium.runtime.journal_market import iter_records
from atrium.runtime.messages import Control, Fill, Message, Order

KILLS = int(os.environ.get("ATRIUM_CAMPAIGN_KILLS", "15"))
SEED = int(os.environ.get("ATRIUM_CAMPAIGN_SEED", "20261123"))
#: Enough one-minute bars for the ES trades (4 a bar, TRADE_MS apart) to outlast the run.
BARS = 1000 + 250 * KILLS
TRADE_MS = 10
TOKEN = "campaign-token"
INITIAL_CAPITAL = Decimal(1_000_000)
#: Longest a start may take to answer /readyz 200 (the issue's bound for a restart).
READY_SECONDS = 15.0
#: Longest a trading-moment kill waits after ready.
TRADING_SECONDS = 2.0
CONTROLS = ("halt", "reduce-only", "flatten", "resume", "resume")

_TICK_STRATEGY = """
[strategies.flip]
class = "tick_flipper:TickFlipper"
symbols = ["SYN"]
params = { every = 20, quantity = 3 }

[portfolio.strategy_budgets.flip]
capital_pct = 0.05

[[market_data.feeds]]
format = "synthetic_live"
name = "synthetic"
synthetic_live = { seed = 7, symbols = ["SYN"], rate_per_second = 200.0 }
"""


# -- the journal, read independently of the actors ---------------------------------------


def _events(journal: Path) -> list[tuple[int, Message]]:
    with closing(sqlite3.connect(f"{journal.as_uri()}?mode=ro", uri=True)) as db:
        rows = list(iter_records(db, str(journal)))
    return [(int(seq), decode(payload)) for seq, _, _, payload in rows]


def _fills(journal: Path) -> list[Fill]:
    return [message for _, message in _events(journal) if isinstance(message, Fill)]


def _check_journal(journal: Path) -> tuple[int, int, int]:
    """Assert the journal's invariants; return its events, orders and fills."""
    events = _events(journal)
    seqs = [seq for seq, _ in events]
    assert seqs == list(range(1, len(seqs) + 1)), "seqs are not contiguous from 1"
    orders: dict[str, Order] = {}
    repeated: list[str] = []
    filled: Counter[str] = Counter()
    fill_ids: Counter[str] = Counter()
    for seq, message in events:
        match message:
            case Order():
                if message.order_id in orders:
                    repeated.append(message.order_id)
                orders[message.order_id] = message
            case Fill():
                assert message.order_id in orders, f"seq {seq}: fill of an order not journaled"
                filled[message.order_id] += message.quantity
                fill_ids[message.fill_id] += 1
            case Control(source="recovery"):
                raise AssertionError(f"seq {seq}: recovery halted: {message.reason}")
    assert repeated == [], f"order ids journaled twice: {repeated}"
    assert [fill_id for fill_id, count in fill_ids.items() if count > 1] == []
    over = {
        oid: (qty, orders[oid].quantity)
        for oid, qty in filled.items()
        if qty > orders[oid].quantity
    }
    assert over == {}, f"filled beyond the order's quantity: {over}"
    return len(events), len(orders), sum(fill_ids.values())


@dataclass(frozen=True)
class _Account:
    """Positions and commission per (strategy, symbol), and cash."""

    positions: dict[tuple[str, str], tuple[Decimal, Decimal]]
    cash: Decimal


def _accounts_from_fills(fills: list[Fill]) -> list[_Account]:
    """The account after each prefix of ``fills``: index k is after the first k fills."""
    books: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
    cash = INITIAL_CAPITAL
    accounts = [_Account({}, cash)]
    for fill in fills:
        key = (fill.strategy, fill.symbol)
        quantity, commission = books.get(key, (Decimal(0), Decimal(0)))
        signed = fill.quantity if fill.side == "BUY" else -fill.quantity
        books[key] = (quantity + signed, commission + fill.commission)
        cash -= signed * fill.price + fill.commission
        accounts.append(_Account(dict(books), cash))
    return accounts


# -- the service over HTTP ---------------------------------------------------------------


@dataclass
class _Service:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def request(self, path: str, *, method: str = "GET") -> tuple[int, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            method=method,
            data=b"" if method == "POST" else None,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def readyz(self) -> dict[str, Any] | None:
        """The /readyz document, or None while nothing answers."""
        if self.process.poll() is not None:
            raise AssertionError(
                f"atrium run exited with {self.process.returncode}:\n{self.tail()}"
            )
        try:
            return self.request("/readyz")[1]  # type: ignore[no-any-return]
        except (ConnectionError, urllib.error.URLError, TimeoutError):
            return None

    def wait_ready(self, started: float) -> float:
        """Seconds from ``started`` to /readyz 200; fails past READY_SECONDS."""
        while True:
            document = self.readyz()
            if document is not None and document["ready"]:
                return time.monotonic() - started
            if time.monotonic() - started > READY_SECONDS:
                raise AssertionError(
                    f"not ready within {READY_SECONDS} s: {document}\n{self.tail()}"
                )
            time.sleep(0.01)

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


def _api_account(service: _Service) -> _Account:
    """Positions and cash over HTTP, from one moment: two requests are answered apart, so
    the positions are read before and after the cash until they agree (each fill adds to
    its position's commission, so equal positions mean no fill in between)."""
    for _ in range(50):
        first = _api_positions(service)
        status, limits = service.request("/api/portfolio/limits")
        assert status == 200, limits
        if _api_positions(service) == first:
            return _Account(first, Decimal(limits["cash"]))
    raise AssertionError("the positions changed between every two reads of 50")


def _api_positions(service: _Service) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    status, positions = service.request("/api/portfolio/positions")
    assert status == 200, positions
    return {
        (row["strategy"], row["symbol"]): (Decimal(row["quantity"]), Decimal(row["commission"]))
        for row in positions
    }


def _check_account(service: _Service, journal: Path) -> None:
    """The live account equals the one recomputed from the journal's fills.

    The service goes on trading meanwhile, so the account read over HTTP must equal the
    one after some prefix of the fills: at least those journaled before the request
    (less one, committed and not yet handled) and at most those journaled after it.
    """
    before = len(_fills(journal))
    account = _api_account(service)
    accounts = _accounts_from_fills(_fills(journal))
    matching = [k for k in range(max(0, before - 1), len(accounts)) if accounts[k] == account]
    assert matching, (
        f"the account over HTTP {account} is not the one recomputed from the journal's "
        f"fills {before - 1} to {len(accounts) - 1}; last: {accounts[-1]}"
    )


# -- the campaign ------------------------------------------------------------------------


@dataclass
class _Tally:
    moments: Counter[str] = field(default_factory=Counter)
    ready_seconds: list[float] = field(default_factory=list)


def _one_start(
    config: Path,
    journal: Path,
    log: Path,
    port: int,
    moment: str,
    rng: random.Random,
    tally: _Tally,
) -> None:
    started = time.monotonic()
    with atrium_run(config, log, env={"ATRIUM_API_TOKEN": TOKEN}) as process:
        service = _Service(process, port, log)
        if moment == "recovery":
            while True:
                document = service.readyz()
                if document is not None and document["checks"]["recovery"]["state"] == "running":
                    break
                if document is not None and document["checks"]["recovery"]["state"] != "running":
                    moment = "start"  # recovery was over before it was seen: killed starting
                    break
                if time.monotonic() - started > READY_SECONDS:
                    raise AssertionError(f"no answer within {READY_SECONDS} s:\n{service.tail()}")
                time.sleep(0.002)
        else:
            tally.ready_seconds.append(service.wait_ready(started))
            _check_account(service, journal)
            if moment == "trading":
                # An operator resumes what the last control halted or reduced, and trading
                # goes on until the kill.
                status, answer = service.request("/api/control/resume", method="POST")
                assert status == 200, answer
                time.sleep(rng.uniform(0.05, TRADING_SECONDS))
            else:
                command = rng.choice(CONTROLS)
                status, answer = service.request(f"/api/control/{command}", method="POST")
                assert status == 200, answer
                moment = f"control {command}"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    tally.moments[moment.split()[0]] += 1
    _check_journal(journal)


def _sigterm_start(config: Path, journal: Path, log: Path, port: int, tally: _Tally) -> None:
    started = time.monotonic()
    with atrium_run(config, log, env={"ATRIUM_API_TOKEN": TOKEN}) as process:
        service = _Service(process, port, log)
        tally.ready_seconds.append(service.wait_ready(started))
        _check_account(service, journal)
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, service.tail()
    _check_journal(journal)


@pytest.mark.timeout(120 + 15 * KILLS)
def test_run_when_killed_at_random_moments_with_two_feeds_then_journal_and_account_hold(
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    # ES trades stamped from now on, TRADE_MS apart, sent as they fall due: both feeds on
    # the wall clock, as live feeds are (the paper venue fills an order only on a print
    # stamped after the latest market data it has seen, whatever the symbol).
    start_ms = time.time_ns() // 1_000_000
    trades = [
        dataclasses.replace(trade, ts_ms=start_ms + index * TRADE_MS)
        for index, trade in enumerate(trades_from_minute_bars(MINUTE_BARS, "ES", BARS))
    ]
    journal, log, port = tmp_path / "journal.sqlite", tmp_path / "atrium.log", free_port()
    tally = _Tally()
    with LoopbackTradeServer(trades, live=True) as server:
        config = write_service_config(
            tmp_path / "atrium.toml",
            url=server.url,
            symbol="ES",
            journal=journal,
            port=port,
            fast=2,
            slow=4,
            fixed_qty=5,
            snapshot_every=3000,
            bar_seconds=1,
        )
        with config.open("a", encoding="utf-8") as text:
            text.write(_TICK_STRATEGY)
        # A first session with a journal to recover, so that every kill below restarts one.
        _sigterm_start(config, journal, log, port, tally)
        for _ in range(KILLS):
            (moment,) = rng.choices(("trading", "recovery", "control"), weights=(2, 1, 1))
            _one_start(config, journal, log, port, moment, rng, tally)
        _sigterm_start(config, journal, log, port, tally)
        _sigterm_start(config, journal, log, port, tally)

    events, orders, fills = _check_journal(journal)
    strategies = Counter(fill.strategy for fill in _fills(journal))
    print(
        f"\ncampaign seed {SEED}: {KILLS} of {KILLS} kills survived {dict(tally.moments)}; "
        f"{len(tally.ready_seconds)} starts ready in at most {max(tally.ready_seconds):.2f} s; "
        f"journal {events} events, {orders} orders, {fills} fills {dict(strategies)}"
    )
    assert sum(tally.moments.values()) == KILLS
    assert set(strategies) == {"cross", "flip"}  # both feeds traded
    assert "Traceback" not in log.read_text()
