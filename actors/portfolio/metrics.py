"""Prometheus gauges and counters of the portfolio, on the registry the actor is handed.

Never the global default registry: a replay and a live service (or two tests) in one
process must not collide. Collectors are got-or-created (:mod:`atrium.runtime.metrics`), so a
new instance on the same registry reuses them. Label children are created once per strategy, symbol or reason
and cached, so an update is a dict lookup and a ``set``. Money is exported in the
account currency (Prometheus has no currency unit); ratios are plain fractions.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge

from atrium.actors.portfolio.ledger import Ledger
from atrium.actors.portfolio.limits import strategy_names
from atrium.actors.portfolio.sizing import resolve_strategy
from atrium.config.portfolio import PortfolioConfig
from atrium.runtime.metrics import counter, gauge

__all__ = ("METRIC_NAMES", "PortfolioMetrics")

ZERO: Final = Decimal(0)

#: Every metric family the portfolio exports (counters without their ``_total``).
METRIC_NAMES: Final = (
    "atrium_portfolio_equity",
    "atrium_portfolio_cash",
    "atrium_portfolio_gross_exposure",
    "atrium_portfolio_net_exposure",
    "atrium_portfolio_reserved_exposure",
    "atrium_portfolio_leverage_ratio",
    "atrium_portfolio_exposure_utilization_ratio",
    "atrium_portfolio_max_exposure",
    "atrium_portfolio_realized_pnl",
    "atrium_portfolio_unrealized_pnl",
    "atrium_portfolio_peak_equity",
    "atrium_portfolio_drawdown_ratio",
    "atrium_portfolio_open_positions",
    "atrium_portfolio_strategy_gross_exposure",
    "atrium_portfolio_strategy_net_exposure",
    "atrium_portfolio_strategy_budget",
    "atrium_portfolio_strategy_budget_used",
    "atrium_portfolio_strategy_budget_utilization_ratio",
    "atrium_portfolio_strategy_realized_pnl",
    "atrium_portfolio_strategy_unrealized_pnl",
    "atrium_portfolio_symbol_gross_exposure",
    "atrium_portfolio_symbol_net_exposure",
    "atrium_portfolio_intents_sized",
    "atrium_portfolio_intents_denied",
)


class _StrategyGauges:
    __slots__ = ("budget", "gross", "net", "realized", "unrealized", "used", "utilization")

    def __init__(self, metrics: PortfolioMetrics, strategy: str) -> None:
        self.gross = metrics.strategy_gross.labels(strategy=strategy)
        self.net = metrics.strategy_net.labels(strategy=strategy)
        self.budget = metrics.strategy_budget.labels(strategy=strategy)
        self.used = metrics.strategy_used.labels(strategy=strategy)
        self.utilization = metrics.strategy_utilization.labels(strategy=strategy)
        self.realized = metrics.strategy_realized.labels(strategy=strategy)
        self.unrealized = metrics.strategy_unrealized.labels(strategy=strategy)


class PortfolioMetrics:
    """The portfolio's metric families and cached label children."""

    def __init__(self, registry: CollectorRegistry) -> None:
        # Registered in this order, which is the order a scrape lists them in.
        self._add_account_gauges(registry)
        self._add_strategy_gauges(registry)
        self._add_symbol_gauges(registry)
        self._add_intent_counters(registry)
        self._strategies: dict[str, _StrategyGauges] = {}
        self._symbols: dict[str, tuple[Gauge, Gauge]] = {}
        self._sized: dict[str, Counter] = {}
        self._denied: dict[str, Counter] = {}

    def _add_account_gauges(self, registry: CollectorRegistry) -> None:
        """The whole account: equity, exposure and its limit, PnL, drawdown."""
        self.equity = gauge(
            registry, "atrium_portfolio_equity", "Cash plus market value of positions."
        )
        self.cash = gauge(registry, "atrium_portfolio_cash", "Cash, short sale proceeds included.")
        self.gross = gauge(
            registry,
            "atrium_portfolio_gross_exposure",
            "Sum of |net position| * mark over symbols.",
        )
        self.net = gauge(registry, "atrium_portfolio_net_exposure", "Sum of net position * mark.")
        self.reserved = gauge(
            registry,
            "atrium_portfolio_reserved_exposure",
            "Gross exposure reserved by orders in flight (worst case over their fills).",
        )
        self.leverage = gauge(
            registry, "atrium_portfolio_leverage_ratio", "Gross exposure / equity."
        )
        self.max_exposure = gauge(
            registry,
            "atrium_portfolio_max_exposure",
            "Gross exposure limit: equity * max_exposure_pct * max_leverage.",
        )
        self.utilization = gauge(
            registry,
            "atrium_portfolio_exposure_utilization_ratio",
            "Gross exposure with orders in flight / (equity * max_exposure_pct * max_leverage).",
        )
        self.realized = gauge(
            registry,
            "atrium_portfolio_realized_pnl",
            "Realized PnL net of commissions since start.",
        )
        self.unrealized = gauge(
            registry, "atrium_portfolio_unrealized_pnl", "PnL of open positions."
        )
        self.peak = gauge(registry, "atrium_portfolio_peak_equity", "Highest equity seen.")
        self.drawdown = gauge(
            registry, "atrium_portfolio_drawdown_ratio", "(peak equity - equity) / peak equity."
        )
        self.open_positions = gauge(
            registry, "atrium_portfolio_open_positions", "Non-zero (strategy, symbol) positions."
        )

    def _add_strategy_gauges(self, registry: CollectorRegistry) -> None:
        """Per strategy: exposure, budget and PnL."""
        strategy = ("strategy",)
        self.strategy_gross = gauge(
            registry,
            "atrium_portfolio_strategy_gross_exposure",
            "Sum of |position| * mark of the strategy.",
            strategy,
        )
        self.strategy_net = gauge(
            registry, "atrium_portfolio_strategy_net_exposure", "Sum of position * mark.", strategy
        )
        self.strategy_budget = gauge(
            registry,
            "atrium_portfolio_strategy_budget",
            "equity * capital_pct of the strategy.",
            strategy,
        )
        self.strategy_used = gauge(
            registry,
            "atrium_portfolio_strategy_budget_used",
            "Gross exposure of the strategy with its orders in flight.",
            strategy,
        )
        self.strategy_utilization = gauge(
            registry,
            "atrium_portfolio_strategy_budget_utilization_ratio",
            "Budget used / budget.",
            strategy,
        )
        self.strategy_realized = gauge(
            registry,
            "atrium_portfolio_strategy_realized_pnl",
            "Realized PnL net of commissions.",
            strategy,
        )
        self.strategy_unrealized = gauge(
            registry, "atrium_portfolio_strategy_unrealized_pnl", "PnL of open positions.", strategy
        )

    def _add_symbol_gauges(self, registry: CollectorRegistry) -> None:
        """Per symbol: the exposure of its net position."""
        symbol = ("symbol",)
        self.symbol_gross = gauge(
            registry, "atrium_portfolio_symbol_gross_exposure", "|net position| * mark.", symbol
        )
        self.symbol_net = gauge(
            registry, "atrium_portfolio_symbol_net_exposure", "Net position * mark.", symbol
        )

    def _add_intent_counters(self, registry: CollectorRegistry) -> None:
        """Intents sized (by strategy) and denied (by reason code)."""
        self.sized = counter(
            registry,
            "atrium_portfolio_intents_sized_total",
            "Intents sized into an order, by strategy.",
            ("strategy",),
        )
        self.denied = counter(
            registry,
            "atrium_portfolio_intents_denied_total",
            "Intents the portfolio denied, by reason code.",
            ("reason",),
        )

    def count_sized(self, strategy: str) -> None:
        child = self._sized.get(strategy)
        if child is None:
            child = self._sized[strategy] = self.sized.labels(strategy=strategy)
        child.inc()

    def count_denied(self, reason: str) -> None:
        child = self._denied.get(reason)
        if child is None:
            child = self._denied[reason] = self.denied.labels(reason=reason)
        child.inc()

    def refresh(self, ledger: Ledger, config: PortfolioConfig) -> None:
        """Set every gauge from the ledger (after a fill, a sizing or a mark that moved equity)."""
        equity = ledger.equity
        gross = ledger.gross_value
        projected = ledger.gross_projected()
        max_exposure = equity * config.max_exposure_pct * config.max_leverage
        self.equity.set(float(equity))
        self.cash.set(float(ledger.cash))
        self.gross.set(float(gross))
        self.net.set(float(ledger.market_value))
        self.reserved.set(float(projected - gross))
        self.leverage.set(float(gross / equity) if equity > ZERO else 0.0)
        self.max_exposure.set(float(max_exposure))
        self.utilization.set(float(projected / max_exposure) if max_exposure > ZERO else 0.0)
        self.realized.set(float(ledger.realized_pnl))
        self.unrealized.set(float(ledger.unrealized_pnl))
        self.peak.set(float(ledger.peak_equity))
        self.drawdown.set(float(ledger.drawdown))
        self.open_positions.set(ledger.open_positions())
        for name in strategy_names(ledger, config):  # configured budgets show before trading
            gauges = self._strategies.get(name)
            if gauges is None:
                gauges = self._strategies[name] = _StrategyGauges(self, name)
            budget = equity * resolve_strategy(config, name).capital_pct
            used = ledger.strategy_projected(name)
            gauges.gross.set(float(ledger.strategy_gross(name)))
            gauges.net.set(float(ledger.strategy_net(name)))
            gauges.budget.set(float(budget))
            gauges.used.set(float(used))
            gauges.utilization.set(float(used / budget) if budget > ZERO else 0.0)
            gauges.realized.set(float(ledger.strategy_realized(name)))
            gauges.unrealized.set(float(ledger.strategy_unrealized(name)))
        for symbol, book in ledger.books.items():
            if book.mark is None:
                continue
            children = self._symbols.get(symbol)
            if children is None:
                children = self._symbols[symbol] = (
                    self.symbol_gross.labels(symbol=symbol),
                    self.symbol_net.labels(symbol=symbol),
                )
            value = book.value(book.mark)
            children[0].set(float(abs(book.quantity) * value))
            children[1].set(float(book.quantity * value))
