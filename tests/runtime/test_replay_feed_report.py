"""What a replay shows of its market data: the rows rejected, in the summary, and progress."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import ClassVar

import msgspec
import pytest
from rich.console import Console

from atrium.config import parse_config
from atrium.config.schema import AtriumConfig
from atrium.config.topology import TopologyConfig, default_actors
from atrium.runtime import replay
from atrium.runtime.replay import ReplayOptions, run_replay

_ROWS = (
    "Date,Open,High,Low,Close,Volume\n"
    "2024-01-02,10,11,9,10,1\n"
    "2024-01-03,10,11,0,10,1\n"
    "2024-01-04,10,11,9,10,-1\n"
    "2024-01-05,10,11,9,10,1\n"
)


class ShownProgress:
    """Stands in for the progress bar and keeps what it was asked to show."""

    shown: ClassVar[list[tuple[int, int | None]]] = []

    def __init__(self, console: Console) -> None:
        self.console = console

    def __enter__(self) -> ShownProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def update(self, done: int, total: int | None, elapsed: float) -> None:
        self.shown.append((done, total))


def _config(tmp_path: Path) -> AtriumConfig:
    (tmp_path / "abc.csv").write_text(_ROWS, encoding="utf-8")
    feed = {"path": "abc.csv", "symbol": "ABC"}
    section = {"base_dir": str(tmp_path), "on_error": "skip", "feeds": [feed]}
    return parse_config({"market_data": section})


async def test_replay_when_feed_rows_rejected_then_summary_counts_them_by_reason(
    tmp_path: Path,
) -> None:
    summary = await run_replay(_config(tmp_path), ReplayOptions(out_dir=tmp_path / "out"))

    assert (summary["bars"], summary["rejected_records"]) == (
        2,
        {"NEGATIVE_VOLUME": 1, "NON_POSITIVE_PRICE": 1},
    )


async def test_replay_when_two_market_data_actors_then_rejections_and_progress_add_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay, "ReplayProgress", ShownProgress)
    ShownProgress.shown = []
    config = _config(tmp_path)
    actors = default_actors()
    actors["more_market_data"] = actors["market_data"]
    config = msgspec.structs.replace(config, topology=TopologyConfig(actors=actors))

    summary = await run_replay(config, ReplayOptions(out_dir=tmp_path / "out", progress=True))

    assert summary["rejected_records"] == {"NEGATIVE_VOLUME": 2, "NON_POSITIVE_PRICE": 2}
    assert ShownProgress.shown[-1] == (4, 4)


async def test_replay_when_progress_shown_then_it_ends_at_every_record_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay, "ReplayProgress", ShownProgress)
    ShownProgress.shown = []

    await run_replay(_config(tmp_path), ReplayOptions(out_dir=tmp_path / "out", progress=True))

    assert ShownProgress.shown[-1] == (2, 2)
