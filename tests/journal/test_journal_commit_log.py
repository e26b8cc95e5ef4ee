"""The commit log's frames: a torn or damaged end is where the log ends, and readers of a
killed journal see what it committed."""

from __future__ import annotations

import sqlite3
import struct
import zlib
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest
from journal_kit import killed_copy

from atrium.runtime.codec import encode
from atrium.runtime.journal import Journal
from atrium.runtime.journal_blocks import Record
from atrium.runtime.journal_commits import CommitLog, read_commits
from atrium.runtime.journal_market import iter_records
from atrium.runtime.journal_read import open_readonly
from atrium.runtime.messages import Control, Tick

D = Decimal
FIRST: list[Record] = [(1, 10, "Tick", b"a"), (2, 11, "Control", b"bb")]
SECOND: list[Record] = [(3, 12, "Tick", b"ccc")]


def _log(path: Path) -> bytes:
    log = CommitLog(path, sync=False)
    log.append(FIRST)
    log.append(SECOND)
    log.close(remove=False)
    return path.read_bytes()


def test_read_commits_when_two_frames_then_every_record_in_order(tmp_path: Path) -> None:
    path = tmp_path / "log"
    _log(path)
    assert read_commits(path) == FIRST + SECOND


@pytest.mark.parametrize("cut", [1, 5, 8, 9])
def test_read_commits_when_last_frame_torn_then_ends_before_it(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "log"
    data = _log(path)
    path.write_bytes(data[:-cut])  # the second write() never finished
    assert read_commits(path) == FIRST


def test_read_commits_when_a_body_byte_flipped_then_ends_before_that_frame(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log"
    data = bytearray(_log(path))
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert read_commits(path) == FIRST


def test_read_commits_when_frame_header_matches_format_then_length_and_crc_little_endian(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log"
    data = _log(path)
    length, crc = struct.unpack_from("<II", data)
    body = data[8 : 8 + length]
    assert zlib.crc32(body) == crc
    assert data[8 + length :][:8] != b""  # the second frame follows at once


def test_read_commits_when_no_file_then_empty(tmp_path: Path) -> None:
    assert read_commits(tmp_path / "missing") == []


async def test_iter_records_when_journal_killed_after_commit_then_committed_records_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, durable=True, market_data="blocks")
    await journal.open()
    tick = Tick(ts=1, symbol="X", price=D(10), size=D(1))
    halt = Control(ts=2, command="halt")
    journal.record(tick)
    journal.record(halt)
    await journal.commit()
    crashed = killed_copy(path, tmp_path / "crashed")

    with closing(open_readonly(crashed)) as connection:
        records = list(iter_records(connection, "j.sqlite"))
        controls = list(iter_records(connection, "j.sqlite", kinds=["Control"]))

    assert records == [(1, 1, "Tick", encode(tick)), (2, 2, "Control", encode(halt))]
    assert controls == [(2, 2, "Control", encode(halt))]
    with closing(sqlite3.connect(crashed)) as other:
        assert other.execute("SELECT count(*) FROM events").fetchone() == (0,)  # unchanged
    await journal.close()
