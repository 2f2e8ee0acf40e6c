"""Searching the archive on a real OpenSearch cluster gives what the embedded index gives.

Each test indexes the same articles twice: into a Whoosh index with the project's indexer,
and into a fresh index of the cluster with the mapping of ``backends.opensearch.mapping``
(the articles read back from the Whoosh index, so both hold exactly the same text). Then
both archives answer the same searches.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from opensearchpy import OpenSearch, helpers

from searchapp import duplicates, snippets
from searchapp.backends import IndexDamaged, IndexUnavailable
from searchapp.backends.opensearch import analysis, mapping
from searchapp.backends.opensearch.archive import OpenSearchArchive
from searchapp.backends.opensearch.mapping import index_body
from searchapp.backends.whoosh import WhooshArchive
from searchapp.backends.whoosh.indexing import open_index, update_index
from tests.conftest import write_articles
from tests.opensearch_cluster import free_http_port


def _record(article_id, headline, body, day=None, **more):
    return {"id": article_id, "headline": headline, "body": body,
            **({"date": day} if day else {}), **more}


WIRE = ("The central bank raised its main interest rate by half a point on Tuesday, "
        "saying that inflation had stayed above its target for a year and that wages "
        "were rising faster than output in most sectors of the economy this spring")
STORIES = [
    _record("coffee-1", "Coffee prices rise in Brazil",
            "Brazilian coffee exporters said prices rose after frost damaged the crop. "
            "Coffee growers expect a smaller harvest.", "1987-03-02"),
    _record("coffee-2", "Cocoa and coffee markets quiet",
            "Cocoa traders were quiet; coffee moved little on the day.", "1987-03-20"),
    _record("sugar-1", "Sugar output falls",
            "Sugar production fell in Cuba. Coffee is not mentioned much here except once.",
            "1987-04-11"),
    _record("rate-1", "Central bank raises rates", WIRE + ".", "1987-05-05"),
    _record("rate-2", "Bank raises rates again", WIRE + " again.", "1987-05-05"),
    _record("rate-3", "Rates steady elsewhere",
            "Elsewhere the central bank of a neighbouring country kept its rate steady, "
            "citing weak exports and a strong currency that hurt the farmers.", "1987-05-06"),
    _record("jermuk", "Jermuk Spa Town Reopens",
            "The spa town of Jermuk reopened its mineral springs to visitors in the "
            "Armenian highlands.", "1988-06-01", caption="Visitors at the springs",
            author="Anna Petrosyan"),
    _record("script", "A <script>alert(1)</script> headline",
            "Body with <b>tags</b> & ampersands about inflation and coffee.", "1990-01-01"),
    _record("undated", "Apricot jam recipe",
            "Apricots from the Ararat valley make the best jam; this recipe cooks them "
            "slowly with sugar and lemon."),
    _record("volcker", "Volcker speaks on inflation",
            "Paul Volcker, the Federal Reserve chairman, said inflation was under control.",
            "1987-06-01"),
    _record("volcker-2", "Volcker testifies",
            "Volcker told Congress the dollar had fallen far enough.", "1987-06-02"),
]


def _load_articles(tmp_path: Path, records: list[dict], url: str, index_name: str,
                   extra: dict | None = None, body: dict | None = None
                   ) -> tuple[WhooshArchive, OpenSearchArchive]:
    """Index ``records`` (and ``extra`` files) in Whoosh and in the cluster alike (the
    cluster's index created with ``body``, by default the mapping's)."""
    folder = tmp_path / "articles"
    files = {"stories.jsonl": "\n".join(json.dumps(r) for r in records)}
    write_articles(folder, {**files, **(extra or {})})
    index_dir = tmp_path / "index"
    report = update_index([folder], index_dir)
    assert not report.skipped
    client = OpenSearch([url], timeout=60)
    physical = f"{index_name}-1"
    client.indices.create(index=physical, body=body or index_body(2, 1))
    client.indices.put_alias(index=physical, name=index_name)
    with open_index(index_dir).searcher() as searcher:
        stored = list(searcher.documents())
    helpers.bulk(client, (_document(physical, fields) for fields in stored), refresh=True)
    return WhooshArchive(index_dir), OpenSearchArchive(url, index_name)


def _document(index: str, fields: dict) -> dict:
    """One stored Whoosh article as a bulk action for the cluster's mapping."""
    source = {name: fields[name] for name in
              ("id", "headline", "body", "caption", "author", "url", "credit", "source")
              if fields.get(name)}
    if isinstance(fields.get("date"), datetime):
        source["date"] = fields["date"].date().isoformat()
    body, headline = fields.get("body", ""), fields.get("headline", "")
    source["signature"] = base64.b64encode(duplicates.signature(body, headline)).decode()
    source["body_words"] = len(body.split())
    return {"_index": index, "_id": fields["id"], "_source": source}


