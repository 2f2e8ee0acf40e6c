"""Settings shared by the command line and the web app, with their environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

# Relative paths are taken from the folder the command or server is started in.
DEFAULT_INDEX_DIR = "index"
DEFAULT_SOURCES = "seeds"
INDEX_DIR_VAR = "SEARCHAPP_INDEX_DIR"
SOURCES_VAR = "SEARCHAPP_SOURCES"
# The address readers use, for the absolute links of feeds and the OpenSearch description.
BASE_URL_VAR = "SEARCHAPP_BASE_URL"
# A cluster's address (one URL or several, comma-separated): the archive is then kept
# on OpenSearch instead of in the index folder, under this index name (an alias).
OPENSEARCH_URL_VAR = "SEARCHAPP_OPENSEARCH_URL"
OPENSEARCH_INDEX_VAR = "SEARCHAPP_OPENSEARCH_INDEX"


class ConfigError(ValueError):
    """A setting has a value the service cannot use."""


def index_dir() -> Path:
    """Return the index folder: $SEARCHAPP_INDEX_DIR, else ``index/``."""
    return Path(os.environ.get(INDEX_DIR_VAR) or DEFAULT_INDEX_DIR)


def opensearch_url() -> str | None:
    """Return $SEARCHAPP_OPENSEARCH_URL, or None when the archive is the embedded index."""
    return os.environ.get(OPENSEARCH_URL_VAR) or None


def opensearch_index() -> str | None:
    """Return $SEARCHAPP_OPENSEARCH_INDEX, or None for the default name."""
    return os.environ.get(OPENSEARCH_INDEX_VAR) or None


def source_paths() -> list[Path]:
    """Return the article folders: $SEARCHAPP_SOURCES (split on ``os.pathsep``), else seeds/."""
    value = os.environ.get(SOURCES_VAR) or DEFAULT_SOURCES
    return [Path(p) for p in value.split(os.pathsep) if p]


def check_base_url(value: str | None) -> str | None:
    """Return the public base URL without its trailing slash, or None when it is unset.

    :raises ConfigError: unless it is an absolute http(s) URL with a host and nothing
        after the path (``https://archive.example.org`` or ``https://example.org/archive``).
    """
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as error:
        raise ConfigError(f"{BASE_URL_VAR} is not a URL: {value!r} ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or \
            parts.fragment or parts.username or parts.password:
        raise ConfigError(
            f"{BASE_URL_VAR} must be the address readers use, such as "
            f"https://archive.example.org or https://example.org/archive, not {value!r}")
    return value.rstrip("/")
