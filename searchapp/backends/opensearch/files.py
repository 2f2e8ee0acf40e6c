"""The cluster's record of the article files it was built from.

Next to each physical index of the archive (``<alias>-<stamp>-<hex>``) lives a small index
named after it with ``-files`` added: one document per article file, holding the file's
path and its signature (size and modification time) when its articles were last written,
and when that was. An update compares the files it finds with these records
(``changes.plan_changes``); a file's record changes only after all its articles are in the
cluster, so a run that dies leaves the record as it was and the next run does the file
again. Each run also leaves one record of its own (``kind: run``) per set of folders, so
the last change is known even when a run only removed articles.

A record whose signature is empty marks a file whose articles are being written for the
first time: if a run dies then, the next run finds the file changed (or gone) and finishes
(or removes) what was begun.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

FILES_SUFFIX = "-files"
# The signature of a file whose first articles are being written.
BEING_WRITTEN = ""
PAGE_SIZE = 5000

FILES_MAPPINGS = {
    "dynamic": "strict",
    "properties": {
        "kind": {"type": "keyword"},  # "file", or "run" for a run's own record
        "path": {"type": "keyword"},
        "signature": {"type": "keyword", "index": False},
        "articles": {"type": "integer", "index": False},
        # When the record was written, in milliseconds since 1970: the archive's last change.
        "indexed": {"type": "date", "format": "epoch_millis"},
        "host": {"type": "keyword", "index": False},
    },
}


def files_index(physical: str) -> str:
    """Return the name of the index holding the file records of a physical index."""
    return physical + FILES_SUFFIX


def files_index_body(replicas: int) -> dict:
    """Return the settings and mappings of a new index of file records."""
    return {
        "settings": {"index": {"number_of_shards": 1, "number_of_replicas": replicas}},
        "mappings": FILES_MAPPINGS,
    }


def record_id(path: str) -> str:
    """Return a record's document id: a hash, since ids are limited to 512 bytes."""
    return hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()


def file_record(path: str, signature: str, articles: int) -> dict:
    """Return the record of a file whose articles are (being) written."""
    return {"kind": "file", "path": path, "signature": signature, "articles": articles,
            "indexed": now_millis(), "host": os.uname().nodename}


def run_record(roots: Iterable[Path]) -> tuple[str, dict]:
    """Return the id and body of the record a run leaves for its set of folders."""
    key = "\n".join(sorted(str(root) for root in roots))
    return ("run-" + record_id(key),
            {"kind": "run", "path": key, "signature": "", "articles": 0,
             "indexed": now_millis(), "host": os.uname().nodename})


def now_millis() -> int:
    return int(time.time() * 1000)


def read_records(client, index: str, roots: list[Path]) -> dict[str, str]:
    """Map each file recorded under ``roots`` to its recorded signature."""
    prefixes = {str(root) for root in roots}
    query = {"bool": {
        "filter": [{"term": {"kind": "file"}}],
        "should": [{"prefix": {"path": prefix}} for prefix in sorted(prefixes)],
        "minimum_should_match": 1,
    }}
    return {hit["_source"]["path"]: hit["_source"]["signature"]
            for hit in scan_sorted(client, index, query, "path", ["path", "signature"])}


def scan_sorted(client, index: str, query: dict, field: str, source: list[str],
                page: int = PAGE_SIZE, timeout: float = 120) -> Iterator[dict]:
    """Yield every hit of ``query``, page by page in the order of a keyword ``field``."""
    after = None
    while True:
        body = {"query": query, "size": page, "sort": [{field: "asc"}], "_source": source,
                "track_total_hits": False}
        if after is not None:
            body["search_after"] = after
        hits = client.search(index=index, body=body, request_timeout=timeout)["hits"]["hits"]
        yield from hits
        if len(hits) < page:
            return
        after = hits[-1]["sort"]
