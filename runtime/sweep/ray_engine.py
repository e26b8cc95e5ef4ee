"""The Ray engine: each point is a Ray task, on any node of a cluster.

A task replays its point into a scratch directory on its node and returns the files,
which the driver writes into ``points/<id>`` as the local engine would, so the results
are the same byte for byte. Feeds are read where they lie (a path every node sees, as on
a shared file system) or, with ``ship_feeds``, put in Ray's object store once and
written to each node's scratch space the first time a task there needs them.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from atrium.runtime.errors import UsageError
from atrium.runtime.sweep.points import Outcome, Point, read_outcome
from atrium.runtime.sweep.worker import run_point

__all__ = ("ray_engine",)

_FILES = ("journal.sqlite", "trades.csv", "equity.csv", "summary.json", "report.html", "error.txt")


def ray_engine(
    address: str, ship_feeds: bool = False
) -> Callable[[list[Point], Path, Callable[[Point], None], Callable[[Outcome], None]], None]:
    """An engine on the Ray cluster at ``address`` (``auto``, ``ray://host:10001``, ``local``).

    ``local`` starts a Ray instance on this machine for the sweep. When this process has
    Ray initialised already, the sweep uses that instance.
    """
    try:
        import ray  # noqa: PLC0415 -- optional: pip install 'atrium-trading[ray]'
    except ImportError:
        raise UsageError("--address needs Ray: pip install 'atrium-trading[ray]'") from None

    def run(
        points: list[Point],
        points_dir: Path,
        on_start: Callable[[Point], None],
        on_done: Callable[[Outcome], None],
    ) -> None:
        if not ray.is_initialized():
            ray.init(address=None if address == "local" else address, log_to_driver=False)
        task = ray.remote(max_retries=0)(_run_remote)
        shipped = _ship(ray, points) if ship_feeds else {}
        pending: dict[Any, tuple[Point, float]] = {}
        for point in points:
            pending[task.remote(point.data, shipped)] = (point, time.perf_counter())
            on_start(point)
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            point, started = pending.pop(ref)
            note = _collect(ray, ref, points_dir / point.id)
            on_done(read_outcome(point, points_dir / point.id, note, time.perf_counter() - started))

    return run


def _collect(ray: Any, ref: Any, out_dir: Path) -> str | None:
    """Write a task's files into ``out_dir``; how it ended when it returned none."""
    try:
        files: dict[str, bytes] = ray.get(ref)
    except ray.exceptions.RayError as exc:
        return f"ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "error.txt").unlink(missing_ok=True)
    for name, content in files.items():
        (out_dir / name).write_bytes(content)
    return None


def _run_remote(data: dict[str, Any], shipped: dict[str, Any]) -> dict[str, bytes]:
    """In a Ray worker: the point's files, replayed in scratch space on this node."""
    if shipped:
        data = _with_local_feeds(data, shipped)
    with tempfile.TemporaryDirectory(prefix="atrium-point-") as scratch:
        out = Path(scratch) / "out"
        run_point(data, out)
        return {name: (out / name).read_bytes() for name in _FILES if (out / name).exists()}


def _feed_paths(data: dict[str, Any]) -> list[tuple[int, Path]]:
    market_data = data.get("market_data", {})
    base = Path(market_data.get("base_dir", "."))
    feeds = market_data.get("feeds", [])
    return [(i, base / feed["path"]) for i, feed in enumerate(feeds) if feed.get("path")]


def _ship(ray: Any, points: list[Point]) -> dict[str, Any]:
    """Each feed file of the points in the object store, once: ``{path: (digest, ref)}``."""
    shipped: dict[str, Any] = {}
    for point in points:
        for _, path in _feed_paths(point.data):
            if str(path) not in shipped:
                content = path.read_bytes()
                digest = hashlib.sha256(content).hexdigest()[:16]
                shipped[str(path)] = (digest, path.name, ray.put(content))
    return shipped


def _with_local_feeds(data: dict[str, Any], shipped: dict[str, Any]) -> dict[str, Any]:
    """``data`` reading each shipped feed from this node's copy (written on first use)."""
    import ray  # noqa: PLC0415 -- in a Ray worker

    cache = Path(tempfile.gettempdir()) / "atrium-feeds"
    feeds = [dict(feed) for feed in data["market_data"]["feeds"]]
    for index, path in _feed_paths(data):
        digest, name, ref = shipped[str(path)]
        local = cache / digest / name
        if not local.exists():
            local.parent.mkdir(parents=True, exist_ok=True)
            partial = local.with_suffix(f".{time.monotonic_ns()}.partial")
            partial.write_bytes(ray.get(ref))
            partial.replace(local)
        feeds[index]["path"] = str(local)
    return {**data, "market_data": {**data["market_data"], "feeds": feeds}}
