"""Issue 22's fault campaign: a live four-process cluster under seeded faults loses and
duplicates nothing, and every role's ``/readyz`` tells the truth throughout.

The faults, in an order drawn from the seed: SIGKILL and SIGTERM of each role (started
again at once, as systemd would), the NATS server stopped for a while and started on the
same store, the stream filled (its ``max_bytes`` lowered to what it holds) and then given
room, and a copy of a role started elsewhere while the first runs. Afterwards the stream
is read with nats-py and the roles' journals with the journal readers, not through the
bridge. ``ATRIUM_FAULT_SEED`` picks another order, ``ATRIUM_FAULT_ROUNDS`` repeats the
campaign for a longer run, ``ATRIUM_FAULT_MODES=subjects,stream`` runs it with market
data on the stream too (see docs/cluster.md).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest
from cluster_kit import (
    ROLES_LIVE,
    NatsServer,
    atrium,
    consumers_idle,
    get,
    live_config,
    metric,
    nats_server,
    until,
)
from nats.js.api import AckPolicy, ConsumerConfig
from nats_kit import free_port

from atrium.runtime.codec import decode
from atrium.runtime.journal_market import iter_records
from atrium.runtime.journal_read import open_readonly
from atrium.runtime.messages import (
    Fill,
    Message,
    Order,
    OrderDenied,
    OrderIntent,
    PositionUpdate,
)

SEED = int(os.environ.get("ATRIUM_FAULT_SEED", "6"))
ROUNDS = int(os.environ.get("ATRIUM_FAULT_ROUNDS", "1"))
#: How market data travels in the campaign: the default only, unless asked (a minute each).
MODES = os.environ.get("ATRIUM_FAULT_MODES", "subjects").split(",")
NATS_DOWN_SECONDS = 10.0
STREAM = "LIVE"
_POLL = 0.2
# How long after NATS stopped a role may still answer as if connected (it notices the
# closed socket at once; the poll in flight may predate the stop).
_NOTICE = 1.0
# Into NATS's absence when a role is stopped, and what it gives JetStream then.
_STOP_AFTER = 3.0
_STOP_TIMEOUT = 2
# Around a fault's window: the poll in flight when it began or ended.
_MARGIN = 0.5

pytestmark = pytest.mark.timeout(180 * ROUNDS + 60)


@dataclass
class Sample:
    at: float
    status: int  # 0: nothing listening (the process is down or starting)
    body: dict[str, Any] | None


@dataclass
class Campaign:
    tmp: Path
    server: NatsServer
    config: Path
    ports: dict[str, int]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    starts: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[Sample]] = field(default_factory=lambda: defaultdict(list))
    #: (what, role or "", start, end) of each fault, by the test's clock.
    windows: list[tuple[str, str, float, float]] = field(default_factory=list)
    max_bytes: int = -1
    #: How market data travels (``cluster.market_data``).
    market_data: str = "subjects"

    @property
    def stalls(self) -> str:
        """The role a full stream stalls first: the one that stores the market data."""
        return "md" if self.market_data == "stream" else "core"

    def start(self, role: str) -> None:
        self.starts[role] += 1
        log = self.tmp / f"{role}-{self.starts[role]}.log"
        self.processes[role] = atrium("run", "--config", str(self.config), "--role", role, log=log)

    def log_text(self, role: str) -> str:
        return "".join(
            (self.tmp / f"{role}-{n}.log").read_text() for n in range(1, self.starts[role] + 1)
        )

    def set_max_bytes(self, value: int) -> None:
        """The stream's limit, in the file too: a role started later makes the same."""
        text = self.config.read_text().replace(
            f"max_bytes = {self.max_bytes}", f"max_bytes = {value}"
        )
        self.config.write_text(text)
        asyncio.run(_update_max_bytes(self.server.url, value))
        self.max_bytes = value

    def latest(self, role: str) -> Sample | None:
        samples = self.samples[role]
        return samples[-1] if samples else None


# -- the poller ----------------------------------------------------------------------------


@contextmanager
def _polling(campaign: Campaign) -> Iterator[None]:
    """Each role's /readyz, every _POLL seconds, kept with the time asked."""
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            for role, port in campaign.ports.items():
                at = time.monotonic()
                status, body = get(port, "/readyz")
                campaign.samples[role].append(Sample(at, status, body))
            stop.wait(_POLL)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


def _all_ready(campaign: Campaign, since: float) -> bool:
    for role in ROLES_LIVE:
        sample = campaign.latest(role)
        if sample is None or sample.at < since or sample.status != 200:
            return False
    return True


