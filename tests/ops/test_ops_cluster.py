"""The ops files of a cluster deployment agree with config/cluster-example.toml and with
each other: the NATS config runs JetStream where the systemd unit keeps its store, the
template unit starts one role per instance, the compose file and the cluster scrape config
name every role at its port, and the cluster alerts select metrics the bridge exports.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from nats_kit import free_port, nats_binary
from ops_kit import (
    OPS,
    REPO,
    alert_blocks,
    alert_expr,
    promql_metric_names,
    registered_metric_names,
    run_promtool,
    systemd_unit,
)

from atrium.config.cluster import ClusterConfig
from atrium.config.loader import load_config
from atrium.runtime.cluster import bridge

NATS_CONF = OPS / "nats" / "nats-server.conf"
NATS_UNIT = OPS / "systemd" / "nats-server.service"
SINGLE_UNIT = OPS / "systemd" / "atrium.service"
TEMPLATE_UNIT = OPS / "systemd" / "atrium@.service"
COMPOSE = OPS / "compose" / "cluster.yml"
PROMETHEUS_CLUSTER_YML = OPS / "prometheus" / "prometheus-cluster.yml"
EXAMPLE = REPO / "config" / "cluster-example.toml"

#: What runtime/cluster/bridge.py exports per role, as Prometheus names the samples.
CLUSTER_METRICS = {
    "atrium_cluster_sent_messages_total",
    "atrium_cluster_received_messages_total",
    "atrium_cluster_rebuilt_messages_total",
    "atrium_cluster_bad_messages_total",
    "atrium_cluster_duplicate_acks_total",
    "atrium_cluster_market_data_gaps_total",
    "atrium_cluster_disconnects_total",
    "atrium_cluster_connected",
    "atrium_cluster_outbound_messages",
}
CLUSTER_ALERTS = {
    "AtriumClusterDisconnected": "critical",
    "AtriumClusterOutboundBacklog": "warning",
    "AtriumClusterBadMessages": "warning",
    "AtriumClusterDuplicateDropped": "critical",
    "AtriumClusterMarketDataGaps": "warning",
}


def _roles() -> dict[str, int]:
    """Role name -> HTTP port, from the example config."""
    roles = load_config(EXAMPLE).cluster.roles
    ports = {name: role.port for name, role in roles.items()}
    assert all(port is not None for port in ports.values())
    return {name: int(port) for name, port in ports.items() if port is not None}


def _one(section: dict[str, list[str]], key: str) -> str:
    values = section.get(key, [])
    assert len(values) == 1, f"{key}: {values}"
    return values[0]


# -- NATS -----------------------------------------------------------------------------------


def _conf_value(key: str) -> str:
    match = re.search(rf"^\s*{key}:\s*(\S+)\s*$", NATS_CONF.read_text("utf-8"), re.MULTILINE)
    assert match is not None, key
    return match.group(1)


def test_nats_conf_when_read_then_listens_where_the_cluster_config_connects_by_default() -> None:
    assert f"nats://{_conf_value('listen')}" == ClusterConfig().url
    assert _conf_value("http") == "127.0.0.1:8222"
    # The unit creates the store directory and lets the server write nowhere else.
    service = systemd_unit(NATS_UNIT)["Service"]
    assert _conf_value("store_dir") == f"/var/lib/{_one(service, 'StateDirectory')}"
    assert _one(service, "ReadWritePaths") == _conf_value("store_dir")


def test_nats_conf_when_served_then_jetstream_runs_with_its_limits(tmp_path: Path) -> None:
    binary = nats_binary()
    port, monitor = free_port(), free_port()
    text = NATS_CONF.read_text("utf-8")
    text = text.replace(_conf_value("store_dir"), str(tmp_path / "store"))
    text = text.replace(_conf_value("listen"), f"127.0.0.1:{port}")
    text = text.replace(_conf_value("http"), f"127.0.0.1:{monitor}")
    conf = tmp_path / "nats-server.conf"
    conf.write_text(text, "utf-8")

    check = subprocess.run(
        [binary, "-c", str(conf), "-t"], capture_output=True, text=True, timeout=30, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr

    log = tmp_path / "nats.log"
    with log.open("wb") as out:
        server = subprocess.Popen([binary, "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    try:
        jsz = None
        deadline = time.monotonic() + 10
        while jsz is None:
            try:
                url = f"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true"
                with urllib.request.urlopen(url, timeout=2):
                    pass
                with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/jsz", timeout=2) as r:
                    jsz = json.load(r)
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, log.read_text("utf-8", errors="replace")
                assert time.monotonic() < deadline, log.read_text("utf-8", errors="replace")
                time.sleep(0.05)
        assert jsz["config"]["store_dir"].startswith(str(tmp_path / "store"))
        assert jsz["config"]["max_memory"] == 256 * 1024**2
        assert jsz["config"]["max_storage"] == 10 * 1024**3
        with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/varz", timeout=2) as r:
            assert json.load(r)["server_name"] == _conf_value("server_name")
    finally:
        # The unit's KillSignal: a clean stop exits 0.
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=15) == 0


# -- systemd --------------------------------------------------------------------------------


def test_template_unit_when_parsed_then_runs_the_instance_role_after_nats() -> None:
    unit = systemd_unit(TEMPLATE_UNIT)
    service = unit["Service"]
    single = systemd_unit(SINGLE_UNIT)["Service"]
    # The config of atrium.service, plus the role; %i keeps "market-data" as written.
    exec_start = _one(service, "ExecStart")
    assert exec_start == f"{_one(single, 'ExecStart')} --role %i"
    assert re.search(r" --config /etc/atrium/\S+\.toml ", exec_start)
    for key in ("After", "Wants"):
        assert "nats-server.service" in _one(unit["Unit"], key).split(), key
    # Everything else, hardening and graceful stop included, as the single service.
    own = {"ExecStart", "RestartSec", "RestartPreventExitStatus"}
    assert {k: v for k, v in service.items() if k not in own} == {
        k: v for k, v in single.items() if k not in own
    }
    assert "multi-user.target" in unit["Install"]["WantedBy"]


def test_template_unit_when_nats_is_slow_at_boot_then_keeps_trying_for_minutes() -> None:
    unit = systemd_unit(TEMPLATE_UNIT)
    service, limits = unit["Service"], unit["Unit"]
    assert _one(service, "Restart") == "on-failure"
    wait = int(_one(service, "RestartSec").removesuffix("s"))
    burst = int(_one(limits, "StartLimitBurst"))
    interval = int(_one(limits, "StartLimitIntervalSec"))
    # The starts a 5-minute outage takes at one per RestartSec stay within the burst, and
    # the window is long enough that a crash loop still ends.
    assert burst * wait >= 300
    assert interval >= burst * wait
    # A config error fails again the same way: exit status 2 is not restarted.
    assert _one(service, "RestartPreventExitStatus") == "2"
    # The single service gives up sooner: it has no server to wait for.
    assert int(_one(systemd_unit(SINGLE_UNIT)["Unit"], "StartLimitBurst")) < burst


def test_nats_unit_when_parsed_then_runs_the_installed_config_as_nats() -> None:
    service = systemd_unit(NATS_UNIT)["Service"]
    assert re.fullmatch(
        r"/\S+/nats-server -c /etc/nats/nats-server\.conf", _one(service, "ExecStart")
    )
    assert _one(service, "User") == "nats"
    # Some releases exit 1 on SIGTERM; SIGINT stops every one cleanly with 0.
    assert _one(service, "KillSignal") == "SIGINT"
    assert _one(service, "Restart") == "on-failure"
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict"}.items():
        assert _one(service, key) == value, key


# -- compose --------------------------------------------------------------------------------


def _compose_services() -> dict[str, str]:
    """Each service's block of text under ``services:``, by name."""
    text = COMPOSE.read_text("utf-8")
    body = re.search(r"^services:\n(.*?)(?=^\S|\Z)", text, re.MULTILINE | re.DOTALL)
    assert body is not None
    parts = re.split(r"^  ([a-z][\w-]*):\n", body.group(1), flags=re.MULTILINE)[1:]
    return dict(zip(parts[::2], parts[1::2], strict=True))


