"""Run in-process service sessions on one journal, as ``atrium run`` does, for recovery tests.

A session is the live pipeline (LiveClock, durable journal, recovery first) over a
seeded synthetic bar feed read in live mode: the feed sends every bar as fast as the
pipeline takes it and, after a restart, skips the bars the journal shows were sent.
A crash is the journal cut at a ``seq`` (what a kill leaves: a committed prefix).
"""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import msgspec

from atrium.config import parse_config
from atrium.config.schema import AtriumConfig
from atrium.runtime.clocks import LiveClock
from atrium.runtime.codec import decode
from atrium.runtime.journal import Journal
from atrium.runtime.journal_blocks import BlockBuffer, decode_block
from atrium.runtime.journal_market import iter_records, last_record_seq
from atrium.runtime.messages import Fill, Message, Order
from atrium.runtime.recovery import RecoveryReport, resume_session
from atrium.runtime.service import live_journal
from atrium.runtime.topology import Pipeline, build_pipeline

BARS = 400


def session_config(
    journal: Path, *, snapshot_every: int = 0, fast: int = 3, extra: dict[str, Any] | None = None
) -> AtriumConfig:
    """EMA cross trading often, sized by equity at risk (so every fill changes the next size)."""
    data: dict[str, Any] = {
        "market_data": {
            "feeds": [
                {
                    "format": "synthetic",
                    "synthetic": {
                        "seed": 11,
                        "symbols": ["AAA", "BBB"],
                        "count": BARS,
                        "volatility": 0.6,
                    },
                }
            ]
        },
        "strategies": {
            "cross": {
                "class": "atrium.actors.strategy.bundled.ema_cross:EmaCross",
                "symbols": ["AAA", "BBB"],
                "params": {"fast": fast, "slow": 8, "allow_short": True},
            }
        },
        "portfolio": {
            "position_sizing_mode": "fixed_risk_atr",
            "max_risk_per_trade_pct": 0.001,
            "strategy_budgets": {"cross": {"capital_pct": 0.9}},
            "max_leverage": 2,
        },
        "risk": {
            "max_order_notional": 10_000_000,
            "max_order_rate": 1_000_000,
            "price_band_pct": 0.5,
        },
        "execution": {"slippage_bps": 2, "commission_per_share": "0.005"},
        "journal": {"path": str(journal), "snapshot_every": snapshot_every},
        "runtime": {"log_level": "WARNING"},
    }
    for section, values in (extra or {}).items():
        data.setdefault(section, {}).update(values)
    return parse_config(data)


def session_toml(journal: Path, *, tail: str = "") -> str:
    """:func:`session_config` as a config file's text (for ``atrium run|replay``), plus
    ``tail`` (more sections)."""
    return f"""
[[market_data.feeds]]
format = "synthetic"
synthetic = {{ seed = 11, symbols = ["AAA", "BBB"], count = {BARS}, volatility = 0.6 }}

[strategies.cross]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["AAA", "BBB"]
params = {{ fast = 3, slow = 8, allow_short = true }}

[portfolio]
position_sizing_mode = "fixed_risk_atr"
max_risk_per_trade_pct = 0.001
max_leverage = 2
strategy_budgets = {{ cross = {{ capital_pct = 0.9 }} }}

[risk]
max_order_notional = 10000000
max_order_rate = 1000000
price_band_pct = 0.5

[execution]
slippage_bps = 2
commission_per_share = "0.005"

[journal]
path = "{journal}"

[runtime]
log_level = "WARNING"
{tail}"""


@dataclass
class Outcome:
    """The account at the end of a session and what recovery reported."""

    cash: Decimal
    realized: Decimal
    positions: list[dict[str, str]]
    report: RecoveryReport | None
    pipeline: Pipeline


