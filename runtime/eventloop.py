"""Run a coroutine on asyncio, with uvloop when it is installed and allowed."""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

__all__ = ("run", "uvloop_available")

T = TypeVar("T")


def uvloop_available() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def run(main: Callable[[], Awaitable[T]], *, use_uvloop: bool = True) -> T:
    """Run ``main`` to completion; uvloop is a pure speed-up, never a requirement."""
    options = {"use_uvloop": use_uvloop and uvloop_available()}
    return anyio.run(main, backend="asyncio", backend_options=options)
