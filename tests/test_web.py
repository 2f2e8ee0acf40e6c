import json
import re

import pytest
from bs4 import BeautifulSoup
from conftest import SEED, write_articles

from searchapp import create_app, web

HOSTILE_QUERIES = [
    '"unbalanced', "AND", "OR OR", "NOT", "-", "+", "*", "?", "*a*", "a?b", "((((", "))",
    "x" * 2000, "word " * 500, "\x00\x01\x02", "\u202eevil", "🙂🙂", "שלום עולם", "مرحبا",
    "headline:", "date:", "date:..", "title:\"", "%", "%00", "\\", "'; DROP TABLE x;--",
    "<script>alert(1)</script>", "{{7*7}}", "${7*7}", "\r\n\r\n", "a" * 300,
]


def soup(response):
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def foreign_scripts(page) -> list:
    """Return every script on the page except our own search-as-you-type file."""
    return [s for s in page.find_all("script") if s.get("src") != "/static/search.js" or s.string]


def test_home_page_has_a_labelled_search_form(client):
    page = soup(client.get("/"))
    form = page.find("form", attrs={"role": "search"})
    box = form.find("input", attrs={"name": "q"})
    assert page.find("label", attrs={"for": box["id"]}).get_text(strip=True)
    assert "Search 6 articles" in page.h1.get_text(" ", strip=True)


def test_results_page_shows_headline_date_and_marked_snippet(client):
    response = client.get("/?q=Jermuk")
    page = soup(response)
    assert response.status_code == 200
    assert page.find("input", attrs={"name": "q"})["value"] == "Jermuk"
    assert "2 results" in page.find(id="results-title").get_text(" ", strip=True)
    items = page.select("ol.results li")
    seed = next(li for li in items if "Fighting Continues" in li.h2.get_text())
    # The link carries the search, so the article page can mark it and link back (issue 14.7).
    assert seed.h2.a["href"] == f"/articles/{SEED.stem}?q=Jermuk"
    assert seed.find("time")["datetime"] == "2022-09-14"
    # One sentence, short: a second passage only when it shows another query word.
    assert [m.get_text() for m in seed.select(".snippet mark")] == ["Jermuk"]
    assert len(seed.select_one(".snippet").get_text()) <= 230


def test_results_page_reports_time_taken(client):
    title = soup(client.get("/?q=Jermuk")).find(id="results-title").get_text(" ", strip=True)
    assert title.endswith("ms)")


def test_pagination_links_keep_the_query_and_filters(client):
    page = soup(client.get("/?q=border+OR+jermuk+OR+festival+OR+apricot+OR+chess&sort=newest"))
    assert len(page.select("ol.results li")) == 6
    # Six results fit on one page: no pagination.
    assert page.select("nav.pagination") == []


def test_pagination_across_pages(tmp_path, make_archive):
    folder = write_articles(
        tmp_path / "a", {f"n{i:02}.txt": f"Story {i}\n\nAbout apricots {i}." for i in range(25)})
    client = make_archive([folder]).client()
    page = soup(client.get("/?q=apricots&page=2"))
    assert len(page.select("ol.results li")) == 10
    assert page.select_one("ol.results")["start"] == "11"
    nav = page.select_one("nav.pagination")
    assert nav.select_one("[aria-current=page]").get_text() == "2"
    assert nav.select_one("a[rel=next]")["href"] == "/?q=apricots&page=3"
    assert nav.select_one("a[rel=prev]")["href"] == "/?q=apricots"
    last = soup(client.get("/?q=apricots&page=3"))
    assert len(last.select("ol.results li")) == 5 and not last.select("a[rel=next]")


def test_sort_and_date_filter_are_kept_in_the_form(client):
    page = soup(client.get("/?q=jermuk&sort=oldest&from=2022-01-01&to=2022-12-31"))
    assert page.select_one("select[name=sort] option[selected]")["value"] == "oldest"
    assert page.select_one("input[name=from]")["value"] == "2022-01-01"
    assert page.select_one("input[name=to]")["value"] == "2022-12-31"
    assert [li.h2.get_text(strip=True) for li in page.select("ol.results li")] == [
        "Fighting Continues on Armenia-Azerbaijan Border"]


