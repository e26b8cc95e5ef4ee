"""For the sweep tests: a small ema_cross config over two years of NVDA daily bars, grids."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"  # tests/kits/ -> /work
NVDA = DATA / "nvda-1999-2014.txt"

_BASE = """\
[market_data]
start = "{start}"
end = "{end}"

[[market_data.feeds]]
path = "{feed}"
symbol = "NVDA"

[strategies.ema]
class = "{cls}"
symbols = ["NVDA"]
params = {{ fast = 10, slow = 30, quantity = 100 }}
"""

# Kills its own process when it starts with fast = 5 and slow = 30: a worker that dies
# the way an out-of-memory kill ends one, with no chance to write anything.
_DYING = """\
import os
import signal

from atrium.actors.strategy.bundled.ema_cross import EmaCross


class Dying(EmaCross):
    def on_start(self) -> None:
        if (self.params.fast, self.params.slow) == (5, 30):
            os.kill(os.getpid(), signal.SIGKILL)
        super().on_start()
"""

EMA_CROSS = "atrium.actors.strategy.bundled.ema_cross:EmaCross"


def write_config(
    folder: Path, *, cls: str = EMA_CROSS, start: str = "2004-01-01", end: str = "2006-01-01"
) -> Path:
    """base.toml in ``folder`` (with dying.py beside it)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dying.py").write_text(_DYING)
    path = folder / "base.toml"
    path.write_text(_BASE.format(start=start, end=end, feed=NVDA, cls=cls))
    return path


def write_grid(folder: Path, text: str) -> Path:
    path = folder / "grid.toml"
    path.write_text(text)
    return path


GRID_2X2 = """\
[params]
"strategies.ema.params.fast" = [5, 10]
"strategies.ema.params.slow" = { start = 20, stop = 30, step = 10 }
"""
