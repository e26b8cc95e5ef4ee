"""How a role proves itself to NATS: credentials and TLS, as ``nats.connect`` takes them.

Secrets never sit in the config: it names the environment variables that hold them, and
they are read here, at start, so an unset one stops the role with the variable named
(a config error: exit status 2).
Nothing read here is logged.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

from atrium.config.cluster import ClusterConfig, ClusterTlsConfig
from atrium.config.loader import ConfigError

__all__ = ("connect_options",)


def connect_options(cluster: ClusterConfig) -> dict[str, Any]:
    """The keyword arguments of ``nats.connect`` for ``cluster``'s credentials and TLS."""
    options: dict[str, Any] = {}
    if cluster.user is not None and cluster.password_env is not None:
        options["user"] = cluster.user
        options["password"] = _secret("password_env", cluster.password_env)
    if cluster.nkey_seed_env is not None:
        options["nkeys_seed_str"] = _secret("nkey_seed_env", cluster.nkey_seed_env)
    if cluster.creds_file is not None:
        if not os.path.isfile(cluster.creds_file):
            raise ConfigError(f"cluster.creds_file: no such file {cluster.creds_file!r}")
        options["user_credentials"] = cluster.creds_file
    if cluster.tls is not None:
        options["tls"] = _tls_context(cluster.tls)
    return options


def _secret(key: str, variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(f"cluster.{key}: the environment variable {variable} is not set")
    return value


def _tls_context(tls: ClusterTlsConfig) -> ssl.SSLContext:
    """Verifies the server's chain always, its name unless ``verify_hostname`` is off."""
    try:
        context = ssl.create_default_context(cafile=tls.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cluster.tls.ca_file: cannot load {tls.ca_file!r} ({exc})") from None
    if tls.cert_file is not None:
        try:
            context.load_cert_chain(tls.cert_file, tls.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cluster.tls.cert_file: cannot load {tls.cert_file!r} with its key "
                f"{tls.key_file!r} ({exc})"
            ) from None
    context.check_hostname = tls.verify_hostname
    return context