@pytest.fixture
def both(tmp_path, opensearch_url, opensearch_index_name):
    """The test stories on Whoosh and on the cluster: (whoosh, opensearch)."""
    return _load_articles(tmp_path, STORIES, opensearch_url, opensearch_index_name)


def _ids(results) -> list[str]:
    return [hit.id for hit in results.hits]


# The query language.

@pytest.mark.parametrize("query", [
    "coffee", "coffee prices", '"coffee prices"', "coffee -cocoa", "coffee NOT cocoa",
    "+coffee sugar", "coffee AND sugar", "coffee OR cocoa", "headline:coffee",
    "body:coffee", "caption:springs", "author:petrosyan", "coff*", "infla*",
    "coffee date:1987-03", "date:1987-05-05..1987-05-06 bank", "what is coffee", "the",
    "bank's rates", "central-bank", "-coffee", "Jermuk spa", "JERMUK", "volcker",
    "nonsense:coffee", "apricot jam recipe sugar lemon valley best slowly cook",
])
def test_search_finds_what_whoosh_finds(both, query):
    whoosh, cluster = both
    expected, found = whoosh.search(query), cluster.search(query)
    assert sorted(_ids(found)) == sorted(_ids(expected))
    assert found.total == expected.total
    assert (found.query_words, found.required_words, found.relaxed) == (
        expected.query_words, expected.required_words, expected.relaxed)


# Both engines score a word with BM25F, but Lucene normalises the weighted sum of the
# fields' lengths (one byte each) where Whoosh normalises each field's: near ties may fall
# the other way, so these are queries whose order the two agree on by a clear margin.
@pytest.mark.parametrize("query", ["coffee", "inflation", "coffee prices", "volcker dollar",
                                   "central bank"])
def test_search_ranks_as_whoosh_ranks(both, query):
    whoosh, cluster = both
    assert _ids(cluster.search(query, fold=False)) == _ids(whoosh.search(query, fold=False))


def _index_body_before_combined_field() -> dict:
    """The mapping of archives indexed before the combined field (session 6)."""
    body = copy.deepcopy(index_body(2, 1))  # not the module's own mapping
    fields = body["mappings"]["properties"]
    del fields[mapping.COMBINED_FIELD]
    for name in mapping.COPIES:
        fields[name] = {key: value for key, value in fields[name].items() if key != "copy_to"}
    return body


def test_archive_indexed_before_the_combined_field_is_still_searched(
        tmp_path, opensearch_url, opensearch_index_name):
    whoosh, cluster = _load_articles(tmp_path, STORIES, opensearch_url, opensearch_index_name,
                                     body=_index_body_before_combined_field())
    for query in ("coffee", "coffee prices", "volcker dollar", "coff*", "coffee -cocoa"):
        expected, found = whoosh.search(query), cluster.search(query)
        assert sorted(_ids(found)) == sorted(_ids(expected)) != []
        assert found.total == expected.total
    assert _ids(cluster.search("coffee", fold=False)) == _ids(whoosh.search("coffee", fold=False))


