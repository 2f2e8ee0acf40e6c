"""Pytest plugin: a real OpenSearch cluster for the tests marked ``opensearch``.

One 2-node cluster is started per test session with ``tools/opensearch-cluster`` (free ports
found at run time, data under pytest's temporary folder) and stopped when the session ends.
Any test that uses one of the fixtures below is marked ``opensearch`` by itself, so
``pytest -m "not opensearch"`` leaves them out.

``SEARCHAPP_TEST_OPENSEARCH_URL=http://127.0.0.1:9400`` points the tests at a cluster that is
already running instead (fast iterations while developing); the fault helpers then skip.

Where Java or Maven is missing the tests are skipped, saying what is missing; under
``CI=true`` they fail instead, so CI never passes by skipping them.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "opensearch-cluster"
URL_VARIABLE = "SEARCHAPP_TEST_OPENSEARCH_URL"
NODES = 2
HEAP = "512m"
# The tool puts node I's transport port at HTTP port + 1000 + I; ports are drawn below the
# kernel's ephemeral range so no outgoing connection can take one meanwhile.
TRANSPORT_OFFSET = 1000
PORT_RANGE = (20000, 31000)
START_TRIES = 3
EXIT_PORT_IN_USE = 3
OPENSEARCH_FIXTURES = {"opensearch_url", "opensearch_cluster", "opensearch_index_name",
                       "opensearch_tool"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that asks for a cluster fixture ``opensearch``."""
    for item in items:
        if OPENSEARCH_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.opensearch)


def running_under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def missing_tools() -> list[str]:
    """Return what the local cluster needs and PATH lacks: java, mvn or both."""
    return [tool for tool in ("java", "mvn") if shutil.which(tool) is None]


def require_tools() -> None:
    """Skip the calling test when java or mvn is missing; fail it instead under CI=true."""
    missing = missing_tools()
    if not missing:
        return
    message = (f"OpenSearch tests need {' and '.join(missing)} on PATH to build and run a local "
               "cluster (Debian: apt-get install openjdk-17-jdk-headless maven), or "
               f"{URL_VARIABLE} set to a running cluster")
    if running_under_ci():
        pytest.fail(f"{message}; CI=true, so this is a failure, not a skip", pytrace=False)
    pytest.skip(message)


def run_tool(*arguments: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run tools/opensearch-cluster with this Python and return what it did."""
    return subprocess.run([sys.executable, str(TOOL), *arguments], cwd=ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_http_port(nodes: int) -> int:
    """Return an HTTP port P such that P..P+nodes-1 and their transport ports are free."""
    draw = random.SystemRandom()  # untouched by pytest-randomly's reseeding
    for _ in range(200):
        base = draw.randrange(PORT_RANGE[0], PORT_RANGE[1] - nodes)
        ports = [base + i for i in range(nodes)]
        ports += [port + TRANSPORT_OFFSET for port in ports]
        if all(port_is_free(port) for port in ports):
            return base
    raise RuntimeError(f"no {nodes} free ports in {PORT_RANGE}")


def request_json(method: str, url: str, body: dict | list | None = None,
                 timeout: float = 30) -> dict:
    """Send one HTTP request to a node and return the JSON answer, error answers included."""
    data = None
    headers = {}
    if isinstance(body, list):  # the bulk API: one JSON document a line
        data = "".join(json.dumps(line) + "\n" for line in body).encode()
        headers["Content-Type"] = "application/x-ndjson"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.load(error)


def process_is_alive(pid: int) -> bool:
    """Tell whether pid runs; a zombie nobody has reaped yet counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@dataclass
class OpenSearchCluster:
    """The session's cluster: its URLs and, when this session started it, its nodes.

    ``kill(i)`` SIGKILLs node i and ``restart(i)`` starts it again. In the local 2-node
    cluster node 0 is the only cluster-manager-eligible node: killing node 1 is the fault a
    replica survives (the cluster turns yellow and keeps serving); killing node 0 leaves
    node 1 without a cluster manager. Nodes a test killed are started again after it.
    """

    urls: list[str]
    dir: Path | None = None
    http_port: int | None = None
    start_output: str = ""

    @property
    def url(self) -> str:
        return self.urls[0]

    @property
    def local(self) -> bool:
        return self.dir is not None

    @property
    def pids(self) -> list[int | None]:
        """Each node's pid, None for a node that is not running."""
        self._require_local()
        pids: list[int | None] = []
        for node in range(len(self.urls)):
            try:
                pid = int((self.dir / f"node-{node}.pid").read_text())
            except (OSError, ValueError):
                pid = None
            pids.append(pid if pid is not None and process_is_alive(pid) else None)
        return pids

    def health(self, node: int | None = None, **wait: str) -> dict:
        """Return _cluster/health as node (default: the first that answers) sees it."""
        query = "&".join(f"{key}={value}" for key, value in wait.items())
        candidates = [self.urls[node]] if node is not None else self.urls
        last_error: Exception | None = None
        for url in candidates:
            try:
                return request_json("GET", f"{url}/_cluster/health?{query}", timeout=90)
            except (OSError, ValueError) as error:
                last_error = error
        raise ConnectionError(f"no node of {candidates} answered: {last_error}")

    def wait_for(self, status: str = "green", nodes: int | None = None, node: int = 0,
                 timeout: float = 180) -> dict:
        """Wait until node sees the cluster with status (or better) and nodes nodes."""
        nodes = len(self.urls) if nodes is None else nodes
        deadline = time.monotonic() + timeout
        health: dict = {}
        while time.monotonic() < deadline:
            try:
                health = self.health(node, wait_for_status=status,
                                     wait_for_nodes=str(nodes), timeout="5s")
            except ConnectionError:
                time.sleep(0.5)
                continue
            if not health.get("timed_out", True) and health.get("number_of_nodes") == nodes:
                return health
        raise AssertionError(f"cluster not {status} with {nodes} nodes after {timeout} s: "
                             f"{health}")

    def kill(self, node: int) -> None:
        """SIGKILL one node and wait until its process is gone."""
        pid = self.pids[node]
        assert pid is not None, f"node-{node} is not running"
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while process_is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self, node: int) -> str:
        """Start a killed or stopped node again, wait until it has joined; return its URL."""
        self._require_local()
        result = run_tool("start-node", "--dir", str(self.dir), "--node", str(node))
        assert result.returncode == 0, f"restarting node-{node} failed:\n{result.stderr}"
        return self.urls[node]

    def restore(self) -> None:
        """Bring back every node a test killed and wait until the cluster is green again."""
        if not self.local:
            return
        dead = [node for node, pid in enumerate(self.pids) if pid is None]
        for node in dead:
            self.restart(node)
        if dead:
            self.wait_for("green")

    def _require_local(self) -> None:
        if not self.local:
            pytest.skip(f"needs the cluster the tests start themselves: unset {URL_VARIABLE}")


