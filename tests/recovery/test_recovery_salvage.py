"""``atrium journal salvage``: the intact events of a damaged journal, recoverable again."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

import anyio
import pytest
from recovery_kit import damage_last_event, first_row_seq, run_session, session_config

from atrium.runtime.cli import main
from atrium.runtime.journal_check import check_journal
from atrium.runtime.journal_market import iter_records
from atrium.runtime.journal_salvage import SalvageError, salvage


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A journal of a short session, closed cleanly."""
    path = tmp_path_factory.mktemp("session") / "journal.sqlite"
    anyio.run(run_session, session_config(path))
    return path


def _rows(path: Path) -> list[tuple[int, int, str, bytes]]:
    """Every record, rows and blocks merged by ``seq``."""
    with closing(sqlite3.connect(path)) as db:
        return list(iter_records(db, str(path)))


def _undecodable_at(journal: Path, target: Path, seq: int) -> Path:
    shutil.copyfile(journal, target)
    with closing(sqlite3.connect(target)) as db:
        db.execute("UPDATE events SET payload = x'c1' WHERE seq = ?", (seq,))
        db.commit()
    return target


async def test_salvage_when_row_does_not_decode_then_prefix_copied_and_loss_counted_by_kind(
    journal: Path, tmp_path: Path
) -> None:
    at = first_row_seq(journal, 40)  # the market data before it is in blocks
    damaged = _undecodable_at(journal, tmp_path / "damaged.sqlite", at)
    out = tmp_path / "salvaged.sqlite"
    before = damaged.read_bytes()
    rows = _rows(journal)
    lost = Counter(kind for seq, _, kind, _ in rows if seq >= at)
    by_kind = ", ".join(f"{kind} {n}" for kind, n in sorted(lost.items()))

    report = salvage(damaged, out)

    assert report.splitlines() == [
        f"salvaged {damaged} -> {out}",
        f"copied    {at - 1} events (seq 1 to {at - 1}), 1 sessions; snapshots are not copied "
        "(recovery re-runs the journal from its first event)",
        report.splitlines()[2],
        f"lost      seq {at} to {rows[-1][0]} ({sum(lost.values())} events: {by_kind})",
        f"next      atrium run on {out} (as [journal].path) recovers the session up to seq "
        f"{at - 1}; compare its open orders with the venue",
    ]
    assert re.fullmatch(rf"damage    seq {at} does not decode \(.+\)", report.splitlines()[2])
    assert _rows(out) == rows[: at - 1]
    assert damaged.read_bytes() == before
    check_journal(out)
    outcome = await run_session(session_config(out))
    assert outcome.report is not None and outcome.report.last_seq == at - 1


def test_salvage_when_last_pages_overwritten_then_what_reads_is_copied_and_checks_clean(
    journal: Path, tmp_path: Path
) -> None:
    damaged = damage_last_event(journal, tmp_path / "damaged.sqlite")
    out = tmp_path / "salvaged.sqlite"

    report = salvage(damaged, out)

    copied = _rows(out)
    assert copied == _rows(journal)[: len(copied)]
    assert re.search(r"^lost      seq \d+ (to \d+|onwards) \(.+\)$", report, re.MULTILINE), report
    check_journal(out)


def test_salvage_when_out_exists_then_refused_and_nothing_written(
    journal: Path, tmp_path: Path
) -> None:
    out = tmp_path / "taken.sqlite"
    out.write_bytes(b"keep")

    with pytest.raises(
        SalvageError,
        match=rf"^{re.escape(str(out))}: exists; salvage writes a new journal, never over a file$",
    ):
        salvage(journal, out)

    assert out.read_bytes() == b"keep"


def test_cli_salvage_when_journal_intact_then_exit_0_and_nothing_lost(
    journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "copy.sqlite"

    status = main(["journal", "salvage", str(journal), str(out)])

    assert status == 0
    assert capsys.readouterr().out.splitlines()[-1] == "lost      nothing: no damage found"
    assert _rows(out) == _rows(journal)
