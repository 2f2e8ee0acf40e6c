"""What operators see of each request: one access log line, and counts for /metrics.

Metrics are in Prometheus' text format, from prometheus_client. With several worker
processes (``searchapp serve --workers N``, gunicorn), set ``PROMETHEUS_MULTIPROC_DIR``
to an empty folder before the first import of this module, as ``searchapp serve`` does:
every worker then writes its counts there and /metrics adds up those of all workers,
whichever of them answers.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from urllib.parse import quote

from flask import Flask, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from searchapp.backends import Archive
from searchapp.serving import AFTER_RESPONSE

access_log = logging.getLogger("searchapp.access")

# Methods get a label of their own; any other (clients may send any word) counts as "other".
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}
# Characters of a path kept as they are in the access log; the rest are percent-encoded,
# so that a path cannot break a log line or forge another.
PATH_SAFE = "/:@!$&'()*+,;=-._~"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)

# Chosen when prometheus_client was imported, from the same variable.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

REQUESTS = Counter(
    "searchapp_requests", "Requests answered, by endpoint, method and status.",
    ["endpoint", "method", "status"], registry=None)
LATENCY = Histogram(
    "searchapp_request_duration_seconds", "Time taken to answer a request, by endpoint.",
    ["endpoint"], buckets=LATENCY_BUCKETS, registry=None)


def init_app(app: Flask) -> None:
    """Time and log every request of ``app``, count it, and serve /metrics."""
    app.before_request(_start_timer)
    app.after_request(_record)
    app.add_url_rule("/metrics", "metrics", metrics)


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _record(response):
    started = g.get("request_started")
    seconds = time.perf_counter() - started if started is not None else 0.0
    endpoint = request.endpoint or "none"
    method = request.method if request.method in KNOWN_METHODS else "other"
    REQUESTS.labels(endpoint, method, str(response.status_code)).inc()
    LATENCY.labels(endpoint).observe(seconds)
    path = quote(request.path, safe=PATH_SAFE)
    milliseconds = round(seconds * 1000, 1)
    line = functools.partial(
        access_log.info, "%s %s %d %.1f ms", method, path, response.status_code, milliseconds,
        extra={"method": method, "path": path, "status": response.status_code,
               "duration_ms": milliseconds})
    later = request.environ.get(AFTER_RESPONSE)
    if later is not None:  # `searchapp serve` writes it once the answer is sent
        later.append(line)
    else:
        line()
    return response


def metrics():
    """Requests and latency by endpoint (all workers together) and the index's size and age."""
    registry = CollectorRegistry()
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(IndexCollector(current_app.extensions["archive"]))
    return generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST}


class IndexCollector:
    """Read the index's size and last commit when /metrics is asked for."""

    def __init__(self, archive: Archive):
        self.archive = archive

    def collect(self):
        try:
            stats = self.archive.stats()
        except Exception:  # a damaged index: say so rather than fail the scrape
            logging.getLogger(__name__).exception("cannot read the index for /metrics")
            stats = None
        up = GaugeMetricFamily("searchapp_index_up", "1 when there is an index to search.")
        up.add_metric([], 0 if stats is None else 1)
        yield up
        if stats is None:
            return
        yield GaugeMetricFamily("searchapp_index_articles", "Articles in the index.",
                                value=stats.articles)
        if stats.size_bytes is not None:
            yield GaugeMetricFamily("searchapp_index_size_bytes", "Bytes of the index's files.",
                                    value=stats.size_bytes)
        if stats.last_commit:
            committed = stats.last_commit.timestamp()
            yield GaugeMetricFamily("searchapp_index_last_commit_timestamp_seconds",
                                    "When the index was last committed (Unix time).",
                                    value=committed)
            yield GaugeMetricFamily("searchapp_index_last_commit_age_seconds",
                                    "Seconds since the index was last committed.",
                                    value=max(0.0, time.time() - committed))
