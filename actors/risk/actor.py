"""The risk actor: the last gate before a venue. Wiring only.

Every ``SizedOrder`` becomes either an ``Order`` (approved) or an ``OrderDenied``
(``source="risk"``) that returns to the portfolio, which releases its reservation, and
to the strategy. The checks (and their reason codes) live in :mod:`atrium.actors.risk.checks`,
the trading state and loss limits in :mod:`atrium.actors.risk.state`.

Check order, first refusal wins: trading state, the ``[instruments]`` tick size, the
venue's instrument rules (once
execution published ``InstrumentRules`` for the symbol, see :mod:`~.instruments`), price
band, order notional (skipped for orders that reduce a position), order rate (last, so
refused orders use no budget).

Metrics, on the registry handed in:

* ``atrium_risk_orders_approved_total``
* ``atrium_risk_denials_total{reason}`` (every reason code pre-created at 0)
* ``atrium_trading_state{state}``: 1 for the current state, 0 for the other two
* ``atrium_risk_drawdown_ratio``, ``atrium_risk_daily_loss_ratio``: the losses the limits
  are measured on (they drop to 0 when ``resume`` re-bases a tripped limit)
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any, Final

from prometheus_client import CollectorRegistry

from atrium.actors.risk.checks import (
    REASON_CODES,
    check_order_notional,
    check_order_rate,
    check_price_band,
    check_trading_state,
)
from atrium.actors.risk.instruments import (
    INSTRUMENT_REASON_CODES,
    check_instrument_rules,
    check_price_tick,
)
from atrium.actors.risk.state import LossLimit, StateChange, TradingStateMachine
from atrium.config.risk import LimitAction, RiskConfig
from atrium.runtime.actor import Actor, ActorContext, receives
from atrium.runtime.capabilities import TRADING_STATUS
from atrium.runtime.messages import (
    Bar,
    Control,
    InstrumentRules,
    Order,
    OrderDenied,
    PortfolioSnapshot,
    SizedOrder,
    Tick,
    TradingState,
    TradingStateChanged,
)
from atrium.runtime.metrics import counter, gauge
from atrium.runtime.valuation import MarkedAccount

__all__ = ("RiskActor",)

_STATES: Final[tuple[TradingState, ...]] = ("ACTIVE", "REDUCING", "HALTED")
_NS_PER_SECOND: Final = Decimal(1_000_000_000)


def _fraction(value: float | None) -> Decimal | None:
    """Config floats become exact Decimals of what was written (``repr``, never ``float``)."""
    return None if value is None else Decimal(repr(value))


class RiskActor(Actor):
    """Pre-trade checks, the trading state and the loss limits. Config: ``[risk]``."""

    snapshot_attributes = ("_account", "_approved_ns", "_instruments", "_last_trade", "_machine")

    def __init__(self, context: ActorContext) -> None:
        super().__init__(context)
        config = context.config
        if not isinstance(config, RiskConfig):
            raise TypeError(
                f"RiskActor needs the [risk] section as a RiskConfig, got {type(config).__name__}"
            )
        self._config = config
        self._band = _fraction(config.price_band_pct)
        self._default_cap = config.max_order_notional
        self._symbol_caps = {
            symbol: override.max_order_notional for symbol, override in config.symbols.items()
        }
        # [instruments]: notional is quantity * price * multiplier; prices on the tick grid.
        self._multipliers = {
            symbol: spec.multiplier
            for symbol, spec in config.instruments.items()
            if spec.multiplier != 1
        }
        self._ticks = {
            symbol: spec.tick_size
            for symbol, spec in config.instruments.items()
            if spec.tick_size is not None
        }
        self._rate_window_ns = int(Decimal(repr(config.order_rate_window_seconds)) * _NS_PER_SECOND)
        rate = config.max_order_rate
        self._approved_ns: deque[int] | None = None if rate is None else deque(maxlen=rate)
        self._last_trade: dict[str, Decimal] = {}
        # The venue's rules per symbol, as execution published them on connect.
        self._instruments: dict[str, InstrumentRules] = {}
        # The account as the portfolio's last snapshot left it, revalued at later prices.
        self._account: MarkedAccount | None = None
        self._machine = TradingStateMachine(
            initial_state=config.initial_state,
            drawdown=_limit(config.max_drawdown_pct, config.drawdown_action),
            daily_loss=_limit(config.max_daily_loss_pct, config.daily_loss_action),
            daily_loss_resets_next_day=config.daily_loss_resets_next_day,
        )
        self._add_order_counters(context.registry)
        self._add_state_gauges(context.registry)
        self._add_limit_gauges(context.registry)
        self._show_state()
        context.provide(TRADING_STATUS, self)

    def _add_order_counters(self, registry: CollectorRegistry) -> None:
        """Orders approved, and orders denied by reason (every reason code at 0 from start)."""
        self._approved = counter(
            registry,
            "atrium_risk_orders_approved_total",
            "Orders approved by risk and sent to execution.",
        )
        denials = counter(
            registry,
            "atrium_risk_denials_total",
            "Orders denied by risk, by reason code.",
            ["reason"],
        )
        self._denials = {
            reason: denials.labels(reason=reason)
            for reason in REASON_CODES + INSTRUMENT_REASON_CODES
        }

    def _add_state_gauges(self, registry: CollectorRegistry) -> None:
        """The trading state, and the losses the loss limits are measured on."""
        state_gauge = gauge(
            registry,
            "atrium_trading_state",
            "Trading state: 1 for the current state (ACTIVE, REDUCING, HALTED), else 0.",
            ["state"],
        )
        self._state_gauges = {state: state_gauge.labels(state=state) for state in _STATES}
        # Read at scrape time, so the per-snapshot path sets no gauge (the machine is
        # looked up then too: a restored state replaces it).
        gauge(
            registry,
            "atrium_risk_drawdown_ratio",
            "Drawdown from peak equity that the drawdown limit is measured on.",
        ).set_function(lambda: float(self._machine.drawdown))
        gauge(
            registry,
            "atrium_risk_daily_loss_ratio",
            "Loss since the UTC day's start equity that the daily-loss limit is measured on.",
        ).set_function(lambda: float(self._machine.daily_loss))

    def _add_limit_gauges(self, registry: CollectorRegistry) -> None:
        """The configured loss limits as series, so alerts compare against what risk enforces.

        A limit that is off exports no series rather than a made-up number.
        """
        config = self._config
        if config.max_drawdown_pct is not None:
            gauge(
                registry,
                "atrium_risk_max_drawdown_ratio",
                "Configured [risk].max_drawdown_pct.",
            ).set(float(config.max_drawdown_pct))
        if config.max_daily_loss_pct is not None:
            gauge(
                registry,
                "atrium_risk_max_daily_loss_ratio",
                "Configured [risk].max_daily_loss_pct.",
            ).set(float(config.max_daily_loss_pct))

    @property
    def state(self) -> TradingState:
        """The current trading state."""
        return self._machine.state

    def status(self) -> dict[str, Any]:
        """``GET /api/risk``: the trading state, the limits and the losses they measure.

        JSON-ready: Decimals (money and fractions, config fractions included) as strings in
        plain notation, counts as integers, off limits as ``None``. ``limit_status`` has
        one entry per configured loss limit (``ARMED``, ``TRIPPED`` or ``ACKNOWLEDGED``)
        and ``tripped`` lists the ones forcing their state right now, by config key.
        """
        config, machine = self._config, self._machine
        loss_limits = {
            "max_drawdown_pct": machine.drawdown_limit,
            "max_daily_loss_pct": machine.daily_loss_limit,
        }
        limit_status = {
            key: limit.status for key, limit in loss_limits.items() if limit is not None
        }
        return {
            "trading_state": machine.state,
            "limits": {
                "max_order_notional": _text(config.max_order_notional),
                "symbols": {
                    symbol: {"max_order_notional": _text(cap)}
                    for symbol, cap in self._symbol_caps.items()
                },
                "max_order_rate": config.max_order_rate,
                "order_rate_window_seconds": _text(_fraction(config.order_rate_window_seconds)),
                "price_band_pct": _text(self._band),
                "max_drawdown_pct": _text(_fraction(config.max_drawdown_pct)),
                "drawdown_action": config.drawdown_action,
                "max_daily_loss_pct": _text(_fraction(config.max_daily_loss_pct)),
                "daily_loss_action": config.daily_loss_action,
                "daily_loss_resets_next_day": config.daily_loss_resets_next_day,
            },
            "limit_status": limit_status,
            "tripped": [key for key, status in limit_status.items() if status == "TRIPPED"],
            "equity": _text(machine.equity),
            "peak_equity": _text(machine.peak_equity),
            "day_start_equity": _text(machine.day_start_equity),
            "drawdown_ratio": _text(machine.drawdown),
            "daily_loss_ratio": _text(machine.daily_loss),
        }

    async def on_start(self) -> None:
        change = self._machine.initial_change()
        if change is not None:
            self._publish_changes((change,))

    # -- market data: the last trade price per symbol ------------------------------------

    @receives(Bar)
    def _handle_bar(self, bar: Bar) -> None:
        self._mark(bar.symbol, bar.close)

    @receives(Tick)
    def _handle_tick(self, tick: Tick) -> None:
        self._mark(tick.symbol, tick.price)

    def _mark(self, symbol: str, price: Decimal) -> None:
        """The last trade price, and the account's equity at it (drawdown between fills)."""
        self._last_trade[symbol] = price
        account = self._account
        if account is not None and account.mark(symbol, price):
            self._follow_equity(account.equity, account.equity)

    # -- orders --------------------------------------------------------------------------

    @receives(InstrumentRules)
    def _handle_instrument_rules(self, rules: InstrumentRules) -> None:
        self._instruments[rules.symbol] = rules

    @receives(SizedOrder)
    def _handle_sized_order(self, order: SizedOrder) -> None:
        now = self.clock.now_ns()
        changes = self._machine.on_clock(now)
        if changes:
            self._publish_changes(changes)
        refusal = check_trading_state(self._machine.state, order.reduces_position)
        tick = self._ticks.get(order.symbol)
        if refusal is None and tick is not None:
            refusal = check_price_tick(order, tick, "tick_size")
        rules = self._instruments.get(order.symbol)
        if refusal is None and rules is not None:
            refusal = check_instrument_rules(order, rules)
        if refusal is None and self._band is not None:
            refusal = check_price_band(order, self._last_trade.get(order.symbol), self._band)
        if refusal is None and not order.reduces_position:
            cap = self._symbol_caps.get(order.symbol)
            multiplier = self._multipliers.get(order.symbol)
            if cap is not None:
                refusal = check_order_notional(order, cap, "symbol", multiplier)
            elif self._default_cap is not None:
                refusal = check_order_notional(order, self._default_cap, "global", multiplier)
        approved_ns = self._approved_ns
        if refusal is None and approved_ns is not None:
            refusal = check_order_rate(approved_ns, now, self._rate_window_ns)
        if refusal is not None:
            self._deny(order, now, *refusal)
            return
        if approved_ns is not None:
            approved_ns.append(now)
        self._approved.inc()
        self.publish(
            Order(
                ts=now,
                order_id=order.order_id,
                intent_id=order.intent_id,
                strategy=order.strategy,
                symbol=order.symbol,
                side=order.side,
                quantity=order.quantity,
                reference_price=order.reference_price,
                reduces_position=order.reduces_position,
                order_type=order.order_type,
                limit_price=order.limit_price,
                trigger_price=order.trigger_price,
                time_in_force=order.time_in_force,
                tag=order.tag,
            )
        )

    def _deny(self, order: SizedOrder, now: int, reason: str, detail: str) -> None:
        self._denials[reason].inc()
        self.log.debug("denied %s: %s %s", order.order_id, reason, detail)
        self.publish(
            OrderDenied(
                ts=now,
                intent_id=order.intent_id,
                strategy=order.strategy,
                symbol=order.symbol,
                side=order.side,
                reason=reason,
                source="risk",
                order_id=order.order_id,
                detail=detail,
            )
        )

    # -- account and control -------------------------------------------------------------

    @receives(PortfolioSnapshot)
    def _handle_portfolio_snapshot(self, snapshot: PortfolioSnapshot) -> None:
        account = self._account
        if account is None:
            account = self._account = MarkedAccount(snapshot.cash)
        account.apply(snapshot)
        self._follow_equity(snapshot.equity, snapshot.peak_equity, snapshot.transfers)

    def _follow_equity(
        self, equity: Decimal, peak_equity: Decimal, transfers: Decimal | None = None
    ) -> None:
        changes = self._machine.on_equity(equity, peak_equity, self.clock.now_ns(), transfers)
        if changes:
            self._publish_changes(changes)

    @receives(Control)
    def _handle_control(self, control: Control) -> None:
        if control.command == "shutdown":
            self.log.info(
                "shutdown requested by %s (%s); trading state stays %s",
                control.source,
                control.reason or "no reason given",
                self._machine.state,
            )
            return
        changes = self._machine.on_command(control.command, control.source)
        if changes:
            self._publish_changes(changes)
        else:
            self.log.info(
                "control %s from %s: trading state stays %s",
                control.command,
                control.source,
                self._machine.state,
            )

    # -- helpers -------------------------------------------------------------------------

    def _publish_changes(self, changes: tuple[StateChange, ...]) -> None:
        now = self.clock.now_ns()
        for change in changes:
            self.log.warning(
                "trading state %s -> %s: %s", change.previous, change.state, change.reason
            )
            self.publish(
                TradingStateChanged(
                    ts=now, state=change.state, previous=change.previous, reason=change.reason
                )
            )
        self._show_state()

    def restore_state(self, state: dict[str, Any]) -> None:
        super().restore_state(state)
        self._show_state()

    def _show_state(self) -> None:
        current = self._machine.state
        for state, child in self._state_gauges.items():
            child.set(1 if state == current else 0)


def _text(value: Decimal | None) -> str | None:
    """Plain notation without trailing zeros (``160000``, not ``1.6E+5``); None stays None."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text


def _limit(fraction: float | None, action: LimitAction) -> LossLimit | None:
    limit = _fraction(fraction)
    return None if limit is None else LossLimit(limit=limit, action=action)
