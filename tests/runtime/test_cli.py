"""The ``atrium`` command line itself: --version, --log-level, run's overrides, exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from atrium.config.schema import AtriumConfig
from atrium.runtime import cli
from atrium.runtime.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.toml"


def test_version_flag_when_given_then_prints_what_the_version_command_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["version"]) == 0
    expected = capsys.readouterr().out.splitlines()[0]
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"{expected}\n"
    assert expected.startswith("atrium-trading ")


def test_log_level_when_unknown_then_usage_error_listing_the_levels(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--log-level", "loud", "check-config", str(EXAMPLE)])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "atrium: error: argument --log-level: expected one of DEBUG, INFO, WARNING, ERROR "
        "(any case), got 'loud'"
    )


def test_log_level_when_lower_case_then_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--log-level", "debug", "check-config", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out.startswith(f"{EXAMPLE}: ok (")


def test_run_when_host_and_port_given_then_they_override_the_service_section(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: list[AtriumConfig] = []

    async def fake_service(config: AtriumConfig, **_: Any) -> None:
        served.append(config)

    monkeypatch.setattr(cli, "run_service", fake_service)
    assert main(["run", "--config", str(EXAMPLE), "--host", "0.0.0.0", "--port", "9123"]) == 0
    assert [(c.service.host, c.service.port) for c in served] == [("0.0.0.0", 9123)]


def test_run_when_no_host_or_port_given_then_the_service_section_stands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: list[AtriumConfig] = []

    async def fake_service(config: AtriumConfig, **_: Any) -> None:
        served.append(config)

    monkeypatch.setattr(cli, "run_service", fake_service)
    assert main(["run", "--config", str(EXAMPLE)]) == 0
    assert [(c.service.host, c.service.port) for c in served] == [("127.0.0.1", 8000)]


def test_run_when_port_out_of_range_then_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "--config", str(EXAMPLE), "--port", "70000"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "atrium run: error: argument --port: expected a port number 0-65535, got '70000'"
    )


def test_help_when_printed_then_epilog_documents_the_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert capsys.readouterr().out.endswith(
        "exit status:\n"
        "  0  success\n"
        "  1  runtime error: the run failed (an actor escalated, a feed could not be read, ...)\n"
        "  2  usage or config error: bad arguments, or a config file that does not validate\n"
    )


def test_check_config_when_config_invalid_then_exit_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[portfolio]\nmax_leverage = -1\n")
    assert main(["check-config", str(config)]) == 2
    assert capsys.readouterr().err == (
        "atrium: error: portfolio.max_leverage: expected a number > 0, got -1\n"
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("{ fast = 30, slow = 10 }", "fast: must be < slow, got fast=30, slow=10"),
        ("{ fats = 3 }", "fats: unknown key (check the spelling)"),
        ('{ fast = "3" }', "fast: expected an integer, got '3'"),
    ],
)
def test_check_config_when_strategy_params_invalid_then_exit_2_naming_the_param(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], params: str, message: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        "[strategies.trend]\n"
        'class = "atrium.actors.strategy.bundled.ema_cross:EmaCross"\n'
        'symbols = ["NVDA"]\n'
        f"params = {params}\n"
    )
    assert main(["check-config", str(config)]) == 2
    assert capsys.readouterr().err == f"atrium: error: strategies.trend.params.{message}\n"


def test_check_config_when_file_missing_then_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.toml"
    assert main(["check-config", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"atrium: error: cannot read config file {missing}: No such file or directory\n"
    )