def test_word_in_headline_and_body_saturates_once_as_on_whoosh(
        tmp_path, opensearch_url, opensearch_index_name):
    # BM25F adds a word's weighted frequencies over the fields and saturates them once:
    # "tin" once in the headline (weight 1.5) and once in the body is worth less than three
    # times in a body as long. Blending each field's own BM25 (cross_fields) ranked the
    # headline's article first.
    filler = "Officials spoke about trade, shipping, weather and prices. "
    records = [
        _record("both", "Tin exports", filler + "Tin held; copper rose; zinc fell; lead firm.",
                "1987-01-01"),
        _record("body", "Metals review", filler + "Tin rose; tin fell; tin held; copper rose.",
                "1987-01-02"),
    ] + [_record(f"other-{n}", "Weekly report", filler + (
        "Tin firm; copper rose; zinc fell; lead held." if n < 8 else
        "Copper rose; zinc fell; lead held; nickel firm."), "1987-02-01") for n in range(198)]
    whoosh, cluster = _load_articles(tmp_path, records, opensearch_url, opensearch_index_name)
    expected = _ids(whoosh.search("tin", fold=False))
    found = _ids(cluster.search("tin", fold=False))
    assert found[:2] == expected[:2] == ["body", "both"]  # the rest tie
    assert sorted(found) == sorted(expected)


@pytest.mark.parametrize("query", ["coffee prices", '"mineral springs"', "inflation coffee",
                                   "infla*", "script", "jermuk"])
def test_snippets_and_headlines_are_marked_as_on_whoosh(both, query):
    whoosh, cluster = both
    expected = {hit.id: (hit.snippet, hit.headline_html) for hit in whoosh.search(query).hits}
    found = {hit.id: (hit.snippet, hit.headline_html) for hit in cluster.search(query).hits}
    assert found == expected
    assert "<script>" not in "".join(s + h for s, h in found.values())


def test_mark_marks_the_article_page_as_on_whoosh(both):
    whoosh, cluster = both
    parts = ["Coffee growers expect <b>a smaller</b> harvest.", "Nothing here."]
    assert cluster.mark("coffee harvest", parts) == whoosh.mark("coffee harvest", parts)
    assert cluster.mark("", parts) == whoosh.mark("", parts)


def test_all_words_required_then_relaxed(both):
    _, cluster = both
    results = cluster.search("coffee sugar")
    assert set(_ids(results)) == {"sugar-1"} or results.relaxed
    relaxed = cluster.search("coffee zebra", sort="newest")
    assert relaxed.relaxed and relaxed.required_words == 1
    assert "coffee-1" in _ids(relaxed)


def test_sorts_by_date_with_undated_last(both):
    whoosh, cluster = both
    for sort in ("newest", "oldest"):
        expected = whoosh.search("sugar", sort=sort)
        assert _ids(cluster.search("sugar", sort=sort)) == _ids(expected)
    feed = cluster.search("", sort="newest", everything=True, per_page=50)
    assert feed.total == len(STORIES)
    assert _ids(feed)[0] == "script" and _ids(feed)[-1] == "undated"


def test_timeline_counts_matches_and_archive_per_period(both):
    whoosh, cluster = both
    for query, kwargs in [("coffee", {}), ("bank", {}), ("inflation", {}),
                          ("rates", {"date_from": date(1987, 5, 1),
                                     "date_to": date(1987, 5, 31)})]:
        expected = whoosh.search(query, **kwargs).timeline
        assert cluster.search(query, **kwargs).timeline == expected


def test_timeline_of_days_is_whoosh_s_however_the_days_are_counted(
        tmp_path, opensearch_url, opensearch_index_name):
    # Days are counted from the matches in hand (a few), by the search itself (a date
    # filter of a few weeks), or by a search of their own (many matches in one month).
    fillers = [_record(f"filler-{n}", f"Weather report {n}", f"Rain on day {n}; coffee.",
                       f"1989-01-{n % 28 + 1:02}") for n in range(120)]
    whoosh, cluster = _load_articles(tmp_path, STORIES + fillers, opensearch_url,
                                     opensearch_index_name)
    january = {"date_from": date(1989, 1, 1), "date_to": date(1989, 1, 31)}
    for query, kwargs in [("volcker", {}), ("weather", {}), ("weather", {"per_page": 50}),
                          ("coffee", january), ("rates", {"date_from": date(1987, 5, 3),
                                                          "date_to": date(1987, 6, 20)})]:
        expected = whoosh.search(query, **kwargs).timeline
        assert [period.label for period in expected][0].count("-") == 2  # days
        for _ in range(2):  # the archive's days counted, then remembered
            assert cluster.search(query, **kwargs).timeline == expected


