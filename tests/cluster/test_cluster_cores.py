"""Two cores (one per account) in one namespace, live, beside one market data role and one
strategy role: each trades its own strategies, a control reaches one core only, order ids
do not collide, and a killed core rebuilds its account while the other trades on."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from cluster_kit import (
    atrium,
    free_port,
    get,
    journal_messages,
    metric,
    nats_server,
    post,
    stored_subjects,
    until,
)

from atrium.runtime.messages import Fill, Order

pytestmark = pytest.mark.timeout(120)

_ROLES = ("core-a", "core-b", "strat", "md")
_TOKEN = "secret-token"


def _config(tmp: Path, url: str, ports: dict[str, int], market_data: str) -> Path:
    text = f"""
[[market_data.feeds]]
format = "synthetic_live"
bar_seconds = 1
synthetic_live = {{ seed = 39, symbols = ["AAA", "AAB", "AAC", "BBA", "BBB", "BBC"], rate_per_second = 600.0, volatility = 5.0 }}

[strategies.fast_a]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["AAA", "AAB", "AAC"]
params = {{ fast = 2, slow = 3, quantity = 10, allow_short = true }}

[strategies.fast_b]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["BBA", "BBB", "BBC"]
params = {{ fast = 2, slow = 3, quantity = 10, allow_short = true }}

[risk]
price_band_pct = 0.5

[journal]
path = "{tmp / "journal.sqlite"}"

[cluster]
url = "{url}"
namespace = "accounts"
lock_ttl_seconds = 2
market_data = "{market_data}"

[cluster.roles.md]
actors = ["market_data"]
port = {ports["md"]}
[cluster.roles.strat]
actors = ["strategy"]
port = {ports["strat"]}
[cluster.roles.core-a]
actors = ["portfolio", "risk", "execution"]
strategies = ["fast_a"]
port = {ports["core-a"]}
[cluster.roles.core-b]
actors = ["portfolio", "risk", "execution"]
strategies = ["fast_b"]
port = {ports["core-b"]}
[cluster.roles.core-b.portfolio]
initial_capital = 50000
"""
    path = tmp / "accounts.toml"
    path.write_text(text)
    return path


def _state(port: int) -> str:
    return str(get(port, "/api/risk")[1]["trading_state"])


def _strategies(port: int) -> set[str]:
    _, positions = get(port, "/api/portfolio/positions")
    return {position["strategy"] for position in positions}


def _stop(process: subprocess.Popen[bytes], log: Path) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        assert process.wait(30) == 0, log.read_text()[-3000:]
    except subprocess.TimeoutExpired:
        process.kill()
        raise


@pytest.mark.parametrize("market_data", ["subjects", "stream"])
def test_two_cores_trade_their_own_accounts_and_one_restarts_while_the_other_trades(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, market_data: str
) -> None:
    monkeypatch.setenv("ATRIUM_API_TOKEN", _TOKEN)
    ports = {role: free_port() for role in _ROLES}
    a, b = ports["core-a"], ports["core-b"]
    with nats_server(tmp_path) as server:
        config = _config(tmp_path, server.url, ports, market_data)

        def start(role: str, log: str) -> subprocess.Popen[bytes]:
            return atrium("run", "--config", str(config), "--role", role, log=tmp_path / log)

        running = {role: start(role, f"{role}.log") for role in _ROLES}
        try:
            for port in (a, b):
                until(lambda port=port: metric(port, "atrium_fills_total") >= 2, "fills", 30)
            # Each account holds its own strategies' positions, sized from its own cash.
            assert _strategies(a) == {"fast_a"} and _strategies(b) == {"fast_b"}
            equity = {
                port: float(get(port, "/api/portfolio/limits")[1]["equity"]) for port in (a, b)
            }
            assert 90_000 < equity[a] < 110_000 and 40_000 < equity[b] < 60_000, equity

            # Core A dies; B trades on meanwhile, and A's restart rebuilds its account.
            killed = running.pop("core-a")
            killed.send_signal(signal.SIGKILL)
            killed.wait(10)
            fills_b = metric(b, "atrium_fills_total")
            running["core-a"] = start("core-a", "core-a-2.log")
            until(lambda: metric(b, "atrium_fills_total") > fills_b, "B trades on", 30)
            until(lambda: get(a, "/readyz")[0] == 200, "core A ready again", 30)
            assert metric(a, "atrium_cluster_rebuilt_messages_total") > 0
            assert not get(a, "/readyz")[1]["checks"]["cluster"].get("state_check")
            assert "differs" not in (tmp_path / "core-a-2.log").read_text()
            assert _strategies(a) == {"fast_a"}

            # The operator halts A through A's API: B stays active and goes on trading.
            assert post(a, "/api/control/halt", _TOKEN) == 200
            assert _state(a) == "HALTED"
            fills_b = metric(b, "atrium_fills_total")
            until(lambda: metric(b, "atrium_fills_total") > fills_b, "B trades on", 30)
            assert (_state(a), _state(b)) == ("HALTED", "ACTIVE")
            stored = set(stored_subjects(server.url, "ACCOUNTS"))
        finally:
            for role, process in running.items():
                _stop(process, tmp_path / f"{role}.log")
    assert "accounts.control.core-a" in stored and "accounts.control.core-b" not in stored
    assert "accounts.control" not in stored
    orders = {
        role: [m for m in journal_messages(tmp_path / f"{role}-journal.sqlite", "Order")]
        for role in ("core-a", "core-b")
    }
    ids = {
        role: {order.order_id for order in found if isinstance(order, Order)}
        for role, found in orders.items()
    }
    assert ids["core-a"] and ids["core-b"] and not ids["core-a"] & ids["core-b"]
    assert all(order_id.startswith("O-core-a-") for order_id in ids["core-a"])
    assert all(order_id.startswith("O-core-b-") for order_id in ids["core-b"])
    for role, strategy in (("core-a", "fast_a"), ("core-b", "fast_b")):
        fills = journal_messages(tmp_path / f"{role}-journal.sqlite", "Fill")
        assert fills and {fill.strategy for fill in fills if isinstance(fill, Fill)} == {strategy}
