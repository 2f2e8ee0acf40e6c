"""Load test: concurrent readers against `searchapp serve` on loopback; prints figures.

Most clients send cheap, mixed requests (rare words, phrases, date filters, page 5,
sorted results, article pages, the HTML page and the API); a few send expensive ones
(dozens of common words, prefix floods, deep pages). Latencies are reported apart for
the two groups, so it shows whether expensive queries starve everyone else. Only the
loopback interface is ever contacted.

Example::

    .venv/bin/searchapp index ../shared/data/corpora/reuters21578.jsonl.gz --index-dir /tmp/load-ix
    .venv/bin/python -m bench.load --index-dir /tmp/load-ix --clients 32 --seconds 60
    .venv/bin/python -m bench.load --url http://127.0.0.1:8000 --clients 8 --seconds 10
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
REQUEST_TIMEOUT = 60
SERVER_START_SECONDS = 120
RSS_SAMPLE_SECONDS = 0.5

# Cheap requests, as readers send them (query string after "q=" already encoded).
NORMAL_REQUESTS = [
    "/api/search?q=cocoa", "/?q=cocoa+ivory+coast", "/api/search?q=zinc+smelter",
    '/api/search?q="money+supply"', '/?q="trade+deficit"', "/api/search?q=ecuador+earthquake",
    "/api/search?q=oil&page=5", "/?q=oil&page=5", "/api/search?q=grain&sort=newest",
    "/?q=wheat&sort=oldest", "/api/search?q=coffee+date:1987-03",
    "/api/search?q=bank&from=1987-03-01&to=1987-03-31", "/?q=opec+-saudi",
    "/api/search?q=headline:gold", "/api/search?q=yen+AND+dollar", "/api/search?q=jaguar",
    "/?q=cruzado", "/api/search?q=soybean&per_page=20", "/api/search?q=copperr",
]
# Expensive requests: many common words, prefix floods, sorted deep pages.
COMMON_WORDS = ("said year pct mln dlrs company share market oil trade bank price rate "
                "billion week government stock sales net profit").split()
EXPENSIVE_REQUESTS = [
    "/api/search?q=" + quote(" ".join(COMMON_WORDS * 3)),
    "/?q=" + quote(" ".join(COMMON_WORDS * 3)),
    "/api/search?q=" + quote(" ".join(f"{a}{b}*" for a in "stpcm" for b in "aeiou")),
    "/api/search?q=" + quote("*a* *e* *i* *o* *u*"),
    "/api/search?q=" + quote("said OR year OR pct") + "&sort=newest&per_page=50&page=200",
    "/?q=" + quote(" ".join(COMMON_WORDS)) + "&page=999&sort=oldest",
    "/api/search?q=" + quote("mln* dlr* pct* compan* shar*") + "&per_page=50",
]


@dataclass
class Figures:
    """What a load run measured."""

    clients: int
    expensive_clients: int
    seconds: float
    requests: int = 0
    errors: int = 0
    normal_requests: int = 0
    expensive_requests: int = 0
    normal_p50_ms: float = 0.0
    normal_p95_ms: float = 0.0
    normal_p99_ms: float = 0.0
    normal_max_ms: float = 0.0
    expensive_p50_ms: float = 0.0
    expensive_p99_ms: float = 0.0
    expensive_max_ms: float = 0.0
    requests_per_second: float = 0.0
    server_rss_mb: float | None = None
    server_peak_rss_mb: float | None = None
    server_anon_mb: float | None = None
    error_samples: list[str] = field(default_factory=list)


def percentile(values: list[float], share: float) -> float:
    """Return the value below which ``share`` of ``values`` lie (nearest rank)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def rss_mb(pid: int, key: str = "VmRSS") -> float | None:
    """Return a process's resident memory from /proc, or None where there is no /proc.

    ``VmRSS`` also counts shared libraries and file pages; ``RssAnon`` is the process's
    own memory alone.
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class HttpClient:
    """One keep-alive connection to a server on loopback."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.host, self.port, self.connection = host, port, None

    def get(self, path: str) -> tuple[int, bytes]:
        """GET ``path``; reconnect next time after a failure or a "Connection: close"."""
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port,
                                                         timeout=REQUEST_TIMEOUT)
        try:
            self.connection.request("GET", path)
            response = self.connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, body

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class _Client(threading.Thread):
    def __init__(self, host: str, port: int, requests: list[str], until: float, seed: int):
        super().__init__(daemon=True)
        self.requests, self.until = requests, until
        self.rng = random.Random(seed)
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.client = HttpClient(port, host)

    def run(self) -> None:
        article = None
        while time.monotonic() < self.until:
            path = article or self.rng.choice(self.requests)
            article = None
            started = time.perf_counter()
            try:
                status, body = self.client.get(path)
                elapsed = time.perf_counter() - started
                if status != 200:
                    self.errors.append(f"{status} {path}")
                    continue
                if path.startswith("/api/search"):
                    results = json.loads(body)["results"]
                    if results and self.rng.random() < 0.2:
                        article = results[0]["url"]  # then read one article, as people do
                self.latencies.append(elapsed)
            except (OSError, http.client.HTTPException, ValueError, KeyError) as error:
                self.errors.append(f"{type(error).__name__}: {error} on {path}")
                self.client.close()


