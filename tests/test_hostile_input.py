"""Hostile input: files an archivist may find, queries and parameters a scraper may send,
markup meant to run in a reader's browser, and paths meant to leave the archive.

Nothing here may produce a 500, a traceback, a lost article or unbounded memory.
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
from bs4 import BeautifulSoup
from conftest import ARTICLES, SEED, open_test_archive, write_articles
from test_web import HOSTILE_QUERIES
from whoosh import index as whoosh_index

from searchapp import changes, create_app
from searchapp.articles import MAX_FILE_BYTES
from searchapp.backends.whoosh import indexing
from searchapp.backends.whoosh.indexing import open_index, update_index

MB = 2**20
# A safety bound, not a benchmark: no request may hold a thread for long.
REQUEST_SECONDS = 5.0
# Peak memory of an indexing run over every hostile file at once.
MAX_INDEXER_RSS_MB = 400
# Reports the indexer's peak memory on stderr, whatever it exits with.
MEASURED_INDEXER = """
import resource, sys
from searchapp.cli import main
try:
    main(sys.argv[1:], prog_name="searchapp")
finally:
    sys.stderr.write("peak_rss_kb=%d\\n" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def run_measured(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``searchapp index ARGS`` in a fresh process; return it and its peak RSS in MB."""
    result = subprocess.run([sys.executable, "-c", MEASURED_INDEXER, "index", *args],
                            capture_output=True, text=True, timeout=300)
    peak = next(line for line in result.stderr.splitlines() if line.startswith("peak_rss_kb="))
    return result, int(peak.split("=")[1]) / 1024


def write_large(path: Path, size: int, head: bytes, chunk: bytes) -> None:
    """Write a file of ``size`` bytes quickly: ``head``, then ``chunk`` repeated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(head)
        while handle.tell() + len(chunk) <= size:
            handle.write(chunk)


# Each hostile file, and what must become of it: an id that is indexed, or a skip reason.
GOOD_FILES = {
    "good/plain.txt": "Harbour Cranes Return\n\nThe harbour cranes returned to work on Monday.",
    "good/page.html": ("<html><head><title>Lighthouse Restored</title></head><body><article>"
                       "<h1>Lighthouse Restored</h1><p>The old lighthouse shines again after "
                       "years of repairs by volunteers from the village.</p></article>"
                       "</body></html>"),
}
ENCODED_FILES = {
    "enc/invalid-utf8.txt": b"Caf\xc3 Broken Bytes\n\nSome \xff\xfe invalid \xc3\x28 UTF-8 here.",
    "enc/cp1252.txt": "Café Society Returns\n\nThe café’s “regulars” came back — all of them."
                      .encode("cp1252"),
    "enc/utf16.txt": codecs.BOM_UTF16_LE
                     + "Ünïcode Sixteen Headline\n\nBody in UTF-16 with a BOM.".encode("utf-16-le"),
    "enc/utf8-bom.txt": codecs.BOM_UTF8 + b"Byte Order Mark Headline\n\nBody after a BOM.",
}
EXPECTED_HEADLINES = {
    "good/plain": "Harbour Cranes Return",
    "good/page": "Lighthouse Restored",
    "enc/cp1252": "Café Society Returns",
    "enc/utf16": "Ünïcode Sixteen Headline",
    "enc/utf8-bom": "Byte Order Mark Headline",
    "deep/nested": "Deep Nesting Survived",
    "feed-ok-1": "First Good Record",
    "feed-ok-2": "Second Good Record",
}
BROKEN_JSONL_LINES = [
    json.dumps({"id": "feed-ok-1", "headline": "First Good Record", "body": "Text one."}),
    '{"id": "broken", "headline": ',                        # cut off
    "[1, 2, 3]",                                            # not an object
    '"just a string"',
    '{"id": "wrong-types", "headline": 7, "body": ["a"]}',  # wrong types
    '{"id": {"nested": 1}, "headline": "Bad Id"}',
    '{"id": "nothing", "headline": null, "body": null}',    # nothing to index
    '{"id": "bad-date", "headline": "Bad Date", "date": "the 45th of Smarch"}',
    "\x00\x01\x02 binary junk",
    '{"id": "feed-ok-2", "headline": "Second Good Record", "body": "Text two.", "date": 20220101}',
    '{"id": "feed-ok-2", "headline": "Second Good Record", "body": "Text two, typed right."}',
    '{"id": "feed-ok-1", "headline": "Duplicate Id", "body": "Same id again."}',
    json.dumps({"id": "feed-ok-3", "headline": "Third Good Record", "body": "Text three."}),
]


def write_hostile_folder(folder: Path) -> dict[str, str]:
    """Write every hostile file kind under ``folder``; return {file: the skip reason expected}."""
    write_articles(folder, GOOD_FILES)
    write_articles(folder, ENCODED_FILES)
    write_articles(folder, {
        "bad/empty.txt": b"",
        "bad/binary.txt": random.Random(1).randbytes(8192),
        "bad/binary-no-nul.txt": bytes(random.Random(2).choices(range(1, 32), k=8192)),
        "bad/image.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
        "bad/whitespace.txt": " \n\t\n  \r\n",
        "feeds/broken.jsonl": "\n".join(BROKEN_JSONL_LINES),
        "feeds/empty.jsonl": "",
        "feeds/corrupt.jsonl.gz": b"\x1f\x8b\x08\x00garbage that is not gzip",
        "deep/nested.html": ("<html><body><h1>Deep Nesting Survived</h1>" + "<div>" * 20000
                             + "<p>Words at the bottom of a very deep page of markup.</p>"
                             + "</div>" * 20000 + "</body></html>"),
    })
    write_large(folder / "big" / "huge.txt", 100 * MB, b"Huge Text\n\n",
                b"All work and no play makes a very long article. " * 1000 + b"\n\n")
    write_large(folder / "big" / "huge.html", 50 * MB,
                b"<html><head><title>Huge Page</title></head><body>",
                b"<div><p>A paragraph of a huge page.</p></div>" * 1000)
    loops = folder / "links"
    loops.mkdir()
    os.symlink(loops, loops / "self")                   # a folder that contains itself
    os.symlink(loops / "b.txt", loops / "a.txt")        # two files pointing at each other
    os.symlink(loops / "a.txt", loops / "b.txt")
    os.symlink(folder / "nowhere.txt", loops / "dangling.txt")
    too_large = f"too large for an article (over {MAX_FILE_BYTES // MB} MB)"
    return {
        "bad/empty.txt": "empty file",
        "bad/binary.txt": "binary file, not text",
        "bad/binary-no-nul.txt": "binary file, not text",
        "bad/image.png": "unsupported file type '.png'",
        "bad/whitespace.txt": "no article text found",
        "feeds/empty.jsonl": "empty file",
        "feeds/corrupt.jsonl.gz": "cannot read",
        "big/huge.txt": too_large,
        "big/huge.html": too_large,
        "links/a.txt": "Too many levels of symbolic links",
        "links/b.txt": "Too many levels of symbolic links",
        "links/dangling.txt": "No such file or directory",
    }


@pytest.mark.whoosh_only  # the Whoosh indexer
def test_hostile_files_are_indexed_or_skipped_with_a_reason(tmp_path):
    folder = tmp_path / "hostile"
    expected_skips = write_hostile_folder(folder)
    small = write_articles(tmp_path / "small", GOOD_FILES)
    _, baseline = run_measured(str(small), "--index-dir", str(tmp_path / "baseline-ix"))
    index_dir = tmp_path / "index"
    started = time.monotonic()
    result, peak = run_measured(str(folder), "--index-dir", str(index_dir))
    seconds = time.monotonic() - started
    for name in ("big/huge.txt", "big/huge.html"):
        (folder / name).unlink()

    assert result.returncode == 1, result.stderr  # some skipped, all the rest committed
    assert "Traceback" not in result.stderr
    skipped = {line.split(": ", 1)[0].removeprefix("skipped "): line.split(": ", 1)[1]
               for line in result.stderr.splitlines() if line.startswith("skipped ")}
    for name, reason in expected_skips.items():
        assert reason in skipped.pop(str(folder / name)), name
    broken = str(folder / "feeds" / "broken.jsonl")
    bad_lines = {int(path.rsplit(":", 1)[1]): reason for path, reason in skipped.items()
                 if path.startswith(broken + ":")}
    assert sorted(bad_lines) == [2, 3, 4, 5, 6, 7, 9, 10, 12]
    assert "not valid JSON" in bad_lines[2] and "not a JSON object" in bad_lines[3]
    assert "must be a string" in bad_lines[5] and "'date' must be a string" in bad_lines[10]
    # Line 12 repeats line 1's id, and is reported with its line number like the others.
    assert "'feed-ok-1' appears more than once" in bad_lines[12]
    assert len(skipped) == len(bad_lines), skipped  # nothing else was skipped

    with open_index(index_dir).searcher() as searcher:
        stored = {f["id"]: f for f in searcher.all_stored_fields()}
    for article_id, headline in EXPECTED_HEADLINES.items():
        assert stored[article_id]["headline"] == headline
    assert "“regulars”" in stored["enc/cp1252"]["body"]
    assert stored["enc/invalid-utf8"]["headline"].startswith("Caf")
    assert stored["bad-date"].get("date") is None and "feed-ok-3" in stored
    assert "Words at the bottom" in stored["deep/nested"]["body"]
    assert peak < MAX_INDEXER_RSS_MB
    print(f"hostile files: {len(expected_skips) + len(stored) + len(bad_lines) + 1} files "
          f"and lines tried ({len(stored)} indexed, {len(expected_skips) + len(bad_lines) + 1} "
          f"skipped with a "
          f"reason, incl. a 100 MB text file and a 50 MB page) in {seconds:.1f} s; "
          f"peak RSS {peak:.0f} MB (a run over two small files: {baseline:.0f} MB)")


@pytest.mark.whoosh_only  # the Whoosh indexer
def test_hostile_jsonl_line_is_skipped_without_holding_it_in_memory(tmp_path):
    folder = tmp_path / "bomb"
    folder.mkdir()
    with gzip.open(folder / "bomb.jsonl.gz", "wb", compresslevel=1) as handle:
        handle.write(b'{"id": "bomb", "body": "')
        for _ in range(300):
            handle.write(b"a" * MB)
        handle.write(b'"}\n{"id": "after-bomb", "headline": "After The Bomb"}\n')
    small = write_articles(tmp_path / "small", GOOD_FILES)
    _, baseline = run_measured(str(small), "--index-dir", str(tmp_path / "baseline-ix"))
    result, peak = run_measured(str(folder), "--index-dir", str(tmp_path / "index"))
    assert result.returncode == 1 and "line too long" in result.stderr
    assert open_index(tmp_path / "index").doc_count() == 1
    # One line may cost a bounded buffer (the 32 MB article cap), never the whole line.
    assert peak - baseline < 3 * MAX_FILE_BYTES / MB


@pytest.mark.whoosh_only  # the Whoosh indexer
def test_hostile_files_that_vanish_mid_run_are_skipped(tmp_path, monkeypatch):
    folder = write_articles(tmp_path / "a", {
        "stays.txt": "Stays Put\n\nThis file stays.",
        "vanishes.txt": "Vanishes\n\nThis file is deleted after it was listed.",
        "feed.jsonl": json.dumps({"id": "gone-feed", "headline": "Gone Feed"}),
        "sub/later.txt": "In A Folder\n\nThis folder is deleted after the walk.",
    })
    original = changes.find_files

    def find_then_delete(root, *walk_state):
        found = list(original(root, *walk_state))
        for name in ("vanishes.txt", "feed.jsonl", "sub/later.txt"):
            (folder / name).unlink()
        (folder / "sub").rmdir()
        yield from found

    monkeypatch.setattr(changes, "find_files", find_then_delete)
    report = update_index([folder], tmp_path / "ix")
    assert report.added == 1 and len(report.skipped) == 3
    assert all("No such file or directory" in skip.reason for skip in report.skipped)
    with open_index(tmp_path / "ix").searcher() as searcher:
        assert [f["id"] for f in searcher.all_stored_fields()] == ["stays"]


# ---------------------------------------------------------------------------------------
# Queries and parameters

def write_big_archive(folder: Path) -> Path:
    """Write the test archive plus 3,000 generated articles with a wide vocabulary."""
    write_articles(folder, ARTICLES)
    (folder / SEED.name).write_bytes(SEED.read_bytes())
    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = ["".join(rng.choices(letters, k=rng.randint(3, 9))) for _ in range(5000)]
    common = "the archive report trade market border city council week".split()
    with open(folder / "generated.jsonl", "w", encoding="utf-8") as feed:
        for i in range(3000):
            words = rng.choices(vocabulary, k=60) + rng.choices(common, k=20)
            rng.shuffle(words)
            feed.write(json.dumps({"id": f"gen-{i}", "headline": " ".join(words[:6]).title(),
                                   "date": f"{rng.randint(1987, 2024)}-0{rng.randint(1, 9)}"
                                           f"-1{rng.randint(0, 9)}",
                                   "body": " ".join(words)}) + "\n")
    return folder


@pytest.fixture
def big_client(shared_archive):
    """A client over the test archive plus 3,000 generated articles (built once a module),
    so prefix floods and common-word queries have real work to do."""
    return shared_archive("big", write_big_archive).client(TESTING=True)


MORE_HOSTILE_QUERIES = [
    "(" * 1000, ")" * 1000, "(" * 500 + "a" + ")" * 500, '"' * 1999, "\x00" * 100,
    "jermuk\x00border", "a\x00" * 600, "*a*", "*a* *b* *c* *d* *e*", "*" * 2000,
    " ".join(f"{c}*" for c in "abcdefghijklmnopqrstuvwxyz") * 2, "abc* abd* abe* abf* th*",
    "the " * 64 + "border", " ".join(["the archive report trade market"] * 20),
    "a" * 1999, "x" * 2001, "é" * 2000, "\u0301" * 2000, "\ufeff\u200b\u200d\u2060" * 50,
    "\U0001f4a9" * 500, "date:2022-02-30", "date:0000", "date:9999-12-31..0001-01-01",
    "date:" + "9" * 500, "date:2022..2021", "date:..2022 date:2023..", "date:-1", "date:2022-13",
    "headline:" * 300, "body:headline:caption:author:x", "nofield:x:y:z", "HEADLINE:border",
    "AND AND AND OR OR NOT NOT", "a AND NOT OR b", "-border -jermuk -the", "+" * 100,
    "--border", "+-+-border", '"border', 'headline:"fighting continues', '""""""',
    "%00%2e%2e%2f", "../../../../etc/passwd", "\\x00\\u0000", "\r\n" * 500,
    "<mark>border</mark>", "&lt;script&gt;", "javascript:alert(1)", "border" + " " * 1990,
    "?" * 100, "~!@#$%^&*()_+`-=[]{}|;':\",./<>?", "NaN", "-1", "1e999",
]
QUERIES = HOSTILE_QUERIES + MORE_HOSTILE_QUERIES


def timed_get(client, *args, **kwargs):
    started = time.monotonic()
    response = client.get(*args, **kwargs)
    return response, time.monotonic() - started


def test_hostile_query_table_is_large_enough():
    assert len(set(QUERIES)) >= 50


@pytest.mark.parametrize("query", QUERIES, ids=range(len(QUERIES)))
def test_hostile_queries_on_the_page_and_the_api(big_client, query):
    page, page_seconds = timed_get(big_client, "/", query_string={"q": query})
    api, api_seconds = timed_get(big_client, "/api/search", query_string={"q": query})
    assert page.status_code in (200, 400) and api.status_code in (200, 400)
    assert soup(page).find("form", attrs={"role": "search"}) is not None
    assert own_scripts_only(soup(page))
    body = api.get_json()
    assert ("results" in body) if api.status_code == 200 else body["error"]["parameter"] == "q"
    assert max(page_seconds, api_seconds) < REQUEST_SECONDS


HOSTILE_PARAMETERS = [
    "page=-1", "page=0", "page=-0", "page=1.5", "page=1e3", "page=0x10", "page=%20%201",
    "page=" + "9" * 100, "page=NaN", "page=inf", "page=%D9%A1", "page=1&page=1",
    "per_page=-1", "per_page=0", "per_page=51", "per_page=1000000", "per_page=abc",
    "per_page=50&page=201", "per_page=" + "1" * 50, "per_page=%00",
    "from=2022-02-30", "from=0000-00-00", "from=9999-99-99", "from=2022-1-1", "from=%00",
    "to=2022/01/01", "to=" + "2" * 1000, "from=2022-01-01T00:00", "to=-2022-01-01",
    "from=2023-01-01&to=2022-01-01", "from=2022-01-01&from=2022-02-01",
    "sort=", "sort=random", "sort=newest&sort=oldest", "sort=%00", "q=a&q=b",
    "q=border&unknown=1", "q=border&" + "&".join(f"k{i}=v" for i in range(500)),
    "q=border&" + "x" * 5000 + "=1", "q=border&page", "q=border&&&&", "q=%ff%fe", "q=%ED%A0%80",
    "q=%", "q=%zz", "q=border%", "q[]=border", "q=border;page=2",
]


@pytest.mark.parametrize("query_string", HOSTILE_PARAMETERS, ids=range(len(HOSTILE_PARAMETERS)))
@pytest.mark.parametrize("path", ["/", "/api/search"])
def test_hostile_parameters_never_fail(big_client, path, query_string):
    if "q=" not in query_string:
        query_string = "q=border&" + query_string
    response, seconds = timed_get(big_client, f"{path}?{query_string}")
    assert response.status_code in (200, 400)
    if path == "/api/search":
        assert "results" in response.get_json() or response.get_json()["error"]["status"] == 400
    assert seconds < REQUEST_SECONDS


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE"])
@pytest.mark.parametrize("path", ["/", "/?q=border", "/api/search?q=border",
                                  f"/articles/{SEED.stem}", f"/api/articles/{SEED.stem}"])
def test_wrong_methods_are_405(big_client, method, path):
    response = big_client.open(path, method=method, data=b"x" * 1000)
    assert response.status_code == 405
    if path.startswith("/api/"):
        assert response.get_json()["error"]["status"] == 405


@pytest.mark.parametrize("path", ["/?q=border", "/api/search?q=border", f"/articles/{SEED.stem}"])
def test_head_and_options_work(big_client, path):
    assert big_client.head(path).status_code == 200
    assert big_client.options(path).status_code == 200


@pytest.mark.parametrize("headers", [
    {"Accept": "*/*;q=" + "9" * 1000}, {"Accept-Language": "x" * 8000},
    {"Cookie": "; ".join(f"c{i}={'v' * 50}" for i in range(200))},
    {"Content-Type": "application/json"}, {"Content-Length": "99999999"},
    {"Range": "bytes=0-0,1-1,2-2"}, {"If-None-Match": "*"}, {"X-Forwarded-For": "'; DROP--"},
    {"Host": "evil.example"}, {"User-Agent": "\u202e" * 500},
    {"Transfer-Encoding": "chunked"}, {"Accept-Encoding": "gzip;q=nan"},
])
def test_absurd_headers_never_fail(big_client, headers):
    for path in ("/?q=border", "/api/search?q=border"):
        response = big_client.get(path, headers=headers)
        assert response.status_code in (200, 400, 416), (path, response.status_code)


# ---------------------------------------------------------------------------------------
# Paths

TRAVERSALS = [
    "../etc/passwd", "..%2fetc%2fpasswd", "%2e%2e/%2e%2e/etc/passwd", "%2e%2e%2fsecret",
    "%252e%252e%252fsecret", "..%252f..%252fsecret", "....//....//etc/passwd",
    "..\\..\\secret", "..%5c..%5csecret", "%c0%ae%c0%ae/secret", "/etc/passwd",
    "//etc/passwd", "%2fetc%2fpasswd", "file:///etc/passwd", "nope%00.txt", "%00",
    "border-talks%00", "border-talks/../border-talks", "./border-talks", "border-talks/",
    "feeds/export", "feeds/export.jsonl", "border-talks.txt", "x" * 10000, "%" * 10,
    "secret", "../secret", "../../secret", "sub/../../secret",
]


@pytest.mark.parametrize("api", [False, True])
def test_article_paths_reach_only_indexed_articles(client, archive_dir, index_dir, api):
    secret = archive_dir.parent / "secret.txt"
    secret.write_text("TOPSECRET do not serve\n\nTOPSECRET")
    listed = open_test_archive(index_dir).search("", per_page=50, everything=True, fold=False)
    indexed = {hit.id: {"headline": hit.headline} for hit in listed.hits}
    assert len(indexed) == 6
    attempts = TRAVERSALS + [str(secret), str(archive_dir / "border-talks.txt"),
                             str(archive_dir / "border-talks")]
    prefix = "/api/articles/" if api else "/articles/"
    for attempt in attempts:
        response = client.get(prefix + attempt)
        text = response.get_data(as_text=True)
        assert "TOPSECRET" not in text and "root:" not in text
        if response.status_code == 200:
            if api:
                assert response.get_json()["id"] in indexed, attempt
            else:
                headline = soup(response).find("article").h1.get_text()
                assert headline in {f["headline"] for f in indexed.values()}, attempt
        else:
            assert response.status_code in (404, 308), (attempt, response.status_code)
    # The real ones work.
    for article_id in indexed:
        assert client.get(prefix + article_id).status_code == 200


# ---------------------------------------------------------------------------------------
# Markup and script

PAYLOADS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    "<svg/onload=alert(3)>",
    '<a href="javascript:alert(4)">click jermuk</a>',
    "<scr<script>ipt>alert(5)</scr</script>ipt>",
    '"><script>alert(6)</script>',
    "' onmouseover='alert(7)",
    "&lt;script&gt;alert(8)&lt;/script&gt;",
    "&#60;script&#62;alert(9)&#60;/script&#62;",
    "<iframe src=//evil.example></iframe>",
    "<!-- <script>alert(10)</script> -->",
    "<style>body{display:none}</style>",
    "<b onclick=alert(11)>bold",
    "</mark><script>alert(12)</script><mark>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(13)>",
    "{{7*7}} ${7*7} <%= 7*7 %>",
]
DANGEROUS_TAGS = ["script", "img", "svg", "iframe", "style", "math", "object", "embed", "a"]


def own_scripts_only(page: BeautifulSoup) -> bool:
    """True when every <script> is the site's own static file, with nothing inline."""
    return all(str(s.get("src", "")).startswith("/static/") and not s.string
               for s in page.find_all("script"))


def assert_inert(page: BeautifulSoup) -> None:
    """No tag from the payloads, no event handler, no javascript: URL anywhere."""
    for tag in page.find_all(True):
        assert not any(attr.lower().startswith("on") for attr in tag.attrs), tag
        for attr in ("href", "src", "action"):
            assert not str(tag.get(attr, "")).strip().lower().startswith("javascript:"), tag
    assert own_scripts_only(page)
    for name in ("iframe", "svg", "math", "object", "embed"):
        assert page.find(name) is None, name
    assert page.find("img") is None
    assert len(page.find_all("style")) == 0


@pytest.fixture
def xss_client(tmp_path, make_archive):
    """An archive whose every article carries the payloads, in text, JSON Lines and HTML."""
    records = [{"id": f"x{i}", "headline": f"Jermuk {payload}", "author": payload,
                "caption": payload, "url": "javascript:alert('url')",
                "body": f"Before {payload} jermuk {payload} after."}
               for i, payload in enumerate(PAYLOADS)]
    write_articles(tmp_path / "a", {
        "feed.jsonl": "\n".join(json.dumps(r) for r in records),
        "story.txt": "Jermuk Story " + " ".join(PAYLOADS) + "\n\nJermuk " + " ".join(PAYLOADS),
        "page.html": ("<html><head><title>Jermuk page</title></head><body><article><h1>Jermuk "
                      "&lt;script&gt;alert(14)&lt;/script&gt;</h1><p>Jermuk text &lt;img src=x "
                      "onerror=alert(15)&gt; and more words to make a paragraph.</p><script>"
                      "alert(16)</script></article></body></html>"),
    })
    return make_archive([tmp_path / "a"]).client()


def test_xss_payloads_in_articles_render_inert(xss_client):
    pages = [soup(xss_client.get(f"/?q=jermuk&page={n}")) for n in (1, 2)]
    assert sum(len(page.select("ol.results li")) for page in pages) == len(PAYLOADS) + 2
    for page in pages:
        assert_inert(page)
        for item in page.select("ol.results li"):
            assert {tag.name for tag in item.select(".snippet *")} <= {"mark"}
    # The payloads are shown as text, not dropped.
    assert "<script>alert(1)</script>" in " ".join(page.get_text() for page in pages)
    ids = [f"x{i}" for i in range(len(PAYLOADS))] + ["story", "page"]
    for article_id in ids:
        article = soup(xss_client.get(f"/articles/{article_id}"))
        assert_inert(article)
        assert article.select_one(".source") is None  # the javascript: url is not linked
    body = xss_client.get("/api/search?q=jermuk&per_page=50").get_json()
    for hit in body["results"]:
        snippet = BeautifulSoup(hit["snippet"], "html.parser")
        assert {tag.name for tag in snippet.find_all(True)} <= {"mark"}
        assert "<" not in hit["snippet"].replace("<mark>", "").replace("</mark>", "")
    api_article = xss_client.get("/api/articles/x0").get_json()
    assert api_article["headline"] == "Jermuk <script>alert(1)</script>"  # JSON carries text


@pytest.mark.parametrize("payload", PAYLOADS)
def test_xss_payloads_in_queries_and_suggestions_render_inert(xss_client, payload):
    for query in (payload, f"jermukk {payload}", f'"{payload}" jermuk', f"headline:{payload}"):
        response = xss_client.get("/", query_string={"q": query})
        assert response.status_code in (200, 400)
        page = soup(response)
        assert_inert(page)
        assert page.find("input", attrs={"name": "q"})["value"] == query
        suggestion = page.select_one(".suggestion a")
        if suggestion is not None:
            assert suggestion.get_text().startswith("jermuk")
            assert suggestion.find(True) is None  # text only, no markup inside the link
        api = xss_client.get("/api/search", query_string={"q": query}).get_json()
        if "results" in api:
            assert api["query"] == query
            for hit in api["results"]:
                tags = BeautifulSoup(hit["snippet"], "html.parser").find_all(True)
                assert {t.name for t in tags} <= {"mark"}


# ---------------------------------------------------------------------------------------
# Text that no output format can carry: lone surrogates, non-characters, controls

# Each written as JSON escapes, as an export or a page's JSON-LD holds them.
POISONED_RECORDS = [
    {"id": "poison-1", "headline": "Copper \ud800 Mine Reopens", "date": "2023-04-01",
     "body": "Copper miners \ufffe returned\x01 to the copper \x85 mine \ufdd0 on Monday "
             "\U0001fffe.",
     "caption": "Copper \udfff", "author": "Ann \ud83d", "url": "https://example.com/\ud800"},
    {"id": "poison-2", "headline": "Copper Prices \ud83d", "date": "2023-04-02",
     "body": "Copper prices rose \ud83d\ude00 for the copper \x0b miners \uffff."},
]
# A page whose JSON-LD headline ends in half an emoji.
POISONED_PAGE = (
    '<html><head><script type="application/ld+json">{"@type": "NewsArticle", '
    '"headline": "Copper Smelter Strike \\ud83d", "datePublished": "2023-04-03"}</script>'
    "</head><body><article><h1>Copper Smelter Strike</h1><p>Copper smelter workers went on "
    "strike on Monday, and the copper mine stopped work for the week.</p></article>"
    "</body></html>"
)
CLEAN_COPPER = {f"copper-{i}.txt": f"Copper Report {i}\n\nCopper miners and the copper mine "
                                   f"reopened for copper on day {i}." for i in range(3)}


def poisoned_archive(folder: Path) -> Path:
    return write_articles(folder, {
        "feed.jsonl": "\n".join(json.dumps(record) for record in POISONED_RECORDS),
        "page.html": POISONED_PAGE, **CLEAN_COPPER,
    })


def article_id_of(link) -> str:
    """Return the article id a link's address names (it may carry the reader's search)."""
    return link["href"].split("?", 1)[0].rsplit("/", 1)[-1]


def assert_everything_answers(client, poisoned_ids: list[str], other_id: str) -> None:
    """Every page, API answer and feed that shows a poisoned article answers 200 and is
    well-formed, and none of them carries a character its format cannot hold."""
    page = client.get("/?q=copper")
    assert page.status_code == 200
    listed = {article_id_of(a) for a in soup(page).select("a[href*='/articles/']")}
    assert set(poisoned_ids) <= listed
    for article_id in poisoned_ids:
        assert client.get(f"/articles/{article_id}").status_code == 200
        record = client.get(f"/api/articles/{article_id}")
        assert record.status_code == 200
        assert is_clean(json.dumps(record.get_json(), ensure_ascii=False))
    other = client.get(f"/articles/{other_id}")  # lists the poisoned ones as related
    assert other.status_code == 200
    related = {article_id_of(a) for a in soup(other).select("a[href*='/articles/']")}
    assert related & set(poisoned_ids)
    api = client.get("/api/search?q=copper&per_page=50")
    assert api.status_code == 200
    assert set(poisoned_ids) <= {hit["id"] for hit in api.get_json()["results"]}
    assert is_clean(json.dumps(api.get_json(), ensure_ascii=False))
    feed = client.get("/feed?q=copper")
    assert feed.status_code == 200
    entries = ElementTree.fromstring(feed.data).findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == len(poisoned_ids) + len(CLEAN_COPPER)


def is_clean(text: str) -> bool:
    return not any(0xD800 <= ord(c) <= 0xDFFF or c in "\ufffe\uffff\x01\x0b\x85" for c in text)


@pytest.mark.whoosh_only  # reads Whoosh's stored fields
def test_hostile_surrogates_and_non_characters_are_made_safe_when_indexed(tmp_path):
    folder = poisoned_archive(tmp_path / "a")
    report = update_index([folder], tmp_path / "ix")
    assert report.added == 6 and not report.skipped
    with open_index(tmp_path / "ix").searcher() as searcher:
        stored = {f["id"]: f for f in searcher.all_stored_fields()}
    first = stored["poison-1"]
    assert first["headline"] == "Copper \ufffd Mine Reopens"
    assert first["body"] == "Copper miners returned to the copper mine on Monday."
    assert (first["caption"], first["author"]) == ("Copper \ufffd", "Ann \ufffd")
    assert first["url"] == "https://example.com/\ufffd"
    assert stored["poison-2"]["headline"] == "Copper Prices \ufffd"
    assert "rose \U0001f600 for" in stored["poison-2"]["body"]  # a whole pair is kept
    assert stored["page"]["headline"] == "Copper Smelter Strike \ufffd"
    assert all(is_clean(str(value)) for fields in stored.values() for value in fields.values())

    client = create_app({"INDEX_DIR": str(tmp_path / "ix")}).test_client()
    assert_everything_answers(client, ["poison-1", "poison-2", "page"], "copper-0")
    result = subprocess.run([sys.executable, "-m", "searchapp", "search", "copper",
                             "--index-dir", str(tmp_path / "ix")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "Copper \ufffd Mine Reopens" in result.stdout


@pytest.mark.whoosh_only  # an old Whoosh index written raw
def test_hostile_index_built_before_the_fix_still_never_fails(tmp_path):
    """Stored fields written raw, as an index built before indexing cleaned them holds."""
    index_dir = tmp_path / "ix"
    index_dir.mkdir()
    ix = whoosh_index.create_in(str(index_dir), indexing.make_schema(),
                                indexname=indexing.INDEX_NAME)
    writer = ix.writer()
    for record in POISONED_RECORDS:
        writer.add_document(**{key: value for key, value in record.items() if key != "date"},
                            source="feed.jsonl", source_key="feed.jsonl\x000:0")
    for name, text in CLEAN_COPPER.items():
        headline, body = text.split("\n\n")
        writer.add_document(id=name.removesuffix(".txt"), headline=headline, body=body,
                            source=name, source_key=f"{name}\x000:0")
    writer.commit()
    client = create_app({"INDEX_DIR": str(index_dir)}).test_client()
    assert_everything_answers(client, ["poison-1", "poison-2"], "copper-0")
    record = client.get("/api/articles/poison-1").get_json()
    assert record["headline"] == "Copper \ufffd Mine Reopens"
    for command in (["search", "copper"], ["stats", "--largest", "10"]):
        result = subprocess.run([sys.executable, "-m", "searchapp", *command,
                                 "--index-dir", str(index_dir)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "Copper \ufffd Mine Reopens" in result.stdout


@pytest.mark.whoosh_only  # reads Whoosh's stored fields
def test_hostile_file_names_and_ids_that_are_not_text_are_skipped(tmp_path):
    folder = write_articles(tmp_path / "a", {
        "good.txt": "Harbour Cranes Return\n\nThe harbour cranes returned to work.",
        "feed.jsonl": "\n".join(json.dumps(record) for record in [
            {"id": "fine", "headline": "Fine Record", "body": "A record that is fine."},
            {"id": "half-\ud800", "headline": "Bad Id", "body": "Its id is half a pair."},
        ]),
    })
    # A name copied from a Latin-1 volume, and a folder with one, holding an article.
    with open(os.fsencode(folder) + b"/caf\xe9.txt", "w") as handle:
        handle.write("Cafe Story\n\nA story in a file whose name is Latin-1.")
    os.mkdir(os.fsencode(folder) + b"/r\xe9sum\xe9s")
    with open(os.fsencode(folder) + b"/r\xe9sum\xe9s/cv.txt", "w") as handle:
        handle.write("A Story\n\nA story in a folder whose name is Latin-1.")
    index_dir = tmp_path / "ix"

    for run in range(2):  # the next run is not stuck on them either
        result = subprocess.run([sys.executable, "-m", "searchapp", "index", str(folder),
                                 "--index-dir", str(index_dir)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        skipped = sorted(line for line in result.stderr.splitlines() if line.startswith("skipped"))
        bad_names = [f"skipped {folder}/{name}: the name is not UTF-8: rename it (convmv can) "
                     "to index it" for name in ("caf\\xe9.txt", "r\\xe9sum\\xe9s")]
        bad_id = (f"skipped {folder}/feed.jsonl:2: id 'half-\\ud800' holds a character that is "
                  "not text (half a surrogate pair, a control or a non-character)")
        # The export is read once: the second run finds it unchanged.
        assert skipped == (sorted([*bad_names, bad_id]) if run == 0 else bad_names)
        with open_index(index_dir).searcher() as searcher:
            assert sorted(f["id"] for f in searcher.all_stored_fields()) == ["fine", "good"]

    write_articles(folder, {"later.txt": "Later Story\n\nAdded after the bad names."})
    report = update_index([folder], index_dir)
    assert report.added == 1 and len(report.skipped) == 2
    assert {skip.path for skip in report.skipped} >= {f"{folder}/caf\\xe9.txt"}


@pytest.mark.parametrize("query", ["\x01jermuk", "jermuk\ufffe", "jermuk\x0b", "\x7fjermuk\x1b"])
def test_hostile_query_characters_keep_the_feed_well_formed(client, query):
    response = client.get("/feed", query_string={"q": query})
    assert response.status_code == 200
    feed = ElementTree.fromstring(response.data)
    title = feed.find("{http://www.w3.org/2005/Atom}title").text
    assert title.startswith("Archive search: ") and "jermuk" in title
