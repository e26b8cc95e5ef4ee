"""The root of every Atrium exception, below all three packages.

``atrium.config`` may import nothing of ``atrium.runtime``; both raise errors that a
caller wants to catch as one family (the CLI prints them without a traceback), so the
base lives here, where every layer may reach it.
"""

from __future__ import annotations

__all__ = ("AtriumError",)


class AtriumError(Exception):
    """Base of Atrium's own errors; the CLI prints these without a traceback."""
