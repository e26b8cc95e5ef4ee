"""Get-or-create collectors: a restarted actor reuses its counters on the same registry."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from atrium.runtime.metrics import counter, gauge


def test_counter_when_created_twice_then_same_collector_and_counts_kept() -> None:
    registry = CollectorRegistry()
    first = counter(registry, "atrium_test_total", "test", ["reason"])
    first.labels("A").inc(2)
    second = counter(registry, "atrium_test_total", "test", ["reason"])
    assert second is first
    second.labels("A").inc()
    assert registry.get_sample_value("atrium_test_total", {"reason": "A"}) == 3.0


def test_gauge_when_registries_differ_then_independent() -> None:
    one, two = CollectorRegistry(), CollectorRegistry()
    gauge(one, "atrium_x", "x").set(1)
    gauge(two, "atrium_x", "x").set(2)
    assert one.get_sample_value("atrium_x") == 1.0
    assert two.get_sample_value("atrium_x") == 2.0


def test_get_when_name_registered_as_other_kind_then_error() -> None:
    registry = CollectorRegistry()
    counter(registry, "atrium_y", "y")
    with pytest.raises(
        ValueError, match=r"^metric 'atrium_y' is already registered as a Counter, not a Gauge$"
    ):
        gauge(registry, "atrium_y", "y")
