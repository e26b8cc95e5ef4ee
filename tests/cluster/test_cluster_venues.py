"""Live market data from several processes, one per venue: each reads only its own feeds,
and the strategies and the core trade on all of them."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from cluster_kit import atrium, free_port, get, live_config, metric, nats_server, until

pytestmark = pytest.mark.timeout(180)

_ROLES = ("md-a", "md-b", "strat-a", "strat-b", "core")
_ONE_FEED = """[[market_data.feeds]]
format = "synthetic_live"
bar_seconds = 1
synthetic_live = {{ seed = 3, symbols = ["AAA", "BBB"], rate_per_second = 200.0, volatility = 5.0 }}
"""
_TWO_FEEDS = """[[market_data.feeds]]
name = "venue-a"
format = "synthetic_live"
bar_seconds = 1
synthetic_live = { seed = 3, symbols = ["AAA"], rate_per_second = 100.0, volatility = 5.0 }
[[market_data.feeds]]
name = "venue-b"
format = "synthetic_live"
bar_seconds = 1
synthetic_live = { seed = 4, symbols = ["BBB"], rate_per_second = 100.0, volatility = 5.0 }
"""


def _two_venue_config(tmp: Path, url: str, ports: dict[str, int]) -> Path:
    """The live cluster of ``live_config`` with its feed split over two market data roles."""
    path = live_config(tmp, url, {**ports, "md": ports["md-a"]}, namespace="venues")
    text = path.read_text().replace(_ONE_FEED.replace("{{", "{").replace("}}", "}"), _TWO_FEEDS)
    text = text.replace(
        f'[cluster.roles.md]\nactors = ["market_data"]\nport = {ports["md-a"]}\n',
        f'[cluster.roles.md-a]\nactors = ["market_data"]\nfeeds = ["venue-a"]\n'
        f"port = {ports['md-a']}\n"
        f'[cluster.roles.md-b]\nactors = ["market_data"]\nfeeds = ["venue-b"]\n'
        f"port = {ports['md-b']}\n",
    )
    assert "venue-b" in text and "md-b" in text, text
    path.write_text(text)
    return path


def test_two_market_data_roles_each_send_their_venue_and_both_are_traded(tmp_path: Path) -> None:
    ports = {role: free_port() for role in _ROLES}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    with nats_server(tmp_path) as server:
        config = _two_venue_config(tmp_path, server.url, ports)
        try:
            for role in _ROLES:
                processes[role] = atrium(
                    "run", "--config", str(config), "--role", role, log=tmp_path / f"{role}.log"
                )
            core = ports["core"]
            until(lambda: get(core, "/readyz")[0] == 200, "core ready")
            until(
                lambda: all(
                    metric(ports[role], "atrium_strategy_intents_total") > 0
                    for role in ("strat-a", "strat-b")
                ),
                "both strategies trading",
            )
            until(lambda: metric(core, "atrium_fills_total") >= 4, "fills at the core")
            fed = {role: _feeds_sending(ports[role]) for role in ("md-a", "md-b")}
            _, positions = get(core, "/api/portfolio/positions")
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for role, process in processes.items():
                assert process.wait(30) == 0, (tmp_path / f"{role}.log").read_text()[-3000:]
    assert fed == {"md-a": {"venue-a"}, "md-b": {"venue-b"}}  # each reads only its own
    assert {"AAA", "BBB"} >= {p["symbol"] for p in positions}, positions


def _feeds_sending(port: int) -> set[str]:
    """The feeds whose records a process sent (``atrium_feed_records_total{feed}`` > 0)."""
    _, text = get(port, "/metrics")
    return {
        line.split('feed="')[1].split('"')[0]
        for line in text.splitlines()
        if line.startswith("atrium_feed_records_total{") and float(line.rsplit(" ", 1)[1]) > 0
    }