def test_compose_when_read_then_one_service_per_role_at_its_port() -> None:
    services = _compose_services()
    roles = _roles()
    assert set(services) == {*roles, "nats", "prometheus"}
    config = f"/opt/atrium/{EXAMPLE.relative_to(REPO)}"
    for name, port in roles.items():
        block = services[name]
        assert "<<: *atrium" in block, name
        assert f"command: [atrium, run, --config, {config}, --role, {name}]" in block, name
        assert f"http://127.0.0.1:{port}/healthz" in block, name
    # The roles' shared settings: host networking, so 127.0.0.1 in the configs holds.
    text = COMPOSE.read_text("utf-8")
    anchor = text[text.index("x-atrium: &atrium") : text.index("\nservices:")]
    assert "network_mode: host" in anchor
    assert re.search(
        r"^  depends_on:\n    nats:\n      condition: service_healthy$", anchor, re.MULTILINE
    )


def test_compose_when_read_then_nats_and_prometheus_use_the_ops_files() -> None:
    services = _compose_services()
    nats = services["nats"]
    assert "image: nats:2.10-alpine\n" in nats
    assert 'command: ["-js", "-c", "/etc/nats/nats-server.conf"]' in nats
    assert "- ../nats/nats-server.conf:/etc/nats/nats-server.conf:ro" in nats
    prometheus = services["prometheus"]
    assert "- --config.file=/etc/prometheus/prometheus-cluster.yml" in prometheus
    assert "- ../prometheus:/etc/prometheus:ro" in prometheus
    for name, block in services.items():
        assert "network_mode: host" in block or "<<: *atrium" in block, name
    # Host paths are relative to the compose file's directory.
    here = COMPOSE.parent
    assert (here / "../nats/nats-server.conf").resolve() == NATS_CONF
    assert (here / "../prometheus" / PROMETHEUS_CLUSTER_YML.name).resolve().is_file()
    text = COMPOSE.read_text("utf-8")
    assert "context: ../..\n" in text and (here / "../..").resolve() == REPO
    dockerfile = re.search(r"dockerfile: (\S+)", text)
    assert dockerfile is not None and (REPO / dockerfile.group(1)).is_file()


