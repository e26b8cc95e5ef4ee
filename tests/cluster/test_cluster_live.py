"""``atrium run --role``: a live cluster trades across processes, and the core process
answers a lost NATS connection by reducing risk and saying so on ``/readyz``."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cluster_kit import atrium, free_port, nats_server

pytestmark = pytest.mark.timeout(180)

_ROLES = ("core", "strat-a", "strat-b", "md")


def _config(tmp: Path, url: str, ports: dict[str, int]) -> Path:
    text = f"""
[[market_data.feeds]]
format = "synthetic_live"
bar_seconds = 1
synthetic_live = {{ seed = 3, symbols = ["AAA", "BBB"], rate_per_second = 200.0, volatility = 5.0 }}

[strategies.fast_a]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["AAA"]
params = {{ fast = 2, slow = 3, quantity = 10, allow_short = true }}

[strategies.fast_b]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["BBB"]
params = {{ fast = 2, slow = 3, quantity = 10, allow_short = true }}

[risk]
price_band_pct = 0.5

[journal]
path = "{tmp / "journal.sqlite"}"

[cluster]
url = "{url}"
namespace = "live"
resume_on_reconnect = true

[cluster.roles.md]
actors = ["market_data"]
port = {ports["md"]}
[cluster.roles.strat-a]
actors = ["strategy"]
strategies = ["fast_a"]
port = {ports["strat-a"]}
[cluster.roles.strat-b]
actors = ["strategy"]
strategies = ["fast_b"]
port = {ports["strat-b"]}
[cluster.roles.core]
actors = ["portfolio", "risk", "execution"]
port = {ports["core"]}
"""
    path = tmp / "live.toml"
    path.write_text(text)
    return path


def _get(port: int, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    except OSError:
        return 0, None
    return status, (json.loads(body) if path != "/metrics" else body.decode())


def _until(check: Callable[[], bool], what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds}s: {what}")


def _metric(port: int, name: str) -> float:
    _, text = _get(port, "/metrics")
    total = 0.0
    for line in (text or "").splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


@contextmanager
def _cluster(config: Path, tmp: Path) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for role in _ROLES:
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
    ports = {role: free_port() for role in _ROLES}
    with nats_server(tmp_path) as server, _cluster(_config(tmp_path, server.url, ports), tmp_path):
        core = ports["core"]
        _until(lambda: _get(core, "/readyz")[0] == 200, "core ready")
        _until(lambda: _metric(core, "atrium_fills_total") >= 4, "fills at the core")
        for strategy_role in ("strat-a", "strat-b"):
            assert _metric(ports[strategy_role], "atrium_cluster_received_messages_total") > 0
        _, ready = _get(core, "/readyz")
        assert ready["checks"]["cluster"]["ready"] is True

        server.stop()
        _until(lambda: _get(core, "/readyz")[0] == 503, "core not ready without NATS")
        _, ready = _get(core, "/readyz")
        assert ready["checks"]["cluster"]["ready"] is False
        _until(
            lambda: _get(core, "/api/risk")[1]["trading_state"] == "REDUCING",
            "risk reducing while NATS is away",
        )

        server.start()  # same port and store: the stream is still there
        _until(lambda: _get(core, "/readyz")[0] == 200, "core ready again", seconds=60)
        _until(
            lambda: _get(core, "/api/risk")[1]["trading_state"] == "ACTIVE",
            "risk active again (resume_on_reconnect)",
        )
        fills = _metric(core, "atrium_fills_total")
        _until(lambda: _metric(core, "atrium_fills_total") > fills, "trading goes on", 60)
        assert _metric(core, "atrium_cluster_disconnects_total") >= 1
