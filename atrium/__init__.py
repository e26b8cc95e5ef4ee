"""Atrium, an actor-based asyncio trading runtime.

The code lives in the repository's ``runtime/``, ``actors/`` and ``config/`` folders and is
installed as ``atrium.runtime``, ``atrium.actors`` and ``atrium.config`` (this package links
to them), so a user's own ``config`` or ``runtime`` package never collides with Atrium's.
"""
