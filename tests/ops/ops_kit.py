"""Shared helpers of the ``ops/`` tests: paths, the Prometheus and NATS binaries, the
dashboard's queries, the alert rules, systemd units, and the metric names Atrium registers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = (
    "ALERTS_YML",
    "DATASOURCE",
    "GRAFANA_VARIABLES",
    "OPS",
    "PROVISIONED_UID",
    "REPO",
    "DashboardQuery",
    "alert_blocks",
    "alert_expr",
    "all_panels",
    "binary",
    "dashboard",
    "dashboard_queries",
    "for_prometheus",
    "promql_metric_names",
    "registered_metric_names",
    "run_promtool",
    "systemd_unit",
)

REPO = Path(__file__).resolve().parents[2]
OPS = REPO / "ops"
ALERTS_YML = OPS / "prometheus" / "alerts.yml"

#: The datasource every panel and query names: the dashboard's ``datasource`` variable, so
#: it imports into any Grafana.
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
#: The uid of the provisioned datasource (ops/grafana/provisioning/datasources), the
#: variable's default.
PROVISIONED_UID = "atrium-prometheus"

#: What Grafana substitutes in the dashboard's queries, as the tests evaluate them:
#: the rate interval Grafana would pick for a 5 s scrape is 20 s; 1 m holds enough
#: samples at any scrape interval the tests use.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$job": "atrium",
    "$instance": ".+",
    "$role": ".*",
}


def binary(name: str) -> str:
    """Path of a Prometheus binary (``promtool``, ``prometheus``).

    The README's install command does not bring Prometheus, so without it the test skips,
    saying how to get it; with ``ATRIUM_REQUIRE_PROMTOOL`` set (CI, .ci/run) it fails.
    """
    fallback = Path("/usr/bin") / name
    found = shutil.which(name) or (str(fallback) if fallback.is_file() else None)
    if found is None:
        reason = (
            f"{name} is not installed: the ops tests need Prometheus's {name}; "
            "install it with `apt-get install prometheus` (Debian/Ubuntu)"
        )
        if os.environ.get("ATRIUM_REQUIRE_PROMTOOL"):
            pytest.fail(f"{reason}; ATRIUM_REQUIRE_PROMTOOL is set", pytrace=False)
        pytest.skip(reason)
    return found


def run_promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``promtool <args>`` with its output captured (30 s at most)."""
    return subprocess.run(
        [binary("promtool"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


# -- alert rules and systemd units ------------------------------------------------------


def alert_blocks() -> dict[str, str]:
    """Each alerting rule's YAML text in ops/prometheus/alerts.yml, by alert name."""
    text = ALERTS_YML.read_text(encoding="utf-8")
    parts = re.split(r"^\s*- alert:\s*", text, flags=re.MULTILINE)[1:]
    return {part.split("\n", 1)[0].strip(): part for part in parts}


def alert_expr(block: str) -> str:
    """The rule's ``expr`` (every rule here writes it on one line)."""
    match = re.search(r"^\s*expr:\s*(.+)$", block, flags=re.MULTILINE)
    assert match is not None, f"no single-line expr in:\n{block}"
    return match.group(1).strip()


def systemd_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """``[Section] Key=Value`` lines of a unit file, every value of a repeated key kept."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


# -- the dashboard ---------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    """ops/grafana/dashboards/atrium.json, parsed."""
    document: dict[str, Any] = json.loads(
        (OPS / "grafana" / "dashboards" / "atrium.json").read_text(encoding="utf-8")
    )
    return document


@dataclass(frozen=True)
class DashboardQuery:
    """One query of one panel, as written in the dashboard (Grafana variables and all)."""

    panel_id: int
    panel: str
    ref_id: str
    expr: str

    @property
    def where(self) -> str:
        return f"panel {self.panel_id} {self.panel!r} query {self.ref_id}"


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every panel, those nested in collapsed rows included."""
    found: list[dict[str, Any]] = []
    for panel in panels:
        found.append(panel)
        found.extend(_panels(panel.get("panels", [])))
    return found


def all_panels(document: dict[str, Any]) -> list[dict[str, Any]]:
    return _panels(document["panels"])


def dashboard_queries(document: dict[str, Any]) -> list[DashboardQuery]:
    """Every query of every panel, in dashboard order."""
    return [
        DashboardQuery(panel["id"], panel["title"], target["refId"], target["expr"])
        for panel in all_panels(document)
        for target in panel.get("targets", [])
    ]


_VARIABLE = re.compile(r"\$\{?\w+\}?")


def for_prometheus(expr: str) -> str:
    """The query as Grafana sends it with job "atrium" and every instance selected."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    left = _VARIABLE.findall(expr)
    if left:
        raise ValueError(f"unknown Grafana variable {left[0]} in {expr!r}")
    return expr


# -- metric names ------------------------------------------------------------------------

# A metric name as the first string argument of a collector: Counter("atrium_x", ...),
# counter(registry, "atrium_x", ...), GaugeMetricFamily("atrium_x", ...), new_gauge("atrium_x").
_REGISTRATION = re.compile(
    r"""(\w+)\(\s*(?:registry\s*,\s*)?["'](atrium_[a-z0-9_]+)["']""", re.IGNORECASE
)
_COUNTER_SUFFIXES = ("_total", "_created")
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count", "_created")
_ANY_SUFFIXES = ("", "_total", "_created", "_bucket", "_sum", "_count", "_info")


def _exported(kind: str, name: str) -> set[str]:
    """The sample names Prometheus sees for a collector created under ``name``."""
    kind = kind.lower()
    if "counter" in kind:
        base = name.removesuffix("_total")
        return {base + suffix for suffix in _COUNTER_SUFFIXES}
    if "histogram" in kind:
        return {name + suffix for suffix in _HISTOGRAM_SUFFIXES}
    if kind == "info" or kind.endswith("infometricfamily"):
        return {name + "_info"}
    if "gauge" in kind:
        return {name}
    # A helper this scan does not know: accept every name the collector could export.
    base = name.removesuffix("_total")
    return {base + suffix for suffix in _ANY_SUFFIXES}


def registered_metric_names() -> set[str]:
    """Every ``atrium_*`` sample name the code registers (runtime/ and actors/)."""
    names: set[str] = set()
    for package in ("runtime", "actors"):
        for path in sorted((REPO / package).rglob("*.py")):
            for kind, name in _REGISTRATION.findall(path.read_text(encoding="utf-8")):
                names |= _exported(kind, name)
    return names


_STRING = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`""")
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
_IDENTIFIER = re.compile(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*")
_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "atan2",
        "inf",
        "nan",
        "start",
        "end",
    }
)


def promql_metric_names(expr: str) -> list[str]:
    """The metric names a PromQL expression selects, in order of appearance.

    Strings, label matchers, ranges and label lists are blanked first; what is left is
    numbers, operators, function or aggregation names (followed by ``(``), keywords and
    the metric names.
    """
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    names: list[str] = []
    for match in _IDENTIFIER.finditer(text):
        token = match.group()
        if text[match.end() :].lstrip().startswith("(") or token.lower() in _KEYWORDS:
            continue
        names.append(token)
    return names
