"""``atrium cluster record`` says why it has nothing to read, naming the setting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest
from cluster_kit import nats_server, two_role_config

from atrium.config.loader import parse_config
from atrium.runtime.cluster.record import record_stream
from atrium.runtime.cluster.subjects import SubjectMap
from atrium.runtime.errors import AtriumError

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
