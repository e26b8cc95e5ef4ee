"""The layering rules of the design, checked on the source: layers point one way."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_ACTOR_MODULES = {"atrium.actors.indicators", "atrium.actors.ccxt_urls"}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _ours(name: str) -> str | None:
    """``runtime``, ``actors`` or ``config`` for a name in one of Atrium's packages."""
    parts = name.split(".")
    if parts[0] != "atrium" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in {"runtime", "actors", "config"} else None


def _all_modules() -> list[Path]:
    folders = ("runtime", "actors", "config", "tests", "bench")
    return [path for folder in folders for path in _modules(folder)]


@pytest.mark.parametrize("path", _all_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_when_checked_then_name_atrium_packages_in_full(path: Path) -> None:
    """``import runtime`` would load a second copy of a module (or a user's own ``config``)."""
    bare = {
        name
        for name in _imports(path)
        if name.split(".", maxsplit=1)[0] in {"runtime", "actors", "config"}
    }
    assert bare == set()


def test_ours_when_given_names_then_tells_packages_apart() -> None:
    assert _ours("atrium.actors.risk") == "actors"
    assert _ours("atrium.runtime") == "runtime"
    assert _ours("actors.risk") is None
    assert _ours("anyio") is None


@pytest.mark.parametrize("path", _modules("config"), ids=lambda p: str(p.relative_to(ROOT)))
def test_config_when_imports_checked_then_imports_nothing_of_ours_but_config(path: Path) -> None:
    assert {name for name in _imports(path) if _ours(name) not in (None, "config")} == set()


@pytest.mark.parametrize("path", _modules("runtime"), ids=lambda p: str(p.relative_to(ROOT)))
def test_runtime_when_imports_checked_then_only_runtime_and_config(path: Path) -> None:
    assert {name for name in _imports(path) if _ours(name) == "actors"} == set()


@pytest.mark.parametrize("path", _modules("actors"), ids=lambda p: str(p.relative_to(ROOT)))
def test_actor_when_imports_checked_then_never_imports_another_actor(path: Path) -> None:
    relative = path.relative_to(ROOT).with_suffix("")
    own = ".".join(("atrium", *relative.parts[:2]))
    foreign = {
        name
        for name in _imports(path)
        if name.startswith("atrium.actors.")
        and not name.startswith(own)
        and ".".join(name.split(".")[:3]) not in SHARED_ACTOR_MODULES
    }
    assert foreign == set()


@pytest.mark.parametrize("package", ["atrium.runtime", "atrium.config", "atrium.actors.indicators"])
def test_public_names_when_listed_in_all_then_exist(package: str) -> None:
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", ())
    assert isinstance(exported, tuple)
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == []


# -- runtime reaches actors through capabilities ----------------------------------------

_BY_NAME = frozenset({"getattr", "hasattr", "setattr", "delattr"})

#: The calls in runtime/ that name an attribute in a string and are not about actors:
#: (file, call as written) -> what it reads.
ALLOWED_BY_NAME = {
    ("runtime/cli.py", "getattr(args, 'role', None)"): "an argparse namespace",
    ("runtime/journal_cli.py", "getattr(sys.stdout, 'buffer', None)"): "a text stream",
    ("runtime/journal_read.py", "getattr(connection, 'source', None)"): "an SQLite connection",
    ("runtime/journal_read.py", "getattr(connection, 'path', None)"): "an SQLite connection",
    ("runtime/snapshots.py", "hasattr(obj, '__dict__')"): "any object in a snapshot",
    ("runtime/cluster/driven.py", "getattr(message, 'strategy', '')"): "a message",
    ("runtime/cluster/steps.py", "getattr(message, 'strategy', None)"): "a message",
}


def _calls_by_name(tree: ast.AST) -> list[str]:
    """Each ``getattr``/``hasattr``/``setattr``/``delattr`` whose attribute is a string
    written in the source (a literal or an f-string), as ``ast.unparse`` writes it."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _BY_NAME
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant | ast.JoinedStr)
        ):
            found.append(ast.unparse(node))
    return found


def _runtime_calls_by_name() -> set[tuple[str, str]]:
    return {
        (str(path.relative_to(ROOT)), call)
        for path in _modules("runtime")
        for call in _calls_by_name(ast.parse(path.read_text(encoding="utf-8")))
    }


def test_calls_by_name_when_attribute_in_a_string_then_found() -> None:
    source = (
        'getattr(actor, "reconcile", None)\n'
        'hasattr(actor, f"{kind}_status")\n'
        "getattr(actor, method)\n"
        "actor.reconcile()\n"
    )

    assert _calls_by_name(ast.parse(source)) == [
        "getattr(actor, 'reconcile', None)",
        "hasattr(actor, f'{kind}_status')",
    ]


def test_runtime_when_checked_then_names_no_actor_attribute_in_a_string() -> None:
    """Runtime asks for a capability (:mod:`atrium.runtime.capabilities`) instead."""
    assert _runtime_calls_by_name() - ALLOWED_BY_NAME.keys() == set()


def test_allowed_calls_by_name_when_checked_then_each_still_in_the_source() -> None:
    assert ALLOWED_BY_NAME.keys() - _runtime_calls_by_name() == set()
