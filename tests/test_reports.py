from conftest import open_test_archive

from searchapp import reports


def test_misses_are_counted_normalised_and_most_frequent_first(tmp_path):
    log = reports.log_path(tmp_path)
    for query in ["Jermukk", "  jermukk ", "JERMUKK", "zebra", "", "a\x00b"]:
        reports.record_miss(log, query)
    assert reports.top_misses(log) == [("jermukk", 3), ("zebra", 1), ("a b", 1)]
    assert reports.top_misses(log, limit=1) == [("jermukk", 3)]


def test_the_log_rolls_over_and_keeps_counting(tmp_path, monkeypatch):
    monkeypatch.setattr(reports, "MAX_LOG_BYTES", 50)
    log = reports.log_path(tmp_path)
    for _ in range(40):
        reports.record_miss(log, "zebra")
    assert log.stat().st_size <= 50 + len("zebra\n")
    assert log.with_name(log.name + ".1").exists()
    assert reports.top_misses(log)[0][0] == "zebra"


def test_no_log_means_no_misses(tmp_path):
    assert reports.top_misses(reports.log_path(tmp_path)) == []


def test_searches_made_while_typing_are_not_reported(client, index_dir, runner):
    from searchapp.cli import main

    # Issue 14: every keystroke of search as you type ended up in the report.
    for typed in ("z", "ze", "zeb", "zebr"):
        client.get("/", query_string={"q": typed, "live": "1"})
        client.get("/api/search", query_string={"q": typed, "live": "1"})
    client.get("/", query_string={"q": "zebra"})
    result = runner.invoke(main, ["report", "--index-dir", str(index_dir)])
    assert open_test_archive(index_dir).top_misses() == [("zebra", 1)]
    assert "zeb" not in result.stdout.replace("zebra", "")
