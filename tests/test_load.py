"""The short form of the load test (bench/load.py): `searchapp serve` on loopback over the
test archive, normal and expensive clients at once, no errors and no starved reader."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the bench package

from bench.load import report, run_load, start_server, stop_server  # noqa: E402

# Safety bounds, not benchmarks: a reader waiting this long is starved.
MAX_NORMAL_P99_MS = 5000


@pytest.fixture
def server(index_dir):
    process, url = start_server(index_dir, threads=4)
    yield process, url
    stop_server(process)


def test_load_short_form_serves_everyone_without_errors(server):
    process, url = server
    figures = run_load(url, clients=8, seconds=5, expensive_clients=2, server_pid=process.pid)
    print(report(figures))
    assert figures.errors == 0, figures.error_samples
    assert figures.normal_requests > 0 and figures.expensive_requests > 0
    assert figures.normal_p99_ms < MAX_NORMAL_P99_MS


def test_load_refuses_anything_but_loopback():
    with pytest.raises(ValueError, match="loopback"):
        run_load("http://example.com", clients=1, seconds=0.1)


def test_load_with_slow_clients_holding_connections(server):
    # 300 connections that never finish their request line, open for the whole run: with
    # waitress's defaults the first 100 of them locked every reader out.
    process, url = server
    port = int(url.rsplit(":", 1)[1])
    slow = []
    try:
        for _ in range(300):
            connection = socket.create_connection(("127.0.0.1", port), timeout=10)
            connection.sendall(b"GET /?q=slow")
            slow.append(connection)
        figures = run_load(url, clients=4, seconds=3, expensive_clients=1,
                           server_pid=process.pid)
    finally:
        for connection in slow:
            connection.close()
    print(report(figures))
    assert figures.errors == 0, figures.error_samples
    assert figures.normal_requests > 0
