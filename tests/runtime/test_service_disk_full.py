"""A journal write that fails (a full disk) stops ``atrium run`` naming the journal and the disk."""

from __future__ import annotations

import errno
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio
import pytest

import atrium.runtime.journal
from atrium.config import parse_config
from atrium.runtime.journal import JournalError
from atrium.runtime.journal_check import check_journal
from atrium.runtime.journal_commits import CommitLog
from atrium.runtime.journal_market import iter_records
from atrium.runtime.journal_read import open_readonly
from atrium.runtime.service import run_service


def _config(journal: Path) -> Any:
    return parse_config(
        {
            "market_data": {
                "feeds": [
                    {
                        "format": "synthetic",
                        "synthetic": {"seed": 3, "symbols": ["AAA"], "count": 5_000},
                    }
                ]
            },
            # Orders, so there are commits: the commit log's appends.
            "strategies": {
                "cross": {
                    "class": "atrium.actors.strategy.bundled.ema_cross:EmaCross",
                    "symbols": ["AAA"],
                    "params": {"fast": 2, "slow": 5},
                }
            },
            "journal": {"path": str(journal), "batch_size": 64},
            "service": {"port": 0},
        }
    )


def _fill_after(calls_allowed: int, write: Any, error: BaseException) -> Any:
    calls = 0

    def filling_disk(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls > calls_allowed:
            raise error
        return write(*args)

    return filling_disk


def _sqlite_fills(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's writes fail after two (market data goes in blocks: one per 1,024 bars)."""
    write = atrium.runtime.journal._write

    async def filling_disk(*args: Any) -> None:
        await checked(*args)

    checked = _fill_after(2, write, sqlite3.OperationalError("database or disk is full"))
    monkeypatch.setattr(atrium.runtime.journal, "_write", filling_disk)


def _commit_log_fills(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commit log's appends fail after two."""
    append = CommitLog.append
    failing = _fill_after(2, append, OSError(errno.ENOSPC, "No space left on device"))
    monkeypatch.setattr(CommitLog, "append", failing)


@pytest.mark.parametrize(
    ("fill", "problem"),
    [(_sqlite_fills, "database or disk is full"), (_commit_log_fills, "No space left on device")],
)
async def test_run_when_disk_fills_then_journal_error_names_file_and_disk_and_nothing_lost(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fill: Any,
    problem: str,
) -> None:
    journal = tmp_path / "journal.sqlite"
    fill(monkeypatch)

    with anyio.fail_after(20), pytest.raises(JournalError) as raised:
        await run_service(_config(journal))

    message = str(raised.value)
    match = re.fullmatch(
        rf"{re.escape(str(journal))}: cannot write the journal: {problem} "
        r"\(the disk mounted at /\S*, [\d,]+ bytes free\)\. The journal holds every event up "
        r"to seq (\d+) and nothing later was acted on; free space on that disk \(or move "
        r"\[journal\]\.path to another\), then start again to recover from it",
        message,
    )
    assert match is not None, message
    assert "market_data" not in message
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    # What SQLite lacks is in the commit log, which readers and the next start take.
    with closing(open_readonly(journal)) as db:
        last = max(seq for seq, *_ in iter_records(db, str(journal)))
    assert last >= int(match[1])
    check_journal(journal)
