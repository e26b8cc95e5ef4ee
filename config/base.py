"""The base every config Struct shares: frozen, keyword-only, unknown keys are errors."""

from __future__ import annotations

import msgspec

__all__ = ("ConfigBase",)


class ConfigBase(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of all ``*Config`` Structs. Defaults live in the Struct; ``None`` means "off"."""
