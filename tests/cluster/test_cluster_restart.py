"""Roles that start again, or twice: nothing they send is lost, and no two copies run."""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import nats
import pytest
from cluster_kit import (
    atrium,
    free_port,
    get,
    live_config,
    metric,
    nats_server,
    post,
    two_role_config,
    until,
    with_cluster_lines,
)

from atrium.config import parse_config
from atrium.config.loader import load_config
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


async def _noop(connected: bool) -> None:
    return None


async def test_a_new_message_dropped_as_a_duplicate_is_an_alarm(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with nats_server(tmp_path) as server:
        _, wiring = role_config(parse_config(two_role_config(server.url, "dup")), "md")
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


async def test_a_publish_cancelled_half_way_and_sent_again_is_no_alarm(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A flush cancelled at a stop leaves its batch to the next, which sends it again:
    JetStream's duplicates of what it had stored are retries, not lost messages."""
    with nats_server(tmp_path) as server:
        _, wiring = role_config(parse_config(two_role_config(server.url, "dup")), "md")
        link = Link(wiring, _noop)
        await link.open()
        try:
            # Three chunks: the first two stored and acknowledged before the cancel.
            batch = [("dup.md.NVDA", b"%d" % n, {MSG_ID: f"md:{n}"}) for n in range(1100)]
            publish_async = link.js.publish_async
            task: asyncio.Task[int] | None = None

            async def publish_then_cancel(*args: Any, **kwargs: Any) -> Any:
                future = await publish_async(*args, **kwargs)
                if kwargs["headers"][MSG_ID] == "md:1099":
                    assert task is not None
                    task.cancel()  # all sent, no acknowledgement read yet
                return future

            link.js.publish_async = publish_then_cancel  # type: ignore[method-assign]
            task = asyncio.ensure_future(link.publish(batch))
            with pytest.raises(asyncio.CancelledError):
                await task
            link.js.publish_async = publish_async  # type: ignore[method-assign]
            for _ in range(100):
                if await link.stored() == 1100:
                    break
                await asyncio.sleep(0.05)
            assert await link.stored() == 1100
            assert await link.publish(batch) == 0
            assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
            # New content under one of those ids is still an alarm.
            assert await link.publish([("dup.md.NVDA", b"new", {MSG_ID: "md:7"})]) == 1
            assert await link.stored() == 1100
        finally:
            await link.close()


async def _mark_end(config: Path) -> None:
    """What `atrium replay` leaves on the stream: its end marker."""
    _, wiring = role_config(load_config(config), "md")
    link = Link(wiring, _noop)
    await link.open()
    try:
        await link.publish([(wiring.subjects.end, b"", {MSG_ID: "md:end"})])
    finally:
        await link.close()


def test_a_live_run_refuses_a_namespace_a_replay_used(tmp_path: Path) -> None:
    ports = {role: free_port() for role in ("md", "core", "strat-a", "strat-b")}
    with nats_server(tmp_path) as server:
        config = live_config(tmp_path, server.url, ports)
        asyncio.run(_mark_end(config))  # what `atrium replay` leaves
        log = tmp_path / "core.log"
        core = atrium("run", "--config", str(config), "--role", "core", log=log)
        try:
            assert core.wait(30) != 0
        finally:
            if core.poll() is None:
                core.kill()
        assert (
            "cluster.namespace: a replay ran in the namespace 'live' (the stream LIVE holds "
            "its markers); a live run needs a namespace of its own"
        ) in log.read_text()


async def test_a_live_consumer_does_not_take_replay_markers(tmp_path: Path) -> None:
    with nats_server(tmp_path) as server:
        config = parse_config(two_role_config(server.url, "dup"))
        _, wiring = role_config(config, "rest")
        link = Link(wiring, _noop)
        await link.open()
        try:
            await link.open_consumer(0, 0, replay=False)
            info = await link.js.consumer_info(wiring.stream, wiring.durable)
            assert info.config.filter_subjects == list(wiring.imports)
            assert "dup.end" not in wiring.imports
            await link.open_consumer(0, 0, replay=True)
            info = await link.js.consumer_info(wiring.stream, wiring.durable)
            assert info.config.filter_subjects == [*wiring.imports, "dup.end", "dup.release"]
        finally:
            await link.close()


def test_a_second_copy_of_a_running_role_is_refused_under_traffic(tmp_path: Path) -> None:
    ports = {role: free_port() for role in ("md", "core", "strat-a", "strat-b")}
    with nats_server(tmp_path) as server:
        config = live_config(tmp_path, server.url, ports)
        running = {
            role: atrium(
                "run", "--config", str(config), "--role", role, log=tmp_path / f"{role}.log"
            )
            for role in ("core", "md")
        }
        try:
            core = ports["core"]
            until(lambda: metric(core, "atrium_cluster_received_messages_total") >= 200, "traffic")
            # The copies as another host would start them: same cluster, their own ports.
            (tmp_path / "again").mkdir()
            other_ports = {role: free_port() for role in ports}
            copy = live_config(tmp_path / "again", server.url, other_ports)
            for role in ("core", "md"):
                log = tmp_path / f"{role}-again.log"
                again = atrium("run", "--config", str(copy), "--role", role, log=log)
                try:
                    assert again.wait(30) == 1
                finally:
                    if again.poll() is None:
                        again.kill()
                assert f"--role {role}: another process of this role is running" in log.read_text()
            # The running core kept its consumer: it still takes everything.
            received = metric(core, "atrium_cluster_received_messages_total")
            until(
                lambda: metric(core, "atrium_cluster_received_messages_total") > received + 100,
                "the first core goes on consuming",
            )
        finally:
            for role, process in running.items():
                _stop(process, tmp_path / f"{role}.log")


def test_a_restarted_core_is_not_ready_while_rebuilding_and_counts_no_order_again(
    tmp_path: Path,
) -> None:
    ports = {role: free_port() for role in ("md", "core", "strat-a", "strat-b")}
    core = ports["core"]
    with nats_server(tmp_path) as server:
        config = live_config(tmp_path, server.url, ports)
        # Without snapshots: the restart handles the whole stream again.
        with_cluster_lines(config, "snapshot_every_messages = 0\nsnapshot_every_seconds = 0")
        running = {
            role: atrium(
                "run", "--config", str(config), "--role", role, log=tmp_path / f"{role}.log"
            )
            for role in ("core", "strat-a", "strat-b", "md")
        }
        try:
            until(lambda: metric(core, "atrium_orders_total") >= 20, "orders at the core")
            _stop(running.pop("md"), tmp_path / "md.log")  # no new input from here on
            received = -1.0
            while received != metric(core, "atrium_cluster_received_messages_total"):
                received = metric(core, "atrium_cluster_received_messages_total")
                time.sleep(1.0)
            _stop(running.pop("core"), tmp_path / "core.log")
            log = tmp_path / "core-2.log"
            running["core"] = atrium("run", "--config", str(config), "--role", "core", log=log)
            seen: list[tuple[int, bool]] = []

            def ready() -> bool:
                status, body = get(core, "/readyz")
                if body is not None:
                    seen.append((status, body["checks"]["cluster"].get("rebuilding", False)))
                return status == 200

            until(ready, "the restarted core ready")
            assert metric(core, "atrium_cluster_rebuilt_messages_total") >= received
            # Nothing new came in: every order the core handled again was counted before.
            assert metric(core, "atrium_orders_total") == 0
            assert metric(core, "atrium_fills_total") == 0
            assert (503, True) in seen
            assert all(status == 503 for status, rebuilding in seen if rebuilding)
            assert seen[-1] == (200, False), seen
        finally:
            for role, process in running.items():
                _stop(process, tmp_path / f"{role}.log")


def test_a_restarted_core_keeps_the_operators_reduce_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATRIUM_API_TOKEN", "secret-token")
    ports = {role: free_port() for role in ("md", "core", "strat-a", "strat-b")}
    core = ports["core"]
    with nats_server(tmp_path) as server:
        config = live_config(tmp_path, server.url, ports)
        run = ("run", "--config", str(config), "--role", "core")
        first = atrium(*run, log=tmp_path / "core.log")
        try:
            until(lambda: get(core, "/readyz")[0] == 200, "core ready")
            assert post(core, "/api/control/reduce-only", "secret-token") == 200
            assert get(core, "/api/risk")[1]["trading_state"] == "REDUCING"
        finally:
            _stop(first, tmp_path / "core.log")
        again = atrium(*run, log=tmp_path / "core-2.log")
        try:
            until(lambda: get(core, "/readyz")[0] == 200, "restarted core ready")
            assert get(core, "/api/risk")[1]["trading_state"] == "REDUCING"
        finally:
            _stop(again, tmp_path / "core-2.log")


async def test_a_full_stream_stalls_publishing_with_the_reason_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with nats_server(tmp_path) as server:
        _, wiring = role_config(
            parse_config(
                two_role_config(server.url, "full", 'max_bytes = 20000\nstorage = "memory"')
            ),
            "md",
        )
        link = Link(wiring, _noop)
        await link.open()
        try:
            # More than the client's 4,000 pending acknowledgements, of 100 bytes each.
            messages = [("full.md.NVDA", b"x" * 100, {MSG_ID: f"md:{n}"}) for n in range(5000)]
            publishing = asyncio.ensure_future(link.publish(messages))
            until_async = asyncio.get_running_loop().time() + 20
            while not link.stalled and asyncio.get_running_loop().time() < until_async:
                await asyncio.sleep(0.05)
            assert link.stalled, (await link.stored(), link.error)
            assert link.error == "maximum bytes exceeded (JetStream error 10077)"
            assert 100 <= await link.stored() < 200  # what fits, nothing more
            publishing.cancel()
        finally:
            await link.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors[0].startswith("JetStream did not store ")
    assert "(maximum bytes exceeded (JetStream error 10077)); retrying in 0.50s" in errors[0]


def test_a_stop_without_nats_ends_in_time_and_the_next_start_sends_what_was_kept(
    tmp_path: Path,
) -> None:
    port = free_port()
    ports = {"md": port, "core": free_port(), "strat-a": free_port(), "strat-b": free_port()}
    with nats_server(tmp_path) as server:
        config = live_config(tmp_path, server.url, ports)
        with_cluster_lines(config, "stop_timeout_seconds = 2")
        run = ("run", "--config", str(config), "--role", "md")
        first = atrium(*run, log=tmp_path / "md-1.log")
        until(lambda: metric(port, "atrium_cluster_sent_messages_total") >= 100, "md sends")
        server.stop()
        until(lambda: metric(port, "atrium_cluster_outbound_messages") >= 50, "md holds ticks")
        started = time.monotonic()
        _stop(first, tmp_path / "md-1.log")
        assert time.monotonic() - started < 15
        kept = tmp_path / "md-journal.sqlite.unsent"
        assert kept.exists()
        assert "messages not stored by JetStream; kept in" in (tmp_path / "md-1.log").read_text()

        server.start()  # same store: the stream is still there
        before = asyncio.run(_stored(server.url, "LIVE"))
        again = atrium(*run, log=tmp_path / "md-2.log")
        try:
            until(lambda: not kept.exists(), "the kept messages sent")
            log = (tmp_path / "md-2.log").read_text()
            count = int(log.split("sent ", 1)[1].split(" messages the previous run kept")[0])
            assert count >= 50
            assert asyncio.run(_stored(server.url, "LIVE")) >= before + count
        finally:
            _stop(again, tmp_path / "md-2.log")


def test_a_core_stopped_while_nats_is_away_trades_again_after_its_restart(
    tmp_path: Path,
) -> None:
    """Its reduce-only of the lost connection is kept and stored by the next run, with
    the resume it would have sent on reconnecting (``resume_on_reconnect``)."""
    ports = {role: free_port() for role in ("md", "core", "strat-a", "strat-b")}
    core = ports["core"]
    with nats_server(tmp_path) as server:
        config = live_config(tmp_path, server.url, ports)
        with_cluster_lines(config, "stop_timeout_seconds = 2\nmax_reconnect_wait_seconds = 1")
        run = ("run", "--config", str(config), "--role", "core")
        first = atrium(*run, log=tmp_path / "core.log")
        try:
            until(lambda: get(core, "/readyz")[0] == 200, "core ready")
            server.stop()
            until(lambda: get(core, "/api/risk")[1]["trading_state"] == "REDUCING", "reducing")
            started = time.monotonic()
        finally:
            _stop(first, tmp_path / "core.log")
        assert time.monotonic() - started < 6  # stop_timeout_seconds, not more
        text = (tmp_path / "core.log").read_text()
        assert "kept in" in text and "Traceback" not in text, text[-3000:]
        server.start()
        again = atrium(*run, log=tmp_path / "core-2.log")
        try:
            until(lambda: get(core, "/readyz")[0] == 200, "restarted core ready")
            until(lambda: get(core, "/api/risk")[1]["trading_state"] == "ACTIVE", "active again")
        finally:
            _stop(again, tmp_path / "core-2.log")
        assert "REDUCING -> ACTIVE" in (tmp_path / "core-2.log").read_text()
