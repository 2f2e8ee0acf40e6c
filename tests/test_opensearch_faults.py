"""Faults of a real OpenSearch cluster under the running service (issue 12, point 7).

A node SIGKILLed while readers search: once the cluster has noticed (its cluster manager no
longer counts the node), every search answers in full from the replicas, never with a 5xx.
The whole cluster out of reach: the API answers 503 with the usual JSON error, the page says
the archive is unavailable, and /healthz says what state the cluster is in.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from searchapp import create_app
from searchapp.backends import open_archive
from tests.opensearch_cluster import free_http_port

pytestmark = pytest.mark.opensearch

QUERY = "wheat harvest"
ARTICLES = 300
READERS = 4
# Bounds of the reading loops: every thread stops after this many requests or seconds.
MAX_REQUESTS_PER_READER = 5000
MAX_READ_SECONDS = 120
# How long readers go on after the cluster has noticed the dead node.
READ_AFTER_NOTICE_SECONDS = 4
MIN_READS_AFTER_NOTICE = 20
MAX_WAIT_AFTER_NOTICE_SECONDS = 60


def write_wheat_archive(folder: Path) -> Path:
    """Write ARTICLES articles that all match QUERY, spread over both shards."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "wire.jsonl", "w", encoding="utf-8") as feed:
        for n in range(ARTICLES):
            feed.write(json.dumps({
                "id": f"wheat-{n}", "headline": f"Wheat Harvest Report {n}",
                "date": f"198{n % 10}-0{n % 9 + 1}-1{n % 10}",
                "body": f"The wheat harvest in district {n} was reported on Monday, "
                        f"with {n} tonnes more than last year."}) + "\n")
    return folder


def build(url: str, name: str, folder: Path) -> None:
    report = open_archive(folder.parent / "unused", url, name).update([folder])
    assert report.added == ARTICLES and not report.skipped


@dataclass
class Answer:
    started: float
    path: str
    status: int
    total: int | None


def read_until(app, stop: threading.Event, answers: list[Answer], lock: threading.Lock) -> None:
    """Search through the page and the API until told to stop (bounded in count and time)."""
    client = app.test_client()
    deadline = time.monotonic() + MAX_READ_SECONDS
    for n in range(MAX_REQUESTS_PER_READER):
        if stop.is_set() or time.monotonic() > deadline:
            return
        path = f"/api/search?q={QUERY.replace(' ', '+')}" if n % 2 else f"/?q={QUERY}"
        started = time.monotonic()
        response = client.get(path)
        total = None
        if response.status_code == 200:
            if path.startswith("/api/"):
                total = response.get_json()["total"]
            else:
                page = BeautifulSoup(response.data, "html.parser")
                total = len(page.select("ol.results li.result"))
        with lock:
            answers.append(Answer(started, path, response.status_code, total))


def reads_since(answers: list[Answer], lock: threading.Lock, moment: float) -> int:
    with lock:
        return sum(1 for answer in answers if answer.started >= moment)