async def run_session(config: AtriumConfig, *, durable: bool = True) -> Outcome:
    """One start of the service on ``atrium.config.journal.path``, until the feed is sent."""
    clock = LiveClock()
    pipeline = build_pipeline(config, clock=clock, mode="live")
    # Durable as ``atrium run`` has it, at the config's ``[journal].durability``.
    journal = live_journal(config) if durable else Journal(Path(config.journal.path))
    await journal.open()
    reports: list[RecoveryReport | None] = []

    async def before_sources() -> None:
        reports.append(await resume_session(pipeline, journal, config, clock=clock))

    failed: Exception | None = None
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(journal.run_writer)
            try:
                await pipeline.supervisor.run(
                    stop_when_sources_finish=True, before_sources=before_sources
                )
            except Exception as exc:  # raised below as itself, not in a group
                failed = exc
            tg.cancel_scope.cancel()
    finally:
        await journal.close()
    if failed is not None:
        raise failed
    portfolio = pipeline.slots["portfolio"].actor
    assert portfolio is not None
    ledger = portfolio.ledger  # type: ignore[attr-defined]
    return Outcome(
        cash=ledger.cash,
        realized=ledger.realized_pnl,
        positions=portfolio.positions(),  # type: ignore[attr-defined]
        report=reports[0] if reports else None,
        pipeline=pipeline,
    )


def cut(source: Path, target: Path, after_seq: int) -> None:
    """``target``: ``source`` as a kill after ``after_seq`` was committed would leave it.

    Market data blocks past the cut go; the block it falls in keeps its records up to it.
    """
    shutil.copyfile(source, target)
    with closing(sqlite3.connect(target)) as db:
        db.execute("DELETE FROM events WHERE seq > ?", (after_seq,))
        db.execute("DELETE FROM snapshots WHERE seq > ?", (after_seq,))
        spanning = db.execute(
            "SELECT first_seq, block FROM market_data WHERE first_seq <= ? AND last_seq > ?",
            (after_seq, after_seq),
        ).fetchall()
        db.execute("DELETE FROM market_data WHERE last_seq > ?", (after_seq,))
        for _, block in spanning:
            buffer = BlockBuffer()
            for record in decode_block(block):
                if record[0] <= after_seq:
                    buffer.add(record)
            buffer.close_open()
            db.executemany("INSERT INTO market_data VALUES (?, ?, ?, ?, ?, ?)", buffer.take())
        db.commit()


def damage_last_event(source: Path, target: Path) -> Path:
    """``target``: ``source`` with its last event's page overwritten from that event's payload.

    Up to 3,000 bytes, not past the page's end: the page's header and the last cell's key
    stay readable (so the file opens and names its last ``seq``), the cells written
    before it in that page do not. (A fixed distance from the file's end may fall on
    free space, which nothing reads.)
    """
    shutil.copyfile(source, target)
    with closing(sqlite3.connect(target)) as db:
        (payload,) = db.execute("SELECT payload FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        (page_size,) = db.execute("PRAGMA page_size").fetchone()
    where = target.read_bytes().rfind(payload)
    assert where > 0
    page_end = (where // page_size + 1) * page_size
    with target.open("r+b") as file:
        file.seek(where)
        file.write(bytes([0xA5]) * min(3000, page_end - where))
    return target


def events(path: Path) -> list[tuple[int, Message]]:
    """Every record of the journal at ``path`` (blocks merged in), decoded, by ``seq``."""
    with closing(sqlite3.connect(path)) as db:
        rows = list(iter_records(db, str(path)))
    return [(int(seq), decode(payload)) for seq, _, _, payload in rows]


def last_seq(path: Path) -> int:
    """The largest ``seq`` of the journal at ``path``, in a row or a block."""
    with closing(sqlite3.connect(path)) as db:
        return last_record_seq(db)


def first_row_seq(path: Path, at_least: int) -> int:
    """The first ``seq`` from ``at_least`` on that is an ``events`` row (not in a block)."""
    with closing(sqlite3.connect(path)) as db:
        (seq,) = db.execute("SELECT MIN(seq) FROM events WHERE seq >= ?", (at_least,)).fetchone()
    return int(seq)


def first_seq(path: Path, kind: str) -> int:
    with closing(sqlite3.connect(path)) as db:
        return min(int(seq) for seq, _, _, _ in iter_records(db, str(path), kinds=[kind]))


def order_flow(path: Path) -> tuple[list[Order], list[Fill]]:
    """Orders and fills of a journal with their timestamps zeroed (live stamps differ)."""
    orders: list[Order] = []
    fills: list[Fill] = []
    for _, message in events(path):
        if isinstance(message, Order):
            orders.append(msgspec.structs.replace(message, ts=0))
        elif isinstance(message, Fill):
            fills.append(msgspec.structs.replace(message, ts=0))
    return orders, fills


def repeated(values: list[str]) -> list[str]:
    """The values that occur more than once."""
    return sorted(value for value, count in Counter(values).items() if count > 1)
