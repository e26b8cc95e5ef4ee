"""Get-or-create Prometheus collectors on a handed registry.

An actor restarted by the supervisor is a new instance on the same registry; registering
its counters again would raise "Duplicated timeseries". Actors therefore create their
collectors through these functions, which return the existing collector of that name
(so counts also survive the restart).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ("counter", "gauge", "histogram")

_C = TypeVar("_C", Counter, Gauge, Histogram)
_created: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, object]] = (
    weakref.WeakKeyDictionary()
)


def _get_or_create(
    kind: type[_C], registry: CollectorRegistry, name: str, create: dict[str, object]
) -> _C:
    known = _created.setdefault(registry, {})
    existing = known.get(name)
    if existing is None:
        existing = kind(name, registry=registry, **create)  # type: ignore[arg-type]
        known[name] = existing
    if not isinstance(existing, kind):
        raise ValueError(
            f"metric {name!r} is already registered as a {type(existing).__name__}, "
            f"not a {kind.__name__}"
        )
    return existing


def counter(
    registry: CollectorRegistry, name: str, documentation: str, labelnames: Sequence[str] = ()
) -> Counter:
    """The counter ``name`` on ``registry``, created on first use."""
    return _get_or_create(
        Counter, registry, name, {"documentation": documentation, "labelnames": labelnames}
    )


def gauge(
    registry: CollectorRegistry, name: str, documentation: str, labelnames: Sequence[str] = ()
) -> Gauge:
    """The gauge ``name`` on ``registry``, created on first use."""
    return _get_or_create(
        Gauge, registry, name, {"documentation": documentation, "labelnames": labelnames}
    )


def histogram(
    registry: CollectorRegistry,
    name: str,
    documentation: str,
    labelnames: Sequence[str] = (),
    buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS,
) -> Histogram:
    """The histogram ``name`` on ``registry``, created on first use."""
    return _get_or_create(
        Histogram,
        registry,
        name,
        {"documentation": documentation, "labelnames": labelnames, "buckets": buckets},
    )
