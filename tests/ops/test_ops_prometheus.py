"""A real Prometheus scrapes ``atrium run``: its series carry what the API reports, every
dashboard query returns data, the alert rules evaluate, and ``promtool check metrics``
accepts the live ``/metrics``.

One service and one Prometheus serve the whole module (starting them is most of the
cost). The service runs a synthetic live feed whose price never moves (``volatility =
0``) and one strategy that buys 100 SYN once and holds (tests/ops/ops_strategy.py), so
after the fill the account is frozen at numbers worked out by hand:

- fill: 100 SYN at 100.00, commission max(1, 0.01 * 100) = 1
- cash = 100000 - 100 * 100 - 1 = 89999; equity = 89999 + 100 * 100 = 99999
- gross = net = 10000; exposure limit = 99999 * 0.8 * 1 = 79999.2, utilisation 12.50 %
- budget of "hold" = 99999 * 0.5 = 49999.5; used 10000; utilisation 20.00 %
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from ops_kit import (
    OPS,
    REPO,
    binary,
    dashboard,
    dashboard_queries,
    for_prometheus,
    run_promtool,
)

TOKEN = "ops-test-token"
STARTUP_SECONDS = 20.0
SCRAPE_WAIT_SECONDS = 15.0
ACTORS = {"market_data", "strategy", "portfolio", "risk", "execution"}
ALERTS_YML = OPS / "prometheus" / "alerts.yml"

T = TypeVar("T")

CONFIG = """\
[runtime]
shutdown_grace_seconds = 5

[service]
host = "127.0.0.1"
port = {port}

[journal]
path = "{journal}"

[[market_data.feeds]]
format = "synthetic_live"
synthetic_live = {{ seed = 1, symbols = ["SYN"], rate_per_second = 50.0, volatility = 0.0 }}

[strategies.hold]
class = "ops_strategy:BuyAndHold"
symbols = ["SYN"]
params = {{ quantity = 100 }}

[portfolio]
initial_capital = 100000
max_exposure_pct = 0.8
max_leverage = 1

[portfolio.strategy_budgets.hold]
capital_pct = 0.5

[execution]
commission_per_share = 0.01
commission_min = 1
"""

PROMETHEUS_YML = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {alerts}
scrape_configs:
  - job_name: atrium
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _http(url: str, *, method: str = "GET", token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@dataclass
class Process:
    """A child process with its output in a file (a pipe nobody reads could block it)."""

    name: str
    popen: subprocess.Popen[bytes]
    output: Path

    def log(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")[-4000:]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


@dataclass
class Stack:
    """The running service and the Prometheus that scrapes it."""

    atrium: Process
    prometheus: Process
    atrium_port: int
    prometheus_port: int
    filled_at: float

    def api(self, path: str) -> Any:
        status, body = _http(f"http://127.0.0.1:{self.atrium_port}{path}")
        assert status == 200, f"GET {path}: {status} {body!r}"
        return json.loads(body)

    def metrics_text(self) -> str:
        status, body = _http(f"http://127.0.0.1:{self.atrium_port}/metrics")
        assert status == 200, f"GET /metrics: {status}"
        return body.decode("utf-8")

    def control(self, command: str) -> Any:
        status, body = _http(
            f"http://127.0.0.1:{self.atrium_port}/api/control/{command}",
            method="POST",
            token=TOKEN,
        )
        assert status == 200, f"POST /api/control/{command}: {status} {body!r}"
        return json.loads(body)

    def prometheus_api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        status, body = _http(f"http://127.0.0.1:{self.prometheus_port}{path}?{query}")
        document = json.loads(body)
        assert status == 200 and document["status"] == "success", (
            f"Prometheus {path} {params}: {status} {document}"
        )
        return document["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's vector (every query here yields one)."""
        data = self.prometheus_api("/api/v1/query", query=expr)
        assert data["resultType"] == "vector", f"{expr}: {data['resultType']}"
        result: list[dict[str, Any]] = data["result"]
        return result

    def value(self, expr: str) -> float:
        """The value of a query that selects exactly one series."""
        result = self.query(expr)
        assert len(result) == 1, f"{expr}: expected one series, got {result}"
        return float(result[0]["value"][1])

    def wait(self, what: str, check: Callable[[], T | None], seconds: float) -> T:
        """Poll ``check`` until it returns something; fail naming ``what`` and the logs."""
        deadline = time.monotonic() + seconds
        while True:
            for process in (self.atrium, self.prometheus):
                if process.popen.poll() is not None:
                    pytest.fail(f"{process.name} exited while waiting for {what}:\n{process.log()}")
            found = check()
            if found is not None:
                return found
            if time.monotonic() > deadline:
                pytest.fail(
                    f"no {what} within {seconds} s\n--- atrium:\n{self.atrium.log()}"
                    f"\n--- prometheus:\n{self.prometheus.log()}"
                )
            time.sleep(0.1)

    def scraped_after(self, wall_time: float) -> None:
        """Wait until Prometheus holds a scrape taken after ``wall_time`` (and three in all,
        so every rate() over 1 m has samples)."""

        def check() -> bool | None:
            # timestamp() of a bare selector is the scrape's time (of anything else, the
            # evaluation's); up is 1 when that scrape succeeded.
            latest = self.query('timestamp(up{job="atrium"}) and up{job="atrium"} == 1')
            count = self.query('count_over_time(up{job="atrium"}[1m])')
            if latest and count and float(latest[0]["value"][1]) > wall_time:
                return True if float(count[0]["value"][1]) >= 3 else None
            return None

        self.wait(f"scrape after {wall_time}", check, SCRAPE_WAIT_SECONDS)


