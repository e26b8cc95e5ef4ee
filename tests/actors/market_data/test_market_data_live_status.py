"""Live feed status: readiness as a feed connects, talks, goes quiet and reconnects."""

from __future__ import annotations

from atrium.actors.market_data import FeedStatus


class _Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_status_when_feed_connects_talks_goes_quiet_and_reconnects_then_ready_follows() -> None:
    time = _Monotonic()
    reconnects: list[None] = []
    status = FeedStatus(10.0, now=time, on_reconnect=lambda: reconnects.append(None))

    time.now = 103.0
    assert status.snapshot() == {
        "connected": False,
        "last_message_age_seconds": None,
        "messages": 0,
        "reconnects": 0,
        "duplicates": 0,
        "stale_after_seconds": 10.0,
        "ready": False,
    }
    assert status.staleness() == 3.0  # no message yet: stale since the start

    status.opened()
    assert (status.connected, status.ready()) == (True, False)  # connected, nothing heard

    status.received()
    time.now = 112.5
    assert (status.age(), status.ready(), status.staleness()) == (9.5, True, 9.5)

    time.now = 113.0  # exactly the stale limit: no longer fresh
    assert status.ready() is False

    status.closed()
    status.received()  # a late message of the closed connection: fresh, not connected
    assert (status.connected, status.ready(), status.connected_value()) == (False, False, 0.0)

    status.opened()
    snapshot = status.snapshot()
    assert (snapshot["reconnects"], snapshot["messages"], snapshot["ready"]) == (1, 2, True)
    assert snapshot["last_message_age_seconds"] == 0.0
    assert reconnects == [None]


def test_status_when_duplicates_dropped_then_counted_and_reported() -> None:
    dropped: list[None] = []
    status = FeedStatus(10.0, on_duplicate=lambda: dropped.append(None))

    status.duplicate()
    status.duplicate()

    assert (status.snapshot()["duplicates"], len(dropped)) == (2, 2)