def test_did_you_mean_links_to_the_corrected_query(client):
    page = soup(client.get("/?q=Jermukk+spa"))
    link = page.select_one(".suggestion a")
    assert page.select_one(".suggestion").get_text(" ", strip=True) == "Did you mean jermuk spa ?"
    assert link.get_text() == "jermuk spa" and link["href"] == "/?q=jermuk+spa"


def test_no_results_page_helps(client):
    page = soup(client.get("/?q=zebra"))
    assert "No results" in page.find(id="results-title").get_text()
    assert "zebra" in page.select_one(".notice").get_text()


def test_article_page(client):
    page = soup(client.get(f"/articles/{SEED.stem}"))
    article = page.find("article")
    assert article.h1.get_text() == "Fighting Continues on Armenia-Azerbaijan Border"
    assert article.find("time")["datetime"] == "2022-09-14"
    assert article.select_one(".caption").get_text().endswith("May 17, 2021")
    paragraphs = article.find_all("p", class_=False)
    assert paragraphs[0].get_text().startswith("YEREVAN — Fighting")
    assert len(paragraphs) == 11
    related = [a["href"] for a in page.select(".related a")]
    assert "/articles/border-talks" in related


def test_article_page_links_the_source_only_when_safe(tmp_path, make_archive):
    folder = write_articles(tmp_path / "a", {"feed.jsonl": "\n".join([
        '{"id": "good", "headline": "Good", "body": "x", "url": "https://example.com/a"}',
        '{"id": "bad", "headline": "Bad", "body": "x", "url": "javascript:alert(1)"}',
    ])})
    client = make_archive([folder]).client()
    assert soup(client.get("/articles/good")).select_one(".source a")["href"] == "https://example.com/a"
    assert soup(client.get("/articles/bad")).select_one(".source") is None


@pytest.mark.parametrize("path", ["/articles/nope", "/articles/../etc/passwd",
                                  "/articles/%2e%2e%2f", "/articles/" + "a" * 5000, "/nowhere"])
def test_unknown_pages_are_404_pages(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "text/html" in response.content_type


def test_wrong_method_is_405(client):
    assert client.post("/?q=x").status_code == 405


def test_article_with_markup_is_rendered_inert(tmp_path, make_archive):
    payload = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    folder = write_articles(tmp_path / "a", {
        "x.txt": f"Headline {payload}\n\nBody jermuk {payload} end.",
    })
    client = make_archive([folder]).client()
    for response in (client.get("/?q=jermuk"), client.get("/articles/x"),
                     client.get("/?q=" + payload)):
        page = soup(response)
        assert foreign_scripts(page) == [] and page.find("img") is None
        assert not any(attr.startswith("on") for tag in page.find_all(True) for attr in tag.attrs)
    assert "<script>alert(1)</script>" in soup(client.get("/articles/x")).h1.get_text()


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_queries_never_fail(client, query):
    response = client.get("/", query_string={"q": query})
    assert response.status_code in (200, 400)
    page = soup(response)
    assert foreign_scripts(page) == []
    assert page.find("form", attrs={"role": "search"}) is not None


@pytest.mark.parametrize(
    "query_string",
    ["page=0", "page=-1", "page=abc", "page=99999999999", "sort=random", "from=2022-13-01",
     "from=yesterday", "from=2023-01-01&to=2022-01-01", "q=a&q=b", "page=1&page=2"],
)
def test_bad_parameters_give_a_400_page(client, query_string):
    response = client.get(
        "/?q=jermuk&" + query_string if "q=" not in query_string else "/?" + query_string)
    assert response.status_code == 400
    assert soup(response).select_one(".notice.error")


def test_security_headers_on_every_response(client):
    for path in ("/", "/?q=x", f"/articles/{SEED.stem}", "/nowhere", "/api/search?q=x"):
        headers = client.get(path).headers
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert "script-src 'self';" in headers["Content-Security-Policy"]
        assert "unsafe" not in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"


def test_pages_load_nothing_from_other_sites(client):
    page = soup(client.get("/?q=jermuk"))
    for tag in page.find_all(["link", "img", "script", "iframe"]):
        assert not (tag.get("href") or tag.get("src") or "").startswith(("http:", "https:", "//"))
    assert client.get(page.find("link", rel="stylesheet")["href"]).status_code == 200


def test_missing_index_gives_a_page_saying_how_to_build_it(tmp_path, make_archive):
    client = make_archive(name="none").app().test_client()
    response = client.get("/?q=jermuk")
    assert response.status_code == 503
    assert "searchapp index" in soup(response).get_text()


ATOM = "{http://www.w3.org/2005/Atom}"


def test_atom_feed_of_a_search_is_valid_and_newest_first(client):
    import xml.etree.ElementTree as ET

    response = client.get("/feed?q=border+OR+jermuk")
    assert response.status_code == 200
    assert response.content_type.startswith("application/atom+xml")
    feed = ET.fromstring(response.data)
    assert feed.tag == f"{ATOM}feed"
    # RFC 4287: a feed has id, title, updated, an author; every entry id, title, updated.
    for name in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{name}") is not None
    entries = feed.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}link").get("href").rsplit("/", 1)[1] for e in entries] == [
        "feed-1", "border-talks", SEED.stem]
    for entry in entries:
        assert entry.find(f"{ATOM}id").text.startswith("http://")
        assert entry.find(f"{ATOM}updated").text.endswith("Z")
    assert entries[0].find(f"{ATOM}updated").text == "2023-05-01T00:00:00Z"
    assert "<mark>" in entries[2].find(f"{ATOM}summary").text


