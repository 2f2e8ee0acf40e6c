import json
import subprocess
import sys

import pytest
from conftest import SEED, open_test_archive, write_articles

from searchapp.backends.whoosh.indexing import open_index
from searchapp.cli import main


def run(runner, *args, env=None):
    return runner.invoke(main, list(map(str, args)), env=env)


def test_index_prints_a_summary_and_a_rerun_reports_no_changes(runner, archive_dir, new_index_dir):
    first = run(runner, "index", archive_dir, "--index-dir", new_index_dir)
    assert first.exit_code == 0
    assert first.stdout.startswith("Indexed in ")
    assert "6 added, 0 updated, 0 removed, 0 unchanged files, 0 skipped" in first.stdout
    second = run(runner, "index", archive_dir, "--index-dir", new_index_dir)
    assert second.exit_code == 0
    assert second.stdout.startswith("No changes")
    assert "5 unchanged files" in second.stdout and "not written" in second.stdout


def test_index_output_has_no_progress_bar_off_a_terminal(runner, archive_dir, new_index_dir):
    result = run(runner, "index", archive_dir, "--index-dir", new_index_dir)
    assert "indexing [" not in result.output


@pytest.mark.whoosh_only  # SEARCHAPP_INDEX_DIR and the Whoosh index in it
def test_index_defaults_come_from_the_environment(runner, archive_dir, tmp_path):
    env = {"SEARCHAPP_SOURCES": str(archive_dir), "SEARCHAPP_INDEX_DIR": str(tmp_path / "envix")}
    assert run(runner, "index", env=env).exit_code == 0
    assert open_index(tmp_path / "envix").doc_count() == 6


def test_skipped_files_are_listed_with_reasons_and_exit_1(runner, archive_dir, new_index_dir):
    write_articles(archive_dir, {"empty.txt": b"", "blob.txt": b"\x00\x01\x02" * 100,
                                 "bad.jsonl": '{"headline": "ok"}\n{oops\n'})
    result = run(runner, "index", archive_dir, "--index-dir", new_index_dir)
    assert result.exit_code == 1
    assert f"skipped {archive_dir / 'empty.txt'}: empty file" in result.stderr
    assert f"skipped {archive_dir / 'blob.txt'}: binary file" in result.stderr
    assert f"skipped {archive_dir / 'bad.jsonl'}:2: not valid JSON" in result.stderr
    assert "7 added" in result.stdout and "3 skipped" in result.stdout


def test_nothing_indexable_exits_3(runner, tmp_path, new_index_dir):
    folder = write_articles(tmp_path / "a", {"empty.txt": b""})
    assert run(runner, "index", folder, "--index-dir", new_index_dir).exit_code == 3
    (tmp_path / "b").mkdir()
    result = run(runner, "index", tmp_path / "b", "--index-dir", new_index_dir)
    assert result.exit_code == 3 and "No article files found" in result.stderr


def test_missing_path_exits_2_without_traceback(runner, tmp_path, new_index_dir):
    result = run(runner, "index", tmp_path / "nope", "--index-dir", new_index_dir)
    assert result.exit_code == 2
    assert "no such file or folder" in result.stderr and "Traceback" not in result.output


@pytest.mark.whoosh_only  # holds the Whoosh index's write lock
def test_locked_index_exits_4_with_a_clear_message(runner, archive_dir, index_dir):
    write_articles(archive_dir, {"new.txt": "New\n\nText."})
    writer = open_index(index_dir).writer()
    try:
        result = run(runner, "index", archive_dir, "--index-dir", index_dir)
    finally:
        writer.cancel()
    assert result.exit_code == 4
    assert "index is locked" in result.stderr and "Traceback" not in result.output


