"""Market data, two strategy processes and the portfolio/risk/execution process as
separate OS processes on a real NATS server, against the same replay in one process."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from cluster_kit import (
    ROLES,
    atrium,
    journal_messages,
    nats_server,
    replay_role,
    replay_single,
    stored_subjects,
    wait,
    wait_for_log,
    with_cluster_lines,
    write_config,
    write_feeds,
)

from atrium.runtime.messages import Bar, Fill, Message, SizedOrder

pytestmark = pytest.mark.timeout(300)

_BARS = 300  # per symbol: 600 events, each settled across the four processes


def _replay_cluster(config: Path, tmp: Path) -> dict[str, Path]:
    outs = {role: tmp / f"out-{role}" for role in (*ROLES, "md")}
    followers = {role: replay_role(config, role, outs[role]) for role in ROLES}
    driver = replay_role(config, "md", outs["md"])
    for role, process in {**followers, "md": driver}.items():
        wait(process, outs[role].with_suffix(".log"))
    return outs


def _assert_as_one(single: Path, outs: dict[str, Path]) -> None:
    """The core's trades and equity byte for byte those of the replay in one process."""
    for name in ("trades.csv", "equity.csv"):
        assert (outs["core"] / name).read_bytes() == (single / name).read_bytes(), name


def _assert_own_symbols_only(outs: dict[str, Path], bars: int) -> None:
    """Each strategy process took its own symbol's bars, all of them, and no other."""
    for role, symbol in (("strat-a", "NVDA"), ("strat-b", "ORCL")):
        taken = journal_messages(outs[role] / "journal.sqlite", "Bar")
        assert {bar.symbol for bar in taken if isinstance(bar, Bar)} == {symbol}
        assert len(taken) == bars


def test_four_processes_fill_exactly_as_one(tmp_path: Path) -> None:
    # The default: every role reads the feeds itself and only order flow crosses.
    write_feeds(tmp_path, _BARS)
    with nats_server(tmp_path) as server:
        config = write_config(tmp_path, server.url, "same", sizing="fixed_qty")
        single = tmp_path / "single"
        replay_single(config, single)
        outs = _replay_cluster(config, tmp_path)
        stored = stored_subjects(server.url, "SAME")
    trades = (single / "trades.csv").read_text()
    assert trades.count("\n") > 20  # both strategies traded: the comparison means something
    assert "ema_nvda" in trades and "ema_orcl" in trades
    _assert_as_one(single, outs)
    _assert_own_symbols_only(outs, _BARS)
    # Nothing but the start and the end on the stream: order flow crossed on plain subjects.
    assert stored == {"same.start": 1, "same.end": 1}


def _driven(tmp_path: Path, url: str, namespace: str) -> tuple[Path, Path]:
    """A replay driven over the stream in ``namespace``, of the fixed-quantity pair: its
    config, and the output of one process's replay of it."""
    write_feeds(tmp_path, _BARS)
    config = write_config(tmp_path, url, namespace, sizing="fixed_qty")
    with_cluster_lines(config, 'replay_market_data = "driver"')
    single = tmp_path / "single"
    replay_single(config, single)
    return config, single


def test_driven_over_the_stream_fills_exactly_as_one_and_records(tmp_path: Path) -> None:
    with nats_server(tmp_path) as server:
        config, single = _driven(tmp_path, server.url, "driven")
        outs = _replay_cluster(config, tmp_path)
        recorded = tmp_path / "recorded.sqlite"
        record = atrium(
            "cluster", "record", "--config", str(config), "--out", str(recorded),
            "--start", "2014-06-02", "--symbol", "ORCL", log=tmp_path / "record.log",
        )  # fmt: skip
        wait(record, tmp_path / "record.log")
    # The stream, read from a start time, is a feed like any recorded session.
    orcl = (tmp_path / "orcl.csv").read_text().splitlines()[1:]
    since = [line for line in orcl if line >= "2014-06-02"]
    bars = journal_messages(recorded, "Bar", "Tick")
    assert len(bars) == len(since) > 100
    assert {bar.symbol for bar in bars if isinstance(bar, Bar)} == {"ORCL"}
    assert min(bar.ts for bar in bars) == _ns("2014-06-02")
    _assert_as_one(single, outs)
    _assert_own_symbols_only(outs, _BARS)


