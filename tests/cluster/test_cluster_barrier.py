"""The replay barrier across processes: idle only when every consumer acknowledged the
last message its filter matches, judged on a real NATS server."""

from __future__ import annotations

from pathlib import Path

import pytest
from cluster_kit import nats_server, two_role_config
from nats.js.api import AckPolicy, ConsumerConfig

from atrium.config import parse_config
from atrium.runtime.cluster.link import Link
from atrium.runtime.cluster.watch import subject_matches
from atrium.runtime.cluster.wiring import role_config


@pytest.mark.parametrize(
    ("subject", "pattern", "matches"),
    [
        ("a.md.NVDA", "a.md.NVDA", True),
        ("a.md.NVDA", "a.md.ORCL", False),
        ("a.md.NVDA", "a.md.*", True),
        ("a.md", "a.md.*", False),
        ("a.md.NVDA.x", "a.md.*", False),
        ("a.md.NVDA.x", "a.>", True),
        ("a", "a.>", False),
        ("a.fill.s", "*.fill.s", True),
    ],
)
def test_subjects_match_as_nats_matches_them(subject: str, pattern: str, matches: bool) -> None:
    assert subject_matches(subject, pattern) is matches


async def _noop(connected: bool) -> None:
    return None


async def test_a_stored_message_keeps_the_barrier_shut_until_its_consumer_acks_it(
    tmp_path: Path,
) -> None:
    with nats_server(tmp_path) as server:
        config = parse_config(two_role_config(server.url, "barrier"))
        _, wiring = role_config(config, "md")
        link = Link(wiring, _noop)
        await link.open()
        try:
            await link.follow()
            js, stream = link.js, wiring.stream
            await js.add_consumer(
                stream,
                ConsumerConfig(
                    durable_name="bars", ack_policy=AckPolicy.ALL, filter_subjects=["barrier.md.*"]
                ),
            )
            bars = await js.pull_subscribe_bind("bars", stream)
            # Right after JetStream acknowledged a publish, the barrier never says idle,
            # however soon it looks (a consumer's pending count may not count it yet).
            for round_ in range(1000):
                await js.publish("barrier.md.NVDA", str(round_).encode())
                assert not await link.consumers_idle(("bars",))
                (msg,) = await bars.fetch(1, timeout=5)
                await msg.ack_sync()
                while not await link.consumers_idle(("bars",)):
                    pass  # the watch has yet to see the message
            # What the consumer's filter does not match is no work of its.
            await js.publish("barrier.fill.a", b"")
            while link.watch is not None and link.watch.seen < await link.stored():
                pass
            assert await link.consumers_idle(("bars",))
            assert not await link.consumers_idle(("bars", "nobody"))  # missing: not idle
        finally:
            await link.close()
