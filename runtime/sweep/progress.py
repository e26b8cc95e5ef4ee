"""What a sweep shows while it runs: a bar on a terminal, one line per point otherwise.

The bar counts points done, running and failed and estimates the time left from the
points finished so far; in a log (CI, a cluster job) a bar would be noise, so each point
gets one line instead.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from atrium.runtime.sweep.points import Outcome, Point

__all__ = ("SweepProgress",)


class SweepProgress:
    """``with SweepProgress(total, terminal) as shown:`` then ``add``/``started``/``finished``.

    ``add`` grows the total: a walk-forward or an Optuna search learns its points as it goes.
    """

    def __init__(self, total: int, terminal: bool, stream: IO[str] | None = None) -> None:
        self.total = total
        self.done = self.running = self.failed = 0
        self._stream = stream or sys.stderr
        self._began = time.perf_counter()
        self._bar: Progress | None = None
        if terminal:
            self._bar = Progress(
                TextColumn("sweep"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[state]}"),
                console=Console(file=self._stream),
            )
            self._task = self._bar.add_task("sweep", total=total, state="")

    def __enter__(self) -> SweepProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def add(self, count: int) -> None:
        """``count`` more points to run."""
        self.total += count
        if self._bar is not None:
            self._bar.update(self._task, total=self.total)

    def started(self, point: Point) -> None:
        """A point began running."""
        self.running += 1
        self._refresh()

    def finished(self, outcome: Outcome) -> None:
        """A point ended (or was found finished): count it, and log it without a bar."""
        self.running -= 0 if outcome.resumed or outcome.point.error else 1
        self.done += 1
        self.failed += outcome.error is not None
        if self._bar is None:
            print(self._line(outcome), file=self._stream, flush=True)
        self._refresh()

    def eta(self) -> float | None:
        """Seconds left at the pace so far (``None`` before the first point ends)."""
        if not self.done:
            return None
        return (time.perf_counter() - self._began) / self.done * (self.total - self.done)

    def _refresh(self) -> None:
        if self._bar is None:
            return
        eta = self.eta()
        left = "-" if eta is None else f"{eta:,.0f}s"
        state = f"running {self.running}  failed {self.failed}  ETA {left}"
        self._bar.update(self._task, completed=self.done, state=state)

    def _line(self, outcome: Outcome) -> str:
        params = ", ".join(f"{key}={value}" for key, value in outcome.point.params.items())
        head = f"sweep: point {self.done}/{self.total} {outcome.point.id} ({params})"
        if outcome.error is not None:
            return f"{head} failed: {outcome.error}"
        how = "resumed" if outcome.resumed else f"{outcome.wall_seconds:.2f}s"
        return f"{head} ok in {how}, running {self.running}, failed {self.failed}"
