"""Screenshot report.html in headless Chromium and check the page fits its width.

Replays the example config (NVDA 1999-2014) into a temporary directory, takes a
full-page screenshot of report.html with Debian's ``chromium`` (``apt-get install
chromium``), and measures the page: a copy of the report with one line of script that
writes ``document.documentElement.scrollWidth`` into the page is dumped with
``--dump-dom``, so the check reads the width the browser laid the page out at. The
report itself stays script-free. Exit status 1 when the page is wider than the window or
lacks the buy-and-hold line, the monthly heatmap or the boxed trades table.

    python bench/screenshot.py [--out report.png] [--width 1280]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from atrium.runtime.cli import main as atrium

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "example.toml"
_PROBE = (
    "<script>window.addEventListener('load',()=>{const p=document.createElement('pre');"
    "p.id='probe';p.textContent='scrollWidth='+document.documentElement.scrollWidth+"
    "' trades='+document.querySelector('.scroll:last-of-type').getBoundingClientRect().right;"
    "document.body.appendChild(p)})</script>"
)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("no chromium on PATH: apt-get install -y chromium")


def _browser(*args: str) -> str:
    command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120).stdout


def check(report: Path, png: Path, width: int) -> list[str]:
    """Take the screenshot; return what is wrong with the page (empty: nothing)."""
    page = report.read_text(encoding="utf-8")
    _browser(f"--window-size={width},5000", f"--screenshot={png}", report.as_uri())
    probe = report.with_name("probe.html")
    probe.write_text(page.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    dom = _browser(
        f"--window-size={width},5000", "--virtual-time-budget=2000", "--dump-dom", probe.as_uri()
    )
    found = re.search(r"scrollWidth=(\d+) trades=([\d.]+)", dom)
    problems = []
    if found is None:
        return ["the probe did not report the page width"]
    scroll_width, trades_right = int(found[1]), float(found[2])
    print(
        f"page scrollWidth {scroll_width} px, trades box right edge {trades_right:.0f} px, window {width} px"
    )
    if scroll_width > width:
        problems.append(f"page is {scroll_width} px wide in a {width} px window")
    if trades_right > width:
        problems.append(f"trades table ends at {trades_right:.0f} px, past the window")
    for needle, what in (
        ("buy and hold", "the buy-and-hold line"),
        ("<h2>Monthly returns</h2>", "the monthly heatmap"),
        ('<div class="scroll"><table><tr><th>time</th>', "the boxed trades table"),
    ):
        if needle not in page:
            problems.append(f"missing {what}")
    return problems


def run() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("report.png"))
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        if atrium(["replay", "--config", str(EXAMPLE), "--out", str(out), "--no-progress"]) != 0:
            return 1
        problems = check(out / "report.html", args.out.resolve(), args.width)
    for problem in problems:
        print(f"FAIL: {problem}")
    print(f"screenshot: {args.out}" if not problems else "")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(run())
