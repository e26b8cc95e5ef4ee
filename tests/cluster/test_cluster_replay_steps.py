"""A replay whose roles read the feeds themselves, when something is wrong: a role that
reads other data, one that stops, one that hangs, one that comes back. Each time every
process stops with the reason named, none waits for good and none trades on."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
from cluster_kit import (
    ROLES,
    atrium,
    nats_server,
    replay_role,
    wait,
    wait_for_log,
    write_config,
    write_feeds,
)

pytestmark = pytest.mark.timeout(180)


def _ended(process: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> str:
    """Wait for ``process`` to fail; its log."""
    try:
        code = process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"still running; log:\n{log.read_text()[-3000:]}") from None
    assert code != 0, f"exit 0; log:\n{log.read_text()[-3000:]}"
    return log.read_text()


def _outs(tmp_path: Path) -> dict[str, Path]:
    """Where each role writes (its log beside, ``.log``)."""
    return {role: tmp_path / f"out-{role}" for role in (*ROLES, "md")}


def _followers(
    tmp_path: Path, url: str, namespace: str
) -> tuple[Path, dict[str, Path], dict[str, subprocess.Popen[bytes]]]:
    """The core and the strategy roles of a 20-bar replay in ``namespace``, started (the
    market data role, which gives the start, is not); its config, and where each writes."""
    write_feeds(tmp_path, 20)
    config = write_config(tmp_path, url, namespace, sizing="fixed_qty")
    outs = _outs(tmp_path)
    return config, outs, {role: replay_role(config, role, outs[role]) for role in ROLES}


def test_a_role_reading_other_data_is_refused_and_every_role_stops(tmp_path: Path) -> None:
    write_feeds(tmp_path, 50)
    # A copy of the NVDA file whose last volume differs: the same file to a glance.
    other = tmp_path / "other.csv"
    lines = (tmp_path / "nvda.csv").read_text().splitlines()
    other.write_text("\n".join([*lines[:-1], lines[-1].rsplit(",", 1)[0] + ",999"]) + "\n")
    with nats_server(tmp_path) as server:
        config = write_config(tmp_path, server.url, "other", sizing="fixed_qty")
        outs = _outs(tmp_path)
        core = replay_role(config, "core", outs["core"])
        odd = atrium(
            "replay", "--config", str(config), "--role", "strat-a", "--out", str(outs["strat-a"]),
            "--no-progress", "--feed", f"{other}=NVDA", "--feed", f"{tmp_path / 'orcl.csv'}=ORCL",
            log=outs["strat-a"].with_suffix(".log"),
        )  # fmt: skip
        fine = replay_role(config, "strat-b", outs["strat-b"])
        driver = replay_role(config, "md", outs["md"])
        core_log = _ended(core, outs["core"].with_suffix(".log"))
        for process, role in ((odd, "strat-a"), (fine, "strat-b"), (driver, "md")):
            log = _ended(process, outs[role].with_suffix(".log"))
            assert "the replay stopped: role core stopped at event 0" in log
    assert "role strat-a reads other market data than the core" in core_log
    assert not (outs["core"] / "trades.csv").exists()  # no output of a failed run


def test_a_role_stopped_before_its_end_stops_the_others(tmp_path: Path) -> None:
    with nats_server(tmp_path) as server:
        _, outs, processes = _followers(tmp_path, server.url, "stopped")
        for role in ROLES:
            wait_for_log(outs[role].with_suffix(".log"), "wait")  # for the start or roles
        processes["strat-a"].send_signal(signal.SIGTERM)
        processes["strat-a"].wait(30)  # a stop asked for: it ends as a replay stopped does
        core_log = _ended(processes["core"], outs["core"].with_suffix(".log"))
        other_log = _ended(processes["strat-b"], outs["strat-b"].with_suffix(".log"))
    assert "role strat-a failed at event 0: role strat-a stopped at event 0" in core_log
    assert "the replay stopped: " in other_log


def test_a_role_that_hangs_is_found_gone_and_every_role_stops(tmp_path: Path) -> None:
    with nats_server(tmp_path) as server:
        config, outs, processes = _followers(tmp_path, server.url, "hangs")
        wait_for_log(outs["strat-a"].with_suffix(".log"), "waits for the replay's start")
        os.kill(processes["strat-a"].pid, signal.SIGSTOP)  # alive, but renews no lock
        try:
            driver = replay_role(config, "md", outs["md"])
            core_log = _ended(processes["core"], outs["core"].with_suffix(".log"))
            other_log = _ended(processes["strat-b"], outs["strat-b"].with_suffix(".log"))
            driver_log = _ended(driver, outs["md"].with_suffix(".log"))
        finally:
            processes["strat-a"].kill()
            processes["strat-a"].wait(10)
    assert "role strat-a is gone (no process holds its lock) while waited for" in core_log
    assert "the replay stopped: " in other_log and "the replay stopped: " in driver_log


def test_a_role_cannot_come_back_into_a_replay_it_took_part_in(tmp_path: Path) -> None:
    write_feeds(tmp_path, 10)
    with nats_server(tmp_path) as server:
        config = write_config(tmp_path, server.url, "back", sizing="fixed_qty")
        outs = _outs(tmp_path)
        processes = {role: replay_role(config, role, outs[role]) for role in (*ROLES, "md")}
        for role, process in processes.items():
            wait(process, outs[role].with_suffix(".log"))
        again = replay_role(config, "strat-a", tmp_path / "again")
        log = _ended(again, tmp_path / "again.log")
    assert "cannot take a role back" in log and "run the replay again in a new namespace" in log
