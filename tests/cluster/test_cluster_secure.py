"""A role on a NATS server that wants a password and TLS with client certificates."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nats.errors
import pytest
from cluster_kit import NatsServer, atrium, nats_server, two_role_config
from nats_kit import free_port
from tls_kit import Pki, make_pki

from atrium.config import ConfigError, parse_config
from atrium.runtime.cluster.auth import connect_options
from atrium.runtime.cluster.link import Link, _unreachable
from atrium.runtime.cluster.wiring import role_config
from atrium.runtime.errors import AtriumError

pytestmark = pytest.mark.timeout(60)

_PASSWORD = "s3cret-Atrium-7f2c"
#: The variable the shipped server config reads; the role reads its own, so that a test
#: can give the role a wrong one.
_SERVER_VARIABLE = "ATRIUM_NATS_PASSWORD"
_VARIABLE = "ATRIUM_TEST_NATS_PASSWORD"
SECURE_CONF = Path(__file__).resolve().parents[2] / "ops" / "nats" / "nats-server-secure.conf"


@contextmanager
def _secure_server(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[NatsServer, Pki]]:
    """ops/nats/nats-server-secure.conf, with throwaway certificates in its paths."""
    pki = make_pki(tmp)
    text = SECURE_CONF.read_text("utf-8")
    for shipped, made in {
        "/etc/nats/tls/server.pem": pki.server_cert,
        "/etc/nats/tls/server-key.pem": pki.server_key,
        "/etc/nats/tls/ca.pem": pki.ca,
        "store_dir: /var/lib/nats": f"store_dir: {tmp / 'jetstream'}",
    }.items():
        assert shipped in text, shipped
        text = text.replace(shipped, str(made))
    text = text.replace("http: 127.0.0.1:8222", f"http: 127.0.0.1:{free_port()}")
    conf = tmp / "nats-secure.conf"
    conf.write_text(text, "utf-8")
    monkeypatch.setenv(_SERVER_VARIABLE, _PASSWORD)  # the server inherits it
    with nats_server(tmp, conf) as server:
        yield server, pki


def _link(url: str, extra: str) -> Link:
    _, wiring = role_config(parse_config(two_role_config(url, "secure", extra)), "md")

    async def ignore(connected: bool) -> None:
        return None

    return Link(wiring, ignore)


def _tls(pki: Pki, ca: bool = True) -> str:
    ca_file = f'ca_file = "{pki.ca}", ' if ca else ""
    return f'tls = {{ {ca_file}cert_file = "{pki.client_cert}", key_file = "{pki.client_key}" }}'


async def test_a_role_connects_with_a_password_from_the_environment_over_tls(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(_VARIABLE, _PASSWORD)
    with _secure_server(tmp_path, monkeypatch) as (server, pki):
        link = _link(server.url, f'user = "atrium"\npassword_env = "{_VARIABLE}"\n{_tls(pki)}')
        await link.open()
        try:
            assert link.connected
            assert await link.stored() == 0  # the stream was made over the secure link
        finally:
            await link.close()
    assert _PASSWORD not in caplog.text


async def test_a_wrong_password_names_the_server_and_the_refusal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(_VARIABLE, "not-the-password")
    with _secure_server(tmp_path, monkeypatch) as (server, pki):
        link = _link(server.url, f'user = "atrium"\npassword_env = "{_VARIABLE}"\n{_tls(pki)}')
        with pytest.raises(AtriumError) as caught:
            await link.open()
    assert str(caught.value) == (
        f"cluster.url: cannot connect to NATS at {server.url}: the server refused the "
        "credentials (nats: 'Authorization Violation'); check cluster.user and the variable "
        "of cluster.password_env, cluster.nkey_seed_env or cluster.creds_file"
    )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "not-the-password" not in caplog.text + str(caught.value)


async def test_an_unset_password_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_VARIABLE, raising=False)
    link = _link("nats://127.0.0.1:1", f'user = "atrium"\npassword_env = "{_VARIABLE}"')
    with pytest.raises(
        AtriumError,
        match=f"^cluster\\.password_env: the environment variable {_VARIABLE} is not set$",
    ):
        await link.open()


def test_a_role_whose_password_variable_is_unset_stops_as_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(_VARIABLE, raising=False)
    config = tmp_path / "secure.toml"
    config.write_text(
        f"""
[cluster]
url = "nats://127.0.0.1:1"
user = "atrium"
password_env = "{_VARIABLE}"
[cluster.roles.md]
actors = ["market_data"]
[cluster.roles.rest]
actors = ["strategy", "portfolio", "risk", "execution"]
""",
        "utf-8",
    )
    log = tmp_path / "md.log"
    process = atrium("run", "--config", str(config), "--role", "md", log=log)
    # Status 2, which the systemd unit does not restart; nothing started before it.
    assert process.wait(60) == 2
    assert log.read_text("utf-8").strip() == (
        f"atrium: error: cluster.password_env: the environment variable {_VARIABLE} is not set"
    )


async def test_a_server_certificate_from_an_unknown_ca_fails_as_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_VARIABLE, _PASSWORD)
    with _secure_server(tmp_path, monkeypatch) as (server, pki):
        link = _link(
            server.url, f'user = "atrium"\npassword_env = "{_VARIABLE}"\n{_tls(pki, ca=False)}'
        )
        with pytest.raises(AtriumError) as caught:
            await link.open()
    where = re.escape(f"cluster.url: cannot connect to NATS at {server.url}: TLS failed (")
    assert re.match(
        f"^{where}.*certificate verify failed.*\\); check \\[cluster\\.tls\\]$", str(caught.value)
    )


def test_an_nkey_seed_comes_from_its_variable_and_a_creds_file_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = "SU-NOT-A-REAL-SEED"  # passed on as it is: nats-py reads it at connect
    monkeypatch.setenv("ATRIUM_TEST_NKEY", seed)
    nkey = parse_config({"cluster": {"nkey_seed_env": "ATRIUM_TEST_NKEY"}}).cluster
    assert connect_options(nkey) == {"nkeys_seed_str": seed}
    creds = tmp_path / "atrium.creds"
    with pytest.raises(ConfigError, match=f"^cluster\\.creds_file: no such file '{creds}'$"):
        connect_options(parse_config({"cluster": {"creds_file": str(creds)}}).cluster)
    creds.write_text("-----BEGIN NATS USER JWT-----\n", "utf-8")
    found = parse_config({"cluster": {"creds_file": str(creds)}}).cluster
    assert connect_options(found) == {"user_credentials": str(creds)}


def test_a_refusal_followed_by_the_clients_retries_is_still_named_as_the_refusal() -> None:
    cluster = parse_config({"cluster": {"url": "nats://127.0.0.1:4222"}}).cluster
    refused = nats.errors.Error("nats: 'Authorization Violation'")
    retries = [ConnectionResetError(104, "Connection reset by peer"), TimeoutError()]
    assert _unreachable(cluster, [refused, *retries]).startswith(
        "cluster.url: cannot connect to NATS at nats://127.0.0.1:4222: the server refused "
        "the credentials (nats: 'Authorization Violation')"
    )
    assert _unreachable(cluster, retries) == (
        "cluster.url: cannot connect to NATS at nats://127.0.0.1:4222 within 2s "
        "([Errno 104] Connection reset by peer)"
    )
