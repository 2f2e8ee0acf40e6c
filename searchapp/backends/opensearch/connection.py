"""Connecting to the cluster that $SEARCHAPP_OPENSEARCH_URL names.

One URL or several, comma-separated (the client spreads requests over them and moves on
from a node that does not answer). User and password come from the URL
(``https://user:secret@host:9200``) or from ``SEARCHAPP_OPENSEARCH_USER`` and
``SEARCHAPP_OPENSEARCH_PASSWORD``; TLS is used for ``https`` URLs, checked against the
system's certificates or ``SEARCHAPP_OPENSEARCH_CA_CERTS`` (a PEM file), and
``SEARCHAPP_OPENSEARCH_VERIFY=0`` turns the check off for a test cluster's own certificate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from opensearchpy import OpenSearch

from searchapp.config import ConfigError

DEFAULT_INDEX = "searchapp"
USER_VAR = "SEARCHAPP_OPENSEARCH_USER"
PASSWORD_VAR = "SEARCHAPP_OPENSEARCH_PASSWORD"
CA_CERTS_VAR = "SEARCHAPP_OPENSEARCH_CA_CERTS"
VERIFY_VAR = "SEARCHAPP_OPENSEARCH_VERIFY"
# A search waits this long for the cluster; indexing requests wait longer.
SEARCH_TIMEOUT_SECONDS = 10
# Index names OpenSearch accepts: lower case, no path or wildcard characters.
BAD_INDEX_CHARS = set(' "*\\<|,>/?#:')


@dataclass(frozen=True)
class ClusterAddress:
    """Where the cluster is and how to log in, as read from the settings."""

    hosts: tuple[dict, ...]
    user: str | None = None
    password: str | None = None
    ca_certs: str | None = None
    verify: bool = True

    def __str__(self) -> str:
        """The URLs without user and password, for messages."""
        return ", ".join(f"{h['scheme']}://{h['host']}:{h['port']}" for h in self.hosts)


def parse_address(urls: str) -> ClusterAddress:
    """Read one URL or several, comma-separated, and the login settings.

    :raises ConfigError: for a URL that is not http(s)://host[:port].
    """
    hosts, user, password = [], None, None
    for url in (u.strip() for u in urls.split(",")):
        if not url:
            continue
        try:
            parts = urlsplit(url if "://" in url else f"http://{url}")
            port = parts.port
        except ValueError as error:
            raise ConfigError(f"SEARCHAPP_OPENSEARCH_URL: cannot read {url!r}: {error}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or \
                parts.path.strip("/") or parts.query or parts.fragment:
            raise ConfigError(
                f"SEARCHAPP_OPENSEARCH_URL must be http(s)://host[:port] (several may be "
                f"given, comma-separated), not {url!r}")
        hosts.append({"host": parts.hostname, "port": port or 9200, "scheme": parts.scheme,
                      "use_ssl": parts.scheme == "https"})
        if parts.username:
            user, password = unquote(parts.username), unquote(parts.password or "")
    if not hosts:
        raise ConfigError("SEARCHAPP_OPENSEARCH_URL names no cluster")
    user = user or os.environ.get(USER_VAR) or None
    password = password if password is not None else os.environ.get(PASSWORD_VAR)
    verify = os.environ.get(VERIFY_VAR, "1").strip().lower() not in ("0", "false", "no")
    return ClusterAddress(tuple(hosts), user, password, os.environ.get(CA_CERTS_VAR) or None,
                          verify)


def check_index_name(name: str | None) -> str:
    """Return the index (alias) name to use, the default when none is set.

    :raises ConfigError: for a name OpenSearch would refuse.
    """
    name = (name or DEFAULT_INDEX).strip()
    if not name or name != name.lower() or name.startswith(("-", "_", "+")) or \
            BAD_INDEX_CHARS & set(name) or name in (".", "..") or len(name.encode()) > 200:
        raise ConfigError(
            f"SEARCHAPP_OPENSEARCH_INDEX must be a lower-case index name without spaces or "
            f"any of {''.join(sorted(BAD_INDEX_CHARS))}, not {name!r}")
    return name


def connect(address: ClusterAddress, timeout: float = SEARCH_TIMEOUT_SECONDS,
            pool_size: int = 10) -> OpenSearch:
    """Return a client for the cluster; nothing is sent until it is used.

    :param pool_size: connections kept open to each node (as many as threads that search).
    """
    options: dict = {"timeout": timeout, "max_retries": 2, "retry_on_timeout": True,
                     "pool_maxsize": pool_size}
    if address.user:
        options["http_auth"] = (address.user, address.password or "")
    if any(h["use_ssl"] for h in address.hosts):
        options.update(use_ssl=True, verify_certs=address.verify,
                       ssl_show_warn=address.verify)
        if address.ca_certs:
            options["ca_certs"] = address.ca_certs
    hosts = [{"host": h["host"], "port": h["port"]} for h in address.hosts]
    return OpenSearch(hosts, **options)