def test_copies_are_folded_into_the_best_result(both):
    whoosh, cluster = both
    expected, found = whoosh.search("central bank rate"), cluster.search("central bank rate")
    assert found.collapsed == expected.collapsed == 1
    assert [(h.id, h.similar) for h in found.hits] == [(h.id, h.similar) for h in expected.hits]
    copies = cluster.search("central bank rate", similar_to="rate-1")
    assert sorted(_ids(copies)) == ["rate-1", "rate-2"]


def test_corrections_offer_the_common_spelling(both):
    whoosh, cluster = both
    results = cluster.search("volckerr")
    assert results.corrected == whoosh.search("volckerr").corrected == "volcker"
    assert set(_ids(results)) == {"volcker", "volcker-2"}
    assert cluster.search("coffee").suggestion is None
    too_long = cluster.search("Volckr " * 285)  # each correction adds a letter
    assert (too_long.total, too_long.suggestion, too_long.corrected) == (0, None, None)


def test_correction_offered_beside_results_as_on_whoosh(both):
    # Results found with one word fewer: the correction that has them all is offered
    # (looked up in the same round trip as the page's articles).
    whoosh, cluster = both
    expected, found = whoosh.search("inflation volckerr"), cluster.search("inflation volckerr")
    assert found.relaxed and found.total == expected.total > 0
    assert found.suggestion == expected.suggestion == "inflation volcker"
    assert _ids(found) == _ids(expected)


def test_completions_most_common_first(both):
    _, cluster = both
    assert cluster.complete("cof")[0] == "coffee"
    assert cluster.complete("the coff") == ["the coffee"]
    assert cluster.complete("x") == [] and cluster.complete("zzzq") == []


def test_typing_reads_the_last_word_as_a_prefix(both):
    whoosh, cluster = both
    found = cluster.search("brazil coff", typing=True)
    assert _ids(found) == _ids(whoosh.search("brazil coff", typing=True)) == ["coffee-1"]


def test_article_with_related_articles(both):
    _, cluster = both
    record = cluster.article("coffee-1")
    assert record.headline == "Coffee prices rise in Brazil"
    assert record.date == date(1987, 3, 2)
    assert record.related and "coffee-1" not in [r.id for r in record.related]
    assert "coffee-2" in [r.id for r in record.related]
    assert cluster.article("no-such-article") is None
    jermuk = cluster.article("jermuk", related=False)
    assert (jermuk.caption, jermuk.author) == ("Visitors at the springs", "Anna Petrosyan")


def test_count_and_paging(both):
    _, cluster = both
    assert cluster.count() == len(STORIES)
    first, second = cluster.search("the bank coffee inflation OR sugar", per_page=2), \
        cluster.search("the bank coffee inflation OR sugar", per_page=2, page=2)
    assert not set(_ids(first)) & set(_ids(second))
    with pytest.raises(ValueError):
        cluster.search("coffee", page=10_000, per_page=50)


@pytest.mark.parametrize("query", [
    "x" * 2000, "\ud800coffee", 'headline:"unclosed', "date:..", "a:b:c:d", "*", "**coffee",
    "((()))[]{}~^\\/", "coffee^10", "body:", "field:value OR NOT AND", "\x00\x1f",
    "' OR 1=1 --", "é" * 500, "coffee " * 300, "-", "+", '"', "caption:* author:?",
])
def test_hostile_queries_never_fail_the_cluster(both, query):
    _, cluster = both
    try:
        cluster.search(query)
        cluster.search(query, typing=True, sort="newest")
    except Exception as error:  # only a reader's error is allowed, with its message
        assert type(error).__name__ == "QueryError", error


def test_missing_index_says_how_to_build_it(opensearch_url, opensearch_index_name):
    archive = OpenSearchArchive(opensearch_url, opensearch_index_name)
    with pytest.raises(IndexUnavailable) as raised:
        archive.search("coffee")
    assert not isinstance(raised.value, IndexDamaged)
    assert "searchapp index" in str(raised.value)
    assert archive.top_misses() == []