def _wait_all_ready(campaign: Campaign, what: str, seconds: float = 45) -> None:
    since = time.monotonic()
    until(lambda: _all_ready(campaign, since), f"every role ready after {what}", seconds)


# -- NATS, read directly -------------------------------------------------------------------


async def _update_max_bytes(url: str, value: int) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        config = (await js.stream_info(STREAM)).config
        config.max_bytes = value
        await js.update_stream(config)
    finally:
        await nc.close()


async def _stream_state(url: str) -> tuple[int, int]:
    nc = await nats.connect(url)
    try:
        state = (await nc.jetstream().stream_info(STREAM)).state
        return int(state.last_seq), int(state.bytes)
    finally:
        await nc.close()


async def _floor(url: str, role: str) -> int:
    """How far the role's consumer got: its acknowledgement floor, or what it carries."""
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(STREAM, f"live-{role}")
        metadata = info.config.metadata or {}
        acked = int(info.ack_floor.stream_seq) if info.ack_floor else 0
        return max(acked, int(metadata.get("atrium_rebuild_floor", "0")))
    finally:
        await nc.close()


async def _delivered(url: str, role: str) -> int:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().consumer_info(STREAM, f"live-{role}")
        return int(info.delivered.stream_seq) if info.delivered else 0
    finally:
        await nc.close()


async def _order_flow(url: str) -> list[tuple[str, Message]]:
    """Every message of the stream that is not market data, with its message id."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        last = int((await js.stream_info(STREAM)).state.last_seq)
        config = ConsumerConfig(ack_policy=AckPolicy.NONE, filter_subject="live.>")
        sub = await js.pull_subscribe("live.>", durable=None, stream=STREAM, config=config)
        flow: list[tuple[str, Message]] = []
        seen = 0
        while seen < last:
            for msg in await sub.fetch(1000, timeout=5):
                seen = msg.metadata.sequence.stream
                if not msg.subject.startswith(("live.md.", "live.mdv.", "live.marks.")):
                    flow.append(((msg.headers or {}).get("Nats-Msg-Id", ""), decode(msg.data)))
        return flow
    finally:
        await nc.close()


# -- the faults ----------------------------------------------------------------------------


def _restart(campaign: Campaign, role: str, sig: signal.Signals) -> None:
    """Signal the role, start it again once it is gone, and wait until it is ready."""
    process = campaign.processes[role]
    began = time.monotonic()
    process.send_signal(sig)
    code = process.wait(30)
    assert code == (0 if sig == signal.SIGTERM else -sig), campaign.log_text(role)[-3000:]
    floor = 0 if role == "md" else asyncio.run(_floor(campaign.server.url, role))
    campaign.start(role)
    started = time.monotonic()
    until(lambda: _ready_since(campaign, role, started), f"{role} ready after {sig.name}", 45)
    if role != "md":
        # Ready only once it took again everything its previous run had acknowledged.
        assert asyncio.run(_delivered(campaign.server.url, role)) >= floor
    campaign.windows.append((sig.name, role, began, time.monotonic()))


def _ready_since(campaign: Campaign, role: str, since: float) -> bool:
    sample = campaign.latest(role)
    return sample is not None and sample.at > since and sample.status == 200


def _nats_down(campaign: Campaign, role: str) -> None:
    """NATS away; meanwhile ``role`` is stopped (what it could not store is kept in its
    unsent file), and started again once NATS is back."""
    began = time.monotonic()
    campaign.server.stop()
    time.sleep(_STOP_AFTER)
    process = campaign.processes[role]
    process.send_signal(signal.SIGTERM)
    assert process.wait(_STOP_TIMEOUT + 5) == 0, campaign.log_text(role)[-3000:]
    time.sleep(max(0.0, began + NATS_DOWN_SECONDS - time.monotonic()))
    ended = time.monotonic()
    campaign.server.start()  # same port and store
    campaign.start(role)
    campaign.windows.append(("nats", role, began, ended))
    _wait_all_ready(campaign, "NATS came back")
    campaign.windows.append(("recovery", "", ended, time.monotonic()))


def _full_store(campaign: Campaign, role: str) -> None:
    """The stream's limit lowered to about what it holds: the next messages are refused."""
    _, stored = asyncio.run(_stream_state(campaign.server.url))
    began = time.monotonic()
    campaign.set_max_bytes(stored + 16_384)

    def stalled() -> bool:
        sample = campaign.latest(campaign.stalls)
        return sample is not None and sample.status == 503 and _cluster(sample)["stalled"]

    until(stalled, f"{campaign.stalls} says it is stalled", 30)
    time.sleep(1.0)
    campaign.set_max_bytes(-1)  # room made
    made = time.monotonic()
    campaign.windows.append(("full", "", began, made))
    _wait_all_ready(campaign, "room was made")
    campaign.windows.append(("recovery", "", made, time.monotonic()))


