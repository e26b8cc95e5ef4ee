"""The replay barrier's board: idle only when the watch saw everything reported stored and
every consumer's report covers the last message its filter matches."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from atrium.runtime.cluster.progress import ProgressBoard, progress_subject, report
from atrium.runtime.cluster.watch import StreamWatch, subject_matches

FILTERS = {"ns-core": ["ns.intent.*"], "ns-strat": ["ns.mdv.*"]}


def _stored(seq: int, subject: str) -> Any:
    return SimpleNamespace(
        subject=subject, metadata=SimpleNamespace(sequence=SimpleNamespace(stream=seq))
    )


def _report(consumer: str, acknowledged: int, stored: int) -> Any:
    return SimpleNamespace(
        subject=progress_subject("ns", consumer), data=report(acknowledged, stored)
    )


async def _board() -> tuple[StreamWatch, ProgressBoard]:
    watch = StreamWatch()
    return watch, ProgressBoard(watch, FILTERS)


async def test_idle_when_nothing_stored_then_idle() -> None:
    _, board = await _board()
    assert board.idle(0)


async def test_idle_when_a_consumer_has_not_reported_its_message_then_not_until_it_does() -> None:
    watch, board = await _board()
    await watch._on_message(_stored(1, "ns.mdv.NVDA"))  # the driver's bar, passed on

    assert not board.idle(1)
    await board.on_report(_report("ns-strat", 1, 2))  # handled; its intent stored at 2
    assert not board.idle(1)  # the watch has not seen 2 yet
    await watch._on_message(_stored(2, "ns.intent.a"))
    assert not board.idle(1)  # the core has not handled the intent
    await board.on_report(_report("ns-core", 2, 2))
    assert board.idle(1)


async def test_idle_when_driver_stored_more_than_the_watch_saw_then_not_idle() -> None:
    watch, board = await _board()
    await watch._on_message(_stored(1, "ns.md.NVDA"))  # no consumer matches it
    assert board.idle(1)
    assert not board.idle(2)  # the driver's second publish is stored, not yet seen


async def test_on_report_when_an_older_report_comes_last_then_the_newest_counts() -> None:
    watch, board = await _board()
    await watch._on_message(_stored(3, "ns.intent.a"))
    await board.on_report(_report("ns-core", 3, 3))
    await board.on_report(_report("ns-core", 1, 1))  # overtaken on the way
    await board.on_report(_report("ns-strat", 0, 0))
    assert board.idle(0)


def test_progress_subject_when_namespace_streamed_then_outside_the_stream() -> None:
    assert progress_subject("ns", "ns-core") == "$ATRIUM.ns.progress.ns-core"
    assert not subject_matches(progress_subject("ns", "ns-core"), "ns.>")
