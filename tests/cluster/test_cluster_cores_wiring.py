"""Several cores in one namespace, one per account: who takes what, and what is refused."""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from atrium.config import parse_config
from atrium.config.loader import ConfigError, load_config
from atrium.config.schema import AtriumConfig
from atrium.runtime import cli
from atrium.runtime.cli import main
from atrium.runtime.cluster.wiring import (
    BRIDGE,
    check_one_process,
    check_replay_roles,
    role_config,
)
from atrium.runtime.messages import Control, Fill, PortfolioSnapshot

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "cluster-accounts-example.toml"

_STRATEGIES = """
[strategies.a]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["NVDA", "BRK.B"]
[strategies.b]
class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"
symbols = ["ORCL"]
[portfolio]
initial_capital = 100000
"""

_CORE = 'actors = ["portfolio", "risk", "execution"]\n'

_TWO_CORES = f"""
[cluster.roles.md]
actors = ["market_data"]
[cluster.roles.s]
actors = ["strategy"]
[cluster.roles.core-a]
{_CORE}strategies = ["a"]
[cluster.roles.core-a.portfolio]
initial_capital = 5000
[cluster.roles.core-b]
{_CORE}strategies = ["b"]
[cluster.roles.core-b.risk]
max_order_rate = 7
"""


def _config(roles: str) -> AtriumConfig:
    return parse_config(tomllib.loads(_STRATEGIES + '[cluster]\nnamespace = "t"\n' + roles))


def test_each_core_takes_its_strategies_symbols_order_flow_and_its_own_account() -> None:
    config = _config(_TWO_CORES)
    process, wiring = role_config(config, "core-a")
    assert wiring.imports == (
        "t.account_balances.core-a",
        "t.cancel_order.a",
        "t.control.core-a",
        "t.fill.a",
        "t.instrument_rules.core-a",
        "t.intent.a",
        "t.md.BRK%2EB",
        "t.md.NVDA",
        "t.order.a",
        "t.order_denied.a",
        "t.order_update.a",
        "t.portfolio_snapshot.core-a",
        "t.sized_order.a",
        "t.trading_state_changed.core-a",
        "t.venue_report.core-a",
    )
    assert wiring.market == ("t.md.BRK%2EB", "t.md.NVDA")
    # It sends only what the strategies want: nothing goes to the other core.
    assert process.topology.actors[BRIDGE].subscribes == [
        "Bar",
        "Fill",
        "OrderDenied",
        "OrderUpdate",
        "PositionUpdate",
        "Tick",
    ]
    assert list(process.strategies) == ["a"]
    # Account-wide messages go out under the core's name; order flow by strategy as before.
    control = Control(ts=1, command="halt", reason="x", source="operator")
    assert wiring.subjects.subject(control) == "t.control.core-a"
    assert wiring.subjects.subject(_snapshot()) == "t.portfolio_snapshot.core-a"
    assert wiring.subjects.subject(_fill("a")) == "t.fill.a"
    _, b = role_config(config, "core-b")
    assert b.subjects.subject(control) == "t.control.core-b"
    assert "t.control.core-b" in b.imports and "t.intent.b" in b.imports
    assert not set(wiring.imports) & set(b.imports)
    # Own lock, consumer, snapshot and state check: all named by the role.
    assert (wiring.durable, b.durable) == ("t-core-a", "t-core-b")
    assert wiring.consumers == ("t-core-a", "t-core-b", "t-s")


def test_with_several_cores_market_data_comes_straight_from_the_source() -> None:
    config = _config(_TWO_CORES)
    _, strategies = role_config(config, "s")
    # No core passes market data on after its venue: two would send each bar twice.
    assert "t.md.NVDA" in strategies.imports and "t.mdv.NVDA" not in strategies.imports
    assert not any(
        role_config(config, role)[1].passes_market_data_on for role in ("core-a", "core-b")
    )
    # A plain-subjects stream lists each account-wide kind with its role's token.
    assert {"t.control.*", "t.portfolio_snapshot.*", "t.fill.*"} <= set(
        strategies.subjects.flow_subjects
    )
    assert "t.control" not in strategies.subjects.flow_subjects


