"""Strategies that ship with Atrium; load them by path, e.g.
``class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"``."""
