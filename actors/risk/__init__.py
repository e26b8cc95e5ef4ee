"""The risk actor: pre-trade checks, trading state, loss limits and the kill switch."""

from atrium.actors.risk.actor import RiskActor as RiskActor

__all__ = ("RiskActor",)
