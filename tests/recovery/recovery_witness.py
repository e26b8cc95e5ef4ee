"""A test actor that checks, as it handles each order, fill and control, that the journal
file already holds it: what the durability barrier promises every actor (the venue
included) before it acts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from atrium.config.journal import JournalConfig
from atrium.runtime.actor import Actor, ActorContext, receives
from atrium.runtime.codec import encode
from atrium.runtime.messages import Control, Fill, Order


class Witness(Actor):
    """Subscribes ``Order``, ``Fill`` and ``Control``; its section is ``[journal]``."""

    def __init__(self, context: ActorContext) -> None:
        super().__init__(context)
        assert isinstance(context.config, JournalConfig)
        uri = f"{Path(context.config.path).resolve().as_uri()}?mode=ro"
        self._db = sqlite3.connect(uri, uri=True)
        self.checked = 0
        self.missing: list[str] = []

    async def on_stop(self) -> None:
        self._db.close()

    @receives(Order, Fill, Control)
    def _check(self, message: Order | Fill | Control) -> None:
        self.checked += 1
        found = self._db.execute(
            "SELECT 1 FROM events WHERE kind = ? AND payload = ?",
            (type(message).__name__, encode(message)),
        ).fetchone()
        if found is None:
            self.missing.append(type(message).__name__)
