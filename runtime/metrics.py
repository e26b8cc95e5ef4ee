"""Get-or-create Prometheus collectors on a handed registry.

An actor restarted by the supervisor is a new instance on the same registry; registering
its counters again would raise "Duplicated timeseries". Actors therefore create their
collectors through these functions, which return the existing collector of that name
(so counts also survive the restart).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ("counter", "counting", "gauge", "histogram")

_C = TypeVar("_C", Counter, Gauge, Histogram)
_created: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, object]] = (
    weakref.WeakKeyDictionary()
)


class _Switch:
    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = True


class _HeldCounter(Counter):
    """A counter that holds still while its registry does not count: a cluster role that
    handles the stream again to rebuild its state must not count those orders twice."""

    _switch: ClassVar[_Switch]

    def inc(self, amount: float = 1, exemplar: Any = None) -> None:
        if self._switch.on:
            super().inc(amount, exemplar)


_held: weakref.WeakKeyDictionary[CollectorRegistry, type[_HeldCounter]] = (
    weakref.WeakKeyDictionary()
)


def _held_kind(registry: CollectorRegistry) -> type[_HeldCounter]:
    kind = _held.get(registry)
    if kind is None:
        kind = type("Counter", (_HeldCounter,), {"_switch": _Switch()})
        _held[registry] = kind
    return kind


def counting(registry: CollectorRegistry, on: bool) -> None:
    """Let the counters of ``registry`` count (``on``) or hold still, except those made
    with ``while_rebuilding=True``."""
    _held_kind(registry)._switch.on = on


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
    registry: CollectorRegistry,
    name: str,
    documentation: str,
    labelnames: Sequence[str] = (),
    *,
    while_rebuilding: bool = False,
) -> Counter:
    """The counter ``name`` on ``registry``, created on first use.

    It holds still while :func:`counting` is off, unless ``while_rebuilding``.
    """
    kind: type[Counter] = Counter if while_rebuilding else _held_kind(registry)
    return _get_or_create(
        kind, registry, name, {"documentation": documentation, "labelnames": labelnames}
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