def _copy(campaign: Campaign, role: str) -> None:
    """A second process of ``role`` as another host would start it: refused, harmless."""
    other = campaign.tmp / f"copy-{len(campaign.windows)}"  # a host of its own each time
    other.mkdir()
    ports = {r: free_port() for r in ROLES_LIVE}
    config = _tuned(
        live_config(other, campaign.server.url, ports, market_data=campaign.market_data)
    )
    limit = f"max_bytes = {campaign.max_bytes}"
    config.write_text(config.read_text().replace("max_bytes = -1", limit))
    log = other / f"{role}.log"
    counted = (
        "atrium_cluster_sent_messages_total"
        if role == "md"
        else "atrium_cluster_received_messages_total"
    )
    before = metric(campaign.ports[role], counted)
    began = time.monotonic()
    copy = atrium("run", "--config", str(config), "--role", role, log=log)
    try:
        assert copy.wait(40) == 1, log.read_text()[-3000:]
    finally:
        if copy.poll() is None:
            copy.kill()
    assert f"--role {role}: another process of this role is running" in log.read_text()
    # The first goes on as before: ready, and consuming (or sending).
    until(lambda: metric(campaign.ports[role], counted) > before + 50, f"the first {role} goes on")
    campaign.windows.append(("copy", role, began, time.monotonic()))


FAULTS = {
    "SIGKILL": lambda campaign, role: _restart(campaign, role, signal.SIGKILL),
    "SIGTERM": lambda campaign, role: _restart(campaign, role, signal.SIGTERM),
    "nats": _nats_down,
    "full": _full_store,
    "copy": _copy,
}


def _plan(rng: random.Random) -> list[tuple[str, str]]:
    faults = [(sig, role) for sig in ("SIGKILL", "SIGTERM") for role in ROLES_LIVE]
    faults += [("nats", rng.choice(ROLES_LIVE)), ("full", ""), ("copy", rng.choice(ROLES_LIVE))]
    rng.shuffle(faults)
    return faults


def _tuned(config: Path) -> Path:
    """The kit's live cluster at a modest rate, reconnecting within a second."""
    text = config.read_text().replace("rate_per_second = 200.0", "rate_per_second = 50.0")
    text = text.replace(
        "lock_ttl_seconds = 2",
        "lock_ttl_seconds = 2\nmax_reconnect_wait_seconds = 1.0\nmax_bytes = -1\n"
        f"stop_timeout_seconds = {_STOP_TIMEOUT}",
    )
    config.write_text(text)
    return config


# -- the checks ----------------------------------------------------------------------------


def _cluster(sample: Sample) -> dict[str, Any]:
    assert sample.body is not None
    return dict(sample.body["checks"]["cluster"])


def _other_reason(sample: Sample) -> bool:
    """A 503 with the cluster ready: another check failed (a loaded host's event loop)."""
    assert sample.body is not None
    checks = sample.body["checks"]
    feeds = checks.get("feeds", {}).values()
    return (
        not checks["event_loop"]["ok"]
        or checks["stopping"]
        or checks["recovery"]["state"] == "running"
        or not all(checks["actors"].values())
        or not all(feed.get("ready", False) for feed in feeds)
    )


def _transitions(campaign: Campaign) -> str:
    """Each role's /readyz answers where they changed, for the failure message."""
    lines = []
    for role, samples in campaign.samples.items():
        last = None
        for sample in samples:
            cluster = {} if sample.body is None else _cluster(sample)
            now = (sample.status, cluster.get("rebuilding"), cluster.get("stalled"))
            if now != last:
                lines.append(f"{sample.at:12.2f} {role:8} {now}")
                last = now
    windows = [
        f"{began:12.2f}-{ended:.2f} {what} {role}" for what, role, began, ended in campaign.windows
    ]
    return "\n".join(sorted(lines + windows))


