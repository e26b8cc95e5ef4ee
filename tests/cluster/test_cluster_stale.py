"""A restarted strategy role catches up on the bars it missed without trading them."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import nats
import pytest
from cluster_kit import atrium, free_port, metric, nats_server, until

from atrium.runtime.cluster.link import MSG_ID, ROLE_HEADER
from atrium.runtime.codec import decode, encode
from atrium.runtime.messages import Bar, OrderIntent

pytestmark = pytest.mark.timeout(120)

_NS = "stale"
_HOUR_NS = 3600 * 10**9


def _config(tmp: Path, url: str, port: int) -> Path:
    path = tmp / "stale.toml"
    path.write_text(
        f"""
[strategies.cross]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["NVDA"]
params = {{ fast = 2, slow = 3, quantity = 10, allow_short = true }}

[journal]
path = "{tmp / "journal.sqlite"}"

[cluster]
url = "{url}"
namespace = "{_NS}"
lock_ttl_seconds = 2
max_market_data_age_seconds = 30
# The bars a restarted role missed are on the stream only there.
market_data = "stream"

[cluster.roles.md]
actors = ["market_data"]
[cluster.roles.strat]
actors = ["strategy"]
port = {port}
[cluster.roles.core]
actors = ["portfolio", "risk", "execution"]
""",
        "utf-8",
    )
    return path


async def _publish_bars(url: str, closes: list[int], ts: int, first: int) -> None:
    """Bars as the core passes them on to the strategy roles, one second apart."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for n, close in enumerate(closes):
            price = Decimal(close)
            bar = Bar(
                ts=ts + n * 10**9, symbol="NVDA", open=price, high=price, low=price, close=price
            )
            headers = {MSG_ID: f"core:test:{first + n}", ROLE_HEADER: "core"}
            await js.publish(f"{_NS}.mdv.NVDA", encode(bar), headers=headers)
    finally:
        await nc.close()


async def _intents(url: str) -> list[OrderIntent]:
    """Every intent the strategy role stored in the stream."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        last = (await js.stream_info(_NS.upper())).state.last_seq
        found = []
        for seq in range(1, last + 1):
            msg = await js.get_msg(_NS.upper(), seq)
            if msg.subject.startswith(f"{_NS}.intent."):
                message = decode(msg.data or b"")
                assert isinstance(message, OrderIntent)
                found.append(message)
        return found
    finally:
        await nc.close()


def _stop(process: subprocess.Popen[bytes], log: Path) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, log.read_text()[-3000:]


def test_a_restarted_strategy_role_does_not_trade_a_cross_it_missed(tmp_path: Path) -> None:
    port = free_port()
    with nats_server(tmp_path) as server:
        config = _config(tmp_path, server.url, port)
        run = ("run", "--config", str(config), "--role", "strat")
        bars = lambda closes, ts, first: asyncio.run(  # noqa: E731
            _publish_bars(server.url, closes, ts, first)
        )
        count = lambda name: metric(port, name)  # noqa: E731

        first = atrium(*run, log=tmp_path / "strat-1.log")
        try:
            until(lambda: count("atrium_cluster_connected") == 1, "first run connects")
            # Warm-up, falling: the averages are ready and fast is below slow; no cross.
            bars([100, 99, 98, 97], time.time_ns(), 0)
            until(lambda: count("atrium_cluster_received_messages_total") >= 4, "warm-up")
        finally:
            _stop(first, tmp_path / "strat-1.log")

        # While the role is down the price crosses up: an hour ago, by the bars' stamps.
        bars([110, 120, 130], time.time_ns() - _HOUR_NS, 4)
        again = atrium(*run, log=tmp_path / "strat-2.log")
        try:
            until(lambda: count("atrium_cluster_received_messages_total") >= 3, "catch-up")
            until(lambda: count("atrium_cluster_stale_intents_total") == 1, "held back")
            # The strategy saw the cross (it made its intent), and nothing left the role.
            assert count("atrium_strategy_intents_total") == 1
            assert asyncio.run(_intents(server.url)) == []

            # Now, fresh: the price falls through the averages the missed bars moved.
            bars([90, 80], time.time_ns(), 7)
            until(lambda: len(asyncio.run(_intents(server.url))) == 1, "a fresh intent")
            (intent,) = asyncio.run(_intents(server.url))
            assert (intent.side, intent.symbol, intent.tag) == ("SELL", "NVDA", "cross_down")
            assert count("atrium_cluster_stale_intents_total") == 1
        finally:
            _stop(again, tmp_path / "strat-2.log")
        log = (tmp_path / "strat-2.log").read_text()
        assert log.count("holding back the intents of market data older than 30s") == 1
        assert log.count("market data is current again; held back 1 intents") == 1
