"""`[execution]`: settings of the execution actor."""

from __future__ import annotations

from config.base import ConfigBase

__all__ = ("ExecutionConfig",)


class ExecutionConfig(ConfigBase, frozen=True, kw_only=True):
    """Settings of the execution actor (filled in by its issue)."""
