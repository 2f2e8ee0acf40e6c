"""tools/opensearch-cluster and the test cluster: what a user of the tool notices."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.opensearch_cluster import (
    ROOT,
    URL_VARIABLE,
    free_http_port,
    process_is_alive,
    request_json,
)

HEADLINES = [f"Border talks resume in round {n}" for n in range(1, 21)]


def is_listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def closes_soon(port: int, seconds: float = 15) -> bool:
    """Return True once nothing listens on ``port``. A JVM's main thread shows as a zombie
    while its other threads still exit and hold its sockets, which on a loaded machine can
    last a few seconds after the process looks gone."""
    deadline = time.monotonic() + seconds
    while is_listening(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def create_index(url: str, name: str, shards: int = 2, replicas: int = 1) -> None:
    answer = request_json("PUT", f"{url}/{name}", {
        "settings": {"number_of_shards": shards, "number_of_replicas": replicas}})
    assert answer.get("acknowledged") is True, answer


def index_headlines(url: str, name: str) -> None:
    lines: list = []
    for number, headline in enumerate(HEADLINES):
        lines += [{"index": {"_index": name, "_id": str(number)}}, {"headline": headline}]
    answer = request_json("POST", f"{url}/_bulk?refresh=true", lines)
    assert answer["errors"] is False, answer


def count_matches(url: str, name: str, word: str) -> int:
    answer = request_json("POST", f"{url}/{name}/_search",
                          {"query": {"match": {"headline": word}}, "track_total_hits": True})
    assert answer["_shards"]["failed"] == 0, answer
    return answer["hits"]["total"]["value"]


def test_cluster_start_prints_the_first_nodes_url_last(opensearch_cluster):
    if not opensearch_cluster.local:
        pytest.skip(f"the start output is the local cluster's: unset {URL_VARIABLE}")
    last_line = opensearch_cluster.start_output.strip().splitlines()[-1]
    assert last_line == f"http://127.0.0.1:{opensearch_cluster.http_port}" == opensearch_cluster.url
    assert all(pid is not None for pid in opensearch_cluster.pids)
    assert sorted(path.name for path in opensearch_cluster.dir.glob("*.pid")) == [
        "node-0.pid", "node-1.pid"]


def test_cluster_is_green_with_two_nodes(opensearch_url):
    health = request_json("GET", f"{opensearch_url}/_cluster/health")
    assert health["status"] == "green"
    assert health["number_of_nodes"] == 2
    info = request_json("GET", opensearch_url)
    assert info["version"]["distribution"] == "opensearch"


def test_cluster_has_the_analysis_the_backend_needs(opensearch_url):
    answer = request_json("POST", f"{opensearch_url}/_analyze", {
        "tokenizer": "standard",
        "filter": ["lowercase", "asciifolding", {"type": "stop", "stopwords": "_english_"},
                   {"type": "snowball", "language": "English"}],
        "text": "The Café's runners were running",
    })
    assert [token["token"] for token in answer["tokens"]] == ["cafe", "runner", "were", "run"]


def test_cluster_index_with_two_primaries_and_a_replica_is_green(opensearch_url,
                                                                 opensearch_index_name):
    create_index(opensearch_url, opensearch_index_name)
    health = request_json("GET", f"{opensearch_url}/_cluster/health/{opensearch_index_name}"
                                 "?wait_for_status=green&timeout=60s")
    assert health["status"] == "green"
    shards = request_json("GET", f"{opensearch_url}/_cat/shards/{opensearch_index_name}"
                                 "?format=json")
    assert sorted((s["shard"], s["prirep"], s["state"]) for s in shards) == [
        ("0", "p", "STARTED"), ("0", "r", "STARTED"), ("1", "p", "STARTED"),
        ("1", "r", "STARTED")]
    # Each shard's two copies sit on different nodes, so either node can go.
    for shard in ("0", "1"):
        assert len({s["node"] for s in shards if s["shard"] == shard}) == 2


def test_cluster_sigkill_of_a_node_keeps_documents_searchable(opensearch_cluster,
                                                             opensearch_index_name):
    if not opensearch_cluster.local:
        pytest.skip(f"kills a node of the cluster the tests start: unset {URL_VARIABLE}")
    first, second = opensearch_cluster.urls
    create_index(first, opensearch_index_name)
    opensearch_cluster.wait_for("green")
    index_headlines(first, opensearch_index_name)
    assert count_matches(second, opensearch_index_name, "talks") == len(HEADLINES)

    opensearch_cluster.kill(1)
    assert opensearch_cluster.pids[1] is None
    health = opensearch_cluster.wait_for("yellow", nodes=1, node=0)
    assert health["status"] == "yellow"  # the replicas of node-1's primaries took over
    assert count_matches(first, opensearch_index_name, "talks") == len(HEADLINES)

    opensearch_cluster.restart(1)
    opensearch_cluster.wait_for("green")
    assert count_matches(second, opensearch_index_name, "round") == len(HEADLINES)


def test_cluster_killed_whole_comes_back_node_by_node_with_its_documents(
        opensearch_cluster, opensearch_index_name):
    if not opensearch_cluster.local:
        pytest.skip(f"kills the cluster the tests start: unset {URL_VARIABLE}")
    first = opensearch_cluster.url
    create_index(first, opensearch_index_name)
    opensearch_cluster.wait_for("green")
    index_headlines(first, opensearch_index_name)

    opensearch_cluster.kill(1)
    opensearch_cluster.kill(0)
    assert opensearch_cluster.pids == [None, None]
    assert closes_soon(opensearch_cluster.http_port)

    opensearch_cluster.restart(0)  # alone: node-1 is still down
    assert opensearch_cluster.wait_for("yellow", nodes=1)["status"] == "yellow"
    assert count_matches(first, opensearch_index_name, "talks") == len(HEADLINES)
    opensearch_cluster.restart(1)
    assert opensearch_cluster.wait_for("green")["number_of_nodes"] == 2


def test_cluster_second_start_of_a_running_dir_says_so(opensearch_cluster, opensearch_tool):
    if not opensearch_cluster.local:
        pytest.skip(f"needs the cluster the tests start themselves: unset {URL_VARIABLE}")
    pids = opensearch_cluster.pids
    result = opensearch_tool("start", "--nodes", "2", "--http-port", str(free_http_port(2)),
                             "--dir", str(opensearch_cluster.dir))
    assert result.returncode == 1
    assert "already running" in result.stderr and str(opensearch_cluster.dir) in result.stderr
    assert opensearch_cluster.pids == pids


def test_cluster_start_on_a_port_in_use_says_which(opensearch_cluster, opensearch_tool,
                                                   tmp_path):
    if not opensearch_cluster.local:
        pytest.skip(f"needs the cluster the tests start themselves: unset {URL_VARIABLE}")
    result = opensearch_tool("start", "--nodes", "1", "--http-port",
                             str(opensearch_cluster.http_port), "--dir", str(tmp_path / "other"))
    assert result.returncode == 3
    assert f"port {opensearch_cluster.http_port} on 127.0.0.1 is in use" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not list((tmp_path / "other").glob("*.pid"))


def test_cluster_stop_removes_pid_files_and_closes_the_ports(opensearch_tool, tmp_path):
    directory = tmp_path / "cluster"
    for _attempt in range(2):
        port = free_http_port(1)
        started = opensearch_tool("start", "--nodes", "1", "--http-port", str(port),
                                  "--dir", str(directory))
        # Once, under a full suite, the JVM died before it logged a line (a port taken
        # between the check and the bind): a second port is tried then.
        if started.returncode == 0 or "exited while starting" not in started.stderr:
            break
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip().splitlines()[-1] == f"http://127.0.0.1:{port}"
    pid = int((directory / "node-0.pid").read_text())
    assert request_json("GET", f"http://127.0.0.1:{port}/_cluster/health")["status"] == "green"

    stopped = opensearch_tool("stop", "--dir", str(directory))
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped node-0 (pid {pid})" in stopped.stdout
    assert not list(directory.glob("*.pid"))
    assert not process_is_alive(pid)
    assert closes_soon(port) and closes_soon(port + 1000)

    again = opensearch_tool("stop", "--dir", str(directory))
    assert again.returncode == 0 and "no running node" in again.stdout


def test_cluster_nodes_stop_when_their_owner_dies_and_stop_still_cleans_up(opensearch_tool,
                                                                          tmp_path):
    directory = tmp_path / "cluster"
    owner = subprocess.Popen(["sleep", "600"])
    try:
        started = opensearch_tool("start", "--nodes", "1", "--http-port",
                                  str(free_http_port(1)), "--dir", str(directory),
                                  "--owner-pid", str(owner.pid))
        assert started.returncode == 0, started.stderr
        pid = int((directory / "node-0.pid").read_text())
    finally:
        owner.kill()
        owner.wait()
    deadline = time.monotonic() + 60
    while process_is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not process_is_alive(pid)  # a test session killed before its teardown leaks no node

    stopped = opensearch_tool("stop", "--dir", str(directory))
    assert stopped.returncode == 0, stopped.stderr
    assert not list(directory.glob("*.pid"))


@pytest.mark.parametrize("ci, outcome", [("", "1 skipped"), ("true", "1 error")])
def test_cluster_tests_without_java_skip_or_fail_under_ci(tmp_path, ci, outcome):
    test_file = tmp_path / "test_needs_cluster.py"
    test_file.write_text(textwrap.dedent("""\
        def test_needs_cluster(opensearch_url):
            assert opensearch_url
        """))
    empty = tmp_path / "bin"
    empty.mkdir()
    environment = {key: value for key, value in os.environ.items() if key != URL_VARIABLE}
    environment.update(PATH=str(empty), CI=ci)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
         "-p", "tests.opensearch_cluster", "--rootdir", str(ROOT), "-c",
         str(ROOT / "pyproject.toml"), str(test_file)],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)
    assert outcome in result.stdout, result.stdout + result.stderr
    assert "java and mvn on PATH" in result.stdout
    if ci:
        assert result.returncode == 1
        assert "CI=true, so this is a failure, not a skip" in result.stdout
    else:
        assert result.returncode == 0


def test_cluster_tool_without_java_says_so_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "opensearch-cluster"), "start", "--nodes", "1",
         "--http-port", str(free_http_port(1)), "--dir", str(tmp_path / "cluster")],
        env={**os.environ, "PATH": str(Path(tmp_path))}, capture_output=True, text=True,
        timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "opensearch-cluster: java not found on PATH: OpenSearch needs Java 17 or newer "
        "(Debian: apt-get install openjdk-17-jdk-headless)"]
