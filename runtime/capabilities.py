"""What actors offer the runtime, under typed keys, and where the runtime finds it.

The runtime (the HTTP API, readiness, recovery, the replay's summary) needs a few things
from actors: the portfolio's limits, execution's open orders, a reconciliation. An actor
offers each one explicitly as it is made, ``context.provide(PORTFOLIO_VIEW, self)``, and
the runtime asks the pipeline's :class:`Capabilities` for the key, never for an actor's
name or an attribute named in a string. A key's type parameter is the protocol its
provider implements, so mypy checks both sides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar, cast, final

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from atrium.runtime.actor import Actor
    from atrium.runtime.messages import Control, VenueReport

__all__ = (
    "CONTROL_INPUT",
    "FEED_HEALTH",
    "FEED_REPORT",
    "INTENT_NUMBERING",
    "LINK_HEALTH",
    "OPEN_ORDERS",
    "ORDERS_IN_FLIGHT",
    "PORTFOLIO_VIEW",
    "RECONCILER",
    "ROLE_RESUME",
    "SCRAPE_REFRESH",
    "TRADING_STATUS",
    "VENUE_INPUT",
    "VENUE_SESSION",
    "Capabilities",
    "Capability",
    "ControlInput",
    "FeedHealth",
    "FeedReport",
    "IntentNumbering",
    "LinkHealth",
    "OpenOrders",
    "OrdersInFlight",
    "PortfolioView",
    "Reconciler",
    "RoleResume",
    "ScrapeRefresh",
    "TradingStatus",
    "VenueInput",
    "VenueSession",
)

_T = TypeVar("_T")


@final
class Capability(Generic[_T]):
    """A key naming one thing an actor offers: ``Capability[PortfolioView]("portfolio view")``.

    Keys compare by identity; ``name`` is for messages.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Capability({self.name!r})"


@final
class Capabilities:
    """One pipeline's providers, per key and per actor name.

    A restarted actor is a fresh instance that provides again under the same name, so it
    replaces the instance that failed.
    """

    def __init__(self) -> None:
        self._providers: dict[Capability[Any], dict[str, Any]] = {}

    def provide(self, capability: Capability[_T], actor: str, provider: _T) -> None:
        """Offer ``provider`` as actor ``actor``'s ``capability``."""
        self._providers.setdefault(capability, {})[actor] = provider

    def get(self, capability: Capability[_T]) -> _T | None:
        """The provider of ``capability``; None while no actor offers it.

        Raises
        ------
        LookupError
            When several actors offer it: which one answers would be a guess.
        """
        providers = self._providers.get(capability, {})
        if len(providers) > 1:
            raise LookupError(
                f"{capability.name} is offered by several actors ({', '.join(providers)}); "
                "the topology may have only one"
            )
        return cast("_T | None", next(iter(providers.values()), None))

    def every(self, capability: Capability[_T]) -> list[_T]:
        """Every provider of ``capability``, in the order the actors first offered it."""
        return list(self._providers.get(capability, {}).values())


# -- what the runtime asks actors for ---------------------------------------------------


class PortfolioView(Protocol):
    """``GET /api/portfolio/limits`` and ``/positions``, JSON-ready."""

    def limits(self) -> dict[str, Any]: ...

    def positions(self) -> list[dict[str, str]]: ...


class ScrapeRefresh(Protocol):
    """Gauges computed when read: the HTTP service refreshes them before a scrape."""

    def refresh_metrics(self) -> None: ...


class OpenOrders(Protocol):
    """``GET /api/orders``: the open orders in submission order, JSON-ready."""

    def open_orders(self) -> list[dict[str, Any]]: ...

    def reconciliation_adjustments(self) -> list[dict[str, Any]]:
        """``?status=reconciled``: the changes reconciling with a live venue made."""
        ...


class OrdersInFlight(Protocol):
    """The strategies with an order the portfolio has sent and not yet seen end (a
    cluster replay keeps their processes in step with the core while there is one)."""

    def strategies_in_flight(self) -> frozenset[str]: ...


class TradingStatus(Protocol):
    """``GET /api/risk`` and the answer to a control: the trading state and its limits."""

    def status(self) -> dict[str, Any]: ...


class Reconciler(Protocol):
    """After recovery: one line per disagreement with the outside world (none: agreed)."""

    def reconcile(self) -> list[str]: ...


class VenueSession(Protocol):
    """After recovery, before any source: reconcile with a live venue, then trade."""

    async def go_live(self) -> None: ...


class FeedHealth(Protocol):
    """For ``/readyz``: each live feed's health by name, each with a boolean ``ready``."""

    def feed_status(self) -> dict[str, dict[str, Any]]: ...


class LinkHealth(Protocol):
    """For ``/readyz``: the cluster link's health, with a boolean ``ready``."""

    def link_status(self) -> dict[str, Any]: ...


class ControlInput(Protocol):
    """Takes a ``Control`` that changes state kept elsewhere too (a cluster's stream), so
    a restart rebuilds it; applies it here before returning."""

    async def control(self, message: Control) -> None: ...


class VenueInput(Protocol):
    """Takes what a live venue reported, to be applied when it comes back in the order
    of the role's other input (a cluster's stream), so a rebuild applies it there too."""

    def keep(self, report: VenueReport) -> None: ...


class IntentNumbering(Protocol):
    """The strategies' intent counts, for a cluster role whose stream does not hold the
    market data that caused its intents: a restart cannot count them by handling that
    again, so it carries a count on past the last intent the stream holds."""

    def intents_sent(self) -> dict[str, int]: ...

    def skip_intents_to(self, strategy: str, sent: int) -> None: ...


class RoleResume(Protocol):
    """A cluster role's start, before any input: its actors' state from a snapshot, and
    ``go_live`` (reconcile the live venues, then trade) called once its rebuild is done."""

    async def resume(
        self,
        actors: Mapping[str, Actor],
        fingerprint: str,
        portfolio: PortfolioView | None,
        go_live: Callable[[], Awaitable[None]],
    ) -> None: ...


class FeedReport(Protocol):
    """For a replay: records sent of all (``None``: not known yet), and rows rejected."""

    def progress(self) -> tuple[int, int | None]: ...

    def rejected_counts(self) -> dict[str, int]: ...


PORTFOLIO_VIEW: Final = Capability[PortfolioView]("portfolio view")
SCRAPE_REFRESH: Final = Capability[ScrapeRefresh]("refresh before a scrape")
OPEN_ORDERS: Final = Capability[OpenOrders]("open orders")
ORDERS_IN_FLIGHT: Final = Capability[OrdersInFlight]("orders in flight")
TRADING_STATUS: Final = Capability[TradingStatus]("trading status")
RECONCILER: Final = Capability[Reconciler]("reconciliation")
VENUE_SESSION: Final = Capability[VenueSession]("live venue session")
FEED_HEALTH: Final = Capability[FeedHealth]("feed health")
LINK_HEALTH: Final = Capability[LinkHealth]("cluster link health")
FEED_REPORT: Final = Capability[FeedReport]("feed report")
CONTROL_INPUT: Final = Capability[ControlInput]("control input")
ROLE_RESUME: Final = Capability[RoleResume]("cluster role resume")
VENUE_INPUT: Final = Capability[VenueInput]("venue input kept on the stream")
INTENT_NUMBERING: Final = Capability[IntentNumbering]("strategies' intent numbering")
