import contextlib
import json
import os
import subprocess
import sys
import time
from datetime import date

import pytest
from conftest import SEED, write_articles
from whoosh import index as whoosh_index
from whoosh.fields import ID, TEXT, Schema

from searchapp.backends.whoosh import WhooshArchive as Archive
from searchapp.backends.whoosh.indexing import (
    ANALYZER,
    INDEX_NAME,
    IndexerError,
    IndexLocked,
    open_index,
    update_index,
)

# Whoosh only: the Whoosh indexer, its segments and schema on disk (OpenSearch's indexing is
# tested in test_opensearch_indexing.py).
pytestmark = pytest.mark.whoosh_only


def stored(index_dir):
    """Return {id: stored fields} of every article in the index."""
    with open_index(index_dir).searcher() as searcher:
        return {fields["id"]: fields for fields in searcher.all_stored_fields()}


def touch(path, text):
    path.write_text(text, encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


def test_index_holds_the_seed_with_its_fields(tmp_path):
    folder = tmp_path / "seeds"
    folder.mkdir()
    (folder / SEED.name).write_bytes(SEED.read_bytes())
    report = update_index([folder], tmp_path / "index")
    assert (report.added, report.skipped, report.written) == (1, [], True)
    article = stored(tmp_path / "index")[SEED.stem]
    assert article["headline"] == "Fighting Continues on Armenia-Azerbaijan Border"
    assert article["date"].date() == date(2022, 9, 14)
    assert article["body"].startswith("YEREVAN — Fighting")
    assert article["caption"].endswith("May 17, 2021")
    assert article["source"] == str(folder / SEED.name)


def test_rerun_over_unchanged_folder_writes_nothing(archive_dir, index_dir):
    files_before = {p.name: p.stat().st_mtime_ns for p in index_dir.iterdir()}
    report = update_index([archive_dir], index_dir)
    assert (report.added, report.updated, report.removed, report.written) == (0, 0, 0, False)
    assert report.unchanged == 5
    assert {p.name: p.stat().st_mtime_ns for p in index_dir.iterdir()} == files_before


def test_changed_new_and_deleted_files_are_applied(archive_dir, index_dir):
    touch(archive_dir / "church-festival.txt",
          "Festival Cancelled\n\nThe festival will not take place.")
    write_articles(archive_dir, {"new.txt": "A New Article\n\nWith some text."})
    (archive_dir / "undated-recipe.txt").unlink()
    report = update_index([archive_dir], index_dir)
    assert (report.added, report.updated, report.removed, report.unchanged) == (1, 1, 1, 3)
    articles = stored(index_dir)
    assert articles["church-festival"]["headline"] == "Festival Cancelled"
    assert "new" in articles and "undated-recipe" not in articles


def test_changed_jsonl_drops_records_no_longer_in_it(archive_dir, index_dir):
    touch(archive_dir / "feeds" / "export.jsonl", '{"id": "feed-1", "headline": "Only One Left"}')
    report = update_index([archive_dir], index_dir)
    assert (report.updated, report.removed) == (1, 1)
    articles = stored(index_dir)
    assert articles["feed-1"]["headline"] == "Only One Left" and "feed-2" not in articles


def test_indexing_another_folder_keeps_the_first(archive_dir, index_dir, tmp_path):
    other = write_articles(tmp_path / "other",
                           {"more/extra.txt": "Extra Article\n\nMore text here."})
    report = update_index([other], index_dir)
    assert (report.added, report.removed) == (1, 0)
    assert {"more/extra", "border-talks", SEED.stem} <= set(stored(index_dir))


def test_an_id_already_taken_by_another_file_is_skipped(archive_dir, index_dir, tmp_path):
    other = write_articles(tmp_path / "other", {"border-talks.txt": "Impostor\n\nSame id."})
    report = update_index([other], index_dir)
    assert report.added == 0
    assert "already used by" in report.skipped[0].reason
    assert stored(index_dir)["border-talks"]["headline"].startswith("Talks on the")


def test_a_file_that_becomes_unusable_keeps_its_last_good_version(archive_dir, index_dir):
    (archive_dir / "border-talks.txt").write_bytes(b"")
    report = update_index([archive_dir], index_dir)
    assert report.skipped[0].reason == "empty file"
    assert stored(index_dir)["border-talks"]["headline"].startswith("Talks on the")


def test_rebuild_replaces_the_index_in_one_commit(archive_dir, index_dir, tmp_path):
    searcher_archive = Archive(index_dir)
    assert searcher_archive.search("Jermuk").total == 2
    only = write_articles(tmp_path / "only", {"solo.txt": "Solo Article\n\nAbout Jermuk."})
    report = update_index([only], index_dir, rebuild=True)
    assert (report.added, report.written) == (1, True)
    assert set(stored(index_dir)) == {"solo"}
    # A searcher opened before the rebuild moves to the new index without a restart.
    assert [h.id for h in searcher_archive.search("Jermuk").hits] == ["solo"]


def test_rebuild_upgrades_an_index_with_an_old_schema(tmp_path, archive_dir):
    old = tmp_path / "old"
    old.mkdir()
    ix = whoosh_index.create_in(str(old), Schema(id=ID(stored=True), text=TEXT),
                                indexname=INDEX_NAME)
    with ix.writer() as writer:
        writer.add_document(id="legacy", text="old")
    update_index([archive_dir], old, rebuild=True)
    assert "headline" in open_index(old).schema and "legacy" not in stored(old)


def test_missing_path_is_an_error_and_touches_nothing(tmp_path):
    with pytest.raises(IndexerError, match="no such file or folder"):
        update_index([tmp_path / "nope"], tmp_path / "index")
    assert not (tmp_path / "index").exists()


def test_a_second_indexer_is_told_the_index_is_locked(archive_dir, index_dir):
    writer = open_index(index_dir).writer()
    try:
        with pytest.raises(IndexLocked, match="another `searchapp index`"):
            update_index([archive_dir], index_dir)
    finally:
        writer.cancel()


def test_an_interrupted_run_leaves_the_last_commit(archive_dir, index_dir):
    before = stored(index_dir)
    write_articles(archive_dir, {f"new-{i}.txt": f"New {i}\n\nText {i}." for i in range(5)})

    def interrupt(done, total, articles):
        if articles or done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        update_index([archive_dir], index_dir, progress=interrupt)
    assert stored(index_dir) == before
    # The lock was released: the next run completes.
    assert update_index([archive_dir], index_dir).added == 5


def test_a_run_leaves_the_garbage_collector_as_it_was(archive_dir, index_dir):
    """Indexing collects garbage less often; a process that goes on afterwards (a server
    that built its first index) gets its own settings back, after an interruption too."""
    import gc

    before = gc.get_threshold()
    write_articles(archive_dir, {"gc.txt": "Garbage\n\nCollected less often."})

    def interrupt(done, total, articles):
        assert gc.get_threshold()[0] >= 50_000
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        update_index([archive_dir], index_dir, progress=interrupt)
    assert gc.get_threshold() == before
    assert update_index([archive_dir], index_dir).added == 1
    assert gc.get_threshold() == before


def test_a_killed_indexer_leaves_a_readable_index(archive_dir, index_dir, tmp_path):
    before = set(stored(index_dir))
    big = tmp_path / "big"
    big.mkdir()
    lines = "\n".join(
        f'{{"id": "big-{i}", "headline": "Story {i}", "body": "Text about item {i}."}}'
        for i in range(30000))
    (big / "big.jsonl").write_text(lines)
    process = subprocess.Popen(
        [sys.executable, "-m", "searchapp", "index", str(big), "--index-dir", str(index_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(1.5)
    process.kill()
    process.wait()
    after = set(stored(index_dir))
    assert after == before or after == before | {f"big-{i}" for i in range(30000)}
    report = update_index([big], index_dir)
    assert report.added + report.unchanged > 0 and not report.skipped
    assert len(stored(index_dir)) == len(before) + 30000


def _tricky_archive(folder):
    """Files whose ids collide, within an export and across files, with unusable lines."""
    lines = [json.dumps({"id": f"wire-{n}", "headline": f"Wire story {n}",
                         "date": f"2021-03-{n % 28 + 1:02}", "body": f"Harvest report number {n}."})
             for n in range(40)]
    lines[7] = "not json"
    lines[12] = json.dumps({"id": "wire-3", "headline": "Same id again", "body": "Twice."})
    lines[20] = ""
    return write_articles(folder, {
        "wire.jsonl": "\n".join(lines),
        "second.jsonl": "\n".join([json.dumps({"id": "wire-5", "headline": "Taken", "body": "x"}),
                                   json.dumps({"id": "late", "headline": "Late", "body": "y"})]),
        "notes/apricot.txt": "Apricot Notes\n\nThe apricot harvest was early.",
        "empty.jsonl": "",
        "wire-5.txt": "A Text File\n\nIts id, from its name, is taken by a wire story.",
    })


@pytest.mark.parametrize("rebuild", [False, True])
def test_worker_processes_index_exactly_what_one_process_does(tmp_path, monkeypatch, rebuild):
    import searchapp.backends.whoosh.indexing as indexing

    folder = _tricky_archive(tmp_path / "articles")
    monkeypatch.setattr(indexing, "PARALLEL_MIN_BYTES", 0)
    one = update_index([folder], tmp_path / "one", rebuild=rebuild, workers=1)
    two = update_index([folder], tmp_path / "two", rebuild=rebuild, workers=2)
    counts = lambda r: (r.added, r.updated, r.removed, r.unchanged, r.written)  # noqa: E731
    assert counts(one) == counts(two) == (39, 0, 0, 0, True)
    assert sorted((s.path, s.reason) for s in one.skipped) == sorted(
        (s.path, s.reason) for s in two.skipped)
    assert len(one.skipped) == 5  # a bad line, three taken ids, an empty file
    assert stored(tmp_path / "one") == stored(tmp_path / "two")
    # second.jsonl comes first, so its wire-5 is kept and the export's is skipped.
    assert Archive(tmp_path / "two").search("harvest").total == 37
    leftovers = [p.name for p in (tmp_path / "two").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_worker_processes_update_and_replace_files(tmp_path, monkeypatch):
    import searchapp.backends.whoosh.indexing as indexing

    folder = _tricky_archive(tmp_path / "articles")
    monkeypatch.setattr(indexing, "PARALLEL_MIN_BYTES", 0)
    update_index([folder], tmp_path / "ix", workers=2)
    touch(folder / "second.jsonl", json.dumps({"id": "late", "headline": "Later", "body": "z"}))
    (folder / "notes" / "apricot.txt").unlink()
    report = update_index([folder], tmp_path / "ix", workers=2)
    # second.jsonl no longer has wire-5, and the apricot notes are gone.
    assert (report.added, report.updated, report.removed) == (0, 1, 2)
    articles = stored(tmp_path / "ix")
    assert articles["late"]["headline"] == "Later" and "notes/apricot" not in articles


def test_a_killed_worker_process_fails_the_run_and_leaves_the_last_commit(
        tmp_path, archive_dir, index_dir, monkeypatch):
    import multiprocessing
    import signal
    import threading

    import searchapp.backends.whoosh.indexing as indexing

    monkeypatch.setattr(indexing, "PARALLEL_MIN_BYTES", 0)
    lines = [json.dumps({"id": f"n{n}", "headline": f"Story {n}", "body": "word " * 300})
             for n in range(6000)]
    write_articles(archive_dir, {"big.jsonl": "\n".join(lines)})
    before = stored(index_dir)
    outcome = {}

    def run():
        try:
            update_index([archive_dir], index_dir, workers=2)
        except IndexerError as error:
            outcome["error"] = str(error)

    runner = threading.Thread(target=run)
    runner.start()
    deadline = time.monotonic() + 60
    while len(multiprocessing.active_children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # let the workers get going
    os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)
    runner.join(timeout=120)
    assert not runner.is_alive()
    assert "worker process died" in outcome["error"]
    assert stored(index_dir) == before
    assert not multiprocessing.active_children()


def test_analyzer_stems_with_porter2():
    # Porter's stemmer made "news" "new" and "general" "gener" (as in "generate"); Whoosh's
    # own Porter2 made "added" "ad" and "internal" "intern", as "international" was.
    words = "news new general generate dying added adds internal international"
    assert [t.text for t in ANALYZER(words)] == [
        "news", "new", "general", "generat", "die", "add", "add", "internal", "internat"]


def test_sigterm_stops_the_worker_processes_and_commits_nothing(archive_dir, index_dir, tmp_path):
    import signal
    from pathlib import Path

    before = stored(index_dir)
    process, started = _index_with_two_workers(index_dir, tmp_path)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    assert not any(Path(f"/proc/{pid}").exists() for pid in started)
    assert stored(index_dir) == before
    assert not list(index_dir.glob("*.*.tmp"))


def test_a_killed_indexer_leaves_the_index_unlocked_and_its_workers_stop(index_dir, tmp_path):
    from pathlib import Path

    from whoosh.filedb.filestore import FileStorage

    process, started = _index_with_two_workers(index_dir, tmp_path, quiet=True)
    time.sleep(0.5)
    process.kill()
    process.wait()
    # A worker still at work must not hold the indexer's lock: the next run can start now.
    lock = FileStorage(str(index_dir)).lock("MAIN_WRITELOCK")
    assert lock.acquire(blocking=False)
    lock.release()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in started):
        time.sleep(0.05)
    assert not any(Path(f"/proc/{pid}").exists() for pid in started)


# The command, with an indexer that never reads its workers' results: they finish their
# shares and wait to send them.
INDEXER_THAT_DOES_NOT_LISTEN = """
import sys, time
from multiprocessing import connection
from searchapp.cli import main
connection.Connection.poll = lambda self, timeout=0.0: time.sleep(3600)
main(sys.argv[1:])
"""


def test_workers_whose_indexer_is_killed_while_they_send_end_by_themselves(index_dir,
                                                                          tmp_path):
    import signal
    from pathlib import Path

    process, started = _index_with_two_workers(
        index_dir, tmp_path, ["-c", INDEXER_THAT_DOES_NOT_LISTEN], quiet=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(map(_idle, started)):
            pass  # _idle takes half a second
        assert all(map(_idle, started)), "the workers did not finish their shares"
        process.kill()
        process.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in started):
            time.sleep(0.05)
        assert not any(Path(f"/proc/{pid}").exists() for pid in started)
    finally:
        process.kill()
        for pid in started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


def _idle(pid: str) -> bool:
    """Whether a process used no CPU for half a second (a worker waiting to send)."""
    from pathlib import Path

    def cpu():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return int(fields[11]) + int(fields[12])
    before = cpu()
    time.sleep(0.5)
    return before is not None and cpu() == before


# The command, with workers slow to set their own signal handlers: the moment a fork
# leaves them with the command's (SIGTERM raises KeyboardInterrupt, with a traceback).
SLOW_WORKERS = """
import sys, time
import searchapp.backends.whoosh.indexing as indexing
from searchapp.cli import main
work = indexing._worker_main
def slow_start(*args):
    time.sleep(2)
    work(*args)
indexing._worker_main = slow_start
main(sys.argv[1:])
"""


def test_sigterm_while_the_workers_start_stops_them_without_a_traceback(index_dir, tmp_path):
    import signal
    from pathlib import Path

    before = stored(index_dir)
    process, started = _index_with_two_workers(index_dir, tmp_path, ["-c", SLOW_WORKERS])
    process.send_signal(signal.SIGTERM)  # the workers are still starting
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    assert not any(Path(f"/proc/{pid}").exists() for pid in started)
    assert stored(index_dir) == before


def _index_with_two_workers(index_dir, tmp_path, command=None, quiet=False):
    """Start `searchapp index` (or ``command``) on an export large enough for two worker
    processes; return the process once both workers run, with the workers' pids."""
    from pathlib import Path

    big = tmp_path / "big"
    big.mkdir()
    (big / "big.jsonl").write_text("\n".join(  # over 2 MB: indexed by worker processes
        json.dumps({"id": f"big-{i}", "headline": f"Story {i}", "body": "Text about it. " * 5})
        for i in range(30000)))
    output = ({"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL} if quiet else
              {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True})
    process = subprocess.Popen(
        [sys.executable, *(command or ["-m", "searchapp"]), "index", str(big),
         "--index-dir", str(index_dir), "--workers", "2"], **output)
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")

    def workers():  # multiprocessing's resource tracker, if started, is a child too
        pids = children.read_text().split() if children.exists() else []
        return [pid for pid in pids if "resource_tracker" not in _cmdline(pid)]

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(workers()) < 2:
        time.sleep(0.05)
    started = workers()
    assert len(started) == 2
    return process, started


def _cmdline(pid: str) -> str:
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_refused_for_its_id_is_tried_again_when_the_id_is_free(
        tmp_path, monkeypatch, workers):
    import searchapp.backends.whoosh.indexing as indexing

    monkeypatch.setattr(indexing, "PARALLEL_MIN_BYTES", 0)
    folder = write_articles(tmp_path / "data", {
        "b.jsonl": json.dumps({"id": "c", "headline": "From the export", "body": "x"})})
    update_index([folder], tmp_path / "ix", workers=1)
    write_articles(folder, {"c.txt": "A Text File\n\nIts id is c, taken by the export.",
                            "d.jsonl": json.dumps({"id": "d", "headline": "D", "body": "y"})})
    refused = update_index([folder], tmp_path / "ix", workers=workers)
    assert [s.path for s in refused.skipped] == [str(folder / "c.txt")]
    (folder / "b.jsonl").unlink()
    freed = update_index([folder], tmp_path / "ix", workers=1)
    assert (freed.added, freed.removed) == (1, 1)
    assert stored(tmp_path / "ix")["c"]["headline"] == "A Text File"


def test_a_changed_file_is_not_read_again_on_the_next_run(archive_dir, index_dir):
    path = archive_dir / "border-talks.txt"
    assert 200 <= path.stat().st_size < 1000
    # A new size whose key ("path NUL 150:...") sorts before the old one's ("2..:").
    touch(path, "Talks Resume\n\n" + "Shorter now. " * 10 + "x" * (150 - 14 - 130))
    assert path.stat().st_size == 150
    assert update_index([archive_dir], index_dir).updated == 1
    again = update_index([archive_dir], index_dir)
    assert (again.updated, again.written) == (0, False)


# ---------------------------------------------------------------------------------------
# Symbolic links and special files


def skipped_reasons(report) -> dict[str, str]:
    return {skip.path: skip.reason for skip in report.skipped}


def test_links_that_stay_inside_the_folders_are_followed_once(tmp_path):
    archive = write_articles(tmp_path / "archive", {"2024/a.txt": "Spring Fair\n\nThe fair."})
    store = write_articles(tmp_path / "store", {"2022/b.txt": "Old Harbour\n\nThe harbour."})
    (archive / "2022").symlink_to(store / "2022")  # storage moved, and indexed too
    (archive / "0-current").symlink_to("2024")  # a second way to the same folder
    (archive / "2024" / "newest.txt").symlink_to("a.txt")
    (archive / "2024" / "up").symlink_to("..")  # a loop
    write_articles(archive, {".versions/v3/c.txt": "Hidden Draft\n\nThe draft."})
    (archive / "published").symlink_to(".versions/v3")  # reaches a hidden folder
    report = update_index([archive, store], tmp_path / "ix")
    assert report.skipped == []
    articles = stored(tmp_path / "ix")
    # Each file once, by its own path rather than a link's, and a link for what only it
    # reaches.
    assert sorted(articles) == ["2022/b", "2024/a", "published/c"]
    assert articles["2022/b"]["source"] == str(archive / "2022" / "b.txt")
    assert update_index([archive, store], tmp_path / "ix").unchanged == 3


def test_a_folder_moved_outside_behind_a_link_keeps_its_articles(tmp_path):
    from click.testing import CliRunner

    from searchapp.cli import main

    archive = write_articles(tmp_path / "archive", {
        "2021/a.txt": "Spring Fair\n\nThe spring fair opened.",
        "2022/b.txt": "Old Harbour\n\nThe old harbour was rebuilt.",
        "2022/c.txt": "New Ferry\n\nThe new ferry sailed.",
    })
    index_dir = tmp_path / "ix"
    update_index([archive], index_dir)
    elsewhere = tmp_path / "other-disk"
    elsewhere.mkdir()
    (archive / "2022").rename(elsewhere / "2022")
    (archive / "2022").symlink_to(elsewhere / "2022")

    runner = CliRunner()
    result = runner.invoke(main, ["index", str(archive), "--index-dir", str(index_dir)])
    assert result.exit_code == 1
    assert (f"skipped {archive}/2022: symbolic link to {elsewhere}/2022, outside the folders "
            "being indexed: not followed (give that folder too to index it); the articles of "
            "the 2 files indexed from it before are kept") in result.stderr
    assert "0 removed" in result.stdout
    assert sorted(stored(index_dir)) == ["2021/a", "2022/b", "2022/c"]
    assert Archive(index_dir).search("harbour").total == 1

    # Given as a folder to index too, the link is followed: same articles, same ids.
    result = runner.invoke(main, ["index", str(archive), str(elsewhere / "2022"),
                                  "--index-dir", str(index_dir)])
    assert result.exit_code == 0, result.stderr
    assert "0 removed, 3 unchanged files, 0 skipped" in result.stdout
    assert sorted(stored(index_dir)) == ["2021/a", "2022/b", "2022/c"]


def test_a_link_to_a_file_outside_is_never_read(tmp_path):
    secret = tmp_path / "etc" / "hostname"
    secret.parent.mkdir()
    secret.write_text("Secret Host\n\nmachine-name-xyzzy\n")
    archive = write_articles(tmp_path / "archive", {
        "ok.txt": "Harbour Cranes\n\nThe cranes are back.",
        "host.txt": "Host Story\n\nA story that will be replaced by a link.",
    })
    update_index([archive], tmp_path / "ix")
    (archive / "host.txt").unlink()
    (archive / "host.txt").symlink_to(secret)
    (archive / "via-folder").symlink_to(secret.parent)

    report = update_index([archive], tmp_path / "ix")
    reasons = skipped_reasons(report)
    assert reasons[str(archive / "host.txt")] == (
        f"symbolic link to {secret}, outside the folders being indexed: not read")
    assert "not followed" in reasons[str(archive / "via-folder")]
    assert report.removed == 1  # what was indexed under that name before, said so
    assert sorted(stored(tmp_path / "ix")) == ["ok"]
    assert Archive(tmp_path / "ix").search("xyzzy").total == 0


def test_special_files_and_link_loops_are_skipped_without_blocking(tmp_path):
    import socket

    archive = write_articles(tmp_path / "archive", {"ok.txt": "Harbour Cranes\n\nBack."})
    os.mkfifo(archive / "pipe.txt")
    os.mkfifo(archive / "feed.jsonl")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(archive / "socket.txt"))
    (archive / "loop-a.txt").symlink_to("loop-b.txt")
    (archive / "loop-b.txt").symlink_to("loop-a.txt")
    (archive / "sub").mkdir()
    (archive / "sub" / "up").symlink_to("..")
    (archive / "dangling.txt").symlink_to("nowhere.txt")
    result = subprocess.run([sys.executable, "-m", "searchapp", "index", str(archive),
                             "--index-dir", str(tmp_path / "ix")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    skipped = {line.split(": ", 1)[0].removeprefix("skipped "): line.split(": ", 1)[1]
               for line in result.stderr.splitlines() if line.startswith("skipped ")}
    assert skipped == {
        f"{archive}/pipe.txt": "not a regular file but a named pipe (FIFO)",
        f"{archive}/feed.jsonl": "not a regular file but a named pipe (FIFO)",
        f"{archive}/socket.txt": "not a regular file but a socket",
        f"{archive}/loop-a.txt": "unusable symbolic link: Too many levels of symbolic links",
        f"{archive}/loop-b.txt": "unusable symbolic link: Too many levels of symbolic links",
        f"{archive}/dangling.txt": "broken symbolic link: No such file or directory",
    }
    assert sorted(stored(tmp_path / "ix")) == ["ok"]


def test_a_file_swapped_for_a_fifo_after_the_walk_is_not_opened(tmp_path):
    import threading

    from searchapp.articles import SourceFile, read_articles

    os.mkfifo(tmp_path / "pipe.txt")
    os.mkfifo(tmp_path / "pipe.jsonl")
    results = []
    reader = threading.Thread(daemon=True, target=lambda: results.extend(
        item for name in ("pipe.txt", "pipe.jsonl")
        for item in read_articles(SourceFile(tmp_path / name, tmp_path))))
    reader.start()
    reader.join(30)  # a blocking open would wait for a writer forever
    assert [(skip.path, skip.reason) for skip in results] == [
        (str(tmp_path / "pipe.txt"), "not a regular file"),
        (str(tmp_path / "pipe.jsonl"), "not a regular file"),
    ]


def test_a_folder_that_cannot_be_read_keeps_its_articles(tmp_path, monkeypatch):
    archive = write_articles(tmp_path / "archive", {
        "ok.txt": "Harbour Cranes\n\nThe cranes are back.",
        "locked/a.txt": "Spring Fair\n\nThe spring fair opened.",
    })
    update_index([archive], tmp_path / "ix")
    scandir = os.scandir

    def refuse_locked(path):
        if str(path) == str(archive / "locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refuse_locked)
    report = update_index([archive], tmp_path / "ix")
    assert skipped_reasons(report) == {str(archive / "locked"): (
        "cannot read the folder: Permission denied; the articles of the 1 file indexed from "
        "it before are kept")}
    assert report.removed == 0
    assert sorted(stored(tmp_path / "ix")) == ["locked/a", "ok"]
