"""``atrium run --role``: a live cluster trades across processes, and the core process
answers a lost NATS connection by reducing risk and saying so on ``/readyz``."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cluster_kit import (
    ROLES_LIVE,
    atrium,
    free_port,
    get,
    journal_messages,
    live_config,
    metric,
    nats_server,
    stored_subjects,
    until,
)

pytestmark = pytest.mark.timeout(180)


@contextmanager
def _cluster(config: Path, tmp: Path) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for role in ROLES_LIVE:
            processes[role] = atrium(
                "run", "--config", str(config), "--role", role, log=tmp / f"{role}.log"
            )
        yield processes
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for role, process in processes.items():
            try:
                assert process.wait(30) == 0, (tmp / f"{role}.log").read_text()[-3000:]
            except subprocess.TimeoutExpired:
                process.kill()
                raise


def test_live_roles_trade_and_the_core_reduces_risk_while_nats_is_away(tmp_path: Path) -> None:
    ports = {role: free_port() for role in ROLES_LIVE}
    with (
        nats_server(tmp_path) as server,
        _cluster(live_config(tmp_path, server.url, ports, market_data="subjects"), tmp_path),
    ):
        core = ports["core"]
        until(lambda: get(core, "/readyz")[0] == 200, "core ready")
        until(lambda: metric(core, "atrium_fills_total") >= 4, "fills at the core")
        for strategy_role in ("strat-a", "strat-b"):
            assert metric(ports[strategy_role], "atrium_cluster_received_messages_total") > 0
        _, ready = get(core, "/readyz")
        assert ready["checks"]["cluster"]["ready"] is True

        server.stop()
        until(lambda: get(core, "/readyz")[0] == 503, "core not ready without NATS")
        _, ready = get(core, "/readyz")
        assert ready["checks"]["cluster"]["ready"] is False
        until(
            lambda: get(core, "/api/risk")[1]["trading_state"] == "REDUCING",
            "risk reducing while NATS is away",
        )

        server.start()  # same port and store: the stream is still there
        until(lambda: get(core, "/readyz")[0] == 200, "core ready again", seconds=60)
        until(
            lambda: get(core, "/api/risk")[1]["trading_state"] == "ACTIVE",
            "risk active again (resume_on_reconnect)",
        )
        fills = metric(core, "atrium_fills_total")
        until(lambda: metric(core, "atrium_fills_total") > fills, "trading goes on", 60)
        assert metric(core, "atrium_cluster_disconnects_total") >= 1


def test_live_market_data_on_plain_subjects_trades_and_keeps_the_stream_to_order_flow(
    tmp_path: Path,
) -> None:
    ports = {role: free_port() for role in ROLES_LIVE}
    with nats_server(tmp_path) as server:
        config = live_config(tmp_path, server.url, ports, namespace="sub", market_data="subjects")
        with _cluster(config, tmp_path):
            core = ports["core"]
            until(lambda: get(core, "/readyz")[0] == 200, "core ready")
            until(lambda: metric(core, "atrium_fills_total") >= 4, "fills at the core")
            sent = metric(ports["md"], "atrium_cluster_sent_messages_total")
            assert sent > 0
            for strategy_role in ("strat-a", "strat-b"):
                assert metric(ports[strategy_role], "atrium_cluster_received_messages_total") > 0
            # Loopback at 200 ticks/s: nothing lost on the way, by the sequence numbers.
            for role in ("core", "strat-a", "strat-b"):
                assert metric(ports[role], "atrium_cluster_market_data_gaps_total") == 0
            stored = stored_subjects(server.url, "SUB")
        # Stored: the order flow (intents, orders' updates, fills) and the core's batches
        # of the market data it took, at most one per 10 ms; no tick as the source sent it.
        assert stored, stored
        assert not [subject for subject in stored if subject.startswith(("sub.md", "sub.mdv"))]
        assert any(subject.startswith("sub.intent.") for subject in stored), stored
        assert set(stored) >= {"sub.marks.core"}
        assert stored["sub.marks.core"] < sent / 2
        assert sum(stored.values()) < sent
        # The market data stream of its own recorded every tick and bar, for `record`.
        recorded = stored_subjects(server.url, "SUB_MD")
        assert set(recorded) == {"sub.md.AAA", "sub.md.BBB"}
        out = tmp_path / "recorded.sqlite"
        log = tmp_path / "record.log"
        record = atrium(
            "cluster", "record", "--config", str(config), "--out", str(out), "--symbol", "AAA",
            log=log,
        )  # fmt: skip
        assert record.wait(60) == 0, log.read_text()[-3000:]
    written = journal_messages(out, "Bar", "Tick")
    assert len(written) == recorded["sub.md.AAA"] > 100
    assert {message.symbol for message in written} == {"AAA"}  # type: ignore[attr-defined]
