"""With market data on plain subjects, a role restarted after a crash rebuilds from
its snapshot and a stream that holds no tick: a strategy role numbers its intents on
from what it sent, and the core rebuilds its portfolio exactly from the marks it took."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import nats
import pytest
from cluster_kit import (
    ROLES_LIVE,
    LiveRoles,
    free_port,
    get,
    live_config,
    metric,
    nats_server,
    quiet,
    until,
    with_cluster_lines,
)

from atrium.runtime.codec import decode
from atrium.runtime.messages import Fill

pytestmark = pytest.mark.timeout(180)

_INTENTS = "atrium_strategy_intents_total"


async def _stored(url: str, subject: str) -> int:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info("LIVE", subjects_filter=subject)
        return int((info.state.subjects or {}).get(subject, 0))
    finally:
        await nc.close()


@contextmanager
def _cluster(tmp: Path, extra: str = "") -> Iterator[LiveRoles]:
    ports = {role: free_port() for role in ROLES_LIVE}
    with nats_server(tmp) as server:
        config = live_config(tmp, server.url, ports, market_data="subjects")
        roles = LiveRoles(tmp, server.url, with_cluster_lines(config, extra), ports)
        try:
            for role in ROLES_LIVE:
                roles.start(role)
            yield roles
        finally:
            roles.stop_all()


def test_a_strategy_role_killed_numbers_its_intents_on_from_those_it_sent(
    tmp_path: Path,
) -> None:
    """Its snapshot (none here) and the stream (fills, no ticks) do not tell how many
    intents the killed run sent: the restart reads its last intent on the stream, so its
    next one is not a reused id that JetStream would drop as a duplicate."""
    with _cluster(tmp_path, "snapshot_every_messages = 0\nsnapshot_every_seconds = 0") as roles:
        strat = roles.ports["strat-a"]
        until(lambda: metric(strat, _INTENTS) >= 3, "intents of strat-a")
        roles.stop("md")  # no new tick: the count read next is what the run sent
        quiet([strat], "atrium_cluster_sent_messages_total")
        before = metric(strat, _INTENTS)
        roles.kill("strat-a")
        roles.start("md")
        log = roles.start("strat-a")
        until(lambda: get(strat, "/readyz")[0] == 200, "strat-a ready again")
        until(lambda: metric(strat, _INTENTS) >= 3, "new intents after the restart")
        roles.stop("md")
        quiet([strat], "atrium_cluster_sent_messages_total")
        after = metric(strat, _INTENTS)
        stored = asyncio.run(_stored(roles.url, "live.intent.fast_a"))
        text = log.read_text()
        assert stored == before + after, text[-3000:]
        assert f"numbering goes on from fast_a-{int(before)}" in text
        assert metric(strat, "atrium_cluster_duplicate_acks_total") == 0


async def _fills(url: str) -> list[Fill]:
    """Every fill on the stream, read with nats-py, not through the bridge."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe("live.fill.*", ordered_consumer=True)
        info = await js.stream_info("LIVE", subjects_filter="live.fill.*")
        total = sum((info.state.subjects or {}).values())
        fills = []
        while len(fills) < total:
            message = decode((await sub.next_msg(timeout=5)).data)
            assert isinstance(message, Fill)
            fills.append(message)
        return fills
    finally:
        await nc.close()


def _net(fills: list[Fill]) -> dict[tuple[str, str], Decimal]:
    net: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for fill in fills:
        net[(fill.strategy, fill.symbol)] += fill.quantity if fill.side == "BUY" else -fill.quantity
    return {key: quantity for key, quantity in net.items() if quantity}


def test_a_core_killed_after_paper_fills_on_ticks_rebuilds_its_portfolio_and_goes_live(
    tmp_path: Path,
) -> None:
    """The ticks the paper venue filled on after the snapshot are not on the stream as
    the source sent them, but as the core took them (its kept marks): the rebuild fills
    on them again, the state check agrees, and the core trades on."""
    with _cluster(tmp_path, "snapshot_every_messages = 100\nsnapshot_every_seconds = 0") as roles:
        core = roles.ports["core"]
        until(lambda: metric(core, "atrium_fills_total") >= 6, "fills at the core")
        fills = metric(core, "atrium_fills_total")
        until(lambda: metric(core, "atrium_fills_total") >= fills + 4, "fills after a snapshot")
        roles.kill("core")
        log = roles.start("core")
        until(lambda: get(core, "/readyz")[0] == 200, "core ready again")
        assert metric(core, "atrium_cluster_rebuilt_messages_total") > 0
        until(lambda: metric(core, "atrium_fills_total") >= 2, "the core trades on")
        roles.stop("md")
        ports = [roles.ports[role] for role in ("strat-a", "strat-b", "core")]
        quiet(ports, "atrium_cluster_sent_messages_total")
        _, positions = get(core, "/api/portfolio/positions")
        text = log.read_text()
        assert "not going live" not in text, text[-3000:]
        assert "restored the snapshot at stream sequence" in text
        expected = _net(asyncio.run(_fills(roles.url)))
        assert expected
        assert expected == {
            (row["strategy"], row["symbol"]): Decimal(row["quantity"])
            for row in positions
            if Decimal(row["quantity"])
        }
