"""The counters and gauges of a role's NATS bridge; they go on counting while it rebuilds."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter

from atrium.runtime.actor import ActorContext
from atrium.runtime.metrics import counter, gauge

__all__ = ("BridgeMetrics",)


class BridgeMetrics:
    """The ``atrium_cluster_*`` series of one role (label ``role``)."""

    def __init__(
        self,
        context: ActorContext,
        role: str,
        connected: Callable[[], bool],
        outbound: Callable[[], int],
    ) -> None:
        registry = context.registry
        labels = ("role",)

        def count(name: str, what: str) -> Counter:
            # The cluster's counters go on counting while a role rebuilds.
            return counter(registry, name, what, labels, while_rebuilding=True).labels(role)

        self.duplicates = count(
            "atrium_cluster_duplicate_acks",
            "New messages JetStream dropped as duplicates of earlier ones (content lost)",
        )
        self.sent = count(
            "atrium_cluster_sent_messages",
            "Messages stored in JetStream or published on a plain subject",
        )
        self.received = count(
            "atrium_cluster_received_messages",
            "Messages taken from this role's consumer and published locally",
        )
        self.rebuilt = count(
            "atrium_cluster_rebuilt_messages",
            "Messages handled again on start, output held back, to rebuild state",
        )
        self.bad = count(
            "atrium_cluster_bad_messages",
            "Messages from NATS that did not decode (logged and skipped)",
        )
        self.gaps = count(
            "atrium_cluster_market_data_gaps",
            "Market data a plain subject skipped, by its sequence (lost on the way)",
        )
        self.skipped = count(
            "atrium_cluster_market_data_skipped",
            "Market data received but not handled: a newer one of its symbol came first, "
            "or the role was rebuilding",
        )
        self.disconnects = count("atrium_cluster_disconnects", "Times the NATS connection was lost")
        gauge(registry, "atrium_cluster_connected", "1 while connected to NATS", labels).labels(
            role
        ).set_function(lambda: 1.0 if connected() else 0.0)
        gauge(
            registry,
            "atrium_cluster_outbound_messages",
            "Messages waiting to be stored in JetStream",
            labels,
        ).labels(role).set_function(lambda: float(outbound()))
