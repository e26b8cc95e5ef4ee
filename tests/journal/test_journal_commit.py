"""The durable journal's commit: on the loop thread, without suspending, prefix-ordered,
into the commit log that the next open moves into SQLite; and ``[journal].durability``,
the level it commits at."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from journal_kit import killed_copy

from atrium.config import ConfigError, parse_config
from atrium.config.schema import AtriumConfig
from atrium.runtime.codec import encode
from atrium.runtime.journal import Journal
from atrium.runtime.journal_blocks import decode_block
from atrium.runtime.journal_commits import commits_path, read_commits
from atrium.runtime.messages import Control, Tick
from atrium.runtime.service import live_journal

D = Decimal


def _tick(ts: int) -> Tick:
    return Tick(ts=ts, symbol="X", price=D(10), size=D(1))


def _commit_without_suspending(journal: Journal) -> None:
    """Run ``journal.commit()`` to its end in one step: it must not await anything."""
    coroutine = journal.commit()
    with pytest.raises(StopIteration):
        coroutine.send(None)


def _rows(path: Path, query: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as other:
        return other.execute(query).fetchall()


@pytest.mark.parametrize("synchronous", ["normal", "full"])
async def test_commit_when_durable_then_records_in_commit_log_at_once_without_suspending(
    tmp_path: Path, synchronous: str
) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, durable=True, synchronous=synchronous)
    await journal.open()
    for ts in (1, 2, 3):
        journal.record(_tick(ts))
    halt = Control(ts=4, command="halt")
    journal.record(halt)
    assert journal.commit_pending

    _commit_without_suspending(journal)

    assert not journal.commit_pending
    assert journal.committed_seq == 4
    expected = [
        (1, 1, "Tick", encode(_tick(1))),
        (2, 2, "Tick", encode(_tick(2))),
        (3, 3, "Tick", encode(_tick(3))),
        (4, 4, "Control", encode(halt)),
    ]
    assert read_commits(commits_path(path)) == expected
    assert _rows(path, "SELECT seq FROM events") == []  # the writer's turn has not come

    crashed = killed_copy(path, tmp_path / "crashed")
    again = Journal(crashed, durable=True)
    await again.open()

    assert _rows(crashed, "SELECT seq, ts, kind, payload FROM events ORDER BY seq") == expected
    assert again.next_seq == 5
    assert read_commits(commits_path(crashed)) == []  # moved into SQLite, emptied
    await again.close()
    await journal.close()


async def test_commit_when_blocks_then_market_data_before_the_control_committed_with_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, durable=True, market_data="blocks")
    await journal.open()
    journal.record(_tick(1))
    journal.record(_tick(2))
    journal.record(Control(ts=3, command="halt"))
    journal.record(_tick(4))  # recorded before the commit: committed with it

    _commit_without_suspending(journal)

    crashed = killed_copy(path, tmp_path / "crashed")
    again = Journal(crashed, durable=True, market_data="blocks")
    await again.open()
    events = _rows(crashed, "SELECT seq, kind FROM events")
    (first, last, records, block), *more = _rows(
        crashed, "SELECT first_seq, last_seq, records, block FROM market_data"
    )
    assert events == [(3, "Control")]
    assert (first, last, records, more) == (1, 4, 3, [])
    assert [seq for seq, *_ in decode_block(block)] == [1, 2, 4]
    await again.close()
    await journal.close()


async def test_commit_when_writer_caught_up_then_commit_log_holds_only_the_new_commit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, durable=True, market_data="blocks", flush_interval=0.01)
    await journal.open()
    journal.record(_tick(1))
    journal.record(Control(ts=2, command="halt"))
    await journal.commit()
    async with anyio.create_task_group() as tg:
        tg.start_soon(journal.run_writer)
        with anyio.fail_after(2):
            while not _rows(path, "SELECT seq FROM events"):
                await anyio.sleep(0.005)
        tg.cancel_scope.cancel()
    resume = Control(ts=3, command="resume")
    journal.record(resume)

    await journal.commit()

    assert read_commits(commits_path(path)) == [(3, 3, "Control", encode(resume))]
    await journal.close()
    assert not commits_path(path).exists()  # closed cleanly: SQLite holds everything


@pytest.mark.parametrize(("synchronous", "syncs"), [("normal", 0), ("full", 1)])
async def test_commit_when_power_then_log_flushed_to_disk_at_each_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synchronous: str, syncs: int
) -> None:
    calls: list[int] = []
    monkeypatch.setattr("os.fdatasync", calls.append)
    journal = Journal(tmp_path / "j.sqlite", durable=True, synchronous=synchronous)
    await journal.open()
    journal.record(Control(ts=1, command="halt"))

    await journal.commit()

    assert len(calls) == syncs
    await journal.close()


async def test_writer_turn_when_only_ticks_then_open_block_in_file_within_flush_interval(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    journal = Journal(path, durable=True, market_data="blocks", flush_interval=0.01)
    await journal.open()
    async with anyio.create_task_group() as tg:
        tg.start_soon(journal.run_writer)
        for ts in (1, 2, 3):
            journal.record(_tick(ts))
        with anyio.fail_after(2):
            while journal.committed_seq < 3:
                await anyio.sleep(0.005)
        tg.cancel_scope.cancel()
    with closing(sqlite3.connect(path)) as other:
        rows = other.execute("SELECT first_seq, last_seq, records FROM market_data").fetchall()
    assert rows == [(1, 3, 3)]
    await journal.close()


def _live_config(path: Path) -> AtriumConfig:
    return parse_config(_journal_section(path=str(path)))


async def _append_tick_and_halt(journal: Journal) -> None:
    await journal.open()
    journal.record(_tick(1))
    journal.record(Control(ts=2, command="halt"))
    await journal.commit()
    await journal.close()


async def test_live_journal_when_new_then_market_data_in_blocks(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"

    await _append_tick_and_halt(live_journal(_live_config(path)))

    with closing(sqlite3.connect(path)) as other:
        meta = other.execute("SELECT value FROM meta WHERE key = 'market_data'").fetchone()
        events = other.execute("SELECT seq, kind FROM events").fetchall()
        blocks = other.execute("SELECT first_seq, last_seq, records FROM market_data").fetchall()
    assert (meta, events, blocks) == (("blocks",), [(2, "Control")], [(1, 1, 1)])


async def test_live_journal_when_existing_journal_of_rows_then_appends_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.sqlite"
    await _append_tick_and_halt(Journal(path, durable=True))  # a journal of rows

    journal = live_journal(_live_config(path))
    await journal.open()
    journal.record(_tick(3))
    journal.record(Control(ts=4, command="resume"))
    await journal.commit()
    await journal.close()

    assert journal.market_data == "rows"
    with closing(sqlite3.connect(path)) as other:
        events = other.execute("SELECT seq, kind FROM events ORDER BY seq").fetchall()
        (blocks,) = other.execute("SELECT count(*) FROM market_data").fetchone()
    assert events == [(1, "Tick"), (2, "Control"), (3, "Tick"), (4, "Control")]
    assert blocks == 0


def _journal_section(**values: object) -> dict[str, object]:
    return {"journal": values}


@pytest.mark.parametrize(
    ("values", "level"),
    [
        ({}, "process"),
        ({"durability": "power"}, "power"),
        ({"synchronous": "full"}, "power"),
        ({"synchronous": "normal", "durability": "process"}, "process"),
    ],
)
def test_durability_when_given_either_way_then_level_in_force(
    values: dict[str, str], level: str
) -> None:
    assert parse_config(_journal_section(**values)).journal.level == level


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"durability": "disk"}, r"^journal\.durability: unknown value 'disk'$"),
        (
            {"durability": "process", "synchronous": "full"},
            r"^journal\.durability: 'process' contradicts synchronous = 'full'",
        ),
    ],
)
def test_durability_when_malformed_then_error_names_the_field(
    values: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(_journal_section(**values))