def test_each_core_has_its_own_account_settings_and_order_ids() -> None:
    config = _config(_TWO_CORES)
    a, _ = role_config(config, "core-a")
    b, _ = role_config(config, "core-b")
    assert (a.portfolio.initial_capital, b.portfolio.initial_capital) == (
        Decimal(5000),
        Decimal(100000),
    )
    assert (a.risk.max_order_rate, b.risk.max_order_rate) == (100, 7)
    assert (a.portfolio.order_id_prefix, b.portfolio.order_id_prefix) == ("O-core-a-", "O-core-b-")
    # One core, and one process, keep their ids and subjects as they were.
    one = _config(
        '[cluster.roles.md]\nactors = ["market_data"]\n[cluster.roles.s]\nactors = ["strategy"]\n'
        f"[cluster.roles.core]\n{_CORE}"
    )
    core, wiring = role_config(one, "core")
    assert core.portfolio.order_id_prefix == "O-"
    assert wiring.subjects.subject(_snapshot()) == "t.portfolio_snapshot"
    assert "t.control" in wiring.imports
    assert one.portfolio.order_id_prefix == config.portfolio.order_id_prefix == "O-"


def test_an_account_table_is_merged_over_the_files_section_and_derived_from_it() -> None:
    config = _config(
        _TWO_CORES
        + "[execution]\ncommission_bps = 2\n[cluster.roles.core-b.execution]\ncommission_bps = 5\n"
    )
    a, _ = role_config(config, "core-a")
    b, _ = role_config(config, "core-b")
    # The portfolio sizes on its own venue's costs, as a file of its own would.
    assert a.portfolio.commission.pct_of_notional == Decimal("0.0002")
    assert b.portfolio.commission.pct_of_notional == Decimal("0.0005")
    assert (a.execution.commission_bps, b.execution.commission_bps) == (2, 5)
    assert b.risk.max_order_rate == 7 and b.portfolio.initial_capital == Decimal(100000)


def _two(a: str, b: str, extra: str = "") -> str:
    roles = (
        '[cluster.roles.md]\nactors = ["market_data"]\n[cluster.roles.s]\nactors = ["strategy"]\n'
    )
    return roles + f"[cluster.roles.x]\n{_CORE}{a}\n[cluster.roles.y]\n{_CORE}{b}\n{extra}"


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        (
            _two('strategies = ["a"]', ""),
            "cluster.roles.y.strategies: the portfolio runs in several roles (x, y), one core "
            "per account, so each must list the strategies whose orders it takes",
        ),
        (
            _two('strategies = ["a", "b"]', 'strategies = ["b"]'),
            "cluster.roles.y.strategies: strategy 'b' already trades through core 'x'; a "
            "strategy's orders go to exactly one core",
        ),
        (
            _two('strategies = ["a"]', "strategies = []"),
            "cluster.roles: no core takes the orders of strategy b; list it in the strategies "
            "of one of x, y",
        ),
        (
            '[cluster.roles.md]\nactors = ["market_data", "strategy"]\n'
            f'[cluster.roles.x]\n{_CORE}strategies = ["a"]\n'
            '[cluster.roles.y]\nactors = ["portfolio", "execution"]\nstrategies = ["b"]\n'
            '[cluster.roles.r]\nactors = ["risk"]',
            "cluster.roles: risk is in roles x, r; with several cores (the portfolio runs in "
            "x, y, one per account) each core runs portfolio, risk, execution and no other "
            "role does",
        ),
        (
            _two('strategies = ["a"]', 'strategies = ["b"]', "[cluster.roles.s.portfolio]\n"),
            "cluster.roles.s.portfolio: this role runs no portfolio actor (an account's "
            "settings go to the core that keeps it)",
        ),
        (
            '[cluster.roles.md]\nactors = ["market_data", "strategy"]\n'
            f'[cluster.roles.x]\n{_CORE}strategies = ["a"]\n'
            '[cluster.roles.x.portfolio]\norder_id_prefix = "O-y-"\n'
            f'[cluster.roles.y-x]\n{_CORE}strategies = ["b"]',
            "cluster.roles.y-x.portfolio.order_id_prefix: its order ids would start 'O-y-x-' "
            "as those of core 'x' do; give another prefix",
        ),
        (
            f'[cluster.roles.md]\nactors = ["market_data", "strategy"]\n[cluster.roles.x]\n{_CORE}'
            'strategies = ["a"]',
            "cluster.roles.x.strategies: this role runs no strategy actor, and the only core "
            "takes every strategy's orders (a core lists strategies when several run, one per "
            "account)",
        ),
    ],
)
def test_cores_that_do_not_fit_are_refused_naming_the_roles_and_the_strategy(
    roles: str, message: str
) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(message) + "$"):
        role_config(_config(roles), "md")