def test_results_page_links_its_feed(client):
    page = soup(client.get("/?q=jermuk"))
    assert page.find("link", rel="alternate")["href"] == "/feed?q=jermuk"
    assert page.select_one(".feed-link a")["href"] == "/feed?q=jermuk"


def test_feed_link_keeps_the_date_filter(client):
    # Issue 14: the link dropped from and to, though the feed takes them.
    page = soup(client.get("/?q=jermuk&from=2023-01-01&to=2023-12-31&sort=newest"))
    expected = "/feed?q=jermuk&from=2023-01-01&to=2023-12-31"
    assert page.find("link", rel="alternate")["href"] == expected
    assert page.select_one(".feed-link a")["href"] == expected


def _feed_ids(client, url):
    import xml.etree.ElementTree as ET

    feed = ET.fromstring(client.get(url).data)
    return [e.find(f"{ATOM}link").get("href").rsplit("/", 1)[1]
            for e in feed.findall(f"{ATOM}entry")]


def test_feed_of_a_search_has_only_articles_with_every_word(client):
    assert _feed_ids(client, "/feed?q=border+jermuk") == [SEED.stem]
    assert _feed_ids(client, "/feed?q=jermuk&from=2023-01-01") == ["feed-1"]


def test_feed_without_a_query_lists_the_newest_articles(client):
    ids = _feed_ids(client, "/feed")
    assert ids[:3] == ["feed-1", "border-talks", SEED.stem] and len(ids) == 6
    assert _feed_ids(client, "/feed?to=2022-12-31")[0] == SEED.stem


def test_page_says_when_no_article_has_every_word(client):
    page = soup(client.get("/?q=jermuk+spa+zebra"))
    notice = page.select_one(".notice.relaxed").get_text(" ", strip=True)
    assert "No article has all the words of jermuk spa zebra" in notice
    assert "(2 of 3)" in notice
    assert soup(client.get("/?q=jermuk+spa")).select_one(".notice.relaxed") is None


