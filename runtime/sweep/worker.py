"""Run one sweep point, in whatever process an engine chose, into its own directory.

A point that fails leaves ``error.txt`` (and no summary.json) so the sweep records why;
a worker that dies leaves neither, and the engine records how it ended.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from atrium.config.loader import parse_config
from atrium.runtime.errors import AtriumError
from atrium.runtime.eventloop import run as run_loop

__all__ = ("run_point",)


def run_point(data: dict[str, Any], out_dir: Path) -> None:
    """Replay the config ``data`` into ``out_dir``; on failure write ``out_dir/error.txt``."""
    from atrium.runtime.replay import ReplayOptions, run_replay  # noqa: PLC0415 -- heavy import

    # One log line per point comes from the sweep; the actors' INFO lines would drown it.
    logging.getLogger("atrium").setLevel(logging.WARNING)
    (out_dir / "error.txt").unlink(missing_ok=True)
    try:
        config = parse_config(data)
        options = ReplayOptions(out_dir=out_dir)
        run_loop(lambda: run_replay(config, options), use_uvloop=config.runtime.use_uvloop)
    except (AtriumError, ValueError, OSError) as exc:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "error.txt").write_text(f"{exc}\n", encoding="utf-8")