def _up(url: str) -> bool | None:
    try:
        status, _ = _http(url)
    except (ConnectionError, urllib.error.URLError):
        return None
    return True if status == 200 else None


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prometheus_binary = binary("prometheus")
    binary("promtool")
    work = tmp_path_factory.mktemp("ops")
    atrium_port, prometheus_port = _free_port(), _free_port()
    config = work / "atrium.toml"
    config.write_text(
        CONFIG.format(port=atrium_port, journal=work / "journal.sqlite"), encoding="utf-8"
    )
    prometheus_yml = work / "prometheus.yml"
    prometheus_yml.write_text(
        PROMETHEUS_YML.format(alerts=ALERTS_YML, port=atrium_port), encoding="utf-8"
    )
    env = dict(os.environ)
    env["ATRIUM_API_TOKEN"] = TOKEN
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(Path(__file__).parent), env.get("PYTHONPATH", "")) if part
    )
    processes: list[Process] = []
    try:
        atrium_log = work / "atrium.log"
        with atrium_log.open("wb") as out:
            atrium = Process(
                "atrium run",
                subprocess.Popen(
                    [sys.executable, "-m", "atrium.runtime.cli", "run", "--config", str(config)],
                    cwd=REPO,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                ),
                atrium_log,
            )
        processes.append(atrium)
        prometheus_log = work / "prometheus.log"
        with prometheus_log.open("wb") as out:
            prometheus = Process(
                "prometheus",
                subprocess.Popen(
                    [
                        prometheus_binary,
                        f"--config.file={prometheus_yml}",
                        f"--storage.tsdb.path={work / 'tsdb'}",
                        f"--web.listen-address=127.0.0.1:{prometheus_port}",
                        "--log.level=warn",
                    ],
                    cwd=work,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                ),
                prometheus_log,
            )
        processes.append(prometheus)
        running = Stack(atrium, prometheus, atrium_port, prometheus_port, filled_at=0.0)
        running.wait(
            "atrium /healthz",
            lambda: _up(f"http://127.0.0.1:{atrium_port}/healthz"),
            STARTUP_SECONDS,
        )
        running.wait(
            "prometheus /-/ready",
            lambda: _up(f"http://127.0.0.1:{prometheus_port}/-/ready"),
            STARTUP_SECONDS,
        )

        def filled() -> bool | None:
            positions = running.api("/api/portfolio/positions")
            return True if any(p["quantity"] == "100" for p in positions) else None

        running.wait("the hold strategy's fill", filled, STARTUP_SECONDS)
        # The portfolio's gauges are recomputed at each scrape; the margin only makes sure
        # the scrape compared came after the fill.
        running.filled_at = time.time() + 0.25
        running.scraped_after(running.filled_at)
        yield running
    finally:
        for process in reversed(processes):
            process.stop()