def test_page_marks_articles_with_some_words_ranked_with_the_few_that_have_all(
        tmp_path, make_archive):
    articles = {f"rain{n}.txt": f"Rain Report {n}\n\nRain fell on the valley, report {n}."
                for n in range(150)}
    articles["both.txt"] = "Rain and Apricots\n\nRain spoiled the apricot harvest."
    client = make_archive([write_articles(tmp_path / "a", articles)]).client(TESTING=True)
    page = soup(client.get("/?q=apricot+rain"))
    # The count is the one article with both words; the others are listed, marked so.
    summary = page.select_one(".results-summary").get_text(" ", strip=True)
    assert summary.startswith("1 result · 150 more with some of the words ")
    results = page.select("ol.results li.result")
    assert results[0].select_one("h2").get_text() == "Rain and Apricots"
    assert results[0].select_one(".partial") is None
    assert all(r.select_one(".meta .partial").get_text() == "Some of the words"
               for r in results[1:])
    assert page.select_one(".notice.relaxed") is None
    body = client.get("/api/search?q=apricot+rain").get_json()
    assert (body["total"], body["partial"], body["pages"]) == (1, 150, 16)
    assert [hit["partial"] for hit in body["results"][:2]] == [False, True]
    # A list by date, and the feed, keep to the article with both words.
    assert [a.get_text() for a in soup(client.get("/?q=apricot+rain&sort=newest"))
            .select("ol.results h2 a")] == ["Rain and Apricots"]
    assert _feed_ids(client, "/feed?q=apricot+rain") == ["both"]


def test_live_search_shows_the_page_for_the_word_being_typed(client):
    page = soup(client.get("/?q=jer&live=1&sort=newest"))
    assert page.title.get_text() == "jer – Archive search"
    headlines = [a.get_text() for a in page.select("ol.results h2 a")]
    assert headlines[0] == "Jermuk Spa Town Reopens" and len(headlines) == 2
    assert page.select_one(".feed-link a")["href"] == "/feed?q=jer"
    assert not page.select(".suggestion")


def test_feed_escapes_hostile_text(tmp_path, make_archive):
    import xml.etree.ElementTree as ET

    folder = write_articles(
        tmp_path / "a", {"x.txt": "Bad <b>&amp; ]]> title\n\nBody jermuk <script>x</script>."})
    client = make_archive([folder]).client()
    feed = ET.fromstring(client.get("/feed?q=jermuk").data)
    entry = feed.find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").text == "Bad <b>&amp; ]]> title"
    assert "&lt;script&gt;" in entry.find(f"{ATOM}summary").text


def test_opensearch_description_is_linked_from_every_page(client):
    import xml.etree.ElementTree as ET

    response = client.get("/opensearch.xml")
    assert response.content_type.startswith("application/opensearchdescription+xml")
    description = ET.fromstring(response.data)
    templates = {u.get("type"): u.get("template")
                 for u in description.findall("{http://a9.com/-/spec/opensearch/1.1/}Url")}
    assert templates["text/html"] == "http://localhost/?q={searchTerms}"
    assert templates["application/x-suggestions+json"] == "http://localhost/api/suggest?q={searchTerms}"
    for path in ("/", "/?q=jermuk", f"/articles/{SEED.stem}", "/nowhere"):
        assert soup(client.get(path)).find("link", rel="search")["href"] == "/opensearch.xml"


def test_healthz(client, tmp_path, make_archive):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["articles"] == 6 and body["version"]
    assert body["last_commit"][:4].isdigit()
    missing = make_archive(name="none").app().test_client().get("/healthz")
    assert missing.status_code == 503 and missing.get_json()["status"] == "no index"


def test_searches_that_find_nothing_are_recorded_for_the_report(client, index_dir, runner):
    from searchapp.cli import main

    for query in ("zebra", "Zebra", "jermuk", "zebra crossing"):
        client.get("/", query_string={"q": query})
    client.get("/api/search?q=zebra")
    result = runner.invoke(main, ["report", "--index-dir", str(index_dir)])
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["3", "zebra"] and lines[2].split() == ["1", "zebra", "crossing"]
    assert "jermuk" not in result.stdout


