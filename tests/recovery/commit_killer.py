"""A session of :mod:`recovery_kit` that kills its own process (SIGKILL) at one point.

    python commit_killer.py JOURNAL DURABILITY POINT N

``order``: as the venue is handed the ``N``-th order, after its commit and before the
venue acts on it. ``fill``: as the ``N``-th fill is recorded by the journal, before the
commit that would hold it. The message it died on goes to ``JOURNAL.killed-at`` (its
encoded bytes) first. Exits 3 if the point was never reached.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import anyio
from recovery_kit import run_session, session_config

from atrium.actors.execution.paper import PaperVenue
from atrium.runtime.codec import encode
from atrium.runtime.journal import Journal
from atrium.runtime.messages import Fill, Message, Order


def _die(journal: Path, message: Message) -> None:
    journal.with_name(journal.name + ".killed-at").write_bytes(encode(message))
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_at(journal: Path, point: str, nth: int) -> None:
    """Patch the venue or the journal to send SIGKILL to this process at ``point``."""
    seen = 0
    if point == "order":
        submit = PaperVenue.submit

        def submit_then_die(self: PaperVenue, order: Order) -> None:
            nonlocal seen
            seen += 1
            if seen == nth:
                _die(journal, order)
            submit(self, order)

        PaperVenue.submit = submit_then_die  # type: ignore[method-assign]
        return
    record = Journal.record

    def record_then_die(self: Journal, message: Message) -> None:
        nonlocal seen
        record(self, message)
        if type(message) is Fill:
            seen += 1
            if seen == nth:
                _die(journal, message)

    Journal.record = record_then_die  # type: ignore[method-assign]


def main() -> None:
    journal, durability, point, nth = sys.argv[1:5]
    _kill_at(Path(journal), point, int(nth))
    config = session_config(Path(journal), extra={"journal": {"durability": durability}})
    anyio.run(run_session, config)
    sys.exit(3)


if __name__ == "__main__":
    main()
