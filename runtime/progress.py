"""The replay's progress bar on a terminal: percent, records/s and time remaining.

Drawn with rich on stderr while the replay runs. Log records written to stderr meanwhile
are printed above the bar, never over it: rich moves the bar below each line written
through ``sys.stderr``, and the logging handlers that write to stderr are pointed there
for as long as the bar is shown.
"""

from __future__ import annotations

import logging
import sys
from types import TracebackType
from typing import IO, Any, Final

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

__all__ = ("ReplayProgress",)

_NOT_YET: Final = "-:--:--"


class ReplayProgress:
    """``with ReplayProgress(console) as bar: bar.update(done, total, elapsed)``.

    ``total`` is ``None`` while unknown (the bar pulses, no percent or time remaining).
    """

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("replay"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.completed:>12,.0f} records {task.fields[rate]:>10,.0f}/s"),
            TextColumn("{task.fields[remaining]} left"),
            console=console,
            redirect_stdout=False,
        )
        self._task = self._progress.add_task("replay", total=None, rate=0.0, remaining=_NOT_YET)
        self._moved: list[tuple[logging.StreamHandler[Any], IO[str]]] = []

    def __enter__(self) -> ReplayProgress:
        original = sys.stderr
        self._progress.start()
        if sys.stderr is not original:  # rich now prints what is written there above the bar
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is original:
                    handler.setStream(sys.stderr)
                    self._moved.append((handler, original))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for handler, stream in self._moved:
            handler.setStream(stream)
        self._moved.clear()
        self._progress.stop()

    def update(self, done: int, total: int | None, elapsed: float) -> None:
        """Show ``done`` of ``total`` records, ``elapsed`` seconds after the start."""
        rate = done / elapsed if elapsed > 0 else 0.0
        remaining = _NOT_YET
        if total is not None and rate > 0:
            remaining = _clock(max(total - done, 0) / rate)
        self._progress.update(
            self._task, completed=done, total=total, rate=rate, remaining=remaining
        )


def _clock(seconds: float) -> str:
    minutes, second = divmod(round(seconds), 60)
    hour, minute = divmod(minutes, 60)
    return f"{hour}:{minute:02d}:{second:02d}"
