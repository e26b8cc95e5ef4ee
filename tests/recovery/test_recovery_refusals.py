"""A journal that cannot be recovered exactly (damaged, emptied, its -wal lost) is refused
before any actor runs, naming what it cost and the way out."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import anyio
import pytest
from loopback_feed import ROOT
from recovery_kit import (
    damage_last_event,
    first_row_seq,
    last_seq,
    run_session,
    session_config,
    session_toml,
)

from atrium.runtime.journal import Journal, JournalError
from atrium.runtime.journal_check import check_journal
from atrium.runtime.messages import Control
from atrium.runtime.recovery import RecoveryError


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A journal of a short session, closed cleanly."""
    path = tmp_path_factory.mktemp("session") / "journal.sqlite"
    anyio.run(run_session, session_config(path))
    return path


def _write_config(path: Path, journal: Path) -> Path:
    """``recovery_kit.session_config(journal)`` as an ``atrium run`` TOML file (port 0)."""
    path.write_text(session_toml(journal, tail="\n[service]\nport = 0\n"))
    return path


def test_run_when_journal_damaged_in_last_pages_then_one_line_naming_it_and_exit_1(
    journal: Path, tmp_path: Path
) -> None:
    damaged = damage_last_event(journal, tmp_path / "journal.sqlite")
    config = _write_config(tmp_path / "atrium.toml", damaged)
    before = damaged.read_bytes()

    result = subprocess.run(
        [sys.executable, "-m", "atrium.runtime.cli", "run", "--config", str(config)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "ATRIUM_API_TOKEN": "t"},
        capture_output=True,
        timeout=30,
        check=False,
    )

    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr
    assert re.fullmatch(
        rf"atrium: error: {re.escape(str(damaged))}: the journal is damaged \(.+\): "
        r"seq \d+ (to \d+|onwards) cannot be used, events up to seq \d+ are intact\. "
        rf"Run `atrium journal salvage {re.escape(str(damaged))} NEW\.sqlite` to copy them "
        r"to a new journal and start on that\n",
        stderr,
    ), stderr
    assert damaged.read_bytes() == before


def test_check_when_payload_does_not_decode_then_refused_naming_its_seq(
    journal: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "journal.sqlite"
    shutil.copyfile(journal, copy)
    last = last_seq(copy)
    at = first_row_seq(copy, 40)  # the market data before it is in blocks
    with closing(sqlite3.connect(copy)) as db:
        db.execute("UPDATE events SET payload = x'c1' WHERE seq = ?", (at,))
        db.commit()

    with pytest.raises(
        JournalError,
        match=rf"^{re.escape(str(copy))}: the journal is damaged \(seq {at} does not decode "
        rf"\(.+\)\): seq {at} to {last} cannot be used, events up to seq {at - 1} are intact\. "
        rf"Run `atrium journal salvage {re.escape(str(copy))} NEW\.sqlite` to copy them to a "
        r"new journal and start on that$",
    ):
        check_journal(copy)


def test_check_when_journal_intact_then_accepted(journal: Path) -> None:
    check_journal(journal)


def test_check_when_file_emptied_then_refused_naming_new_session(tmp_path: Path) -> None:
    emptied = tmp_path / "journal.sqlite"
    emptied.write_bytes(b"")

    with pytest.raises(
        JournalError,
        match=rf"^{re.escape(str(emptied))}: the file is empty, so it holds no Atrium session "
        r"to recover; if its session was lost, restore the journal \(with its -wal file\) from "
        r"a backup, and if a new session on this path is meant, start with "
        r"`atrium run --new-session`$",
    ):
        check_journal(emptied)
    check_journal(emptied, new_session=True)


def test_check_when_new_session_but_journal_holds_events_then_refused(
    journal: Path,
) -> None:
    last = last_seq(journal)

    with pytest.raises(
        JournalError,
        match=rf"^{re.escape(str(journal))}: --new-session, but the journal holds a session "
        rf"\(events up to seq {last}\); move it aside to start a new session, or start "
        r"without --new-session to recover it$",
    ):
        check_journal(journal, new_session=True)


async def _open_session(path: Path) -> Journal:
    """A journal as a running service holds it: a session begun, events committed."""
    journal = Journal(path, durable=True)
    await journal.open()
    await journal.begin_session(mode="live", version="0", fingerprint="f")
    for seq in range(1, 6):
        journal.record(Control(ts=seq, command="halt", reason="r", source="operator"))
    await journal.commit()
    return journal


async def test_check_when_wal_removed_after_unclean_stop_then_refused(tmp_path: Path) -> None:
    running = await _open_session(tmp_path / "running.sqlite")
    try:
        # What a kill leaves, without its -wal: the main file as it is on disk now.
        copy = tmp_path / "copy.sqlite"
        shutil.copyfile(tmp_path / "running.sqlite", copy)
    finally:
        await running.close()
    message = (
        rf"^{re.escape(str(copy))}: session #1 did not stop cleanly and its write-ahead log "
        rf"{re.escape(str(copy))}-wal is missing, so the events it committed since the last "
        r"checkpoint are lost\. Put the -wal file back beside the journal \(a journal is "
        r"copied with its -wal and -shm files\), or move the journal aside and start a new "
        r"session$"
    )

    for _ in range(2):  # refused again: the check creates no -wal
        with pytest.raises(JournalError, match=message):
            check_journal(copy)


async def test_check_when_closed_cleanly_without_wal_then_accepted(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    await (await _open_session(path)).close()

    assert not (tmp_path / "journal.sqlite-wal").exists()
    check_journal(path)


async def test_recover_when_damage_met_mid_rerun_then_error_names_seq_and_nothing_hangs(
    journal: Path, tmp_path: Path
) -> None:
    # The start-up check is skipped here: recovery itself must not hang on damage.
    damaged = damage_last_event(journal, tmp_path / "journal.sqlite")

    with anyio.fail_after(20), pytest.raises(RecoveryError) as raised:
        await run_session(session_config(damaged))

    assert re.fullmatch(
        rf"{re.escape(str(damaged))}: cannot read the journal to recover after seq \d+ "
        r"\(.+\); run `atrium journal salvage` on the journal and start on the salvaged journal",
        str(raised.value),
    ), raised.value


def test_check_when_events_missing_in_the_middle_then_refused_naming_the_gap(
    journal: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "journal.sqlite"
    shutil.copyfile(journal, copy)
    last = last_seq(copy)
    gone = first_row_seq(copy, 30)
    with closing(sqlite3.connect(copy)) as db:
        db.execute("DELETE FROM events WHERE seq = ?", (gone,))
        db.commit()

    with pytest.raises(
        JournalError,
        match=rf"^{re.escape(str(copy))}: the journal is damaged \(seq {gone + 1} follows seq "
        rf"{gone - 1}\): seq {gone} to {last} cannot be used, events up to seq {gone - 1} are "
        r"intact\. Run `atrium "
        rf"journal salvage {re.escape(str(copy))} NEW\.sqlite` to copy them to a new journal "
        r"and start on that$",
    ):
        check_journal(copy)
