"""A journal write that fails (a full disk) stops ``atrium run`` naming the journal and the disk."""

from __future__ import annotations

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
from atrium.runtime.journal_market import last_record_seq
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
            "journal": {"path": str(journal), "batch_size": 64},
            "service": {"port": 0},
        }
    )


async def test_run_when_disk_fills_then_journal_error_names_file_and_disk_and_nothing_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "journal.sqlite"
    # The service's journal is durable: it writes on the loop thread (``_write_now``).
    write = atrium.runtime.journal._write_now
    calls = 0

    def filling_disk(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls > 2:  # market data goes in blocks: a write per 1,024 bars at most
            raise sqlite3.OperationalError("database or disk is full")
        write(*args)

    monkeypatch.setattr(atrium.runtime.journal, "_write_now", filling_disk)

    with anyio.fail_after(20), pytest.raises(JournalError) as raised:
        await run_service(_config(journal))

    message = str(raised.value)
    match = re.fullmatch(
        rf"{re.escape(str(journal))}: cannot write the journal: database or disk is full "
        r"\(the disk mounted at /\S*, [\d,]+ bytes free\)\. The journal holds every event up "
        r"to seq (\d+) and nothing later was acted on; free space on that disk \(or move "
        r"\[journal\]\.path to another\), then start again to recover from it",
        message,
    )
    assert match is not None, message
    assert "market_data" not in message
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    with closing(sqlite3.connect(journal)) as db:
        last = last_record_seq(db)
    assert last == int(match[1])
    check_journal(journal)
