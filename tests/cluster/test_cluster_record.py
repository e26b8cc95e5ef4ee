"""``atrium cluster record``: what it reads from the recording stream, and why it has nothing
to read, naming the setting."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path

import nats
import pytest
from cluster_kit import journal_messages, nats_server, two_role_config

from atrium.config.loader import parse_config
from atrium.runtime.cluster.plain import PlainMarket
from atrium.runtime.cluster.record import record_stream
from atrium.runtime.cluster.subjects import SubjectMap
from atrium.runtime.codec import encode
from atrium.runtime.errors import AtriumError
from atrium.runtime.messages import Tick

pytestmark = pytest.mark.timeout(60)


async def _flow_only_stream(url: str, namespace: str) -> None:
    """The stream a live run with market data on plain subjects makes: no ``md``."""
    nc = await nats.connect(url)
    try:
        subjects = SubjectMap(namespace).flow_subjects
        await nc.jetstream().add_stream(name=namespace.upper(), subjects=subjects)
    finally:
        await nc.close()


def test_record_without_a_stream_names_the_namespace(tmp_path: Path) -> None:
    with nats_server(tmp_path) as server:
        config = parse_config(two_role_config(server.url, "empty"))
        with pytest.raises(AtriumError, match="no stream EMPTY; nothing ran in the namespace"):
            asyncio.run(record_stream(config, tmp_path / "out.sqlite", start=None, symbols=None))
    assert not (tmp_path / "out.sqlite").exists()


def test_record_of_plain_market_data_not_kept_names_the_setting(tmp_path: Path) -> None:
    with nats_server(tmp_path) as server:
        asyncio.run(_flow_only_stream(server.url, "plain"))
        config = parse_config(two_role_config(server.url, "plain"))
        with pytest.raises(AtriumError, match=r"cluster.record_market_data_bytes: .* above 0"):
            asyncio.run(record_stream(config, tmp_path / "out.sqlite", start=None, symbols=None))


async def _local_replay_stream(url: str, namespace: str) -> None:
    """The stream a replay whose roles read the files leaves: its start, no market data."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name=namespace.upper(), subjects=SubjectMap(namespace).flow_subjects)
        await js.publish(SubjectMap(namespace).start, b"")
    finally:
        await nc.close()


def test_record_of_a_replay_that_read_files_says_so(tmp_path: Path) -> None:
    with nats_server(tmp_path) as server:
        asyncio.run(_local_replay_stream(server.url, "files"))
        config = parse_config(two_role_config(server.url, "files"))
        with pytest.raises(AtriumError, match="read its market data from files in every role"):
            asyncio.run(record_stream(config, tmp_path / "out.sqlite", start=None, symbols=None))
    assert not (tmp_path / "out.sqlite").exists()


def _tick(ts: int, price: str) -> Tick:
    return Tick(ts=ts, symbol="NVDA", price=Decimal(price), size=Decimal(7))


async def _recorded_plain(url: str, namespace: str) -> None:
    """The recording stream of plain market data: a tick in its envelope, one stored bare
    by an earlier Atrium (numbered in a header), and bytes that are neither."""
    nc = await nats.connect(url)
    try:
        js, subjects = nc.jetstream(), SubjectMap(namespace)
        await js.add_stream(name=namespace.upper(), subjects=subjects.flow_subjects)
        await js.add_stream(name=f"{namespace.upper()}_MD", subjects=[f"{namespace}.md.*"])
        subject = subjects.subject(_tick(1, "1"))
        await js.publish(subject, PlainMarket("run1").pack(subject, _tick(1_000, "101.25")))
        await js.publish(subject, encode(_tick(2_000, "101.50")), headers={"Atrium-Seq": "r:2"})
        await js.publish(subject, b"\x93garbage")
    finally:
        await nc.close()


def test_record_opens_the_envelopes_of_plain_market_data_and_reads_older_bare_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with nats_server(tmp_path) as server:
        asyncio.run(_recorded_plain(server.url, "kept"))
        extra = "record_market_data_bytes = 10_000_000"
        config = parse_config(two_role_config(server.url, "kept", extra))
        out = tmp_path / "out.sqlite"
        written = asyncio.run(record_stream(config, out, start=None, symbols=None))
    assert written == 2
    assert journal_messages(out, "Bar", "Tick") == [_tick(1_000, "101.25"), _tick(2_000, "101.50")]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].startswith("skipped stream message 3 that does not decode: ")