def _check_readiness(campaign: Campaign) -> None:
    """/readyz against what the test did: down with NATS, stalled while full, and its
    answer consistent with the reasons it gives."""
    for role, samples in campaign.samples.items():
        assert len(samples) > 100, role
        for sample in samples:
            if sample.status == 0:
                continue
            cluster = _cluster(sample)
            assert cluster["role"] == role
            if cluster["rebuilding"] or cluster["stalled"] or cluster["state_check"]:
                assert cluster["ready"] is False, sample
            if sample.status == 200:
                assert cluster["ready"] is True, sample
            else:
                assert sample.status == 503, sample
                assert not cluster["ready"] or _other_reason(sample), sample
    _check_steady(campaign)
    for what, _, began, ended in campaign.windows:
        if what == "nats":
            _check_nats_window(campaign, began, ended)
        if what == "full":
            stalled = [
                s for s in campaign.samples[campaign.stalls]
                if began <= s.at <= ended and s.status == 503 and _cluster(s)["stalled"]
            ]  # fmt: skip
            assert stalled, f"{campaign.stalls} never said it was stalled"


def _check_steady(campaign: Campaign) -> None:
    """Outside the faults (a copy refused is none) and their recovery, every role is
    ready, unless a check other than the cluster's says why not."""
    faults = [(b - _MARGIN, e + _MARGIN) for what, _, b, e in campaign.windows if what != "copy"]
    for role, samples in campaign.samples.items():
        for sample in samples:
            if any(began <= sample.at <= ended for began, ended in faults):
                continue
            assert sample.status == 200 or (sample.status == 503 and _other_reason(sample)), (
                role,
                sample,
            )


def _check_nats_window(campaign: Campaign, began: float, ended: float) -> None:
    for role, samples in campaign.samples.items():
        inside = [s for s in samples if began + _NOTICE <= s.at <= ended and s.status]
        assert len(inside) >= (_STOP_AFTER - _NOTICE) / _POLL / 2, (role, len(inside))
        for sample in inside:
            assert sample.status == 503, (role, sample)
            assert _cluster(sample)["ready"] is False, (role, sample)


def _key(message: Message) -> bytes:
    """A message without its time: a rebuild makes it again at another moment."""
    return msgspec.msgpack.encode(msgspec.structs.replace(message, ts=0))


def _journal(path: Path, kinds: tuple[str, ...]) -> list[Message]:
    with closing(open_readonly(path)) as connection:
        return [
            decode(payload) for _, _, _, payload in iter_records(connection, str(path), kinds=kinds)
        ]


def _check_flow(flow: list[tuple[str, Message]], core: list[Message]) -> None:
    """No message lost or twice: the stream and the core's journal, read directly."""
    ids = Counter(msg_id for msg_id, _ in flow)
    assert not [i for i, n in ids.items() if n > 1]  # JetStream kept each id once
    intents = [m for _, m in flow if isinstance(m, OrderIntent)]
    fills = [m for _, m in flow if isinstance(m, Fill)]
    assert intents and fills
    assert not [i for i, n in Counter(m.intent_id for m in intents).items() if n > 1]
    assert not [i for i, n in Counter(m.fill_id for m in fills).items() if n > 1]
    # Every copy the core journaled (a rebuild journals again) is the same message.
    by_id: dict[tuple[str, str], set[bytes]] = defaultdict(set)
    for message in core:
        if isinstance(message, (OrderIntent, Order, Fill)):
            ident = {OrderIntent: "intent_id", Order: "order_id", Fill: "fill_id"}[type(message)]
            by_id[(type(message).__name__, getattr(message, ident))].add(_key(message))
    assert not [key for key, copies in by_id.items() if len(copies) > 1]
    # The core's journal and the stream agree on the intents it took and the fills.
    journaled = {key for key, _ in by_id.items()}
    assert {("OrderIntent", m.intent_id) for m in intents} >= {
        k for k in journaled if k[0] == "OrderIntent"
    }
    assert {("Fill", m.fill_id) for m in fills} == {k for k in journaled if k[0] == "Fill"}
    orders = {m.order_id: m for m in core if isinstance(m, Order)}
    denials = [m for _, m in flow if isinstance(m, OrderDenied)]
    denials += [m for m in core if isinstance(m, OrderDenied)]
    outcomes: dict[str, set[str]] = defaultdict(set)
    for order in orders.values():
        outcomes[order.intent_id].add(order.order_id)
    for denial in denials:
        outcomes[denial.intent_id].add(denial.order_id or "denied")
    # Every intent has exactly one outcome: one order, or one denial.
    assert {m.intent_id for m in intents} == set(outcomes)
    assert not {i: o for i, o in outcomes.items() if len(o) != 1}
    # Every fill on the stream is of an order the core journaled, and fills no more.
    filled: dict[str, Decimal] = defaultdict(Decimal)
    for fill in fills:
        assert fill.order_id in orders, fill
        filled[fill.order_id] += fill.quantity
    assert not [o for o, q in filled.items() if q > orders[o].quantity]