def test_compose_when_read_then_roles_wait_until_nats_says_jetstream_is_up() -> None:
    nats = _compose_services()["nats"]
    check = re.search(r"^    healthcheck:\n      test: \[CMD, wget, (.*)\]$", nats, re.MULTILINE)
    assert check is not None
    # The monitoring address of the mounted config, JetStream required.
    url = f'"http://{_conf_value("http")}/healthz?js-enabled-only=true"'
    assert check.group(1) == f"-q, -O, /dev/null, {url}"
    start = re.search(r"^      start_period: (\d+)s$", nats, re.MULTILINE)
    assert start is not None and int(start.group(1)) >= 60


# -- Prometheus -----------------------------------------------------------------------------


def test_prometheus_cluster_yml_when_checked_then_valid_with_the_alert_rules() -> None:
    result = run_promtool("check", "config", str(PROMETHEUS_CLUSTER_YML))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "SUCCESS: 1 rule files found" in output


def test_prometheus_cluster_yml_when_read_then_job_atrium_scrapes_each_role_port() -> None:
    text = PROMETHEUS_CLUSTER_YML.read_text("utf-8")
    # Job "atrium", as the dashboard and every alert select.
    assert re.findall(r"^\s*- job_name: (\S+)$", text, re.MULTILINE) == ["atrium"]
    assert re.search(r"^rule_files:\n\s*- alerts\.yml$", text, flags=re.MULTILINE)
    # The bridge's series keep their own `role` rather than gaining `exported_role`.
    assert re.search(r"^\s*honor_labels: true$", text, flags=re.MULTILINE)
    targets = re.findall(
        r'- targets: \["127\.0\.0\.1:(\d+)"\]\n\s*labels: \{ role: ([\w-]+) \}', text
    )
    assert {role: int(port) for port, role in targets} == _roles()
    assert len(targets) == len(_roles())


# -- alerts ---------------------------------------------------------------------------------


def test_cluster_alerts_when_read_then_select_bridge_metrics_with_their_severity() -> None:
    blocks = alert_blocks()
    assert set(blocks) >= set(CLUSTER_ALERTS)
    for name, severity in CLUSTER_ALERTS.items():
        assert re.search(rf"^\s*severity: {severity}$", blocks[name], re.MULTILINE), name
    assert alert_expr(blocks["AtriumClusterDisconnected"]) == (
        'atrium_cluster_connected{job="atrium"} == 0'
    )
    assert re.search(r"^\s*for: 30s$", blocks["AtriumClusterDisconnected"], re.MULTILINE)
    backlog = re.fullmatch(
        r'atrium_cluster_outbound_messages\{job="atrium"\} > (\d+)',
        alert_expr(blocks["AtriumClusterOutboundBacklog"]),
    )
    assert backlog is not None and int(backlog.group(1)) == 1000
    assert re.search(r"^\s*for: 1m$", blocks["AtriumClusterOutboundBacklog"], re.MULTILINE)
    assert alert_expr(blocks["AtriumClusterBadMessages"]) == (
        'increase(atrium_cluster_bad_messages_total{job="atrium"}[5m]) > 0'
    )
    assert alert_expr(blocks["AtriumClusterDuplicateDropped"]) == (
        'increase(atrium_cluster_duplicate_acks_total{job="atrium"}[5m]) > 0'
    )
    assert alert_expr(blocks["AtriumClusterMarketDataGaps"]) == (
        'increase(atrium_cluster_market_data_gaps_total{job="atrium"}[5m]) > 0'
    )
    assert re.search(r"^\s*for: 10m$", blocks["AtriumClusterMarketDataGaps"], re.MULTILINE)
    # The backlog warns before the bridge stops the role's publishers.
    assert int(backlog.group(1)) < bridge._OUTBOUND_LIMIT


def test_cluster_metric_names_when_alerts_use_them_then_the_bridge_exports_them() -> None:
    assert registered_metric_names() >= CLUSTER_METRICS
    used = {
        metric
        for block in alert_blocks().values()
        for metric in promql_metric_names(alert_expr(block))
        if metric.startswith("atrium_cluster_")
    }
    assert used
    assert used <= CLUSTER_METRICS


# -- README ---------------------------------------------------------------------------------


def test_readme_when_read_then_describes_every_alert_and_the_cluster_files() -> None:
    readme = (OPS / "README.md").read_text("utf-8")
    for name in alert_blocks():
        assert f"| `{name}` |" in readme, name
    for path in (NATS_CONF, TEMPLATE_UNIT, NATS_UNIT, COMPOSE, PROMETHEUS_CLUSTER_YML):
        assert str(path.relative_to(OPS)) in readme, path
    # The ports table names each role of the example config at its port.
    for name, port in _roles().items():
        assert f"| {port} | role `{name}`" in readme, name