def test_timeline_bars_link_to_their_periods(client):
    page = soup(client.get("/?q=border+OR+jermuk+OR+festival+OR+apricot+OR+chess"))
    assert "per month" in page.select_one("figure.timeline figcaption").get_text()
    chart = page.select_one("figure.timeline .chart-count svg")
    bars = chart.select("[aria-label]")
    assert len(bars) == 24
    assert [bars[i]["aria-label"] for i in (0, 1, 15)] == [
        "June 2021: 1 matching article of 1 (100.0%)", "July 2021: the archive has no articles",
        "September 2022: 1 matching article of 1 (100.0%)"]
    # Only periods with matches link anywhere.
    links = chart.select("a")
    assert len(links) == 5
    assert links[2]["href"] == (
        "/?q=border+OR+jermuk+OR+festival+OR+apricot+OR+chess&from=2022-09-01&to=2022-09-30")
    heights = [float(a.select_one("rect.bar")["height"]) for a in links]
    assert len(set(heights)) == 1


def test_no_timeline_for_a_single_period(client):
    assert soup(client.get("/?q=chess")).select_one("figure.timeline") is None


def test_showing_results_for_a_corrected_query(client):
    page = soup(client.get("/?q=Jermukk"))
    note = page.select_one(".suggestion")
    assert note.get_text(" ", strip=True).startswith("Showing results for jermuk")
    assert note.find_all("a")[1]["href"] == "/?q=Jermukk&exact=1"
    assert len(page.select("ol.results li")) == 2
    exact = soup(client.get("/?q=Jermukk&exact=1"))
    assert "No results" in exact.find(id="results-title").get_text()
    assert exact.select_one(".suggestion a").get_text() == "jermuk"


def test_article_page_keeps_the_readers_search(client):
    results = soup(client.get("/?q=Jermuk&sort=newest&page=1&from=2020-01-01"))
    link = next(a for a in results.select("ol.results h2 a") if "Fighting" in a.get_text())
    page = soup(client.get(link["href"]))
    assert page.find("input", attrs={"name": "q"})["value"] == "Jermuk"
    assert page.find("option", selected=True)["value"] == "newest"
    assert page.find("input", attrs={"name": "from"})["value"] == "2020-01-01"
    back = page.select_one("nav.back a")
    assert back.get_text(strip=True) == "← Back to results"
    assert back["href"] == "/?q=Jermuk&sort=newest&from=2020-01-01"
    assert [m.get_text() for m in page.select("article mark")] == ["Jermuk", "Jermuk"]
    # The related articles carry the search too, so their pages lead back to the same results.
    assert all("?q=Jermuk" in a["href"] for a in page.select(".related a"))


def test_article_page_marks_the_searched_words_in_headline_and_body(client):
    page = soup(client.get(f"/articles/{SEED.stem}?q=fighting+border"))
    assert [m.get_text() for m in page.h1.find_all("mark")] == ["Fighting", "Border"]
    assert "Fighting Continues on Armenia-Azerbaijan Border" == page.h1.get_text()
    assert {m.get_text().lower() for m in page.select("article > p mark")} >= {"fighting"}


def test_article_page_without_a_search_has_no_back_link_and_no_marks(client):
    page = soup(client.get(f"/articles/{SEED.stem}"))
    assert page.find("input", attrs={"name": "q"})["value"] == ""
    assert page.select("nav.back") == [] and page.select("mark") == []
    # A malformed carried search is dropped, not an error: the article still shows.
    response = client.get(f"/articles/{SEED.stem}?q=jermuk&from=nonsense")
    assert response.status_code == 200 and soup(response).select("nav.back") == []


def test_article_page_marks_hostile_text_escaped_once_and_inert(tmp_path, make_archive):
    payload = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    folder = write_articles(tmp_path / "a", {
        "x.txt": f"Script {payload} AT&T\n\nBody jermuk {payload} script &amp; end.",
    })
    client = make_archive([folder]).client()
    page = soup(client.get("/articles/x?q=script+jermuk+alert"))
    assert foreign_scripts(page) == [] and page.find("img") is None
    assert not any(attr.startswith("on") for tag in page.find_all(True) for attr in tag.attrs)
    assert page.h1.get_text() == f"Script {payload} AT&T"
    body = page.select("article > p")[-1].get_text()
    assert body == f"Body jermuk {payload} script &amp; end."
    shown = page.h1.get_text() + " " + body
    searched = [w for w in re.findall(r"\w+", shown) if w.lower() in ("script", "jermuk", "alert")]
    assert [m.get_text() for m in page.select("article mark")] == searched
    assert len(searched) == 11