def _positions(fills: list[Fill]) -> dict[tuple[str, str], Decimal]:
    net: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for fill in fills:
        net[(fill.strategy, fill.symbol)] += fill.quantity if fill.side == "BUY" else -fill.quantity
    return {key: quantity for key, quantity in net.items() if quantity}


def _last_positions(messages: list[Message]) -> dict[tuple[str, str], Decimal]:
    last = {(m.strategy, m.symbol): m.quantity for m in messages if isinstance(m, PositionUpdate)}
    return {key: quantity for key, quantity in last.items() if quantity}


# -- the campaign --------------------------------------------------------------------------


def _run(campaign: Campaign, rng: random.Random) -> None:
    for role in ("core", "strat-a", "strat-b", "md"):
        campaign.start(role)
    _wait_all_ready(campaign, "start", 60)
    campaign.windows.append(("start", "", 0.0, time.monotonic()))
    until(lambda: metric(campaign.ports["core"], "atrium_fills_total") >= 2, "fills at the core")
    for round_ in range(ROUNDS):
        for what, role in _plan(rng):
            time.sleep(rng.uniform(0.2, 1.5))  # the fault lands anywhere in the flow
            print(f"round {round_}: {what} {role}".rstrip(), flush=True)
            FAULTS[what](campaign, role)
    last = asyncio.run(_stream_state(campaign.server.url))[0]
    until(
        lambda: asyncio.run(_stream_state(campaign.server.url))[0] > last + 200, "trading goes on"
    )


def _drain(campaign: Campaign) -> None:
    """No input from here on: the market data role stops, the others take everything."""
    md = campaign.processes.pop("md")
    md.send_signal(signal.SIGTERM)
    assert md.wait(30) == 0
    followers = ("core", "strat-a", "strat-b")
    until(lambda: consumers_idle(campaign.server.url, "live", followers), "consumers idle", 60)


def _stop_all(campaign: Campaign) -> None:
    for process in campaign.processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for role, process in campaign.processes.items():
        try:
            assert process.wait(30) == 0, campaign.log_text(role)[-3000:]
        except subprocess.TimeoutExpired:
            process.kill()
            raise


@pytest.mark.parametrize("market_data", MODES)
def test_a_live_cluster_under_seeded_faults_loses_nothing_and_readyz_tells_the_truth(
    tmp_path: Path, market_data: str
) -> None:
    rng = random.Random(SEED)
    ports = {role: free_port() for role in ROLES_LIVE}
    with nats_server(tmp_path) as server:
        config = _tuned(live_config(tmp_path, server.url, ports, market_data=market_data))
        campaign = Campaign(tmp_path, server, config, ports, market_data=market_data)
        try:
            with _polling(campaign):
                _run(campaign, rng)
            _drain(campaign)
            _, core_positions = get(ports["core"], "/api/portfolio/positions")
            _, risk = get(ports["core"], "/api/risk")
        finally:
            _stop_all(campaign)
        flow = asyncio.run(_order_flow(server.url))
    (tmp_path / "readyz.txt").write_text(_transitions(campaign))
    _check_readiness(campaign)
    core = _journal(
        tmp_path / "core-journal.sqlite", ("OrderIntent", "Order", "OrderDenied", "Fill")
    )
    _check_flow(flow, core)
    fills = [m for _, m in flow if isinstance(m, Fill)]
    expected = _positions(fills)
    assert expected == _last_positions([m for _, m in flow])
    assert expected == {
        (row["strategy"], row["symbol"]): Decimal(row["quantity"])
        for row in core_positions
        if Decimal(row["quantity"])
    }
    for role, strategy in (("strat-a", "fast_a"), ("strat-b", "fast_b")):
        seen = _last_positions(_journal(tmp_path / f"{role}-journal.sqlite", ("PositionUpdate",)))
        assert seen == {k: q for k, q in expected.items() if k[0] == strategy}, role
    for role in ROLES_LIVE:
        text = campaign.log_text(role)
        assert "their content is lost" not in text, role
        assert "Traceback" not in text, role
    # Connected again after every loss of NATS (resume_on_reconnect): trading as before.
    assert risk["trading_state"] == "ACTIVE", risk
