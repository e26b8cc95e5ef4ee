"""The portfolio actor: sizing, caps, ledger, limits and gauges. Topology loads
``atrium.actors.portfolio:PortfolioActor``.

The pure parts live in submodules: :mod:`~actors.portfolio.sizing` (sizing modes, caps,
reason codes), :mod:`~actors.portfolio.ledger` (positions, cash, PnL, orders in flight),
:mod:`~actors.portfolio.limits` (the HTTP views) and :mod:`~actors.portfolio.metrics`.
"""

from atrium.actors.portfolio.actor import PortfolioActor as PortfolioActor

__all__ = ("PortfolioActor",)
