"""The installed Atrium version (build info, ``atrium version``, journal sessions)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ("atrium_version",)


def atrium_version() -> str:
    """The version of the installed distribution, or ``"unknown"`` when run from a tree."""
    try:
        return version("atrium-trading")
    except PackageNotFoundError:
        return "unknown"
