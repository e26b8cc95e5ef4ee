"""The strategy actor: hosts every configured strategy and keeps one bad one from the rest.

Routing: a ``Bar``/``Tick`` goes to the strategies subscribed to its symbol, in config
order (a precomputed symbol -> callbacks table, rebuilt only when a strategy is restarted
or disabled); ``Fill``, ``OrderUpdate``, ``OrderDenied`` and ``PositionUpdate`` go to the
strategy they name (others' are ignored). A ``PositionUpdate`` is stored in the strategy's
:class:`~actors.strategy.api.StrategyContext` before its ``on_position`` runs, so
``position()`` is the portfolio's number, and it survives a restart.

Isolation: a callback that raises is counted (``atrium_strategy_errors_total``), logged
with its traceback, and the strategy is replaced by a fresh instance whose ``on_start``
runs again; the message that raised is not retried. Past ``max_restarts`` within
``restart_window_messages`` the strategy is disabled (ERROR log listing its open
positions, ``atrium_strategy_enabled`` = 0). The actor itself never raises for a
strategy's fault, and the other strategies keep running.

Metrics (labelled ``strategy``): ``atrium_strategy_errors_total`` (callbacks that
raised), ``atrium_strategy_restarts_total``, ``atrium_strategy_intents_total`` (intents
published), ``atrium_strategy_enabled`` (1 running, 0 disabled).

This actor publishes only ``OrderIntent``s and refuses nothing itself, so it has no
denial reason codes.
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge

from atrium.actors.strategy.api import CONTEXT_ATTRIBUTES, Strategy, StrategyContext
from atrium.actors.strategy.loader import LoadedStrategy, load_strategies
from atrium.config.strategy import StrategyConfig
from atrium.runtime.actor import Actor, ActorContext, receives
from atrium.runtime.capabilities import INTENT_NUMBERING
from atrium.runtime.messages import (
    Bar,
    Fill,
    OrderDenied,
    OrderIntent,
    OrderUpdate,
    PositionUpdate,
    Tick,
)

__all__ = ("StrategyActor",)

_ZERO: Final = Decimal(0)


@dataclass(frozen=True, slots=True)
class _Metrics:
    errors: Counter
    restarts: Counter
    intents: Counter
    enabled: Gauge


# One metric family per registry: if the supervisor ever restarts this actor, the new
# instance reuses the families instead of failing to register the same names again.
_METRICS: weakref.WeakKeyDictionary[CollectorRegistry, _Metrics] = weakref.WeakKeyDictionary()


def _metrics(registry: CollectorRegistry) -> _Metrics:
    metrics = _METRICS.get(registry)
    if metrics is None:
        labels = ("strategy",)
        metrics = _Metrics(
            errors=Counter(
                "atrium_strategy_errors_total",
                "Strategy callbacks that raised.",
                labels,
                registry=registry,
            ),
            restarts=Counter(
                "atrium_strategy_restarts_total",
                "Strategies replaced by a fresh instance after a failure.",
                labels,
                registry=registry,
            ),
            intents=Counter(
                "atrium_strategy_intents_total",
                "Order intents published by a strategy.",
                labels,
                registry=registry,
            ),
            enabled=Gauge(
                "atrium_strategy_enabled",
                "1 while a strategy runs, 0 once disabled past its restart limit.",
                labels,
                registry=registry,
            ),
        )
        _METRICS[registry] = metrics
    return metrics


class _Slot:
    """One hosted strategy: its class and context outlive its instances."""

    __slots__ = (
        "cls",
        "config",
        "context",
        "enabled",
        "errors",
        "failures",
        "name",
        "restarts",
        "strategy",
        "up",
    )

    def __init__(self, spec: LoadedStrategy, context: StrategyContext, metrics: _Metrics) -> None:
        self.name = spec.name
        self.cls = spec.cls
        self.config: StrategyConfig = spec.config
        self.context = context
        self.strategy: Strategy[Any] | None = None
        self.enabled = True
        # Message numbers (the actor's count) of the restarts inside the window.
        self.failures: deque[int] = deque()
        self.errors = metrics.errors.labels(spec.name)
        self.restarts = metrics.restarts.labels(spec.name)
        self.up = metrics.enabled.labels(spec.name)


class StrategyActor(Actor):
    """Hosts the strategies of ``[strategies]`` (its config section: name -> config).

    Construction loads and validates every entry (raising
    :class:`~config.loader.ConfigError` on the first bad one); strategies start in
    :meth:`on_start`.
    """

    def __init__(self, context: ActorContext) -> None:
        super().__init__(context)
        configs: dict[str, StrategyConfig] = context.config or {}
        metrics = _metrics(context.registry)
        self._slots: dict[str, _Slot] = {}
        for spec in load_strategies(configs):
            if not spec.config.enabled:
                self.log.info("strategy %r is disabled in config; not started", spec.name)
                continue
            slot = _Slot(spec, self._new_context(spec, metrics), metrics)
            slot.up.set(0)
            self._slots[spec.name] = slot
        self._seen = 0
        self._bar_routes: dict[str, tuple[tuple[_Slot, Callable[[Bar], None]], ...]] = {}
        self._tick_routes: dict[str, tuple[tuple[_Slot, Callable[[Tick], None]], ...]] = {}
        context.provide(INTENT_NUMBERING, self)

    # -- intent numbering (a cluster role restarted without its market data) --------------

    def intents_sent(self) -> dict[str, int]:
        """How many intents each hosted strategy built, by name."""
        return {name: slot.context.intents_sent for name, slot in self._slots.items()}

    def skip_intents_to(self, strategy: str, sent: int) -> None:
        """Number ``strategy``'s next intent after ``sent`` (never back)."""
        context = self._slots[strategy].context
        context.intents_sent = max(context.intents_sent, sent)

    # -- snapshots -------------------------------------------------------------------------

    def snapshot_state(self) -> dict[str, Any]:
        """Per strategy: its own attributes, the positions it was told, its intent count."""
        return {
            "seen": self._seen,
            "strategies": {
                name: {
                    "enabled": slot.enabled,
                    "failures": slot.failures,
                    "positions": slot.context.positions,
                    "intents_sent": slot.context.intents_sent,
                    "attributes": _own_attributes(slot.strategy),
                }
                for name, slot in self._slots.items()
            },
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        self._seen = state["seen"]
        for name, saved in state["strategies"].items():
            slot = self._slots[name]
            slot.enabled = saved["enabled"]
            slot.failures = saved["failures"]
            slot.context.positions = saved["positions"]
            slot.context.intents_sent = saved["intents_sent"]
            attributes = saved["attributes"]
            if attributes is None:
                slot.strategy = None
                continue
            strategy = slot.cls(slot.context)  # not on_start: the state comes from the snapshot
            vars(strategy).update(attributes)
            slot.strategy = strategy
            slot.up.set(1 if slot.enabled else 0)
        self._rebuild_routes()

    def _new_context(self, spec: LoadedStrategy, metrics: _Metrics) -> StrategyContext:
        intents = metrics.intents.labels(spec.name)
        publish = self.publish

        def emit(intent: OrderIntent) -> None:
            intents.inc()
            publish(intent)

        return StrategyContext(
            name=spec.name,
            params=spec.params,
            symbols=tuple(spec.config.symbols),
            clock=self.clock,
            emit=emit,
        )

    async def on_start(self) -> None:
        """Instantiate every strategy and run its ``on_start`` (failures are isolated)."""
        for slot in self._slots.values():
            try:
                slot.strategy = slot.cls(slot.context)
                slot.strategy.on_start()
            except Exception as exc:
                self._failed(slot, exc, "on_start")
            else:
                slot.up.set(1)
        self._rebuild_routes()

    @property
    def strategies(self) -> dict[str, Strategy[Any]]:
        """The running strategy instances by name, in config order (for inspection)."""
        return {
            name: slot.strategy
            for name, slot in self._slots.items()
            if slot.enabled and slot.strategy is not None
        }

    # -- market data ---------------------------------------------------------------------

    @receives(Bar)
    def _handle_bar(self, bar: Bar) -> None:
        self._seen += 1
        route = self._bar_routes.get(bar.symbol)
        if route is None:
            return
        for slot, on_bar in route:
            try:
                on_bar(bar)
            except Exception as exc:
                self._failed(slot, exc, "on_bar")

    @receives(Tick)
    def _handle_tick(self, tick: Tick) -> None:
        self._seen += 1
        route = self._tick_routes.get(tick.symbol)
        if route is None:
            return
        for slot, on_tick in route:
            try:
                on_tick(tick)
            except Exception as exc:
                self._failed(slot, exc, "on_tick")

    # -- order flow of one strategy --------------------------------------------------------

    @receives(Fill)
    def _handle_fill(self, fill: Fill) -> None:
        self._seen += 1
        slot = self._slots.get(fill.strategy)
        if slot is not None and slot.enabled and slot.strategy is not None:
            try:
                slot.strategy.on_fill(fill)
            except Exception as exc:
                self._failed(slot, exc, "on_fill")

    @receives(PositionUpdate)
    def _handle_position_update(self, update: PositionUpdate) -> None:
        self._seen += 1
        slot = self._slots.get(update.strategy)
        if slot is None:
            return
        # Kept even for a disabled strategy: its open positions are reported by name.
        slot.context.positions[update.symbol] = update
        if slot.enabled and slot.strategy is not None:
            try:
                slot.strategy.on_position(update)
            except Exception as exc:
                self._failed(slot, exc, "on_position")

    @receives(OrderDenied)
    def _handle_order_denied(self, denied: OrderDenied) -> None:
        self._seen += 1
        slot = self._slots.get(denied.strategy)
        if slot is not None and slot.enabled and slot.strategy is not None:
            try:
                slot.strategy.on_denied(denied)
            except Exception as exc:
                self._failed(slot, exc, "on_denied")

    @receives(OrderUpdate)
    def _handle_order_update(self, update: OrderUpdate) -> None:
        self._seen += 1
        slot = self._slots.get(update.strategy)
        if slot is not None and slot.enabled and slot.strategy is not None:
            try:
                slot.strategy.on_order_update(update)
            except Exception as exc:
                self._failed(slot, exc, "on_order_update")

    # -- failures ----------------------------------------------------------------------------

    def _failed(self, slot: _Slot, exc: Exception, where: str) -> None:
        """Count, log, then restart ``slot`` or disable it past its limit.

        A restart whose ``on_start`` raises is one more failure in the same window, so
        a strategy that cannot start is disabled after ``max_restarts`` tries.
        """
        window = slot.config.restart_window_messages
        failures = slot.failures
        now = self._seen
        while True:
            slot.errors.inc()
            slot.strategy = None
            while failures and now - failures[0] >= window:
                failures.popleft()
            if len(failures) >= slot.config.max_restarts:
                self._disable(slot, exc, where)
                return
            failures.append(now)
            self.log.error(
                "strategy %r raised in %s; restarting it (%d of %d within %d messages)",
                slot.name,
                where,
                len(failures),
                slot.config.max_restarts,
                window,
                exc_info=exc,
            )
            slot.restarts.inc()
            try:
                slot.strategy = slot.cls(slot.context)
                slot.strategy.on_start()
            except Exception as start_exc:
                exc, where = start_exc, "on_start"
                continue
            break
        slot.up.set(1)
        self._rebuild_routes()

    def _disable(self, slot: _Slot, exc: Exception, where: str) -> None:
        slot.enabled = False
        slot.up.set(0)
        open_positions = {
            symbol: update.quantity
            for symbol, update in slot.context.positions.items()
            if update.quantity != _ZERO
        }
        shown = ", ".join(f"{s}={q}" for s, q in open_positions.items()) or "none"
        self.log.error(
            "strategy %r disabled: it raised in %s after %d restarts within %d messages "
            "(max_restarts=%d); open positions: %s%s",
            slot.name,
            where,
            len(slot.failures),
            slot.config.restart_window_messages,
            slot.config.max_restarts,
            shown,
            "; closing them (close_on_disable)"
            if slot.config.close_on_disable and open_positions
            else "",
            exc_info=exc,
        )
        self._rebuild_routes()
        if slot.config.close_on_disable:
            context = slot.context
            for symbol, quantity in open_positions.items():
                context.emit(
                    OrderIntent(
                        ts=self.clock.now_ns(),
                        intent_id=context.next_intent_id(),
                        strategy=slot.name,
                        symbol=symbol,
                        side="SELL" if quantity > _ZERO else "BUY",
                        close=True,
                        tag="disabled",
                    )
                )

    def _rebuild_routes(self) -> None:
        """Symbol -> (slot, bound callback) in config order, for running strategies only.

        Strategies that do not override ``on_bar``/``on_tick`` are left out, so a
        tick-only strategy costs nothing per bar.
        """
        bars: dict[str, list[tuple[_Slot, Callable[[Bar], None]]]] = {}
        ticks: dict[str, list[tuple[_Slot, Callable[[Tick], None]]]] = {}
        for slot in self._slots.values():
            strategy = slot.strategy
            if not slot.enabled or strategy is None:
                continue
            wants_bars = slot.cls.on_bar is not Strategy.on_bar
            wants_ticks = slot.cls.on_tick is not Strategy.on_tick
            for symbol in slot.context.symbols:
                if wants_bars:
                    bars.setdefault(symbol, []).append((slot, strategy.on_bar))
                if wants_ticks:
                    ticks.setdefault(symbol, []).append((slot, strategy.on_tick))
        self._bar_routes = {symbol: tuple(route) for symbol, route in bars.items()}
        self._tick_routes = {symbol: tuple(route) for symbol, route in ticks.items()}


def _own_attributes(strategy: Strategy[Any] | None) -> dict[str, Any] | None:
    """What a strategy built itself (in ``on_start`` and callbacks), without what the
    base class set from its context (the context stays with the slot)."""
    if strategy is None:
        return None
    return {key: value for key, value in vars(strategy).items() if key not in CONTEXT_ATTRIBUTES}