@pytest.mark.whoosh_only  # a file where the Whoosh index's folder should be
def test_unwritable_index_location_exits_5(runner, archive_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run(runner, "index", archive_dir, "--index-dir", blocker / "ix")
    assert result.exit_code == 5 and "cannot write to the index" in result.stderr


def test_rebuild(runner, archive_dir, index_dir, tmp_path):
    only = write_articles(tmp_path / "only", {"one.txt": "One\n\nText."})
    result = run(runner, "index", only, "--index-dir", index_dir, "--rebuild")
    assert result.exit_code == 0 and "1 added" in result.stdout
    assert open_test_archive(index_dir).count() == 1


def test_python_dash_m_works_like_the_command(archive_dir, new_index_dir):
    result = subprocess.run(
        [sys.executable, "-m", "searchapp", "index", str(archive_dir),
         "--index-dir", str(new_index_dir)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0 and "6 added" in result.stdout
    assert "Usage: searchapp" in subprocess.run(
        [sys.executable, "-m", "searchapp", "--help"], capture_output=True, text=True, timeout=60
    ).stdout


def test_help_documents_exit_codes_with_an_example(runner):
    text = run(runner, "index", "--help").output
    assert "searchapp index seeds/ --index-dir index/" in text and "Exit codes" in text


def test_search_command_prints_results(runner, index_dir):
    result = run(runner, "search", "Jermuk", "--index-dir", index_dir)
    assert result.exit_code == 0
    assert result.stdout.startswith("2 results")
    assert "Fighting Continues on Armenia-Azerbaijan Border  [2022-09-14]" in result.stdout
    assert "*Jermuk*" in result.stdout


def test_search_command_json(runner, index_dir):
    body = json.loads(run(runner, "search", "Jermuk", "--json", "--limit", "1",
                          "--index-dir", index_dir).stdout)
    assert body["total"] == 2 and len(body["results"]) == 1


def test_search_command_json_is_the_apis(runner, index_dir, client):
    # Issue 14: page, pages, per_page, took_ms, corrected, timeline and url were missing.
    printed = json.loads(run(runner, "search", "Jermukk", "--json", "--limit", "1",
                             "--index-dir", index_dir).stdout)
    served = client.get("/api/search?q=Jermukk&per_page=1").get_json()
    assert list(printed) == list(served)
    del printed["took_ms"], served["took_ms"]
    assert printed == served
    assert printed["corrected"] == "jermuk" and printed["results"][0]["url"] == "/articles/feed-1"


def test_search_command_says_what_it_corrected(runner, index_dir):
    result = run(runner, "search", "Jermukk", "--index-dir", index_dir)
    assert result.exit_code == 0
    assert "Showing results for: jermuk" in result.stdout


def test_search_command_exits_1_when_nothing_is_found(runner, index_dir):
    result = run(runner, "search", "zebra", "--index-dir", index_dir)
    assert result.exit_code == 1 and result.stdout.startswith("0 results")
    result = run(runner, "search", "zebra", "--json", "--index-dir", index_dir)
    assert result.exit_code == 1 and json.loads(result.stdout)["total"] == 0


@pytest.mark.parametrize("query", ["date:never", '"'])
def test_search_command_never_shows_a_traceback(runner, index_dir, query):
    result = run(runner, "search", query, "--index-dir", index_dir)
    assert "Traceback" not in result.output and result.exit_code in (0, 1, 2)


def test_search_command_without_index_explains(runner, new_index_dir):
    result = run(runner, "search", "x", "--index-dir", new_index_dir)
    assert result.exit_code == 2 and "searchapp index" in result.stderr


def test_seed_folder_indexes_cleanly(runner, tmp_path, new_index_dir):
    folder = tmp_path / "seeds"
    folder.mkdir()
    (folder / SEED.name).write_bytes(SEED.read_bytes())
    result = run(runner, "index", folder, "--index-dir", new_index_dir)
    assert result.exit_code == 0 and "1 added" in result.stdout


def test_stats_command(runner, index_dir):
    body = json.loads(run(runner, "stats", "--json", "--largest", "2",
                          "--index-dir", index_dir).stdout)
    assert body["articles"] == 6
    assert (body["first_date"], body["last_date"]) == ("2021-06-12", "2023-05-01")
    assert body["largest"][0]["id"] == SEED.stem and len(body["largest"]) == 2
    text = run(runner, "stats", "--index-dir", index_dir).stdout
    assert "articles     6" in text and "2021-06-12 to 2023-05-01" in text


def test_stats_without_index(runner, new_index_dir):
    result = run(runner, "stats", "--index-dir", new_index_dir)
    assert result.exit_code == 2 and "no index" in result.stderr


def test_report_with_nothing_recorded(runner, index_dir):
    assert "No searches without results" in run(runner, "report", "--index-dir", index_dir).stdout


def test_serve_on_a_port_in_use_says_so_without_traceback(runner, index_dir):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(runner, "serve", "--port", port, "--index-dir", index_dir)
    assert result.exit_code == 5
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_in_worker_processes_answers_and_stops_them_all_on_sigterm(index_dir, workers):
    import json as json_module
    import signal
    import socket
    import time
    import urllib.request
    from pathlib import Path

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "searchapp", "serve", "--port", str(port),
         "--index-dir", str(index_dir), "--workers", str(workers), "--threads", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/api/search?q=jermuk"
        for _ in range(100):
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    found = json_module.load(response)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not answer")
        assert found["total"] == 2
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
        if children.exists():
            assert len(children.read_text().split()) == (workers if workers > 1 else 0)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0
    assert "Stopped." in out and "Traceback" not in err
    with socket.socket() as free_again:  # no worker is left listening on the port
        free_again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        free_again.bind(("127.0.0.1", port))
        free_again.listen()


def test_every_template_and_static_file_is_installed_with_the_package():
    import fnmatch
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    root = Path(__file__).resolve().parent.parent
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["searchapp"]
    package = root / "searchapp"
    files = [p.relative_to(package).as_posix()
             for folder in ("templates", "static") for p in (package / folder).iterdir()]
    missed = [f for f in files if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)]
    assert files and missed == []


@pytest.mark.parametrize("done, total, articles, seconds, expected", [
    (0, 1000, 0, 0.0, "indexing [------------------------------]   0%  0 articles"),
    (310, 1000, 6500, 8.0,
     "indexing [#########---------------------]  31%  6,500 articles  812/s  about 18 s left"),
    (500, 1000, 3000, 75.0, "50%  3,000 articles  40/s  about 1 min 15 s left"),
    (100, 1000, 10, 400.0, "10%  10 articles  0/s  about 1 h 00 min left"),
    (999, 1000, 9990, 10.0, " 99%  9,990 articles  999/s  about 0 s left"),
    (1000, 1000, 10000, 10.0, "[##############################] 100%  10,000 articles  1,000/s"),
    (5, 1000, 40, 0.5, "  0%  40 articles"),  # too early for a rate or a time left
])
def test_progress_text_shows_bytes_rate_and_time_left(done, total, articles, seconds, expected):
    from searchapp.cli import progress_text

    text = progress_text(done, total, articles, seconds)
    assert text.endswith(expected)
    assert ("left" in text) == (0 < done < total and seconds >= 1)


def _big_export(folder, name, articles=2000):
    """A JSON Lines export of many articles, so the run takes many progress reports."""
    import gzip

    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(
        json.dumps({"id": f"n{n}", "headline": f"Story {n}",
                    "body": " ".join(f"word{(n * k) % 997} text{k}" for k in range(20))}) + "\n"
        for n in range(articles))
    path = folder / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(lines.encode(), compresslevel=1))
    else:
        path.write_text(lines)
    return path


@pytest.mark.whoosh_only  # the Whoosh indexer's progress steps and workers
@pytest.mark.parametrize("name, workers", [("big.jsonl", 1), ("big.jsonl.gz", 1),
                                           ("big.jsonl", 2)])
def test_progress_follows_the_bytes_read_of_one_large_export(tmp_path, monkeypatch, name,
                                                             workers):
    from searchapp.backends.whoosh import indexing

    monkeypatch.setattr(indexing, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(indexing, "PROGRESS_EVERY", 100)
    path = _big_export(tmp_path / "a", name)
    calls = []
    report = indexing.update_index([path], tmp_path / "ix", workers=workers,
                                   progress=lambda *args: calls.append(args))
    assert report.added == 2000
    total = path.stat().st_size
    done = [call[0] for call in calls]
    assert all(call[1] == total for call in calls)
    assert done == sorted(done), "progress never goes back"
    assert done[-1] == total and calls[-1][2] == 2000
    assert all(value < total for value in done[:-1]), "100% only at the end"
    if workers == 1:
        # Reported as the file is read, not all at once: every 100 articles, a step forward.
        middle = [value for value in done if 0 < value < total]
        assert len(set(middle)) >= 2000 // 100 - 2
        assert min(middle) < total / 5 and max(middle) > total * 4 / 5


@pytest.mark.parametrize(("url", "said"), [
    (None, "nothing from this run was committed"),
    ("http://127.0.0.1:9", "the files indexed before the interruption are in the archive"),
])
def test_an_interrupted_index_run_says_what_each_engine_kept(tmp_path, monkeypatch, url, said):
    from searchapp.backends import open_archive

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    archive = open_archive(tmp_path / "ix", url)
    monkeypatch.setattr(type(archive), "update", interrupted)
    if url:
        monkeypatch.setenv("SEARCHAPP_OPENSEARCH_URL", url)
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["index", str(tmp_path), "--index-dir",
                                       str(tmp_path / "ix")])
    assert result.exit_code == 130
    assert said in result.output and "Traceback" not in result.output
