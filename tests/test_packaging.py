"""Atrium installs as one ``atrium`` package, clear of a user's own ``config`` or ``runtime``."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_distribution_when_installed_then_has_one_top_level_package() -> None:
    top_level = distribution("atrium-trading").read_text("top_level.txt")
    assert top_level is not None
    assert top_level.split() == ["atrium"]


def test_user_project_when_it_has_config_and_runtime_packages_then_both_import(
    tmp_path: Path,
) -> None:
    for name in ("config", "runtime", "actors"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"OWNER = 'user {name}'\n")
    script = (
        "import config, runtime, actors\n"
        "from atrium.config import parse_config\n"
        "from atrium.runtime.cli import main\n"
        "from atrium.actors.strategy import Strategy\n"
        "print(config.OWNER, runtime.OWNER, actors.OWNER, parse_config.__module__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.split("\n")[0] == "user config user runtime user actors atrium.config.loader"


def test_config_when_class_path_lacks_atrium_then_check_config_names_the_new_path(
    tmp_path: Path,
) -> None:
    example = (ROOT / "config" / "example.toml").read_text()
    old = tmp_path / "old.toml"
    old.write_text(example.replace('"atrium.actors.', '"actors.'))
    done = subprocess.run(
        [sys.executable, "-m", "atrium", "check-config", str(old)],
        cwd=tmp_path,  # not the checkout, where a bare ``actors`` would import
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.rstrip().endswith(
        "(Atrium's own modules are under 'atrium.': write "
        "'atrium.actors.strategy.bundled.momentum_atr')"
    )


def test_python_m_atrium_when_asked_for_version_then_prints_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "atrium", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("atrium-trading ")