def _hand(value: str) -> float:
    return float(Decimal(value))


def test_prometheus_when_account_frozen_then_series_equal_the_api_and_the_hand_numbers(
    stack: Stack,
) -> None:
    limits = stack.api("/api/portfolio/limits")
    # The API against the numbers in the module docstring.
    assert limits["equity"] == "99999"
    assert limits["cash"] == "89999"
    assert limits["current_exposure"] == "10000"
    assert limits["reserved_exposure"] == "0"
    assert limits["max_exposure"] == "79999.2"
    assert limits["exposure_utilization_pct"] == "12.50"
    hold = limits["per_strategy"]["hold"]
    assert (hold["budget"], hold["used"], hold["utilization_pct"]) == ("49999.5", "10000", "20.00")

    # Prometheus against the API, the same frozen state.
    selector = '{job="atrium"}'
    assert stack.value(f"atrium_portfolio_equity{selector}") == _hand(limits["equity"])
    assert stack.value(f"atrium_portfolio_cash{selector}") == _hand(limits["cash"])
    assert stack.value(
        f"atrium_portfolio_gross_exposure{selector} + atrium_portfolio_reserved_exposure{selector}"
    ) == _hand(limits["current_exposure"])
    assert stack.value(f"atrium_portfolio_gross_exposure{selector}") == _hand(
        limits["filled_exposure"]
    )
    assert stack.value(f"atrium_portfolio_net_exposure{selector}") == 10000.0
    utilization = stack.value(f"atrium_portfolio_exposure_utilization_ratio{selector}")
    assert utilization == pytest.approx(10000 / 79999.2, rel=1e-12)
    assert f"{utilization * 100:.2f}" == limits["exposure_utilization_pct"]
    # The dashboard's limit line: exposure with orders in flight / utilisation.
    assert stack.value(
        f"(atrium_portfolio_gross_exposure{selector} + atrium_portfolio_reserved_exposure{selector})"
        f" / atrium_portfolio_exposure_utilization_ratio{selector}"
    ) == pytest.approx(_hand(limits["max_exposure"]), rel=1e-12)
    assert stack.value(f"atrium_portfolio_leverage_ratio{selector}") == pytest.approx(
        _hand(limits["leverage"]), rel=1e-12
    )
    strategy = '{job="atrium", strategy="hold"}'
    assert stack.value(f"atrium_portfolio_strategy_budget{strategy}") == _hand(hold["budget"])
    assert stack.value(f"atrium_portfolio_strategy_budget_used{strategy}") == _hand(hold["used"])
    budget_utilization = stack.value(
        f"atrium_portfolio_strategy_budget_utilization_ratio{strategy}"
    )
    assert budget_utilization == pytest.approx(10000 / 49999.5, rel=1e-12)
    assert f"{budget_utilization * 100:.2f}" == hold["utilization_pct"]
    assert stack.value(f"atrium_portfolio_open_positions{selector}") == len(
        stack.api("/api/portfolio/positions")
    )


def test_prometheus_when_one_order_filled_then_order_flow_counts_one_of_each(stack: Stack) -> None:
    selector = '{job="atrium"}'
    for expr in (
        f"sum(atrium_strategy_intents_total{selector})",
        f"sum(atrium_portfolio_intents_sized_total{selector})",
        f"atrium_risk_orders_approved_total{selector}",
        f"atrium_fills_total{selector}",
        f"atrium_tick_to_order_latency_seconds_count{selector}",
    ):
        assert stack.value(expr) == 1.0, expr
    assert stack.value(f"atrium_fill_notional_total{selector}") == 10000.0
    assert stack.value(f"atrium_fill_commission_total{selector}") == 1.0
    assert stack.value(f"atrium_open_orders{selector}") == len(stack.api("/api/orders"))


