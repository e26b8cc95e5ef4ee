"""Property: whatever mix of records, commits and writer turns comes before a ``kill -9``,
the next open holds every committed record, byte for byte, as a gap-free prefix."""

from __future__ import annotations

import tempfile
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import anyio
import anyio.lowlevel
from hypothesis import given, settings
from hypothesis import strategies as st
from journal_kit import killed_copy

from atrium.runtime.codec import encode
from atrium.runtime.journal import Journal
from atrium.runtime.journal_blocks import Record
from atrium.runtime.journal_market import iter_records
from atrium.runtime.journal_read import open_readonly
from atrium.runtime.messages import Control, Message, Tick

D = Decimal

#: ``tick``/``control``: record one; ``commit``: the barrier; ``turn``: the writer's turn;
#: ``busy_turn``: a writer turn during which a tick comes; ``busy_commit``: one during which
#: a tick and a control come and are committed.
_Step = st.sampled_from(
    ["tick", "tick", "tick", "control", "commit", "turn", "busy_turn", "busy_commit"]
)


def _message(step: str, ts: int) -> Message:
    """A tick, or a control (durable): distinct bytes for each ``ts``."""
    if step == "tick":
        return Tick(ts=ts, symbol="X", price=D(100) + D(ts) / 100, size=D(1))
    return Control(ts=ts, command="halt" if ts % 2 else "resume")


async def _run_then_kill(
    steps: list[str], commit_last: bool, directory: Path
) -> tuple[list[Record], int, Path]:
    """Run ``steps`` (then a commit, with ``commit_last``) on a durable journal of blocks,
    then copy what a kill would leave; what it recorded, what it committed, the copy."""
    path = directory / "j.sqlite"
    journal = Journal(path, durable=True, market_data="blocks", batch_size=4)
    await journal.open()
    recorded: list[Record] = []

    def record(step: str) -> None:
        message = _message(step, len(recorded) + 1)
        recorded.append((journal.next_seq, message.ts, type(message).__name__, encode(message)))
        journal.record(message)

    for step in [*steps, "commit"] if commit_last else steps:
        if step == "commit":
            await journal.commit()
        elif step == "turn":
            await journal._write_buffer()  # one writer turn, when the test says
        elif step in ("busy_turn", "busy_commit"):
            record("control")  # something for the turn to take
            async with anyio.create_task_group() as tg:
                tg.start_soon(journal._write_buffer)
                while journal.buffered:
                    # until the turn took its rows and waits for SQLite
                    await anyio.lowlevel.checkpoint()
                record("tick")
                if step == "busy_commit":
                    record("control")
                    await journal.commit()
        else:
            record(step)
    crashed = killed_copy(path, directory / "crashed")
    committed = journal.committed_seq
    await journal.close()
    return recorded, committed, crashed


async def _reopened(crashed: Path) -> list[Record]:
    again = Journal(crashed, durable=True, market_data="blocks")
    await again.open()
    await again.close()
    with closing(open_readonly(crashed)) as connection:
        return list(iter_records(connection, str(crashed)))


@settings(max_examples=100, deadline=None)
@given(steps=st.lists(_Step, max_size=40), commit_last=st.booleans())
def test_reopen_after_kill_when_any_steps_then_every_committed_record_kept_as_a_prefix(
    steps: list[str], commit_last: bool
) -> None:
    with tempfile.TemporaryDirectory() as name:
        recorded, committed, crashed = anyio.run(_run_then_kill, steps, commit_last, Path(name))
        kept = anyio.run(_reopened, crashed)

    assert kept == recorded[: len(kept)]  # exact bytes, in order, no gap
    assert len(kept) >= committed  # nothing committed is lost (seq n is the n-th record)
