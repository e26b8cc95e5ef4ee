"""The role lock against nats-py's key-value create, which can raise "not found" when
the entry of a dead holder expires while it looks at it."""

from __future__ import annotations

from typing import Any

import nats.js.errors
import pytest

from atrium.runtime.cluster.lock import RoleLock
from atrium.runtime.errors import AtriumError


class _KeyValue:
    """Answers ``create`` from a script: an int is a revision, an exception is raised."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.creates = 0

    async def create(self, key: str, value: bytes) -> int:
        self.creates += 1
        answer = self.script.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return int(answer)

    async def get(self, key: str) -> Any:
        raise nats.js.errors.KeyNotFoundError


class _JetStream:
    def __init__(self, kv: _KeyValue) -> None:
        self.kv = kv

    async def create_key_value(self, config: Any) -> _KeyValue:
        return self.kv


async def test_acquire_when_the_dead_holders_entry_expires_during_create_then_taken() -> None:
    kv = _KeyValue([nats.js.errors.KeyNotFoundError(), 7])
    lock = RoleLock("LIVE", "core", 0.3, memory=True)
    await lock.acquire(_JetStream(kv))  # type: ignore[arg-type]
    assert kv.creates == 2
    assert lock._revision == 7


async def test_acquire_when_another_holds_it_past_the_ttl_then_refused_naming_it() -> None:
    taken = nats.js.errors.KeyWrongLastSequenceError
    kv = _KeyValue([taken() for _ in range(50)])
    lock = RoleLock("LIVE", "core", 0.2, memory=True)
    with pytest.raises(AtriumError, match="--role core: another process of this role is running"):
        await lock.acquire(_JetStream(kv))  # type: ignore[arg-type]
    assert kv.creates > 1