def test_strategy_processes_sharing_a_symbol_still_fill_exactly_as_one(tmp_path: Path) -> None:
    # Both strategies trade NVDA from two processes, under caps that couple them: their
    # intents for one bar are held by the core and released in the config's order.
    write_feeds(tmp_path, _BARS)
    with nats_server(tmp_path) as server:
        config = write_config(tmp_path, server.url, "shared", sizing="fixed_risk_atr")
        text = config.read_text().replace('symbols = ["ORCL"]', 'symbols = ["NVDA", "ORCL"]')
        config.write_text(text)
        single = tmp_path / "single"
        replay_single(config, single)
        outs = _replay_cluster(config, tmp_path)
    trades = (single / "trades.csv").read_text()
    same_bar = [line.split(",")[0] for line in trades.splitlines()[1:] if ",NVDA," in line]
    assert len(same_bar) != len(set(same_bar))  # two strategies traded NVDA on one bar
    _assert_as_one(single, outs)


def test_killed_strategy_process_restarts_and_nothing_is_lost_or_repeated(
    tmp_path: Path,
) -> None:
    with nats_server(tmp_path) as server:
        config, single = _driven(tmp_path, server.url, "kill")
        outs = {role: tmp_path / f"out-{role}" for role in (*ROLES, "md")}
        core = replay_role(config, "core", outs["core"])
        other = replay_role(config, "strat-b", outs["strat-b"])
        victim = replay_role(config, "strat-a", outs["strat-a"])
        driver = replay_role(config, "md", outs["md"])
        _wait_for_intents(outs["core"] / "journal.sqlite", "ema_nvda", at_least=4)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
        again = tmp_path / "out-strat-a-again"
        restarted = replay_role(config, "strat-a", again)
        for process, out in ((restarted, again), (driver, outs["md"]), (core, outs["core"])):
            wait(process, out.with_suffix(".log"))
        wait(other, outs["strat-b"].with_suffix(".log"))
    assert "rebuilding from stream sequence 1 to " in again.with_suffix(".log").read_text()
    assert (outs["core"] / "trades.csv").read_text() == (single / "trades.csv").read_text()
    intents = [
        m.intent_id for m in journal_messages(outs["core"] / "journal.sqlite", "OrderIntent")
    ]
    assert len(intents) == len(set(intents))  # not one intent handled twice


def _ns(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()) * 1_000_000_000