def run_load(url: str, clients: int = 32, seconds: float = 60.0,
             expensive_clients: int | None = None, server_pid: int | None = None,
             seed: int = 1) -> Figures:
    """Run ``clients`` threads against ``url`` for ``seconds`` and return the figures.

    :raises ValueError: for a URL that is not on the loopback interface.
    """
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"load tests only run against loopback, not {parts.hostname!r}")
    if expensive_clients is None:
        expensive_clients = max(1, clients // 8)
    until = time.monotonic() + seconds
    normal = [_Client(parts.hostname, parts.port or 80, NORMAL_REQUESTS, until, seed + i)
              for i in range(clients - expensive_clients)]
    expensive = [_Client(parts.hostname, parts.port or 80, EXPENSIVE_REQUESTS, until, -1 - i)
                 for i in range(expensive_clients)]
    peak = [0.0]
    started = time.monotonic()
    for client in normal + expensive:
        client.start()
    while any(c.is_alive() for c in normal + expensive):
        if server_pid and (now := rss_mb(server_pid)):
            peak[0] = max(peak[0], now)
        time.sleep(RSS_SAMPLE_SECONDS)
    elapsed = time.monotonic() - started
    for client in normal + expensive:
        client.join()
        client.client.close()

    fast = [t * 1000 for c in normal for t in c.latencies]
    slow = [t * 1000 for c in expensive for t in c.latencies]
    errors = [e for c in normal + expensive for e in c.errors]
    figures = Figures(clients, expensive_clients, round(elapsed, 1))
    figures.normal_requests, figures.expensive_requests = len(fast), len(slow)
    figures.requests = len(fast) + len(slow) + len(errors)
    figures.errors = len(errors)
    figures.error_samples = errors[:10]
    figures.normal_p50_ms = round(percentile(fast, 0.50), 1)
    figures.normal_p95_ms = round(percentile(fast, 0.95), 1)
    figures.normal_p99_ms = round(percentile(fast, 0.99), 1)
    figures.normal_max_ms = round(max(fast, default=0.0), 1)
    figures.expensive_p50_ms = round(percentile(slow, 0.50), 1)
    figures.expensive_p99_ms = round(percentile(slow, 0.99), 1)
    figures.expensive_max_ms = round(max(slow, default=0.0), 1)
    figures.requests_per_second = round(figures.requests / elapsed, 1) if elapsed else 0.0
    if server_pid:
        figures.server_rss_mb = rss_mb(server_pid)
        figures.server_anon_mb = rss_mb(server_pid, "RssAnon")
        figures.server_peak_rss_mb = round(peak[0], 1) or figures.server_rss_mb
    return figures


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(index_dir: Path, threads: int = 8) -> tuple[subprocess.Popen, str]:
    """Start `searchapp serve` over ``index_dir`` on a free loopback port; return it and its URL.

    The server's log goes to a file of its own: into a pipe nobody read, waitress's
    "Task queue depth" warnings (one each time every thread is busy) filled the pipe's
    64 KB and the server stopped, waiting to write, once searches got fast enough.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "searchapp", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--threads", str(threads), "--index-dir", str(index_dir),
             "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=log,
            env={**os.environ, "SEARCHAPP_SOURCES": str(index_dir / "no-sources")},
        )
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"searchapp serve exited: {log.read().decode(errors='replace')}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/api/search?q=warmup")
                if connection.getresponse().status == 200:
                    connection.close()
                    return process, url
            except OSError:
                time.sleep(0.1)
    stop_server(process)
    raise RuntimeError(f"searchapp serve did not answer on {url} in {SERVER_START_SECONDS} s")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def report(figures: Figures) -> str:
    f = figures
    lines = [
        f"{f.requests:,} requests in {f.seconds} s from {f.clients} clients "
        f"({f.expensive_clients} sending expensive queries): {f.requests_per_second} req/s, "
        f"{f.errors} errors",
        f"normal clients:    {f.normal_requests:,} requests, p50 {f.normal_p50_ms} ms, "
        f"p95 {f.normal_p95_ms} ms, p99 {f.normal_p99_ms} ms, max {f.normal_max_ms} ms",
        f"expensive clients: {f.expensive_requests:,} requests, p50 {f.expensive_p50_ms} ms, "
        f"p99 {f.expensive_p99_ms} ms, max {f.expensive_max_ms} ms",
    ]
    if f.server_rss_mb is not None:
        lines.append(f"server memory: {f.server_rss_mb:.0f} MB resident at the end "
                     f"({f.server_anon_mb or 0:.0f} MB of it its own, the rest shared libraries "
                     f"and files), {f.server_peak_rss_mb:.0f} MB at most")
    lines += [f"error: {sample}" for sample in f.error_samples]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, default=Path("/tmp/load-ix"),
                        help="index to serve when no --url is given [default: /tmp/load-ix]")
    parser.add_argument("--url", help="a running server on loopback, e.g. http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--expensive-clients", type=int, default=None,
                        help="how many of the clients send expensive queries [default: 1 in 8]")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=8, help="waitress threads of the server")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    server = None
    url, pid = args.url, None
    if url is None:
        server, url = start_server(args.index_dir, args.threads)
        pid = server.pid
    try:
        figures = run_load(url, args.clients, args.seconds, args.expensive_clients, pid)
    finally:
        if server is not None:
            stop_server(server)
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(asdict(figures), indent=2) + "\n")
    return 1 if figures.errors else 0


if __name__ == "__main__":
    sys.exit(main())
