"""A live venue's reports as input of the core, kept on the stream.

The core applies what its venue reports (acknowledgements, fills, closes, the
reconciliation's adjustments) only when the report comes back from the stream, in stream
order among the strategies' intents and the controls: a later run of the role that
rebuilds applies it at the same place, so it rebuilds the same book and portfolio. The
venue is quiet while the role rebuilds (nothing is sent), then reconciles; the role is
ready once the reports of that reconciliation came back and were applied.
"""

from __future__ import annotations

__all__ = ("RETURNS_HEADER", "VenueInputs")

#: Header of a venue report: every run of the role applies it when it takes it from the
#: stream, the run that made it included (``Atrium-Input-Run`` names that run).
RETURNS_HEADER = "Atrium-Input-Returns"


class VenueInputs:
    """Counts the reports this run kept and took back; knows when it is reconciled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._kept = 0
        self._back = 0
        #: Reports kept when the venue went live (its reconciliation's last); None: not
        #: live yet.
        self._reconciled_at: int | None = None

    def keep(self) -> int:
        """Count a report kept now; its number in this run (for its message id)."""
        self._kept += 1
        return self._kept

    def came_back(self, this_run: bool) -> None:
        """A report was taken from the stream; ``this_run``: one this run kept."""
        if this_run:
            self._back += 1

    def went_live(self) -> None:
        """The venue reconciled: ready once what that reported has come back."""
        self._reconciled_at = self._kept

    @property
    def reconciled(self) -> bool:
        """No live venue here, or it reconciled and the role applied what that changed."""
        if not self.enabled:
            return True
        return self._reconciled_at is not None and self._back >= self._reconciled_at