def test_prometheus_when_scraping_then_mailbox_depth_per_actor_equals_the_service_metrics(
    stack: Stack,
) -> None:
    series = stack.query('atrium_actor_mailbox_depth{job="atrium"}')
    scraped = {s["metric"]["actor"]: float(s["value"][1]) for s in series}
    _, body = _http(f"http://127.0.0.1:{stack.atrium_port}/readyz")  # 503 would still list them
    assert set(scraped) == set(json.loads(body)["checks"]["actors"]) == ACTORS
    # The service's own /metrics, read now: an idle pipeline (the dispatcher) holds no
    # message between dispatches, so both read 0 for every actor.
    served = {
        line.split('actor="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in stack.metrics_text().splitlines()
        if line.startswith("atrium_actor_mailbox_depth{")
    }
    assert scraped == served == dict.fromkeys(ACTORS, 0.0)


def test_dashboard_queries_when_evaluated_by_prometheus_then_each_returns_data(
    stack: Stack,
) -> None:
    failures: list[str] = []
    queries = dashboard_queries(dashboard())
    for query in queries:
        expr = for_prometheus(query.expr)
        status, body = _http(
            f"http://127.0.0.1:{stack.prometheus_port}/api/v1/query?"
            + urllib.parse.urlencode({"query": expr})
        )
        answer = json.loads(body)
        if status != 200 or answer["status"] != "success":
            failures.append(f"{query.where}: {answer.get('error')} in {expr}")
        elif not answer["data"]["result"]:
            failures.append(f"{query.where}: no data for {expr}")
    assert failures == []
    assert len(queries) == 58


def test_promtool_check_metrics_when_live_metrics_then_no_problem(stack: Stack) -> None:
    text = stack.metrics_text()
    assert "atrium_portfolio_equity 99999.0" in text
    result = run_promtool("check", "metrics", stdin=text)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_alert_rules_when_loaded_by_prometheus_then_every_rule_evaluates_cleanly(
    stack: Stack,
) -> None:
    def evaluated() -> list[dict[str, Any]] | None:
        groups = stack.prometheus_api("/api/v1/rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        done = rules and all(rule["health"] != "unknown" for rule in rules)
        return rules if done else None

    rules = stack.wait("every alert rule evaluated", evaluated, SCRAPE_WAIT_SECONDS)
    assert len(rules) == ALERTS_YML.read_text(encoding="utf-8").count("- alert:")
    for rule in rules:
        assert rule["type"] == "alerting"
        assert (rule["health"], rule.get("lastError", "")) == ("ok", ""), rule["name"]
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["name"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_halt_when_posted_then_prometheus_shows_halted_and_the_alert_is_pending(
    stack: Stack,
) -> None:
    answer = stack.control("halt")
    halted_at = time.time()
    assert answer == {"command": "halt", "trading_state": "HALTED"}
    assert stack.api("/api/risk")["trading_state"] == "HALTED"
    stack.scraped_after(halted_at)
    states = {
        s["metric"]["state"]: float(s["value"][1])
        for s in stack.query('atrium_trading_state{job="atrium"}')
    }
    assert states == {"ACTIVE": 0.0, "REDUCING": 0.0, "HALTED": 1.0}

    def alert() -> list[dict[str, Any]] | None:
        alerts = stack.prometheus_api("/api/v1/alerts")["alerts"]
        found = [a for a in alerts if a["labels"]["alertname"] == "AtriumTradingHalted"]
        return found or None

    (halted,) = stack.wait("the AtriumTradingHalted alert", alert, SCRAPE_WAIT_SECONDS)
    # for: 30s, so it is pending for the rest of this test run.
    assert halted["state"] == "pending"
    assert halted["labels"]["severity"] == "critical"
    assert halted["annotations"]["summary"] == (
        f"Atrium 127.0.0.1:{stack.atrium_port}: trading is HALTED"
    )