def start_local_cluster(directory: Path, nodes: int) -> OpenSearchCluster:
    """Start a cluster of nodes under directory on free ports; raise on failure."""
    result = None
    for _ in range(START_TRIES):
        port = free_http_port(nodes)
        result = run_tool("start", "--nodes", str(nodes), "--http-port", str(port),
                          "--dir", str(directory), "--heap", HEAP,
                          # A session killed before its teardown leaves no node running.
                          "--owner-pid", str(os.getpid()))
        if result.returncode != EXIT_PORT_IN_USE:  # another program took a port meanwhile
            break
    if result.returncode != 0:
        pytest.fail(f"tools/opensearch-cluster start failed (exit {result.returncode}):\n"
                    f"{result.stdout}{result.stderr}", pytrace=False)
    urls = [f"http://127.0.0.1:{port + node}" for node in range(nodes)]
    return OpenSearchCluster(urls=urls, dir=directory, http_port=port,
                             start_output=result.stdout)


@pytest.fixture(scope="session")
def opensearch_session_cluster(
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenSearchCluster]:
    """The one cluster of this test session (prefer the fixtures below)."""
    given = os.environ.get(URL_VARIABLE, "").strip()
    if given:
        yield OpenSearchCluster(urls=[url.strip().rstrip("/") for url in given.split(",")])
        return
    require_tools()
    directory = tmp_path_factory.mktemp("opensearch-cluster")
    cluster = start_local_cluster(directory, NODES)
    try:
        yield cluster
    finally:
        run_tool("stop", "--dir", str(directory))


@pytest.fixture(scope="session")
def opensearch_url(opensearch_session_cluster: OpenSearchCluster) -> str:
    """URL of the first node of a real 2-node OpenSearch cluster, shared by the whole session.

    Every test that uses it must create its own uniquely named index (``opensearch_index_name``
    gives one and removes it afterwards), never a fixed name: tests share the cluster.
    """
    return opensearch_session_cluster.url


@pytest.fixture
def opensearch_cluster(opensearch_session_cluster: OpenSearchCluster
                       ) -> Iterator[OpenSearchCluster]:
    """The session's cluster with its fault helpers: ``.urls``, ``.pids``, ``.dir``,
    ``.kill(i)``, ``.restart(i)``, ``.wait_for(status)``, ``.health()``.

    Nodes the test killed are started again after it, and the cluster is green again before
    the next test. Use your own uniquely named index (``opensearch_index_name``).
    """
    yield opensearch_session_cluster
    opensearch_session_cluster.restore()


@pytest.fixture
def opensearch_index_name(request: pytest.FixtureRequest,
                          opensearch_session_cluster: OpenSearchCluster) -> Iterator[str]:
    """A name no other test uses; every index named after it (``name*``) is deleted after."""
    test = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    name = f"searchapp-test-{test}-{uuid.uuid4().hex[:8]}"
    yield name
    opensearch_session_cluster.restore()
    for url in opensearch_session_cluster.urls:
        try:
            request_json("DELETE", f"{url}/{name}*?expand_wildcards=all")
            break
        except (OSError, ValueError):
            continue


@pytest.fixture
def opensearch_tool():
    """``run_tool`` for a test that runs tools/opensearch-cluster itself; skipped (failed
    under CI=true) when java or mvn is missing."""
    require_tools()
    return run_tool