def test_article_page_and_api_show_the_source_credit(tmp_path, make_archive):
    folder = write_articles(tmp_path / "a", {"feed.jsonl": "\n".join([
        '{"id": "wire", "headline": "Cocoa review", "body": "Showers.", "source": "reuters21578"}',
        '{"id": "plain", "headline": "No credit", "body": "Rain."}',
    ])})
    client = make_archive([folder]).client()
    credit = soup(client.get("/articles/wire")).select_one(".credit")
    assert credit.get_text() == "Source: reuters21578"
    assert soup(client.get("/articles/plain")).select_one(".credit") is None
    assert client.get("/api/articles/wire").get_json()["source"] == "reuters21578"
    assert client.get("/api/articles/plain").get_json()["source"] is None


@pytest.mark.whoosh_only  # an old Whoosh schema on disk
def test_an_index_built_without_the_credit_field_takes_new_articles_with_it(tmp_path):
    from whoosh import index as whoosh_index

    from searchapp.backends.whoosh.indexing import INDEX_NAME, make_schema, update_index

    old = make_schema()
    old.remove("credit")
    (tmp_path / "ix").mkdir()
    whoosh_index.create_in(str(tmp_path / "ix"), old, indexname=INDEX_NAME)
    folder = write_articles(tmp_path / "a", {
        "feed.jsonl": '{"id": "wire", "headline": "Cocoa", "body": "Showers.", "source": "AP"}'})
    report = update_index([folder], tmp_path / "ix")
    assert report.added == 1 and not report.skipped
    client = create_app({"INDEX_DIR": str(tmp_path / "ix")}).test_client()
    assert client.get("/api/articles/wire").get_json()["source"] == "AP"


def test_related_article_dates_stay_on_one_line(client):
    page = soup(client.get(f"/articles/{SEED.stem}"))
    assert page.select(".related .date time")
    css = client.get("/static/style.css").get_data(as_text=True)
    assert re.search(r"\.related \.date\s*\{[^}]*white-space:\s*nowrap", css)


def test_a_huge_article_page_is_bounded_with_a_note_and_a_full_text_download(tmp_path,
                                                                              make_archive):
    words = [f"w{n:05}x" for n in range(4000)]
    body = " ".join(words[(n * 7919) % len(words)] for n in range(380_000))  # about 3 MB
    folder = write_articles(tmp_path / "a", {"huge.jsonl": json.dumps(
        {"id": "huge", "headline": "A very long report", "body": "Opening jermuk. " + body})})
    client = make_archive([folder]).client()
    response = client.get("/articles/huge?q=jermuk")
    assert response.status_code == 200
    assert len(response.get_data()) < 2 * web.ARTICLE_PAGE_CHARS
    page = soup(response)
    note = page.select_one(".too-long").get_text(" ", strip=True)
    assert "too long to show in full (380,002 words)" in note
    assert f"showing the first {web.ARTICLE_PAGE_CHARS:,} characters" in note
    assert [m.get_text() for m in page.select("article mark")] == ["jermuk"]
    download = page.select_one(".too-long a")["href"]
    full = client.get(download)
    assert full.status_code == 200 and full.mimetype == "text/plain"
    assert full.headers["Content-Disposition"] == 'attachment; filename="huge.txt"'
    assert full.get_data(as_text=True) == f"A very long report\n\nOpening jermuk. {body}\n"
    assert client.get("/text/nope").status_code == 404