def test_an_accounts_bad_setting_is_named_under_its_role() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^cluster\.roles\.core-a\.portfolio\.initial_capital: expected a number > 0, "
        r"got -5$",
    ):
        _config(_TWO_CORES.replace("initial_capital = 5000", "initial_capital = -5"))
    with pytest.raises(
        ConfigError, match=r"^cluster\.roles\.core-b\.risk\.max_order_ratee: unknown key"
    ):
        _config(_TWO_CORES.replace("max_order_rate = 7", "max_order_ratee = 7"))


def test_a_replay_or_one_process_of_several_cores_is_refused_naming_them() -> None:
    config = _config(_TWO_CORES)
    with pytest.raises(
        ConfigError,
        match=r"^cluster\.roles: the portfolio runs in roles core-a, core-b, one core per "
        r"account; a replay across processes",
    ):
        check_replay_roles(config)
    with pytest.raises(
        ConfigError,
        match=r"^cluster\.roles: the portfolio runs in roles core-a, core-b, one core per "
        r"account; one process has one portfolio: start each role with --role$",
    ):
        check_one_process(config)


def test_the_accounts_example_config_wires_every_role() -> None:
    config = load_config(EXAMPLE)
    processes = {role: role_config(config, role)[0] for role in config.cluster.roles}
    fund, prop = processes["core-fund"], processes["core-prop"]
    assert (list(fund.strategies), list(prop.strategies)) == (["trend"], ["alt"])
    assert (fund.portfolio.initial_capital, prop.portfolio.initial_capital) == (250000, 100000)
    assert (fund.risk.max_order_notional, prop.risk.max_order_notional) == (50000, 5000)
    assert list(processes["strategies"].strategies) == ["trend", "alt"]


def _snapshot() -> PortfolioSnapshot:
    zero = Decimal(0)
    return PortfolioSnapshot(
        ts=1,
        equity=zero,
        cash=zero,
        gross_exposure=zero,
        net_exposure=zero,
        realized_pnl=zero,
        unrealized_pnl=zero,
        peak_equity=zero,
        drawdown=zero,
        positions=(),
    )


def _fill(strategy: str) -> Fill:
    one = Decimal(1)
    return Fill(
        ts=1,
        fill_id="F1",
        order_id="O-1",
        strategy=strategy,
        symbol="NVDA",
        side="BUY",
        quantity=one,
        price=one,
        leaves_quantity=Decimal(0),
        commission=Decimal(0),
    )


def test_a_core_on_its_own_venue_rebuilds_and_reconciles_as_that_venue_does() -> None:
    ccxt = '[cluster.roles.core-b.execution]\nvenue = "ccxt"\nccxt = { exchange = "binance", symbols = ["ORCL"] }\n'
    config = _config(_TWO_CORES + ccxt)
    a_process, a = role_config(config, "core-a")
    b_process, b = role_config(config, "core-b")
    assert (a_process.execution.venue, b_process.execution.venue) == ("paper", "ccxt")
    assert (a.venue_input, b.venue_input) == (False, True)
    other = _config(_TWO_CORES + ccxt.replace('"ccxt"\nccxt', '"my_venues:make"\nccxt'))
    assert role_config(other, "core-b")[1].no_rebuild is not None
    assert role_config(other, "core-a")[1].no_rebuild is None


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (
            ["replay", "--role", "core-fund", "--out", "out"],
            "a replay across processes is that of one process",
        ),
        (["run"], "one process has one portfolio: start each role with --role"),
        (["replay", "--out", "out"], "one process has one portfolio: start each role with --role"),
    ],
)
def test_the_command_line_refuses_a_replay_or_one_process_of_several_cores(
    args: list[str],
    refusal: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[str] = []

    async def fake_service(*_: Any, **__: Any) -> None:
        started.append("run")

    monkeypatch.setattr(cli, "run_service", fake_service)
    monkeypatch.setattr(cli, "_replay", lambda *_: started.append("replay") or 0)
    command = [args[0], "--config", str(EXAMPLE), *args[1:]]
    command = [str(tmp_path / part) if part == "out" else part for part in command]
    assert main(command) == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith(
        "atrium: error: cluster.roles: the portfolio runs in roles core-fund, core-prop, one "
        "core per account; "
    )
    assert refusal in error
    assert not started
