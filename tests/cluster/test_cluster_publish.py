"""Which duplicates JetStream reports are retries of the link's own, and which are lost
messages: no NATS server, a stand-in for the client's JetStream context."""

from __future__ import annotations

import asyncio
import tomllib
from types import SimpleNamespace
from typing import Any

import pytest

from atrium.config import parse_config
from atrium.runtime.cluster import link as link_module
from atrium.runtime.cluster.link import MSG_ID, Link
from atrium.runtime.cluster.wiring import role_config

_CONFIG = """
[strategies.a]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["NVDA"]
[cluster]
url = "nats://127.0.0.1:1"
namespace = "fake"
[cluster.roles.md]
actors = ["market_data"]
[cluster.roles.rest]
actors = ["strategy", "portfolio", "risk", "execution"]
"""


class _SlowJetStream:
    """Stores by message id like JetStream; the acknowledgement of ``slow`` ids never
    comes to an asynchronous publish (as when the server is saturated)."""

    def __init__(self, slow: set[str]) -> None:
        self.slow = slow
        self.stored: dict[str, bytes] = {}

    def _store(self, payload: bytes, headers: dict[str, str]) -> Any:
        msg_id = headers[MSG_ID]
        duplicate = msg_id in self.stored
        self.stored.setdefault(msg_id, payload)
        # A duplicate is acknowledged with the sequence of the copy stored first.
        return SimpleNamespace(duplicate=duplicate, seq=list(self.stored).index(msg_id) + 1)

    async def publish_async(
        self, subject: str, payload: bytes, *, wait_stall: float, headers: dict[str, str]
    ) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        ack = self._store(payload, headers)
        if headers[MSG_ID] not in self.slow:
            future.set_result(ack)
        return future

    async def publish(self, subject: str, payload: bytes, **kwargs: Any) -> Any:
        return self._store(payload, kwargs["headers"])


def _link(js: _SlowJetStream) -> Link:
    _, wiring = role_config(parse_config(tomllib.loads(_CONFIG)), "md")

    async def noop(connected: bool) -> None:
        return None

    link = Link(wiring, noop)
    link._js = js  # type: ignore[assignment]
    return link


async def test_messages_sent_before_an_acknowledgement_timed_out_are_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the first one without an acknowledgement, the rest of a chunk was sent too:
    sending it again draws duplicates that are no alarm."""
    monkeypatch.setattr(link_module, "_ACK_TIMEOUT", 0.05)
    js = _SlowJetStream(slow={"md:1", "md:2"})
    link = _link(js)
    batch = [("fake.md.NVDA", b"%d" % n, {MSG_ID: f"md:{n}"}) for n in range(4)]
    assert await link.publish(batch) == 0
    assert js.stored == {f"md:{n}": b"%d" % n for n in range(4)}
    # New content under an id already used is still an alarm.
    again = [("fake.md.NVDA", b"new", {MSG_ID: "md:3"}), ("fake.md.NVDA", b"4", {MSG_ID: "md:4"})]
    assert await link.publish(again) == 1
    assert js.stored["md:3"] == b"3"