@pytest.mark.parametrize("query_string, field, shown", [
    ("q=border&sort=newest&from=2022-13-45", "from", "2022-13-45"),
    ("q=border&to=yesterday", "to", "yesterday"),
    ("q=border&from=2023-01-01&to=2022-01-01", "from", "2023-01-01"),
])
def test_a_bad_date_keeps_the_form_and_marks_the_field(client, query_string, field, shown):
    response = client.get("/?" + query_string)
    assert response.status_code == 400
    form = soup(response).find("form", attrs={"role": "search"})
    assert form.find("input", attrs={"name": "q"})["value"] == "border"
    assert form.find("details").has_attr("open")
    box = form.find("input", attrs={"name": field})
    assert box["value"] == shown and box["aria-invalid"] == "true"
    assert [tag["name"] for tag in form.select("[autofocus]")] == [field]
    message = form.find(id=box["aria-describedby"])
    assert field in message.get_text() and message.find_parent("label") == box.find_parent("label")
    assert [i["name"] for i in form.select("[aria-invalid]")] == [field]


def test_a_page_past_the_end_keeps_the_query_and_says_why(client):
    response = client.get("/?q=border&page=5000&sort=oldest")
    assert response.status_code == 400
    form = soup(response).find("form", attrs={"role": "search"})
    assert form.find("input", attrs={"name": "q"})["value"] == "border"
    assert form.find("option", selected=True)["value"] == "oldest"
    assert "page must be a whole number from 1 to 1,000" in form.find(id="page-error").get_text()
    # A page past the last one that exists keeps the form too, and links to the first page.
    page = soup(client.get("/?q=border&page=40&sort=oldest"))
    assert page.find("input", attrs={"name": "q"})["value"] == "border"
    assert page.find("option", selected=True)["value"] == "oldest"
    assert "/?q=border&sort=oldest" in [a["href"] for a in page.select("#live-results a")]


def test_a_bad_sort_is_marked_on_its_menu(client):
    response = client.get("/?q=border&sort=sideways")
    form = soup(response).find("form", attrs={"role": "search"})
    assert response.status_code == 400
    assert form.find("select")["aria-invalid"] == "true"
    assert "sort must be one of" in form.find(id="sort-error").get_text()


def test_not_found_article_page_keeps_the_search(client):
    response = client.get("/articles/nope?q=jermuk")
    page = soup(response)
    assert response.status_code == 404
    assert page.find("input", attrs={"name": "q"})["value"] == "jermuk"
    assert page.select_one(".notice a")["href"] == "/?q=jermuk"


def _contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours."""
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    low, high = sorted([luminance(first), luminance(second)])
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula():
    assert round(_contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(_contrast("#d9d5cc", "#fdfcf9"), 1) == 1.4  # the border the issue measured


def test_form_controls_have_3_to_1_borders_in_light_and_dark_mode(client):
    css = client.get("/static/style.css").get_data(as_text=True)
    light = dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-f]{6})", css.split("@media")[0]))
    dark_block = re.search(r"prefers-color-scheme: dark\)\s*\{\s*:root\s*\{([^}]*)\}", css).group(1)
    dark = {**light, **dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-f]{6})", dark_block))}
    for scheme in (light, dark):
        for background in ("--bg", "--panel"):
            assert _contrast(scheme["--control-border"], scheme[background]) >= 3
    rules = re.findall(r"([^{}]+)\{([^}]*)\}", css)
    for selector in ("input[type=search]", "input[type=date]", "select", "button.secondary"):
        borders = [body for names, body in rules
                   if selector in [n.strip() for n in names.split(",")] and "border:" in body]
        assert borders and all("var(--control-border)" in body for body in borders)


def test_only_the_result_count_is_announced(client):
    page = soup(client.get("/?q=Jermuk"))
    assert not page.find(id="live-results").has_attr("aria-live")
    assert [tag.get("id") for tag in page.find_all(attrs={"aria-live": True})] == ["results-status"]
    status = page.find(id="results-status")
    assert status["aria-live"] == "polite" and "visually-hidden" in status["class"]
    assert status.get_text(strip=True) == "2 results for Jermuk"


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_carried_searches_never_fail_an_article_page(client, query):
    response = client.get(f"/articles/{SEED.stem}", query_string={"q": query, "page": "2"})
    assert response.status_code == 200
    page = soup(response)
    assert page.find("input", attrs={"name": "q"})["value"] == query
    assert foreign_scripts(page) == []
