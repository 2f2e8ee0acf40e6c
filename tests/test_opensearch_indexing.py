"""Indexing into a real OpenSearch cluster: incremental runs, rebuilds, failures, kills."""

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import SEED, write_articles
from opensearchpy.exceptions import TransportError

from searchapp import duplicates
from searchapp.backends import IndexerError
from searchapp.backends.opensearch import bulk, files
from searchapp.backends.opensearch.connection import connect, parse_address
from searchapp.backends.opensearch.indexing import (
    archive_exists,
    cluster_stats,
    update_cluster,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def client(opensearch_url):
    return connect(parse_address(opensearch_url), timeout=60)


@pytest.fixture
def alias(opensearch_index_name, monkeypatch):
    # The test cluster has two nodes: one replica can be placed, and is.
    monkeypatch.delenv("SEARCHAPP_OPENSEARCH_SHARDS", raising=False)
    monkeypatch.delenv("SEARCHAPP_OPENSEARCH_REPLICAS", raising=False)
    return opensearch_index_name


def stored(client, alias) -> dict[str, dict]:
    """Return {id: document} of every article the archive holds, as readers see it."""
    client.indices.refresh(index=alias)
    hits = client.search(index=alias, body={"size": 10000, "query": {"match_all": {}}})
    return {hit["_id"]: hit["_source"] for hit in hits["hits"]["hits"]}


def physical(client, alias) -> list[str]:
    return sorted(client.indices.get_alias(name=alias))


def touch(path, text):
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


@pytest.fixture
def indexed(client, alias, archive_dir):
    report = update_cluster(client, alias, [archive_dir])
    assert not report.skipped
    return archive_dir


def test_first_run_creates_the_archive_with_each_article_as_a_document(client, alias,
                                                                      archive_dir):
    assert not archive_exists(client, alias)
    report = update_cluster(client, alias, [archive_dir])
    assert (report.added, report.skipped, report.written) == (6, [], True)
    assert archive_exists(client, alias)
    articles = stored(client, alias)
    seed = articles[SEED.stem]
    assert seed["headline"] == "Fighting Continues on Armenia-Azerbaijan Border"
    assert seed["date"] == "2022-09-14"
    assert seed["source"] == str(archive_dir / SEED.name)
    assert base64.b64decode(seed["signature"]) == duplicates.signature(seed["body"],
                                                                       seed["headline"])
    assert seed["body_words"] > 50
    assert articles["feed-1"]["source"] == str(archive_dir / "feeds" / "export.jsonl")
    # The alias names one physical index; the file records live beside it.
    [name] = physical(client, alias)
    assert client.indices.exists(index=files.files_index(name))


def test_rerun_over_unchanged_folder_writes_nothing(client, alias, indexed):
    [name] = physical(client, alias)
    before = client.indices.stats(index=name)["_all"]["primaries"]["indexing"]["index_total"]
    report = update_cluster(client, alias, [indexed])
    assert (report.added, report.updated, report.removed, report.written) == (0, 0, 0, False)
    assert report.unchanged == 5
    after = client.indices.stats(index=name)["_all"]["primaries"]["indexing"]["index_total"]
    assert after == before


def test_changed_new_and_deleted_files_are_applied(client, alias, indexed):
    touch(indexed / "church-festival.txt", "Festival Cancelled\n\nThe festival will not happen.")
    write_articles(indexed, {"new.txt": "A New Article\n\nWith some text."})
    (indexed / "undated-recipe.txt").unlink()
    report = update_cluster(client, alias, [indexed])
    assert (report.added, report.updated, report.removed, report.unchanged) == (1, 1, 1, 3)
    articles = stored(client, alias)
    assert articles["church-festival"]["headline"] == "Festival Cancelled"
    assert "new" in articles and "undated-recipe" not in articles
    assert update_cluster(client, alias, [indexed]).unchanged == 5


def test_changed_jsonl_drops_records_no_longer_in_it(client, alias, indexed):
    touch(indexed / "feeds" / "export.jsonl", '{"id": "feed-1", "headline": "Only One Left"}')
    report = update_cluster(client, alias, [indexed])
    assert (report.updated, report.removed) == (1, 1)
    articles = stored(client, alias)
    assert articles["feed-1"]["headline"] == "Only One Left" and "feed-2" not in articles


def test_indexing_another_folder_keeps_the_first(client, alias, indexed, tmp_path):
    other = write_articles(tmp_path / "other", {"more/extra.txt": "Extra Article\n\nMore text."})
    report = update_cluster(client, alias, [other])
    assert (report.added, report.removed) == (1, 0)
    assert {"more/extra", "border-talks", SEED.stem} <= set(stored(client, alias))


def test_an_id_already_taken_by_another_file_is_skipped(client, alias, indexed, tmp_path):
    other = write_articles(tmp_path / "other", {"border-talks.txt": "Impostor\n\nSame id."})
    report = update_cluster(client, alias, [other])
    assert report.added == 0
    assert [s.reason for s in report.skipped] == [
        f"id 'border-talks' is already used by {indexed / 'border-talks.txt'}"]
    assert stored(client, alias)["border-talks"]["headline"].startswith("Talks on the")


def test_skips_are_reported_as_on_the_embedded_index(client, alias, tmp_path):
    lines = [json.dumps({"id": f"wire-{n}", "headline": f"Wire {n}", "body": f"Report {n}."})
             for n in range(6)]
    lines[2] = "not json"
    lines[4] = json.dumps({"id": "wire-1", "headline": "Again", "body": "Twice."})
    folder = write_articles(tmp_path / "data", {
        "a-wire.jsonl": "\n".join(lines), "empty.jsonl": "", "wire-3.txt": "Text\n\nIts id."})
    report = update_cluster(client, alias, [folder])
    assert report.added == 4
    wire = folder / "a-wire.jsonl"
    assert [(s.path, s.reason.split(" (")[0]) for s in report.skipped] == [
        (f"{wire}:3", "not valid JSON"),
        (f"{wire}:5", "id 'wire-1' appears more than once in this file"),
        (str(folder / "empty.jsonl"), "empty file"),
        (str(folder / "wire-3.txt"), f"id 'wire-3' is already used by {wire}"),
    ]
    assert stored(client, alias)["wire-1"]["headline"] == "Wire 1"
    # Files with nothing indexed are read again (and their skips said again) next time.
    again = update_cluster(client, alias, [folder])
    assert (again.unchanged, len(again.skipped)) == (1, 2)


def test_a_file_that_becomes_unusable_keeps_its_last_good_version(client, alias, indexed):
    (indexed / "border-talks.txt").write_bytes(b"")
    report = update_cluster(client, alias, [indexed])
    assert report.skipped[0].reason == "empty file"
    assert stored(client, alias)["border-talks"]["headline"].startswith("Talks on the")


def test_a_file_refused_for_its_id_is_tried_again_when_the_id_is_free(client, alias, tmp_path):
    folder = write_articles(tmp_path / "data", {
        "b.jsonl": json.dumps({"id": "c", "headline": "From the export", "body": "x"})})
    update_cluster(client, alias, [folder])
    write_articles(folder, {"c.txt": "A Text File\n\nIts id is c, taken by the export.",
                            "d.jsonl": json.dumps({"id": "d", "headline": "D", "body": "y"})})
    refused = update_cluster(client, alias, [folder])
    assert [s.path for s in refused.skipped] == [str(folder / "c.txt")]
    (folder / "b.jsonl").unlink()
    freed = update_cluster(client, alias, [folder])
    assert (freed.added, freed.removed) == (1, 1)
    assert stored(client, alias)["c"]["headline"] == "A Text File"


def test_an_id_held_by_another_indexers_folder_is_refused_by_the_cluster(client, alias,
                                                                         tmp_path):
    one = write_articles(tmp_path / "one", {"x.jsonl": json.dumps(
        {"id": "shared", "headline": "First", "body": "a"})})
    two = write_articles(tmp_path / "two", {"y.jsonl": json.dumps(
        {"id": "shared", "headline": "Second", "body": "b"})})
    update_cluster(client, alias, [one])
    report = update_cluster(client, alias, [two])
    assert report.added == 0
    assert [s.reason for s in report.skipped] == [
        f"id 'shared' is already used by {one / 'x.jsonl'}"]
    assert stored(client, alias)["shared"]["headline"] == "First"


@pytest.mark.parametrize("rebuild", [False, True])
def test_worker_processes_index_exactly_what_one_process_does(client, alias, tmp_path,
                                                              monkeypatch, rebuild):
    from searchapp.backends.opensearch import reading

    lines = [json.dumps({"id": f"wire-{n}", "headline": f"Wire story {n}",
                         "date": f"2021-03-{n % 28 + 1:02}", "body": f"Harvest report {n}."})
             for n in range(40)]
    lines[7] = "not json"
    lines[12] = json.dumps({"id": "wire-3", "headline": "Same id again", "body": "Twice."})
    folder = write_articles(tmp_path / "articles", {
        "wire.jsonl": "\n".join(lines),
        "second.jsonl": "\n".join([json.dumps({"id": "wire-5", "headline": "T", "body": "x"}),
                                   json.dumps({"id": "late", "headline": "Late", "body": "y"})]),
        "notes/apricot.txt": "Apricot Notes\n\nThe apricot harvest was early.",
        "empty.jsonl": "",
        "wire-5.txt": "A Text File\n\nIts id, from its name, is taken by a wire story.",
    })
    monkeypatch.setattr(reading, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(reading, "SHARE_MIN_BYTES", 0)
    one = update_cluster(client, alias + "-one", [folder], rebuild=rebuild, workers=1)
    two = update_cluster(client, alias + "-two", [folder], rebuild=rebuild, workers=2)
    assert (one.added, one.skipped) == (two.added, two.skipped)
    assert len(one.skipped) == 5
    first, second = stored(client, alias + "-one"), stored(client, alias + "-two")
    assert first == second and len(first) == 40


def test_rebuild_swaps_the_alias_and_readers_never_see_a_half_built_archive(
        opensearch_url, client, alias, tmp_path, monkeypatch):
    monkeypatch.setattr(bulk, "BATCH_DOCS", 50)
    big = tmp_path / "big"
    lines = [json.dumps({"id": f"story-{n}", "headline": f"Story {n}", "body": f"Text {n}."})
             for n in range(3000)]
    write_articles(big, {"stories.jsonl": "\n".join(lines)})
    update_cluster(client, alias, [big])
    [old] = physical(client, alias)
    seen: list[int] = []
    stop = threading.Event()

    def read():
        reader = connect(parse_address(opensearch_url))
        while not stop.is_set() and len(seen) < 2000:
            seen.append(reader.count(index=alias)["count"])
            time.sleep(0.01)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        report = update_cluster(client, alias, [big], rebuild=True)
    finally:
        stop.set()
        thread.join()
    assert (report.added, report.written) == (3000, True)
    [new] = physical(client, alias)
    assert new != old and not client.indices.exists(index=old)
    assert not client.indices.exists(index=files.files_index(old))
    assert seen and set(seen) == {3000}
    settings = client.indices.get_settings(index=new)[new]["settings"]["index"]
    assert (settings["number_of_shards"], settings["number_of_replicas"]) == ("2", "1")
    assert "refresh_interval" not in settings
    # The rebuilt archive is updated incrementally like any other.
    assert update_cluster(client, alias, [big]).unchanged == 1


def test_rebuild_keeps_only_the_given_folders(client, alias, indexed, tmp_path):
    only = write_articles(tmp_path / "only", {"solo.txt": "Solo Article\n\nAbout Jermuk."})
    report = update_cluster(client, alias, [only], rebuild=True)
    assert (report.added, report.written) == (1, True)
    assert set(stored(client, alias)) == {"solo"}


def test_shards_and_replicas_come_from_the_environment(client, alias, indexed, monkeypatch):
    monkeypatch.setenv("SEARCHAPP_OPENSEARCH_SHARDS", "3")
    monkeypatch.setenv("SEARCHAPP_OPENSEARCH_REPLICAS", "0")
    update_cluster(client, alias, [indexed], rebuild=True)
    [name] = physical(client, alias)
    settings = client.indices.get_settings(index=name)[name]["settings"]["index"]
    assert (settings["number_of_shards"], settings["number_of_replicas"]) == ("3", "0")
    monkeypatch.setenv("SEARCHAPP_OPENSEARCH_SHARDS", "many")
    with pytest.raises(IndexerError, match="SEARCHAPP_OPENSEARCH_SHARDS must be a whole"):
        update_cluster(client, alias, [indexed], rebuild=True)
    assert physical(client, alias) == [name]


def test_stats_count_dates_longest_size_and_last_change(client, alias, indexed):
    assert cluster_stats(client, alias + "-none") is None
    stats = cluster_stats(client, alias, largest=2, date_range=True)
    assert stats.articles == 6
    assert (stats.first_date.date().isoformat(), stats.last_date.date().isoformat()) == (
        "2021-06-12", "2023-05-01")
    assert stats.largest[0][0] == SEED.stem and len(stats.largest) == 2
    assert stats.size_bytes > 0
    assert abs(time.time() - stats.last_commit.timestamp()) < 120


def test_two_indexers_feed_one_archive_at_once(opensearch_url, client, alias, tmp_path):
    folders = []
    for name in ("north", "south"):
        lines = [json.dumps({"id": f"{name}-{n}", "headline": f"{name} {n}", "body": "Text."})
                 for n in range(1500)]
        folders.append(write_articles(tmp_path / name, {
            f"{name}-{k}.jsonl": "\n".join(lines[k::5]) for k in range(5)}))
    update_cluster(client, alias, [tmp_path / "north" / "north-0.jsonl"])  # the archive exists
    script = ("import sys; from pathlib import Path;"
              "from searchapp.backends.opensearch.connection import connect, parse_address;"
              "from searchapp.backends.opensearch.indexing import update_cluster;"
              "c = connect(parse_address(sys.argv[1]), timeout=60);"
              "r = update_cluster(c, sys.argv[2], [Path(sys.argv[3])]);"
              "print(r.added, r.removed, len(r.skipped))")
    processes = [subprocess.Popen([sys.executable, "-c", script, opensearch_url, alias,
                                   str(folder)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
                 for folder in folders]
    outputs = [p.communicate(timeout=300)[0].split() for p in processes]
    assert [p.returncode for p in processes] == [0, 0]
    assert outputs == [["1200", "0", "0"], ["1500", "0", "0"]]
    articles = stored(client, alias)
    assert len(articles) == 3000
    # Each indexer's next run finds its own folder unchanged and leaves the other's alone.
    for folder in folders:
        report = update_cluster(client, alias, [folder])
        assert (report.unchanged, report.removed, report.written) == (5, 0, False)


def test_an_unreachable_cluster_is_an_indexer_error(archive_dir, alias):
    dead = connect(parse_address("http://127.0.0.1:9"), timeout=2)
    with pytest.raises(IndexerError, match="cannot reach the OpenSearch cluster.*"
                                           "SEARCHAPP_OPENSEARCH_URL"):
        update_cluster(dead, alias, [archive_dir])
    with pytest.raises(IndexerError, match="cannot reach"):
        cluster_stats(dead, alias)


def test_a_read_only_archive_is_refused_with_the_reason_and_the_file_is_redone(
        client, alias, indexed):
    [name] = physical(client, alias)
    touch(indexed / "border-talks.txt", "Talks Resume\n\nThe talks resumed.")
    client.indices.put_settings(index=name, body={"index": {"blocks": {"write": True}}})
    try:
        with pytest.raises(IndexerError, match="refused.*cluster_block_exception"):
            update_cluster(client, alias, [indexed])
    finally:
        client.indices.put_settings(index=name, body={"index": {"blocks": {"write": False}}})
    report = update_cluster(client, alias, [indexed])
    assert (report.updated, report.unchanged) == (1, 4)
    assert stored(client, alias)["border-talks"]["headline"] == "Talks Resume"


class Refusing:
    """A client whose bulk requests are refused a few times first (429, then per action)."""

    def __init__(self, client, whole: int, per_action: int):
        self.client, self.whole, self.per_action = client, whole, per_action
        self.calls = 0

    def bulk(self, body, **options):
        self.calls += 1
        if self.whole:
            self.whole -= 1
            raise TransportError(429, "rejected_execution_exception", {"error": "queue full"})
        answer = self.client.bulk(body=body, **options)
        if self.per_action:
            self.per_action -= 1
            # The cluster took the first action and refused the others: only those go again.
            for item in answer["items"][1:]:
                result = next(iter(item.values()))
                result.update(status=429, error={"type": "es_rejected_execution_exception"})
        return answer


def test_a_cluster_that_pushes_back_gets_the_refused_actions_again_after_a_pause(
        client, alias, indexed, tmp_path):
    # The cluster's write queue cannot be shrunk on a running node, so the refusals (as the
    # cluster words them) come from a wrapper; the writes themselves reach the real cluster.
    [name] = physical(client, alias)
    actions = [bulk.Action("index", name, f"pushed-{n}",
                           json.dumps({"id": f"pushed-{n}", "headline": "P"}).encode())
               for n in range(5)]
    pauses: list[float] = []
    refusing = Refusing(client, whole=2, per_action=1)
    outcomes = bulk.send(refusing, actions, sleep=pauses.append)
    assert all(o.ok for o in outcomes) and refusing.calls == 4
    assert pauses == [0.5, 1.0, 2.0]
    assert {f"pushed-{n}" for n in range(5)} <= set(stored(client, alias))
    with pytest.raises(IndexerError, match=r"refused the request \(status 429\)"):
        bulk.send(Refusing(client, whole=100, per_action=0), actions, sleep=pauses.append)
    assert pauses[3:] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]


@pytest.mark.parametrize("article_id", [
    "plain-1", 'quote"d', "back\\slash", "tab\tand\nnewline", "café-été", "line\u2028sep",
    "\x00nul", "日本/記事",
])
@pytest.mark.parametrize("op", ["index", "create", "delete"])
def test_bulk_action_lines_are_the_json_the_cluster_reads(op, article_id):
    source = None if op == "delete" else json.dumps({"id": article_id}).encode()
    lines = bulk.Action(op, "archive-2026", article_id, source).lines()
    meta, *rest = lines.split(b"\n")
    assert json.loads(meta) == {op: {"_index": "archive-2026", "_id": article_id}}
    assert rest == ([b""] if source is None else [source, b""])


def test_a_missing_path_is_an_error_and_creates_nothing(client, alias, tmp_path):
    with pytest.raises(IndexerError, match="no such file or folder"):
        update_cluster(client, alias, [tmp_path / "nope"])
    assert not archive_exists(client, alias)


def test_the_cli_says_why_and_exits_5_when_the_cluster_cannot_be_reached(archive_dir):
    pytest.importorskip("searchapp.backends.opensearch.archive",
                        reason="the search helper's OpenSearchArchive is not merged yet")
    env = {**os.environ, "SEARCHAPP_OPENSEARCH_URL": "http://127.0.0.1:9",
           "SEARCHAPP_OPENSEARCH_INDEX": "nowhere"}
    done = subprocess.run([sys.executable, "-m", "searchapp", "index", str(archive_dir)],
                          env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 5
    assert "cannot reach the OpenSearch cluster" in done.stderr
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------------------------------
# SIGKILL mid-run

KILLABLE = """
import sys
from pathlib import Path
from searchapp.backends.opensearch import bulk
from searchapp.backends.opensearch.connection import connect, parse_address
from searchapp.backends.opensearch.indexing import update_cluster
bulk.BATCH_DOCS = int(sys.argv[4])
client = connect(parse_address(sys.argv[1]), timeout=60)
update_cluster(client, sys.argv[2], [Path(sys.argv[3])], rebuild=sys.argv[5] == "rebuild")
"""


def start_indexer(url, alias, folder, batch, mode="update"):
    return subprocess.Popen([sys.executable, "-c", KILLABLE, url, alias, str(folder),
                             str(batch), mode], cwd=ROOT, stdout=subprocess.DEVNULL)


def versioned_files(folder: Path, version: int, count: int = 60, drop: bool = False):
    """Write ``count`` small exports of 4 stories each; ``drop`` leaves out each one's last."""
    for k in range(count):
        stories = range(3 if drop else 4)
        lines = [json.dumps({"id": f"f{k}-{n}", "headline": f"Version {version} of {k}-{n}",
                             "body": f"Story {n} of file {k}."}) for n in stories]
        path = folder / f"file-{k:03}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines))
        os.utime(path, ns=(time.time_ns(), time.time_ns() + version * 10**9))


def settle(client) -> None:
    """Wait until the cluster has applied the bulk requests it had received."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = client.tasks.list(actions="indices:data/write/bulk*")["nodes"]
        if not any(node["tasks"] for node in running.values()):
            return
        time.sleep(0.05)


def records(client, alias) -> dict[str, str]:
    [name] = physical(client, alias)
    client.indices.refresh(index=files.files_index(name))
    return files.read_records(client, files.files_index(name), [Path("/")])


def test_a_killed_update_leaves_each_file_old_or_new_and_a_rerun_finishes(
        opensearch_url, client, alias, tmp_path):
    folder = tmp_path / "exports"
    versioned_files(folder, 1)
    versioned_files(tmp_path / "steady", 1, count=5)
    update_cluster(client, alias, [folder])
    update_cluster(client, alias, [tmp_path / "steady"])
    steady = {i: a for i, a in stored(client, alias).items() if "steady" in a["source"]}
    old = records(client, alias)
    versioned_files(folder, 2, drop=True)
    new_signatures = {str(p): f"{p.stat().st_size}:{p.stat().st_mtime_ns}"
                      for p in folder.iterdir()}
    process = start_indexer(opensearch_url, alias, folder, batch=8)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        done = sum(sig == new_signatures.get(path) for path, sig in records(client, alias).items())
        if done >= 10:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    settle(client)
    after = records(client, alias)
    finished = {path for path, sig in after.items() if sig == new_signatures.get(path)}
    assert 10 <= len(finished) < 60, "the kill came too late to test anything"
    articles = stored(client, alias)
    for k in range(60):
        path = str(folder / f"file-{k:03}.jsonl")
        mine = {i: a["headline"] for i, a in articles.items() if a["source"] == path}
        fully_new = {f"f{k}-{n}": f"Version 2 of {k}-{n}" for n in range(3)}
        fully_old = {f"f{k}-{n}": f"Version 1 of {k}-{n}" for n in range(4)}
        assert mine in (fully_new, fully_old), f"{path} is half old, half new: {mine}"
        if path in finished:
            assert mine == fully_new
        else:
            assert after[path] == old[path]
    assert {i: a for i, a in articles.items() if "steady" in a["source"]} == steady
    rerun = update_cluster(client, alias, [folder])
    assert rerun.unchanged == len(finished) and not rerun.skipped
    articles = stored(client, alias)
    assert len(articles) == 60 * 3 + len(steady)
    assert all(a["headline"].startswith("Version 2") for a in articles.values()
               if str(folder) in a["source"])


def test_a_killed_rebuild_leaves_the_old_archive_and_the_next_run_removes_its_leftovers(
        opensearch_url, client, alias, tmp_path):
    folder = tmp_path / "exports"
    versioned_files(folder, 1, count=100)
    update_cluster(client, alias, [folder])
    [old] = physical(client, alias)
    process = start_indexer(opensearch_url, alias, folder, batch=4, mode="rebuild")
    deadline = time.monotonic() + 120
    building = []
    while time.monotonic() < deadline and process.poll() is None and not building:
        building = [name for name in client.indices.get(index=f"{alias}-*")
                    if name not in (old, files.files_index(old))
                    and not name.endswith(files.FILES_SUFFIX)]
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the rebuild ended before it could be killed"
    assert building and client.indices.exists(index=building[0])
    assert physical(client, alias) == [old]
    assert len(stored(client, alias)) == 400
    report = update_cluster(client, alias, [folder])
    assert report.unchanged == 100
    assert not client.indices.exists(index=building[0])
    assert not client.indices.exists(index=files.files_index(building[0]))


@pytest.mark.parametrize("body", [
    "The U.S. and a 3.5 percent rise in the x of Élysée is to be it.",
    "Talks resumed. Officials said the border talks would continue next month.",
    "",
])
def test_body_words_count_the_words_the_embedded_index_counts(body):
    from searchapp.articles import Article, SourceFile
    from searchapp.backends.opensearch.reading import document
    from searchapp.backends.whoosh.indexing import ANALYZER

    article = Article(id="a", headline="H", body=body, source="/x.txt")
    fields = json.loads(document(article, SourceFile(Path("/x.txt"), Path("/"))))
    assert fields["body_words"] == len(list(ANALYZER(body)))


def test_an_index_searchapp_did_not_make_is_replaced_only_by_a_rebuild(client, alias,
                                                                       archive_dir):
    client.index(index=alias, id="stray", body={"note": "made by hand"}, refresh=True)
    assert not archive_exists(client, alias) and cluster_stats(client, alias) is None
    with pytest.raises(IndexerError, match="not an alias.*--rebuild"):
        update_cluster(client, alias, [archive_dir])
    report = update_cluster(client, alias, [archive_dir], rebuild=True)
    assert report.added == 6
    assert archive_exists(client, alias) and len(physical(client, alias)) == 1
    assert "stray" not in stored(client, alias)


def index_state(client, name) -> tuple[str, str | None, str]:
    """Return an index's replicas, refresh interval (None: the default) and _meta state."""
    settings = client.indices.get_settings(index=name)[name]["settings"]["index"]
    meta = client.indices.get_mapping(index=name)[name]["mappings"]["_meta"]["searchapp"]
    return settings["number_of_replicas"], settings.get("refresh_interval"), meta["state"]


def test_a_first_run_fills_without_replica_and_ends_with_every_copy_in_place(
        client, alias, tmp_path):
    folder = tmp_path / "exports"
    versioned_files(folder, 1, count=20)
    during = []

    def progress(done, total, articles):
        if not during:
            during.append(index_state(client, physical(client, alias)[0]))

    report = update_cluster(client, alias, [folder], progress=progress)
    assert report.added == 80
    assert during == [("0", "-1", "filling")]
    [name] = physical(client, alias)
    assert index_state(client, name) == ("1", None, "live")
    health = client.cluster.health(index=name)
    assert (health["status"], health["active_shards"]) == ("green", 4)
    assert len(stored(client, alias)) == 80


def test_a_killed_first_run_is_set_back_and_finished_by_the_next_run(
        opensearch_url, client, alias, tmp_path):
    folder = tmp_path / "exports"
    versioned_files(folder, 1, count=100)
    process = start_indexer(opensearch_url, alias, folder, batch=4)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        names = client.indices.get_alias(name=alias, ignore=404)
        if names and "error" not in names and \
                client.count(index=list(names)[0] + files.FILES_SUFFIX)["count"] > 10:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "the first run ended before it could be killed"
    settle(client)
    [name] = physical(client, alias)
    assert index_state(client, name) == ("0", "-1", "filling")
    report = update_cluster(client, alias, [folder])
    assert report.unchanged < 100 and not report.skipped
    assert index_state(client, name) == ("1", None, "live")
    assert len(stored(client, alias)) == 400


def _reader_that_dies(tasks, results, indexer):
    """A reading worker's stand-in that dies at once (in the worker process)."""
    os._exit(3)


def test_a_reading_worker_that_dies_is_an_indexer_error(tmp_path, monkeypatch):
    from searchapp.backends import IndexReport
    from searchapp.backends.opensearch import reading
    from searchapp.changes import find_sources

    folder = tmp_path / "exports"
    versioned_files(folder, 1, count=4)
    monkeypatch.setattr(reading, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(reading, "_serve", _reader_that_dies)
    walk = find_sources([folder], IndexReport())
    with pytest.raises(IndexerError, match=r"reading worker process died \(exit code 3\)"):
        for read in reading.read_files(walk.found, workers=2):
            list(read.items)


@pytest.mark.parametrize("how", ["SIGTERM to the indexer", "Ctrl-C to the process group"])
def test_a_stopped_run_stops_its_reading_workers_with_one_message(opensearch_url, alias,
                                                                  tmp_path, how):
    # Forked workers start with the command's signal handlers; each sets its own (Ctrl-C
    # is the indexer's to act on, SIGTERM ends a worker), so the run stops in one place.
    process, started = _run_with_readers(opensearch_url, alias, tmp_path)
    if how == "SIGTERM to the indexer":
        process.send_signal(signal.SIGTERM)
    else:
        os.killpg(process.pid, signal.SIGINT)
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the run and its workers, not left behind
        process.communicate()
        raise
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err and "KeyboardInterrupt" not in err
    assert _ended(started)


def test_the_reading_workers_of_a_killed_indexer_end_by_themselves(opensearch_url, alias,
                                                                  tmp_path):
    # Nobody reads what they send any more: they would wait for room for ever.
    process, started = _run_with_readers(opensearch_url, alias, tmp_path)
    process.kill()
    process.wait(timeout=60)  # not its output: the workers hold the same pipes
    ended = _ended(started)
    process.communicate()
    assert ended


def _run_with_readers(opensearch_url, alias, tmp_path):
    """Start `searchapp index` on an export large enough for two reading workers; return
    the process once both run, with the workers' pids."""
    big = tmp_path / "big"
    big.mkdir()
    (big / "big.jsonl").write_text("\n".join(  # over 2 MB: read by worker processes
        json.dumps({"id": f"big-{i}", "headline": f"Story {i}", "body": "Text about it. " * 5})
        for i in range(30000)))
    env = {**os.environ, "SEARCHAPP_OPENSEARCH_URL": opensearch_url,
           "SEARCHAPP_OPENSEARCH_INDEX": alias}
    process = subprocess.Popen(
        [sys.executable, "-m", "searchapp", "index", str(big), "--workers", "2"], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=_ctrl_c_as_in_a_terminal)
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")

    def workers():  # multiprocessing's resource tracker, if started, is a child too
        pids = children.read_text().split() if children.exists() else []
        return [pid for pid in pids if b"resource_tracker" not in _cmdline(pid)]

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(workers()) < 2:
        time.sleep(0.02)
    started = workers()
    if len(started) != 2:
        process.kill()
        process.communicate()
        pytest.fail("the run ended before its workers could be seen")
    return process, started


def _ended(pids: list[str], seconds: float = 10) -> bool:
    """Wait until none of the processes runs; kill any left (reported, not kept)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.05)
    left = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    return not left


def _ctrl_c_as_in_a_terminal() -> None:
    """Let Ctrl-C reach the command as it does from a terminal, even where the tests run
    with it ignored (a job started in the background by a shell without job control:
    Python then leaves it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