def test_unreachable_cluster_is_damaged_and_the_api_answers_503(tmp_path):
    url = f"http://127.0.0.1:{free_http_port(1)}"
    archive = OpenSearchArchive(url, "searchapp")
    with pytest.raises(IndexDamaged, match="unavailable"):
        archive.search("coffee")
    assert archive.damage() and "cannot be reached" in archive.damage()
    health = archive.health()
    assert (health.status, health.details) == ("damaged", {"cluster": "unreachable"})
    with pytest.raises(OSError):
        archive.record_miss("coffee")
    from searchapp import create_app

    app = create_app({"TESTING": True, "OPENSEARCH_URL": url, "INDEX_DIR": str(tmp_path)})
    response = app.test_client().get("/api/search?q=coffee")
    assert response.status_code == 503
    assert "unavailable" in json.dumps(response.get_json()).lower()
    page = app.test_client().get("/?q=coffee")
    assert page.status_code == 503 and "unavailable" in page.get_data(as_text=True)
    healthz = app.test_client().get("/healthz")
    assert healthz.status_code == 503
    assert (healthz.get_json()["status"], healthz.get_json()["cluster"]) == (
        "damaged", "unreachable")


def test_zero_result_searches_are_counted(both):
    _, cluster = both
    for query in ("Zebra", "zebra ", "okapi"):
        cluster.record_miss(query)
    assert cluster.top_misses() == [("zebra", 2), ("okapi", 1)]


def test_stems_agree_with_the_cluster(opensearch_url, opensearch_index_name):
    client = OpenSearch([opensearch_url])
    client.indices.create(index=opensearch_index_name, body=index_body(1, 0))
    words = ("coffee prices running generously skies café naïve élysée u.s 3.5 inflation "
             "the of an a news dying lying volcker exporters").split()
    for word in words:
        tokens = client.indices.analyze(index=opensearch_index_name,
                                        body={"analyzer": "article", "text": word})["tokens"]
        assert analysis.analyse(word) == (tokens[0]["token"] if tokens else None), word


# Words where Java's regular expressions and Python's disagree on what a letter is: marks
# that combine with the letter before, superscripts, fractions, joining punctuation.
UNUSUAL_WORDS = ("U.S. 3.5% a..b a.b.c. .x x. __init__ café Élysée naïve straße x\u00b2 "
                 "\u00bd e\u0301 abc\u0301def ab\u203fcd \u0661\u0662\u0663 "
                 "日本語テキスト Ωmega")


def test_word_pattern_spells_out_exactly_the_characters_of_pythons_word_class():
    pattern = mapping.word_pattern()
    letters = pattern[1:pattern.index("\\.]")]
    assert pattern == f"[{letters}\\.]+&[^\\.]+(\\.[^\\.]+)*"
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    assert re.findall(f"[{letters}]+", every) == re.findall(r"\w+", every)


def test_words_are_split_where_the_embedded_index_splits_them(opensearch_url,
                                                              opensearch_index_name):
    client = OpenSearch([opensearch_url])
    client.indices.create(index=opensearch_index_name, body=index_body(1, 0))
    text = f"{STORIES[0]['body']} {UNUSUAL_WORDS}"
    words = client.indices.analyze(index=opensearch_index_name,
                                   body={"tokenizer": "words", "text": text})["tokens"]
    assert [word["token"] for word in words] == snippets.WORD_RE.findall(text)
    terms = client.indices.analyze(index=opensearch_index_name,
                                   body={"analyzer": "article", "text": text})["tokens"]
    assert [term["token"] for term in terms] == analysis.terms(text)


def test_short_ranked_list_goes_on_with_partial_matches(tmp_path, opensearch_url,
                                                        opensearch_index_name):
    fillers = [_record(f"filler-{n}", f"Weather report {n}",
                       f"Rain and wind are expected on day {n} across the northern plains.",
                       "1989-01-01") for n in range(150)]
    whoosh, cluster = _load_articles(tmp_path, STORIES + fillers, opensearch_url,
                                     opensearch_index_name)
    expected, found = whoosh.search("coffee cocoa"), cluster.search("coffee cocoa")
    assert (found.total, found.partial) == (expected.total, expected.partial) == (1, 3)
    assert [(h.id, h.partial) for h in found.hits] == [(h.id, h.partial) for h in expected.hits]
    assert found.hits[0].id == "coffee-2" and found.hits[-1].partial
    by_date = cluster.search("coffee cocoa", sort="newest")
    assert _ids(by_date) == ["coffee-2"] and by_date.partial == 0


