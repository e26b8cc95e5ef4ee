"""Import objects named ``module:attribute`` in config, with errors that say what to fix."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ("load_object",)


def load_object(path: str, *, key: str) -> Any:
    """Return the object at ``path`` (``package.module:Name``); ``key`` names the config key."""
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{key}: expected 'module:Name', got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"{key}: cannot import module {module_name!r}: {exc}") from None
    try:
        obj = module
        for part in attribute.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise ValueError(f"{key}: module {module_name!r} has no attribute {attribute!r}") from None
    return obj
