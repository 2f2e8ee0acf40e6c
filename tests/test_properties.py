"""Properties (Hypothesis): whatever text is indexed comes back escaped apart from <mark>,
and no query or parameter makes the parser raise or the page fail."""

from __future__ import annotations

import html
import json
import re
import tempfile
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import write_articles
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from searchapp import create_app
from searchapp.backends.whoosh import WhooshArchive as Archive
from searchapp.backends.whoosh.indexing import update_index
from searchapp.querylang import QueryError, parse_query

MARKER = "zqxjvk"
MARKUP = ["<", ">", "&", '"', "'", "<script>", "</script>", "<mark>", "</mark>", "&amp;",
          "&lt;", "&#60;", "<img src=x onerror=alert(1)>", "javascript:", " … ", "\n\n", "\t"]
# Text with markup in it: any characters, plus whole tags and entities.
hostile_text = st.lists(st.one_of(st.text(max_size=20), st.sampled_from(MARKUP)),
                        max_size=30).map("".join)
ENTITY_RE = re.compile(r"&(?:amp|lt|gt);")


def snippet_pieces(snippet: str) -> list[str]:
    """Return the passages of a snippet as plain text: marks dropped, entities decoded."""
    text = html.unescape(snippet.replace("<mark>", "").replace("</mark>", ""))
    text = text.removeprefix("… ").removesuffix(" …")
    return [piece for piece in text.split(" … ") if piece]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=hostile_text, after=hostile_text, headline=hostile_text)
def test_property_indexed_text_comes_back_escaped_but_for_mark(before, after, headline):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        record = {"id": "a", "headline": headline, "body": f"{before} {MARKER} {after}"}
        write_articles(root / "a", {"feed.jsonl": json.dumps(record)})
        report = update_index([root / "a"], root / "ix")
        assume(report.added == 1)
        archive = Archive(root / "ix")
        stored = archive.article("a")
        assume(MARKER in stored.body)  # cleaning may drop a paragraph it takes for boilerplate
        results = archive.search(MARKER)
        assert results.total == 1
        snippet = results.hits[0].snippet
        bare = snippet.replace("<mark>", "").replace("</mark>", "")
        # Only <mark> is markup: every other <, > and & is escaped.
        assert not re.search(r"[<>]", bare) and "&" not in ENTITY_RE.sub("", bare)
        assert f"<mark>{MARKER}</mark>" in snippet
        body = " ".join(stored.body.split())
        for piece in snippet_pieces(snippet):
            assert piece in body

        client = create_app({"INDEX_DIR": str(root / "ix")}).test_client()
        page = BeautifulSoup(client.get(f"/?q={MARKER}").get_data(as_text=True), "html.parser")
        [item] = page.select("ol.results li")
        assert item.h2.get_text() == (stored.headline or "Untitled")
        assert {tag.name for tag in item.select(".snippet *")} == {"mark"}
        article = BeautifulSoup(client.get("/articles/a").get_data(as_text=True), "html.parser")
        assert article.find("article").h1.get_text() == (stored.headline or "Untitled")
        assert not article.find("article").find_all(["script", "img"])


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=3000))
def test_property_parse_query_raises_only_query_error(text):
    try:
        parsed = parse_query(text)
    except QueryError:
        return
    assert len(parsed.clauses) <= 64


@pytest.fixture(scope="module")
def small_app(tmp_path_factory):
    folder = write_articles(tmp_path_factory.mktemp("props") / "a", {
        f"s{i}.txt": f"Story Number {i}\n\nThe border talks and the apricot harvest {i}."
        for i in range(30)})
    update_index([folder], folder.parent / "ix")
    return create_app({"INDEX_DIR": str(folder.parent / "ix"), "TESTING": True})


query_text = st.one_of(st.text(max_size=200), hostile_text,
                       st.lists(st.sampled_from(["border", "apri*", '"', "(", "AND", "NOT", "-",
                                                 "+", "date:", "headline:", "2022", "*", "?"]),
                                max_size=40).map(" ".join))


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=query_text, page=st.one_of(st.none(), st.text(max_size=12), st.integers()),
       sort=st.one_of(st.none(), st.sampled_from(["relevance", "newest", "oldest", "x"])),
       date_from=st.one_of(st.none(), st.text(max_size=12), st.dates().map(str)))
def test_property_page_and_api_never_fail(small_app, q, page, sort, date_from):
    params = {"q": q, "page": page, "sort": sort, "from": date_from}
    params = {k: str(v) for k, v in params.items() if v is not None}
    client = small_app.test_client()
    response = client.get("/", query_string=params)
    assert response.status_code in (200, 400)
    api = client.get("/api/search", query_string=params)
    assert api.status_code in (200, 400)
    assert "results" in api.get_json() or api.get_json()["error"]["status"] == 400
