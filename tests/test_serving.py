"""`searchapp serve` as production runs it: a real server on loopback, attacked by slow and
greedy clients, stopped with SIGTERM, with workers that cannot start; its logs, its
/metrics and the public base URL of its absolute links."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from prometheus_client.parser import text_string_to_metric_families

from searchapp import create_app
from searchapp.backends.whoosh.indexing import update_index
from searchapp.config import ConfigError
from searchapp.logs import JsonFormatter
from searchapp.serving import FAILURE_WINDOW_SECONDS, GIVE_UP_FAILURES, Limits
from searchapp.web import SECURITY_HEADERS

# Safety bounds of the waiting loops below, not measurements.
START_SECONDS = 60
STOP_SECONDS = 30
EVIL_HOST = "evil.example"
COMMON_WORDS = ("said year market trade bank price rate share oil company government week "
                "sales profit stock billion").split()


# -- a real server ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`python -m searchapp serve` on a free loopback port; its stderr goes to a file."""

    def __init__(self, index_dir: Path, tmp_path: Path, *options: str, env: dict | None = None):
        self.port = free_port()
        self.log_path = tmp_path / f"serve-{self.port}.log"
        self.out_path = tmp_path / f"serve-{self.port}.out"
        with open(self.log_path, "wb") as log, open(self.out_path, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "searchapp", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), "--index-dir", str(index_dir), *options],
                stdout=out, stderr=log,
                env={**os.environ, "SEARCHAPP_SOURCES": str(tmp_path / "no-sources"),
                     **(env or {})},
            )

    def wait_until_serving(self) -> Server:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.stderr()
            try:
                if get(self.port, "/healthz", timeout=5)[0] == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"searchapp serve did not answer: {self.stderr()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"searchapp serve did not stop: {self.stderr()}") from None

    def stderr(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stdout(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def start(tmp_path):
    """Start servers with ``start(index_dir, *options)``; all are stopped at the end."""
    servers: list[Server] = []

    def starter(index_dir: Path, *options: str, env: dict | None = None,
                wait: bool = True) -> Server:
        server = Server(index_dir, tmp_path, *options, env=env)
        servers.append(server)
        return server.wait_until_serving() if wait else server

    yield starter
    for server in servers:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def get(port: int, path: str, timeout: float = 10,
        headers: dict | None = None) -> tuple[int, bytes, http.client.HTTPMessage]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), response.headers
    finally:
        connection.close()


def raw_exchange(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send ``data`` on a new connection and return all the server answers before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(data)
        return read_all(connection)


def read_all(connection: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def parse_answer(answer: bytes) -> tuple[int, dict[str, str]]:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
    return int(head[0].split()[1]), fields


def open_slow_connections(port: int, count: int) -> list[socket.socket]:
    """Open ``count`` connections that send half a request line and then wait."""
    connections = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        connection.sendall(b"GET /?q=slow")
        connections.append(connection)
    return connections


def close_all(connections: list[socket.socket]) -> None:
    for connection in connections:
        connection.close()


# -- 7. slow and greedy clients --------------------------------------------------------------

@pytest.mark.parametrize("slow_clients", [110, 300, Limits.connections + 100])
def test_serve_slow_clients_do_not_lock_out_a_reader(index_dir, start, slow_clients):
    # Waitress's defaults (100 connections, closed after 120 s of silence) locked every
    # other client out for two minutes with 110 connections like these. Past the connection
    # limit, the reader waits for the time-out of the slow connections ahead of it.
    server = start(index_dir)
    slow = open_slow_connections(server.port, slow_clients)
    try:
        began = time.monotonic()
        status, body, _ = get(server.port, "/api/search?q=Jermuk",
                              timeout=2 * Limits.timeout + 10)
        assert status == 200 and json.loads(body)["total"] >= 1
        print(f"{slow_clients} slow connections: a reader served after "
              f"{time.monotonic() - began:.1f} s")
    finally:
        close_all(slow)
    assert server.stop() == 0


def test_serve_closes_connections_that_trickle_a_request(index_dir, start):
    # More slow clients than connections allowed, each sending a byte every half second, so
    # that waitress's own idle time-out never fires: the request time-out closes them, and
    # the reader queued behind them is served.
    timeout, limit, slow_clients = 2, 40, 110
    server = start(index_dir, "--timeout", str(timeout), "--connection-limit", str(limit))
    slow = open_slow_connections(server.port, slow_clients)
    stop_trickling = threading.Event()

    def trickle():
        while not stop_trickling.wait(0.5):
            for connection in slow:
                try:
                    connection.send(b"a")
                except OSError:
                    pass

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    try:
        # The reader waits behind the slow clients; each round of them lasts about
        # `timeout` seconds, so 110 of them at 40 a time take three rounds.
        bound = (slow_clients // limit + 2) * (timeout + 1) + 20
        began = time.monotonic()
        status, _, _ = get(server.port, "/healthz", timeout=bound)
        assert status == 200
        print(f"{slow_clients} trickling connections, {limit} allowed, --timeout {timeout}: "
              f"a reader served after {time.monotonic() - began:.1f} s")
        time.sleep(timeout + 1.5)  # past the time-out of the last round
        for connection in slow:
            connection.setblocking(False)
        closed = sum(1 for connection in slow if _closed_by_server(connection))
        assert closed >= limit, f"only {closed} of {slow_clients} slow connections closed"
        print(f"{closed} of {slow_clients} trickling connections closed by the server")
    finally:
        stop_trickling.set()
        trickler.join()
        close_all(slow)
    assert server.stop() == 0


def _closed_by_server(connection: socket.socket) -> bool:
    try:
        return connection.recv(1024) == b""
    except BlockingIOError:
        return False  # still open, nothing to read
    except ConnectionResetError:
        return True


def test_serve_refuses_a_huge_body_without_spooling_it(index_dir, start):
    # A GET declaring 900 MB, with 3 MB of it actually sent, was read into a temporary
    # file until all 900 MB had arrived.
    server = start(index_dir)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(b"GET /api/search?q=x HTTP/1.1\r\nHost: localhost\r\n"
                           b"Content-Length: 900000000\r\n\r\n")

        def send_body():
            try:
                for _ in range(3):
                    connection.sendall(b"x" * 1_000_000)
            except OSError:
                pass  # the server closed the connection after its answer

        sender = threading.Thread(target=send_body)
        sender.start()
        answer = read_all(connection)
        sender.join()
    status, headers = parse_answer(answer)
    assert status == 413
    assert headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    open_files = [os.readlink(fd) for fd in Path(f"/proc/{server.process.pid}/fd").iterdir()]
    assert [name for name in open_files if name.endswith("(deleted)")] == []  # no spool file
    assert get(server.port, "/healthz")[0] == 200
    assert server.stop() == 0


def test_serve_refuses_a_chunked_body_past_the_limit(index_dir, start):
    server = start(index_dir, "--max-body-size", "1024")
    chunk = b"x" * 4096
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4)) + b"0\r\n\r\n"
    answer = raw_exchange(server.port, b"GET / HTTP/1.1\r\nHost: localhost\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n" + body)
    assert parse_answer(answer)[0] == 413
    assert server.stop() == 0


@pytest.mark.parametrize("request_bytes, status", [
    (b"NOT A REQUEST\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999\r\n\r\n", 413),
    (b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
])
def test_serve_own_error_answers_carry_the_security_headers(index_dir, start, request_bytes,
                                                            status):
    server = start(index_dir)
    answered, headers = parse_answer(raw_exchange(server.port, request_bytes))
    assert answered == status
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, name
    assert headers["Server"] == "searchapp"
    assert server.stop() == 0


# -- 11. workers that cannot start, and SIGTERM ----------------------------------------------

def test_serve_gives_up_on_workers_that_cannot_start(index_dir, start):
    # A wrong setting makes every worker fail as it starts: they were restarted for ever.
    server = start(index_dir, "--workers", "2", env={"SEARCHAPP_BASE_URL": "archive.example"},
                   wait=False)
    began = time.monotonic()
    code = server.process.wait(timeout=FAILURE_WINDOW_SECONDS + START_SECONDS)
    stderr = server.stderr()
    print(f"gave up after {time.monotonic() - began:.1f} s and "
          f"{stderr.count('could not serve')} failed starts")
    assert code == 5
    assert f"workers failed {GIVE_UP_FAILURES} times within" in stderr
    assert "giving up" in stderr
    assert "SEARCHAPP_BASE_URL must be the address readers use" in stderr
    # Restarts stopped there (the other worker may have failed meanwhile).
    assert GIVE_UP_FAILURES <= stderr.count("could not serve") <= GIVE_UP_FAILURES + 1
    assert "Traceback" not in stderr


def test_serve_single_process_with_a_bad_setting_fails_clearly(index_dir, start):
    server = start(index_dir, env={"SEARCHAPP_BASE_URL": "ftp://archive.example"}, wait=False)
    assert server.process.wait(timeout=START_SECONDS) == 5
    assert "cannot start: SEARCHAPP_BASE_URL must be" in server.stderr()
    assert "Traceback" not in server.stderr()


@pytest.fixture(scope="module")
def busy_index(tmp_path_factory) -> Path:
    """An index of 1,000 generated articles, where a query of many common words takes a while."""
    folder = tmp_path_factory.mktemp("busy")
    rng = random.Random(13)
    vocabulary = COMMON_WORDS + [f"word{n}" for n in range(3000)]
    with open(folder / "generated.jsonl", "w", encoding="utf-8") as feed:
        for number in range(1000):
            body = " ".join(rng.choice(vocabulary) for _ in range(120))
            feed.write(json.dumps({"id": f"a{number}", "headline": f"Story {number}",
                                   "date": f"1987-{number % 12 + 1:02d}-01",
                                   "body": body}) + "\n")
    target = folder / "index"
    assert not update_index([folder], target, workers=1).skipped
    return target


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_sigterm_finishes_the_requests_in_flight(busy_index, start, workers):
    # SIGTERM stopped the server at once: requests being served or queued were cut off.
    server = start(busy_index, "--threads", "1", "--workers", str(workers))
    # OR: any of the words will do, so that every request lists a full page.
    expensive = "/api/search?q=" + "+OR+".join(COMMON_WORDS * 4) + "&per_page=50&sort=newest"
    connections = []
    for _ in range(6):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        connection.request("GET", "/healthz")  # accepted, and kept alive
        assert connection.getresponse().read()
        connections.append(connection)
    slow = open_slow_connections(server.port, 5)  # unfinished requests do not hold the stop
    for connection in connections:
        connection.request("GET", expensive)
    server.process.send_signal(signal.SIGTERM)
    answered = 0
    for connection in connections:
        response = connection.getresponse()
        assert response.status == 200
        assert len(json.loads(response.read())["results"]) == 50
        answered += 1
        connection.close()
    assert server.process.wait(timeout=STOP_SECONDS) == 0
    print(f"{answered} of {len(connections)} requests in flight at SIGTERM answered")
    close_all(slow)
    assert "Stopped." in server.stdout()
    with pytest.raises(OSError):  # and it no longer accepts connections
        get(server.port, "/healthz", timeout=2)


# -- 12. logs and metrics --------------------------------------------------------------------

def metric_value(port_or_client, name: str, **labels) -> float:
    """Return the value of one sample of /metrics (0 when absent)."""
    if isinstance(port_or_client, int):
        text = get(port_or_client, "/metrics")[1].decode()
    else:
        text = port_or_client.get("/metrics").get_data(as_text=True)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_metrics_count_requests_and_latency_by_endpoint(client):
    requests = {"endpoint": "api.search", "method": "GET", "status": "200"}
    before = metric_value(client, "searchapp_requests_total", **requests)
    timed = metric_value(client, "searchapp_request_duration_seconds_count",
                         endpoint="api.search")
    missing = metric_value(client, "searchapp_requests_total", endpoint="none", status="404")
    assert client.get("/api/search?q=Jermuk").status_code == 200
    assert client.get("/api/search?q=border").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    assert metric_value(client, "searchapp_requests_total", **requests) == before + 2
    assert metric_value(client, "searchapp_request_duration_seconds_count",
                        endpoint="api.search") == timed + 2
    assert metric_value(client, "searchapp_requests_total",
                        endpoint="none", status="404") == missing + 1
    response = client.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain; version=")


def test_metrics_describe_the_index(client):
    articles = client.get("/healthz").get_json()["articles"]
    assert metric_value(client, "searchapp_index_up") == 1
    assert metric_value(client, "searchapp_index_articles") == articles == 6
    assert metric_value(client, "searchapp_index_size_bytes") > 0
    age = metric_value(client, "searchapp_index_last_commit_age_seconds")
    committed = metric_value(client, "searchapp_index_last_commit_timestamp_seconds")
    assert 0 <= age < 3600 and committed > 1.6e9


def test_metrics_without_an_index_say_so(tmp_path, make_archive):
    client = make_archive(name="none").app(TESTING=True).test_client()
    assert metric_value(client, "searchapp_index_up") == 0


def test_metrics_add_up_every_worker(index_dir, start):
    server = start(index_dir, "--workers", "2")
    for _ in range(20):  # a new connection each time, so both workers answer some
        assert get(server.port, "/api/search?q=Jermuk")[0] == 200
    for _ in range(4):  # whichever worker answers /metrics counts them all
        assert metric_value(server.port, "searchapp_requests_total",
                            endpoint="api.search", status="200") == 20
    assert server.stop() == 0


def test_serve_logs_one_json_line_per_request(index_dir, start):
    server = start(index_dir, "--log-format", "json")
    assert get(server.port, "/api/search?q=Jermuk")[0] == 200
    assert get(server.port, "/articles/nothing%0Ahere")[0] == 404
    assert server.stop() == 0
    records = [json.loads(line) for line in server.stderr().splitlines()]
    access = [r for r in records if r["logger"] == "searchapp.access"]
    searches = [r for r in access if r["path"] == "/api/search"]
    assert len(searches) == 1
    assert searches[0]["method"] == "GET" and searches[0]["status"] == 200
    assert searches[0]["duration_ms"] >= 0 and searches[0]["level"] == "INFO"
    missing = [r for r in access if r["status"] == 404]
    assert [r["path"] for r in missing] == ["/articles/nothing%0Ahere"]


def test_serve_logs_one_text_line_per_request(index_dir, start):
    server = start(index_dir)
    assert get(server.port, "/?q=Jermuk")[0] == 200
    assert server.stop() == 0
    lines = [line for line in server.stderr().splitlines() if "searchapp.access" in line]
    assert any(re.search(r"INFO searchapp\.access: GET / 200 \d+\.\d ms$", line)
               for line in lines), lines


def test_errors_are_logged_with_their_traceback(client, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(client.application.extensions["archive"], "search", broken)
    with caplog.at_level(logging.INFO):
        assert client.get("/api/search?q=Jermuk").status_code == 500
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info
    formatted = json.loads(JsonFormatter().format(errors[0]))
    assert "RuntimeError: the disk is on fire" in formatted["traceback"]
    access = [r for r in caplog.records if r.name == "searchapp.access"]
    assert [(r.method, r.path, r.status) for r in access] == [("GET", "/api/search", 500)]


# -- 8. the public base URL ------------------------------------------------------------------

def absolute_links(client, headers=None) -> list[str]:
    search = BeautifulSoup(client.get("/opensearch.xml", headers=headers).data, "xml")
    feed = BeautifulSoup(client.get("/feed?q=border", headers=headers).data, "xml")
    links = [tag["template"] for tag in search.find_all("Url")]
    links += [tag["href"] for tag in feed.find_all("link")]
    links += [tag.get_text() for tag in feed.find_all("id")]
    assert len(links) >= 6
    return links


def test_base_url_makes_absolute_links_ignore_the_host_header(index_dir):
    app = create_app({"INDEX_DIR": str(index_dir), "TESTING": True,
                      "BASE_URL": "https://archive.example.org/news/"})
    links = absolute_links(app.test_client(), {"Host": EVIL_HOST})
    assert all(link.startswith("https://archive.example.org/news/") for link in links), links
    assert not any(EVIL_HOST in link for link in links)
    assert "https://archive.example.org/news/articles/border-talks" in links


def test_base_url_from_the_environment(index_dir, monkeypatch):
    monkeypatch.setenv("SEARCHAPP_BASE_URL", "http://127.0.0.1:8000")
    app = create_app({"INDEX_DIR": str(index_dir), "TESTING": True})
    links = absolute_links(app.test_client(), {"Host": EVIL_HOST})
    assert all(link.startswith("http://127.0.0.1:8000/") for link in links), links


def test_without_a_base_url_links_follow_the_request(client):
    # The documented fallback, for development: set SEARCHAPP_BASE_URL in production.
    links = absolute_links(client, {"Host": "archive.test"})
    assert all(link.startswith("http://archive.test/") for link in links), links


@pytest.mark.parametrize("value", [
    "archive.example.org", "ftp://archive.example.org", "https://", "https://x.org/?q=1",
    "https://user:pw@x.org", "https://x.org:port", "javascript:alert(1)",
])
def test_base_url_that_is_not_an_address_is_refused(index_dir, value):
    with pytest.raises(ConfigError, match="SEARCHAPP_BASE_URL"):
        create_app({"INDEX_DIR": str(index_dir), "BASE_URL": value})


def test_serve_workers_stop_when_their_parent_is_killed(index_dir, start):
    server = start(index_dir, "--workers", "2")
    pid = server.process.pid
    workers = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    assert len(workers) == 2
    server.process.kill()
    server.process.wait()
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and any(_running(worker) for worker in workers):
        time.sleep(0.2)
    assert not any(_running(worker) for worker in workers)


# A parent that forks two workers whose app takes a while to open, and prints their pids.
_SLOW_WORKERS = """
import os, socket, sys, time
from searchapp import serving
def make_app():
    os.write(1, b"%d\\n" % os.getpid())  # one write: the two workers' lines never mix
    time.sleep(float(sys.argv[1]))
    return lambda environ, start_response: []
serving.serve(make_app, "127.0.0.1", 0, 1, 2, lambda: None)
"""


@pytest.mark.whoosh_only  # no index at all
def test_serve_workers_stop_when_their_parent_dies_while_they_open_the_app():
    parent = subprocess.Popen([sys.executable, "-c", _SLOW_WORKERS, "3"], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        workers = [int(parent.stdout.readline()) for _ in range(2)]
        parent.kill()  # the workers are still opening the app
        parent.wait()
        deadline = time.monotonic() + STOP_SECONDS
        while time.monotonic() < deadline and any(_running(worker) for worker in workers):
            time.sleep(0.2)
        assert not any(_running(worker) for worker in workers)
    finally:  # whatever is left of its process group: a failure leaves no server behind
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()
        parent.stdout.close()


# A server whose app leaves calls for after its answer: one waits for the file the test
# writes once it has the answer, one fails. Its stdout says what they saw.
_AFTER_ANSWER = """
import os, sys, time
from pathlib import Path
from searchapp import serving
flag = Path(sys.argv[1])
def waits():
    deadline = time.monotonic() + 10
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    os.write(1, b"after: " + (b"saw the answer" if flag.exists() else b"ran first") + b"\\n")
def fails():
    raise RuntimeError("a log line that cannot be written")
def app(environ, start_response):
    environ[serving.AFTER_RESPONSE].append(waits if environ["PATH_INFO"] == "/wait" else fails)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
serving.serve(lambda: app, "127.0.0.1", int(sys.argv[2]), 2, 1,
              lambda: os.write(1, b"ready\\n"))
"""


@pytest.mark.whoosh_only  # no index at all
def test_serve_answers_before_running_what_the_app_left_for_after(tmp_path):
    port, flag = free_port(), tmp_path / "answered"
    server = subprocess.Popen([sys.executable, "-c", _AFTER_ANSWER, str(flag), str(port)],
                              text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert server.stdout.readline() == "ready\n"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for path in ("/fail", "/wait", "/fail"):  # one connection: a failure keeps it open
            connection.request("GET", path)
            answer = connection.getresponse()
            assert (answer.status, answer.read()) == (200, b"ok")
            if path == "/wait":
                flag.touch()
                assert server.stdout.readline() == "after: saw the answer\n"
        connection.close()
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=STOP_SECONDS)
    assert errors.count("RuntimeError: a log line that cannot be written") == 2


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status
