"""A test actor that checks, as it handles each order, fill and control, that the journal's
files already hold it (SQLite, or the commit log the next start moves into SQLite): what
the durability barrier promises every actor (the venue included) before it acts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from atrium.config.journal import JournalConfig
from atrium.runtime.actor import Actor, ActorContext, receives
from atrium.runtime.codec import encode
from atrium.runtime.journal_commits import commits_path, read_commits
from atrium.runtime.messages import Control, Fill, Order


class Witness(Actor):
    """Subscribes ``Order``, ``Fill`` and ``Control``; its section is ``[journal]``."""

    def __init__(self, context: ActorContext) -> None:
        super().__init__(context)
        assert isinstance(context.config, JournalConfig)
        path = Path(context.config.path)
        self._commits = commits_path(path)
        self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        self.checked = 0
        self.missing: list[str] = []

    async def on_stop(self) -> None:
        self._db.close()

    @receives(Order, Fill, Control)
    def _check(self, message: Order | Fill | Control) -> None:
        self.checked += 1
        kind, payload = type(message).__name__, encode(message)
        found = self._db.execute(
            "SELECT 1 FROM events WHERE kind = ? AND payload = ?", (kind, payload)
        ).fetchone()
        committed = any(
            (record[2], record[3]) == (kind, payload) for record in read_commits(self._commits)
        )
        if found is None and not committed:
            self.missing.append(type(message).__name__)
