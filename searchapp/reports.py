"""Remember searches that found nothing, so editors can see what readers miss.

Only the query text is kept (normalised, no address, no time, nothing about the
reader), one line per search, in a small append-only file that rolls over.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

FILE_NAME = "zero-results.log"
# When the log passes this size it becomes the ".1" file and a new one starts.
MAX_LOG_BYTES = 1024 * 1024
MAX_QUERY_CHARS = 200


def log_path(index_dir: Path | str) -> Path:
    """Return where the zero-result log of an index lives."""
    return Path(index_dir) / FILE_NAME


def normalize(query: str) -> str:
    """Return the form queries are counted in: lower case, single spaces, no controls."""
    text = "".join(ch if ch.isprintable() else " " for ch in query)
    return " ".join(text.lower().split())[:MAX_QUERY_CHARS]


def record_miss(path: Path, query: str) -> None:
    """Append one search that found nothing.

    :raises OSError: when the log cannot be written (callers decide whether that matters).
    """
    text = normalize(query)
    if not text:
        return
    if path.exists() and path.stat().st_size > MAX_LOG_BYTES:
        os.replace(path, path.with_name(path.name + ".1"))
    # One short write to a file opened for appending lands whole, even with several
    # server processes writing at once.
    with open(path, "a", encoding="utf-8") as log:
        log.write(text + "\n")


def top_misses(path: Path, limit: int = 20) -> list[tuple[str, int]]:
    """Return the most frequent searches that found nothing, with their counts."""
    counts: Counter[str] = Counter()
    for name in (path.with_name(path.name + ".1"), path):
        if name.exists():
            with open(name, encoding="utf-8", errors="replace") as log:
                counts.update(line.rstrip("\n") for line in log if line.strip())
    return counts.most_common(limit)
