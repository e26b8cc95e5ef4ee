"""The portfolio actor: the single owner of exposure state. Wiring only.

It keeps the :class:`~actors.portfolio.ledger.Ledger` (positions, cash, PnL, orders in
flight) and a Wilder ATR per symbol, and answers each message by calling the pure code:

- ``Bar``/``Tick``: mark to market (bars also feed the ATR). No snapshot: who follows
  equity between fills revalues the last snapshot (:mod:`atrium.runtime.valuation`).
- ``OrderIntent``: :func:`~actors.portfolio.sizing.size_intent`; a ``SizedOrder`` (its
  exposure reserved) or an ``OrderDenied`` with ``source="portfolio"``.
- ``OrderDenied`` (from risk or execution) and ``OrderUpdate`` REJECTED / CANCELLED /
  EXPIRED: release what is left of the order's reservation.
- ``Fill``: book it, release the filled quantity, publish a ``PositionUpdate`` for the
  strategy and symbol; once the input settled, one ``PortfolioSnapshot`` for all its
  fills.
- ``AccountBalances`` (a live venue, at each reconciliation): cash from the venue, and
  what it holds beyond the strategies' positions in the unattributed ``venue`` book (see
  :mod:`~actors.portfolio.venue_book`); each change logged and counted in
  ``atrium_venue_balance_adjustments_total{kind}``.
- ``Control`` ``flatten``: a reduce-only ``SizedOrder`` closing every non-zero
  (strategy, symbol) position at market. A position with orders in flight is closed
  once they are resolved (risk denies or execution cancels them on flatten), so a
  late fill can neither leave it open nor flip it. ``resume`` drops closes still
  waiting; the other commands need nothing from the portfolio.

Counters count at once; gauges are recomputed when read (``refresh_metrics``, which the
HTTP service calls before each scrape) and on stop: recomputing ~80 gauges costs more
than sizing an intent, so the per-bar path never does it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from atrium.actors.indicators import WilderATR
from atrium.actors.portfolio.caps import CapInputs
from atrium.actors.portfolio.ledger import InFlight, Ledger, Position
from atrium.actors.portfolio.limits import limits_view, positions_view
from atrium.actors.portfolio.metrics import PortfolioMetrics
from atrium.actors.portfolio.sizing import Denial, Sized, resolve_strategy, size_intent
from atrium.actors.portfolio.venue_book import UNATTRIBUTED, absorb_balances
from atrium.config.portfolio import PortfolioConfig
from atrium.runtime.actor import Actor, ActorContext, receives
from atrium.runtime.capabilities import ORDERS_IN_FLIGHT, PORTFOLIO_VIEW, SCRAPE_REFRESH
from atrium.runtime.messages import (
    AccountBalances,
    Bar,
    Control,
    Fill,
    OrderDenied,
    OrderIntent,
    OrderStatus,
    OrderType,
    OrderUpdate,
    PortfolioSnapshot,
    PositionUpdate,
    SizedOrder,
    SizingExplanation,
    SymbolPosition,
    Tick,
    TimeInForce,
)
from atrium.runtime.metrics import counter

__all__ = ("PortfolioActor",)

ZERO: Final = Decimal(0)
_RELEASING: Final[frozenset[OrderStatus]] = frozenset({"REJECTED", "CANCELLED", "EXPIRED"})
_SOURCE: Final = "portfolio"


class PortfolioActor(Actor):
    """Sizes intents, applies the caps, keeps the ledger and publishes the account.

    ``context.config`` is the ``[portfolio]`` section (:class:`~config.portfolio.
    PortfolioConfig`). :meth:`limits` and :meth:`positions` are read-only views for the
    HTTP service (offered as ``PORTFOLIO_VIEW``), :meth:`refresh_metrics` its scrape hook.
    """

    snapshot_attributes = ("ledger", "_atr", "_order_counter", "_flatten_waiting")

    def __init__(self, context: ActorContext) -> None:
        super().__init__(context)
        config = context.config
        if not isinstance(config, PortfolioConfig):
            raise TypeError(
                f"PortfolioActor needs the [portfolio] section (PortfolioConfig) as its "
                f"config, got {type(config).__name__}; check topology.actors.{context.name}.section"
            )
        self.config = config
        self._short_factor = config.short_margin_pct * config.max_leverage
        self.ledger = Ledger(
            config.initial_capital,
            short_margin_factor=self._short_factor,
            multipliers={symbol: spec.multiplier for symbol, spec in config.instruments.items()},
        )
        self.metrics = PortfolioMetrics(context.registry)
        self._atr: dict[str, WilderATR] = {}
        self._order_counter = 0
        self._exposure_factor = config.max_exposure_pct * config.max_leverage
        # Positions a flatten will close once their orders in flight are resolved.
        self._flatten_waiting: dict[tuple[str, str], None] = {}
        self._snapshot_due = False
        if UNATTRIBUTED in config.strategy_budgets:
            raise ValueError(
                f"portfolio.strategy_budgets.{UNATTRIBUTED}: the name {UNATTRIBUTED!r} is the "
                "book of a live venue's unattributed holdings; rename the strategy"
            )
        self._balance_adjustments = counter(
            context.registry,
            "atrium_venue_balance_adjustments",
            "Changes a live venue's balances made to the ledger, by kind (cash, position).",
            ["kind"],
        )
        self.metrics.refresh(self.ledger, config)
        context.provide(PORTFOLIO_VIEW, self)
        context.provide(SCRAPE_REFRESH, self)
        context.provide(ORDERS_IN_FLIGHT, self)

    # -- views ---------------------------------------------------------------------------

    def limits(self) -> dict[str, Any]:
        """``GET /api/portfolio/limits``: exposure and budgets, JSON-ready."""
        return limits_view(self.ledger, self.config)

    def strategies_in_flight(self) -> frozenset[str]:
        return frozenset(order.strategy for order in self.ledger.in_flight.values())

    def positions(self) -> list[dict[str, str]]:
        """``GET /api/portfolio/positions``: every position, JSON-ready."""
        return positions_view(self.ledger)

    # -- market data ---------------------------------------------------------------------

    @receives(Bar)
    def _handle_bar(self, message: Bar) -> None:
        atr = self._atr.get(message.symbol)
        if atr is None:
            atr = self._atr[message.symbol] = WilderATR(self.config.atr_period)
        atr.update(float(message.high), float(message.low), float(message.close))
        self.ledger.mark(message.symbol, message.close)

    @receives(Tick)
    def _handle_tick(self, message: Tick) -> None:
        self.ledger.mark(message.symbol, message.price)

    # -- order flow ----------------------------------------------------------------------

    @receives(OrderIntent)
    def _handle_order_intent(self, message: OrderIntent) -> None:
        price = self.ledger.mark_of(message.symbol)
        if price is None:
            self._deny(message, Denial("NO_MARKET_PRICE", f"symbol={message.symbol}"))
            return
        settings = resolve_strategy(self.config, message.strategy)
        equity = self.ledger.equity
        atr = self._atr_value(message.symbol)
        result = size_intent(
            message,
            settings,
            self.config,
            equity=equity,
            atr=atr,
            caps=self._cap_inputs(message.strategy, message.symbol, price, settings.capital_pct),
        )
        if isinstance(result, Denial):
            self._deny(message, result)
            return
        explanation = SizingExplanation(
            mode=result.mode,
            equity=equity,
            price=price,
            raw_quantity=result.raw_quantity,
            final_quantity=result.quantity,
            binding_cap=result.binding_cap,
            risk_pct=result.risk_pct,
            atr=atr if result.mode == "fixed_risk_atr" else None,
            stop_distance=result.stop_distance,
            weight=result.weight,
        )
        self._send_order(
            order_id=self._next_order_id(),
            intent_id=message.intent_id,
            strategy=message.strategy,
            symbol=message.symbol,
            sized=result,
            price=price,
            explanation=explanation,
            order_type=message.order_type,
            limit_price=message.limit_price,
            trigger_price=message.trigger_price,
            time_in_force=message.time_in_force,
            tag=message.tag,
        )
        self.metrics.count_sized(message.strategy)

    @receives(OrderDenied)
    def _handle_order_denied(self, message: OrderDenied) -> None:
        if message.source == _SOURCE:
            return  # our own denial of an intent: nothing was reserved
        order = self.ledger.release(message.order_id, message.intent_id)
        if order is not None:
            self._close_if_flatten_waiting(order)

    @receives(OrderUpdate)
    def _handle_order_update(self, message: OrderUpdate) -> None:
        if message.status in _RELEASING:
            order = self.ledger.release(message.order_id)
            if order is not None:
                self._close_if_flatten_waiting(order)

    @receives(Fill)
    def _handle_fill(self, message: Fill) -> None:
        ledger = self.ledger
        order = ledger.fill_in_flight(message.order_id, message.quantity)
        if order is None:
            self.log.warning(
                "fill %s for order %s that is not in flight; booked anyway",
                message.fill_id,
                message.order_id,
            )
        elif (order.strategy, order.symbol, order.side) != (
            message.strategy,
            message.symbol,
            message.side,
        ):
            self.log.error(
                "fill %s disagrees with order %s (%s %s %s); booked as the fill states",
                message.fill_id,
                order.order_id,
                order.strategy,
                order.symbol,
                order.side,
            )
        position = ledger.apply_fill(
            message.strategy,
            message.symbol,
            side=message.side,
            quantity=message.quantity,
            price=message.price,
            commission=message.commission,
        )
        self.publish(
            PositionUpdate(
                ts=self.clock.now_ns(),
                strategy=position.strategy,
                symbol=position.symbol,
                quantity=position.quantity,
                avg_price=position.avg_price,
                realized_pnl=position.realized_pnl,
            )
        )
        if not self._snapshot_due:  # one snapshot for every fill of this input
            self._snapshot_due = True
            self.after_settle(self._publish_snapshot)
        if order is not None and order.remaining == ZERO:
            self._close_if_flatten_waiting(order)

    @receives(AccountBalances)
    def _handle_account_balances(self, message: AccountBalances) -> None:
        """The venue owns the account: take its cash, book what no strategy holds."""
        for change in absorb_balances(self.ledger, message):
            self._balance_adjustments.labels(kind=change.kind).inc()
            where = f"{UNATTRIBUTED} book of {change.symbol}" if change.kind == "position" else ""
            self.log.warning(
                "venue balances: %s %s %s%s",
                change.kind,
                change.symbol,
                f"{change.amount:+}",
                f" (to the {where})" if where else "",
            )
        if not self._snapshot_due:
            self._snapshot_due = True
            self.after_settle(self._publish_snapshot)

    @receives(Control)
    def _handle_control(self, message: Control) -> None:
        if message.command == "flatten":
            self._flatten()
        elif message.command == "resume":
            self._flatten_waiting.clear()

    # -- flatten -------------------------------------------------------------------------

    def _flatten(self) -> None:
        for key, position in self.ledger.positions.items():
            if not position.quantity or position.strategy == UNATTRIBUTED:
                continue  # the venue's unattributed holdings are not Atrium's to close
            if position.has_pending:
                self._flatten_waiting[key] = None
            else:
                self._send_close(position)

    def _close_if_flatten_waiting(self, order: InFlight) -> None:
        """``order`` left flight: close its position if a flatten waited on it."""
        key = (order.strategy, order.symbol)
        if key not in self._flatten_waiting:
            return
        position = self.ledger.positions[key]
        if position.has_pending:
            return
        del self._flatten_waiting[key]
        if position.quantity:
            self._send_close(position)

    def _send_close(self, position: Position) -> None:
        price = self.ledger.mark_of(position.symbol)
        assert price is not None  # a position is only ever opened by a fill, which marks
        quantity = abs(position.quantity)
        order_id = self._next_order_id()
        sized = Sized(
            side="SELL" if position.quantity > ZERO else "BUY",
            quantity=quantity,
            raw_quantity=quantity,
            mode="fixed_qty",
            # Every position is closed, so together the closes take each symbol's net
            # position to zero even where strategies hold opposite sides.
            reduces_position=True,
        )
        explanation = SizingExplanation(
            mode="fixed_qty",
            equity=self.ledger.equity,
            price=price,
            raw_quantity=quantity,
            final_quantity=quantity,
        )
        self._send_order(
            order_id=order_id,
            intent_id=f"flatten:{order_id}",
            strategy=position.strategy,
            symbol=position.symbol,
            sized=sized,
            price=price,
            explanation=explanation,
            tag="flatten",
        )

    # -- helpers -------------------------------------------------------------------------

    def _next_order_id(self) -> str:
        self._order_counter += 1
        return f"{self.config.order_id_prefix}{self._order_counter:08d}"

    def _send_order(
        self,
        *,
        order_id: str,
        intent_id: str,
        strategy: str,
        symbol: str,
        sized: Sized,
        price: Decimal,
        explanation: SizingExplanation,
        order_type: OrderType = "MARKET",
        limit_price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        time_in_force: TimeInForce = "GTC",
        tag: str | None = None,
    ) -> None:
        """Reserve the order's exposure, then publish it to risk."""
        self.ledger.reserve(
            InFlight(
                order_id=order_id,
                intent_id=intent_id,
                strategy=strategy,
                symbol=symbol,
                side=sized.side,
                remaining=sized.quantity,
                reduces_position=sized.reduces_position,
            )
        )
        self.publish(
            SizedOrder(
                ts=self.clock.now_ns(),
                order_id=order_id,
                intent_id=intent_id,
                strategy=strategy,
                symbol=symbol,
                side=sized.side,
                quantity=sized.quantity,
                reference_price=price,
                reduces_position=sized.reduces_position,
                sizing=explanation,
                order_type=order_type,
                limit_price=limit_price,
                trigger_price=trigger_price,
                time_in_force=time_in_force,
                tag=tag,
            )
        )

    def _deny(self, intent: OrderIntent, denial: Denial) -> None:
        self.publish(
            OrderDenied(
                ts=self.clock.now_ns(),
                intent_id=intent.intent_id,
                strategy=intent.strategy,
                symbol=intent.symbol,
                side=intent.side,
                reason=denial.reason,
                source=_SOURCE,
                detail=denial.detail,
            )
        )
        self.metrics.count_denied(denial.reason)

    def _atr_value(self, symbol: str) -> Decimal | None:
        atr = self._atr.get(symbol)
        if atr is None or not atr.ready:
            return None
        # Indicators are floats; this is the money boundary (repr, never Decimal(float)).
        return Decimal(repr(atr.value))

    def _cap_inputs(
        self, strategy: str, symbol: str, price: Decimal, capital_pct: Decimal
    ) -> CapInputs:
        ledger = self.ledger
        config = self.config
        equity = ledger.equity
        book = ledger.book(symbol)
        limit_pct = config.symbol(symbol).max_symbol_exposure_pct
        return CapInputs(
            price=price,
            net=book.exposure(),
            own=ledger.position(strategy, symbol).exposure(),
            strategy_budget=equity * capital_pct,
            strategy_used=ledger.strategy_projected(strategy),
            symbol_limit=equity * limit_pct if limit_pct is not None else None,
            gross_limit=equity * self._exposure_factor,
            gross_used=ledger.gross_projected(),
            margin_limit=equity * config.max_leverage,
            margin_used=ledger.margin_projected(),
            margin_book=book.margin_value,
            short_margin_factor=self._short_factor,
            multiplier=book.multiplier,
        )

    def _publish_snapshot(self) -> None:
        self._snapshot_due = False
        ledger = self.ledger
        positions = tuple(
            SymbolPosition(
                symbol=book.symbol,
                quantity=book.quantity,
                mark_price=book.mark,
                multiplier=book.multiplier,
            )
            for book in ledger.open_books.values()
            if book.mark is not None
        )
        self.publish(
            PortfolioSnapshot(
                ts=self.clock.now_ns(),
                equity=ledger.equity,
                cash=ledger.cash,
                gross_exposure=ledger.gross_value,
                net_exposure=ledger.market_value,
                realized_pnl=ledger.realized_pnl,
                unrealized_pnl=ledger.unrealized_pnl,
                peak_equity=ledger.peak_equity,
                drawdown=ledger.drawdown,
                positions=positions,
                transfers=ledger.transfers,
            )
        )

    # -- metrics ---------------------------------------------------------------------------

    async def on_stop(self) -> None:
        """Leave the gauges showing the final state."""
        self.refresh_metrics()

    def refresh_metrics(self) -> None:
        """Recompute every gauge now (the HTTP service calls this before a scrape)."""
        self.metrics.refresh(self.ledger, self.config)
