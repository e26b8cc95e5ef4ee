"""The local engine: each point in its own process, ``workers`` at a time.

A process per point (not a pool of long-lived workers) so a point that crashes or is
killed ends only itself: the sweep records how it ended and starts the next. Processes
come from a forkserver that has the replay imported already, so a point starts in
milliseconds rather than paying Python's and Atrium's import again.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from pathlib import Path

from atrium.runtime.sweep.points import Outcome, Point, read_outcome
from atrium.runtime.sweep.worker import run_point

__all__ = ("run_local",)


def run_local(
    points: list[Point],
    points_dir: Path,
    workers: int,
    on_start: Callable[[Point], None],
    on_done: Callable[[Outcome], None],
) -> None:
    """Run ``points`` (each into ``points_dir/<id>``), at most ``workers`` at once."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["atrium.runtime.sweep.worker", "atrium.runtime.replay"])
    waiting = list(reversed(points))
    running: dict[int, tuple[Point, multiprocessing.process.BaseProcess, float]] = {}
    while waiting or running:
        while waiting and len(running) < workers:
            point = waiting.pop()
            process = context.Process(
                target=run_point, args=(point.data, points_dir / point.id), daemon=True
            )
            process.start()
            running[process.sentinel] = (point, process, time.perf_counter())
            on_start(point)
        for sentinel in wait(list(running)):
            assert isinstance(sentinel, int)
            point, ended, started = running.pop(sentinel)
            ended.join()
            wall = time.perf_counter() - started
            note = _exit_note(ended.exitcode)
            on_done(read_outcome(point, points_dir / point.id, note, wall))


def _exit_note(code: int | None) -> str | None:
    """How a worker ended, when it did not end well."""
    if code is None or code == 0:
        return None
    if code < 0:
        return f"worker killed by {signal.Signals(-code).name}"
    return f"worker exited with status {code}"
