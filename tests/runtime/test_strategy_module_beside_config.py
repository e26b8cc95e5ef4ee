"""A strategy module beside the config file (or in the current directory) loads without
PYTHONPATH, for ``atrium check-config``, ``atrium replay`` and ``atrium run``."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from atrium.actors.strategy import load_strategies
from atrium.config.loader import ConfigError, load_config
from atrium.runtime.cli import main

MODULE = "beside_strategy"
STRATEGY = """
from atrium.actors.strategy import Strategy
from atrium.config.base import ConfigBase
from pathlib import Path


class Params(ConfigBase, frozen=True, kw_only=True):
    marker: str = ""


class Beside(Strategy[Params]):
    Params = Params

    def on_start(self) -> None:
        if self.params.marker:
            Path(self.params.marker).write_text("started")

    def on_bar(self, bar) -> None:
        if self.position(bar.symbol) == 0:
            self.buy(bar.symbol, 1)
"""


def _config(directory: Path, module: str = MODULE, params: str = "{}") -> Path:
    config = directory / "atrium.toml"
    config.write_text(
        "[[market_data.feeds]]\n"
        'format = "synthetic"\n'
        'synthetic = { seed = 1, symbols = ["SYN"], count = 30 }\n'
        "[strategies.beside]\n"
        f'class = "{module}:Beside"\n'
        'symbols = ["SYN"]\n'
        f"params = {params}\n"
        "[portfolio.strategy_budgets.beside]\n"
        "capital_pct = 0.5\n"
    )
    return config


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """A config directory and another current directory; the module is unloaded after."""
    config_dir, elsewhere = tmp_path / "config", tmp_path / "elsewhere"
    config_dir.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    yield config_dir, elsewhere
    sys.modules.pop(MODULE, None)


def test_load_when_module_beside_config_then_imported_without_changing_sys_path(
    dirs: tuple[Path, Path],
) -> None:
    config_dir, _ = dirs
    (config_dir / f"{MODULE}.py").write_text(STRATEGY)
    path_before = list(sys.path)

    (loaded,) = load_strategies(load_config(_config(config_dir)).strategies)

    assert (loaded.cls.__module__, loaded.cls.__name__) == (MODULE, "Beside")
    assert sys.path == path_before


def test_load_when_module_in_current_directory_then_imported(dirs: tuple[Path, Path]) -> None:
    config_dir, elsewhere = dirs
    (elsewhere / f"{MODULE}.py").write_text(STRATEGY)

    (loaded,) = load_strategies(load_config(_config(config_dir)).strategies)

    assert loaded.cls.__name__ == "Beside"


def test_load_when_module_nowhere_then_error_names_the_places_looked_in(
    dirs: tuple[Path, Path],
) -> None:
    config_dir, elsewhere = dirs
    config = load_config(_config(config_dir, module="missing_strategy"))
    message = (
        "strategies.beside.class: cannot import module 'missing_strategy': not on the import "
        "path, and no missing_strategy.py or missing_strategy/__init__.py in "
        f"{config_dir.resolve()}, {elsewhere.resolve()}; put it beside the config file or "
        "install it"
    )

    with pytest.raises(ConfigError, match=rf"^{_escape(message)}$"):
        load_strategies(config.strategies)


def test_load_when_module_beside_config_imports_a_missing_one_then_error_names_both(
    dirs: tuple[Path, Path],
) -> None:
    config_dir, _ = dirs
    module = config_dir / f"{MODULE}.py"
    module.write_text("import atrium_no_such_dependency\n" + STRATEGY)
    config = load_config(_config(config_dir))
    message = (
        f"strategies.beside.class: cannot import module '{MODULE}' from {module.resolve()}: "
        "No module named 'atrium_no_such_dependency'"
    )

    with pytest.raises(ConfigError, match=rf"^{_escape(message)}$"):
        load_strategies(config.strategies)
    assert MODULE not in sys.modules


def test_check_config_when_module_beside_config_then_ok(
    dirs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config_dir, _ = dirs
    (config_dir / f"{MODULE}.py").write_text(STRATEGY)
    config = _config(config_dir)

    assert main(["check-config", str(config)]) == 0
    assert capsys.readouterr().out.startswith(f"{config}: ok (")


def test_replay_when_module_beside_config_then_its_orders_fill(
    dirs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config_dir, elsewhere = dirs
    (config_dir / f"{MODULE}.py").write_text(STRATEGY)
    out = elsewhere / "out"

    code = main(
        ["replay", "--config", str(_config(config_dir)), "--out", str(out), "--no-progress"]
    )

    assert code == 0, capsys.readouterr().err
    assert len((out / "trades.csv").read_text().splitlines()) == 2  # the header and one fill


def test_run_when_module_beside_config_then_the_service_starts_it(tmp_path: Path) -> None:
    config_dir, elsewhere = tmp_path / "config", tmp_path / "elsewhere"
    config_dir.mkdir()
    elsewhere.mkdir()
    (config_dir / f"{MODULE}.py").write_text(STRATEGY)
    marker = tmp_path / "started"
    config = _config(config_dir, params=f'{{ marker = "{marker}" }}')
    with config.open("a") as file:
        file.write('[service]\nport = 0\n[journal]\npath = "journal.sqlite"\n')
    atrium = Path(sys.executable).with_name("atrium")  # a console script: cwd not on sys.path
    process = subprocess.Popen(
        [str(atrium), "run", "--config", str(config)],
        cwd=elsewhere,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert marker.read_text() == "started", stderr
    assert process.returncode == 0, stderr


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").translate({ord(c): f"\\{c}" for c in ".()[]{}*+?^$|"})
