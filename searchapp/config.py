"""Settings shared by the command line and the web app, with their environment variables."""

from __future__ import annotations

import os
from pathlib import Path

# Relative paths are taken from the folder the command or server is started in.
DEFAULT_INDEX_DIR = "index"
DEFAULT_SOURCES = "seeds"
INDEX_DIR_VAR = "SEARCHAPP_INDEX_DIR"
SOURCES_VAR = "SEARCHAPP_SOURCES"


def index_dir() -> Path:
    """Return the index folder: $SEARCHAPP_INDEX_DIR, else ``index/``."""
    return Path(os.environ.get(INDEX_DIR_VAR) or DEFAULT_INDEX_DIR)


def source_paths() -> list[Path]:
    """Return the article folders: $SEARCHAPP_SOURCES (split on ``os.pathsep``), else seeds/."""
    value = os.environ.get(SOURCES_VAR) or DEFAULT_SOURCES
    return [Path(p) for p in value.split(os.pathsep) if p]