def _wait_for_intents(journal: Path, strategy: str, *, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if journal.exists():
            try:
                intents = journal_messages(journal, "OrderIntent")
            except Exception:  # the writer may hold the file in the middle of a commit
                intents = []
            if sum(1 for m in intents if getattr(m, "strategy", "") == strategy) >= at_least:
                return
        time.sleep(0.1)
    raise AssertionError(f"{strategy} sent fewer than {at_least} intents within 60s")


def test_with_equity_sizing_every_order_keeps_within_every_cap(tmp_path: Path) -> None:
    write_feeds(tmp_path, _BARS)
    with nats_server(tmp_path) as server:
        config = write_config(tmp_path, server.url, "caps", sizing="fixed_risk_atr")
        outs = _replay_cluster(config, tmp_path)
    events = journal_messages(outs["core"] / "journal.sqlite", "Bar", "SizedOrder", "Fill")
    checked = _check_caps(events, budget=Decimal("0.3"), exposure=Decimal("0.5"))
    assert checked >= 5
    assert any(
        order.sizing.binding_cap for order in events if isinstance(order, SizedOrder)
    )  # the caps were reached, so holding them was tested


def _check_caps(events: list[Message], *, budget: Decimal, exposure: Decimal) -> int:
    """Every entry keeps its strategy's position within the budget and gross within the cap."""
    positions: dict[str, Decimal] = {}
    marks: dict[str, Decimal] = {}
    checked = 0
    for event in events:
        if isinstance(event, Bar):
            marks[event.symbol] = event.close
        elif isinstance(event, Fill):
            sign = 1 if event.side == "BUY" else -1
            positions[event.symbol] = (
                positions.get(event.symbol, Decimal(0)) + sign * event.quantity
            )
        elif isinstance(event, SizedOrder) and event.side == "BUY":
            sizing, symbol = event.sizing, event.symbol
            after = (positions.get(symbol, Decimal(0)) + event.quantity) * sizing.price
            assert after <= budget * sizing.equity, (event, after)
            gross = after + sum(
                abs(quantity) * marks[other]
                for other, quantity in positions.items()
                if other != symbol
            )
            assert gross <= exposure * sizing.equity, (event, gross)
            checked += 1
    return checked


def test_a_role_started_twice_refuses_to_run_beside_itself(tmp_path: Path) -> None:
    write_feeds(tmp_path, 10)
    with nats_server(tmp_path) as server:
        config = write_config(tmp_path, server.url, "twice", sizing="fixed_qty")
        first = replay_role(config, "core", tmp_path / "first")
        try:
            wait_for_log(tmp_path / "first.log", "venue connected")
            time.sleep(1.5)  # its first pull request is waiting at the server
            second = replay_role(config, "core", tmp_path / "second")
            assert second.wait(60) == 1
        finally:
            first.kill()
            first.wait(10)
    log = (tmp_path / "second.log").read_text()
    assert "--role core: another process of this role is running" in log


_RETRYING = '''
from decimal import Decimal

from atrium.actors.strategy import Strategy
from atrium.config.base import ConfigBase


class Params(ConfigBase, frozen=True, kw_only=True):
    big: Decimal = Decimal(5000)
    small: Decimal = Decimal(10)


class Retrying(Strategy[Params]):
    """Buys too much every fifth bar; risk denies it, and it asks for less at once."""

    Params = Params

    def on_start(self) -> None:
        self._bars = 0
        self._big: set[str] = set()

    def on_bar(self, bar) -> None:
        self._bars += 1
        if self.position(bar.symbol) > 0 and self._bars % 7 == 0:
            self.close(bar.symbol)
        elif self.position(bar.symbol) == 0 and self._bars % 5 == 0:
            self._big.add(self.buy(bar.symbol, self.params.big).intent_id)

    def on_denied(self, denied) -> None:
        if self._big and denied.intent_id in self._big:
            self._big.discard(denied.intent_id)
            self.buy(denied.symbol, self.params.small)
'''


def test_a_strategy_answering_a_denial_in_the_same_event_fills_exactly_as_one(
    tmp_path: Path,
) -> None:
    # Each denial goes back to the strategy process in a round of its own (Step(event,
    # 1)), its answer comes back before the next bar, and is handled in that event.
    write_feeds(tmp_path, 120)
    (tmp_path / "retrying_strategy.py").write_text(_RETRYING)
    with nats_server(tmp_path) as server:
        config = write_config(tmp_path, server.url, "rounds", sizing="fixed_qty")
        text = config.read_text().replace(
            'class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"',
            'class = "retrying_strategy:Retrying"',
        )
        text = text.replace("{ quantity = 100, fast = 5, slow = 20 }", "{}")
        text = text.replace("{ quantity = 200, fast = 5, slow = 20 }", "{}")
        config.write_text(text + "\n[risk]\nmax_order_notional = 5000\n")
        single = tmp_path / "single"
        replay_single(config, single)
        outs = _replay_cluster(config, tmp_path)
    denials = journal_messages(single / "journal.sqlite", "OrderDenied")
    assert len(denials) >= 20  # the big orders, one every few bars per strategy
    trades = (single / "trades.csv").read_text()
    assert trades.count(",BUY,") >= 20 and ",10," in trades  # the small retries filled
    _assert_as_one(single, outs)