def test_a_node_killed_while_readers_search_costs_no_search_once_noticed(
        opensearch_cluster, opensearch_index_name, tmp_path):
    cluster = opensearch_cluster
    build(cluster.url, opensearch_index_name, write_wheat_archive(tmp_path / "articles"))
    cluster.wait_for("green", timeout=120)  # every shard has its replica before the fault
    # The service knows both nodes, as a production setting lists several.
    app = create_app({"OPENSEARCH_URL": ",".join(cluster.urls),
                      "OPENSEARCH_INDEX": opensearch_index_name})
    client = app.test_client()
    expected = client.get(f"/api/search?q={QUERY}").get_json()["total"]
    per_page = len(BeautifulSoup(client.get(f"/?q={QUERY}").data, "html.parser")
                   .select("ol.results li.result"))
    assert expected == ARTICLES and per_page > 0
    assert client.get("/healthz").get_json()["cluster"] == "green"

    answers: list[Answer] = []
    lock, stop = threading.Lock(), threading.Event()
    readers = [threading.Thread(target=read_until, args=(app, stop, answers, lock))
               for _ in range(READERS)]
    for reader in readers:
        reader.start()
    try:
        time.sleep(1)
        cluster.kill(1)
        # "Noticed": the cluster manager (node 0) counts one node.
        cluster.wait_for("yellow", nodes=1, node=0, timeout=90)
        noticed = time.monotonic()
        # Read on a while, and until enough searches have started since (a loaded machine
        # answers slowly), within the readers' own bound.
        while time.monotonic() - noticed < READ_AFTER_NOTICE_SECONDS or (
                reads_since(answers, lock, noticed) < MIN_READS_AFTER_NOTICE
                and time.monotonic() - noticed < MAX_WAIT_AFTER_NOTICE_SECONDS):
            time.sleep(0.2)
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=MAX_READ_SECONDS)
    health = client.get("/healthz")
    cluster.restart(1)

    after = [a for a in answers if a.started >= noticed]
    assert len(after) >= MIN_READS_AFTER_NOTICE, f"only {len(after)} searches after notice"
    failed = [(a.path, a.status) for a in after if a.status != 200]
    assert failed == [], f"{len(failed)} of {len(after)} searches failed once noticed"
    short = [(a.path, a.total) for a in after
             if a.total != (expected if a.path.startswith("/api/") else per_page)]
    assert short == [], "results went missing although every shard has a replica"
    # Before the cluster noticed, a search may be refused (503) but never break (500).
    assert {a.status for a in answers} <= {200, 503}
    assert health.status_code == 200
    assert (health.get_json()["status"], health.get_json()["cluster"]) == ("ok", "yellow")


def _assert_json_503(response) -> None:
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["status"] == 503 and error["message"]


def test_a_cluster_out_of_reach_gives_503s_an_unavailable_page_and_health(tmp_path):
    closed = f"http://127.0.0.1:{free_http_port(1)}"  # nothing listens there
    client = create_app({"OPENSEARCH_URL": closed, "OPENSEARCH_INDEX": "searchapp"}).test_client()
    for path in ("/api/search?q=border", "/api/articles/feed-1", "/api/suggest?q=bor"):
        _assert_json_503(client.get(path))
    for path in ("/?q=border", "/articles/feed-1"):
        response = client.get(path)
        assert response.status_code == 503, path
        page = BeautifulSoup(response.data, "html.parser")
        assert page.select_one(".notice h1").get_text() == "Archive unavailable", path
        assert page.find("form", attrs={"role": "search"}) is not None
        assert "Traceback" not in page.get_text()
    health = client.get("/healthz")
    body = health.get_json()
    assert health.status_code == 503
    assert (body["status"], body["cluster"], body["engine"]) == ("damaged", "unreachable",
                                                                 "opensearch")
    assert body["reason"]


def test_a_cluster_that_lost_a_primary_is_red_on_healthz(opensearch_cluster,
                                                          opensearch_index_name, tmp_path,
                                                          monkeypatch):
    cluster = opensearch_cluster
    monkeypatch.setenv("SEARCHAPP_OPENSEARCH_REPLICAS", "0")  # no copy to take over
    build(cluster.url, opensearch_index_name, write_wheat_archive(tmp_path / "articles"))
    cluster.wait_for("green", timeout=120)
    client = create_app({"OPENSEARCH_URL": cluster.url,
                         "OPENSEARCH_INDEX": opensearch_index_name}).test_client()
    cluster.kill(1)
    cluster.wait_for("red", nodes=1, node=0, timeout=90)  # red or better, with one node
    deadline = time.monotonic() + 30
    while cluster.health(node=0)["status"] != "red" and time.monotonic() < deadline:
        time.sleep(0.2)
    health = client.get("/healthz")
    search = client.get(f"/api/search?q={QUERY}")
    page = client.get(f"/?q={QUERY}")
    cluster.restart(1)
    assert health.status_code == 503
    assert (health.get_json()["status"], health.get_json()["cluster"]) == ("damaged", "red")
    # Half the archive is gone: a search says so or answers from what is left; never a 500.
    assert search.status_code in (200, 503) and page.status_code in (200, 503)
    if search.status_code == 503:
        _assert_json_503(search)
