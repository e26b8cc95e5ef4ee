"""Roles that start again, or twice: nothing they send is lost, and no two copies run."""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import tomllib
from pathlib import Path

import nats
import pytest
from cluster_kit import atrium, free_port, live_config, metric, nats_server, until

from atrium.config import parse_config
from atrium.runtime.cluster.link import MSG_ID, Link
from atrium.runtime.cluster.wiring import role_config

pytestmark = pytest.mark.timeout(120)


async def _stored(url: str, stream: str) -> int:
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info(stream)).state.last_seq)
    finally:
        await nc.close()


def _stop(process: subprocess.Popen[bytes], log: Path) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, log.read_text()[-3000:]


def test_a_restarted_market_data_role_stores_everything_it_sends(tmp_path: Path) -> None:
    port = free_port()
    ports = {"md": port, "core": free_port(), "strat-a": free_port(), "strat-b": free_port()}
    with nats_server(tmp_path) as server:
        config = live_config(tmp_path, server.url, ports)
        stored = lambda: asyncio.run(_stored(server.url, "LIVE"))  # noqa: E731
        run = ("run", "--config", str(config), "--role", "md")
        first = atrium(*run, log=tmp_path / "md-1.log")
        until(lambda: metric(port, "atrium_cluster_sent_messages_total") >= 400, "first run sends")
        _stop(first, tmp_path / "md-1.log")
        before = stored()
        assert before >= 400

        again = atrium(*run, log=tmp_path / "md-2.log")
        try:
            until(lambda: metric(port, "atrium_cluster_sent_messages_total") >= 100, "second run")
            sent = metric(port, "atrium_cluster_sent_messages_total")
            # Every message the second run counts as sent is stored, none dropped as a
            # duplicate of the first run's.
            assert stored() - before >= sent
            assert metric(port, "atrium_cluster_duplicate_acks_total") == 0
        finally:
            _stop(again, tmp_path / "md-2.log")


_CONFIG = """
[strategies.a]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["NVDA"]
[cluster]
url = "{url}"
namespace = "dup"
[cluster.roles.md]
actors = ["market_data"]
[cluster.roles.rest]
actors = ["strategy", "portfolio", "risk", "execution"]
"""


async def _noop(connected: bool) -> None:
    return None


async def test_a_new_message_dropped_as_a_duplicate_is_an_alarm(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with nats_server(tmp_path) as server:
        _, wiring = role_config(parse_config(tomllib.loads(_CONFIG.format(url=server.url))), "md")
        link = Link(wiring, _noop)
        await link.open()
        try:
            first = ("dup.md.NVDA", b"first", {MSG_ID: "md:1"})
            assert await link.publish([first]) == 0
            # A resend of something a rebuild handles again: expected, no alarm.
            assert await link.publish([first], may_repeat={"md:1"}) == 0
            assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
            other = ("dup.md.NVDA", b"other", {MSG_ID: "md:1"})
            assert await link.publish([other, ("dup.md.NVDA", b"x", {MSG_ID: "md:2"})]) == 1
            assert await link.stored() == 2
        finally:
            await link.close()
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == [
            "JetStream dropped 1 new messages as duplicates of earlier ones with the same "
            "message id (first: md:1); their content is lost"
        ]