def test_article_ids_nobody_could_have(both):
    _, cluster = both
    for article_id in ("\ud800", "x" * 5000, "a\x00b", "../../etc/passwd", "*"):
        assert cluster.article(article_id) is None


def test_update_then_search_stats_and_health(tmp_path, opensearch_url, opensearch_index_name):
    from tests.conftest import ARTICLES

    folder = write_articles(tmp_path / "seeded", ARTICLES)
    archive = OpenSearchArchive(opensearch_url, opensearch_index_name)
    assert not archive.exists()
    assert archive.health().status == "no index"
    report = archive.update([folder])
    assert report.added == 5 and archive.exists()
    assert _ids(archive.search("jermuk springs")) == ["feed-1"]
    assert archive.stats().articles == archive.count() == 5
    health = archive.health()
    assert health.ok and health.details["cluster"] in ("green", "yellow")


def test_one_archive_serves_many_threads(both):
    from concurrent.futures import ThreadPoolExecutor

    _, cluster = both
    queries = ["coffee", "central bank", "volcker", "infla*", "jam"] * 8
    expected = {query: _ids(cluster.search(query)) for query in set(queries)}
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(lambda query: (query, _ids(cluster.search(query))), queries))
    assert all(ids == expected[query] for query, ids in found)


def test_pages_without_folding_are_those_of_whoosh(tmp_path, opensearch_url,
                                                   opensearch_index_name):
    fillers = [_record(f"filler-{n}", f"Weather report {n}",
                       f"Rain and wind are expected on day {n} across the plains; coffee "
                       f"{'and cocoa ' * (n % 3)}growers worry.", f"1989-01-{n % 28 + 1:02}")
               for n in range(120)]
    whoosh, cluster = _load_articles(tmp_path, STORIES + fillers, opensearch_url,
                                     opensearch_index_name)
    for query in ("coffee cocoa", "coffee brazil", "weather"):
        for page in (1, 2, 3):
            expected = whoosh.search(query, page=page, per_page=5, fold=False, snippets=False)
            found = cluster.search(query, page=page, per_page=5, fold=False, snippets=False)
            assert (found.total, found.partial) == (expected.total, expected.partial)
            assert [h.partial for h in found.hits] == [h.partial for h in expected.hits]
            assert found.timeline == expected.timeline


def test_relaxed_words_are_searched_in_one_round_trip_and_listed_as_on_whoosh(
        tmp_path, opensearch_url, opensearch_index_name, monkeypatch):
    fillers = [_record(f"filler-{n}", f"Weather report {n}",
                       f"Rain and wind are expected on day {n} across the northern plains.",
                       "1989-01-01") for n in range(150)]
    whoosh, cluster = _load_articles(tmp_path, STORIES + fillers, opensearch_url,
                                     opensearch_index_name)
    cluster.search("coffee")  # the archive's totals, kept for a while, are in hand
    trips: list[int] = []
    real = OpenSearchArchive._msearch

    def counted(self, searches, *args, **kwargs):
        trips.append(len(searches))
        return real(self, searches, *args, **kwargs)

    monkeypatch.setattr(OpenSearchArchive, "_msearch", counted)
    query = "coffee cocoa zebra"  # no article has all three words; one fewer finds one
    found, expected = cluster.search(query), whoosh.search(query)
    assert found.relaxed and found.required_words == expected.required_words == 2
    assert (found.total, found.partial) == (expected.total, expected.partial) == (1, 3)
    assert [(h.id, h.partial) for h in found.hits] == [(h.id, h.partial) for h in expected.hits]
    # All three words; then two and one together (the one-word answer is the partial
    # matches listed after the matches, not asked for again).
    assert trips[:2] == [1, 2]
