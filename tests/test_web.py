import pytest
from bs4 import BeautifulSoup

from conftest import SEED, write_articles
from searchapp import create_app
from searchapp.indexing import update_index

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
    assert seed.h2.a["href"] == f"/articles/{SEED.stem}"
    assert seed.find("time")["datetime"] == "2022-09-14"
    # One sentence, short: a second passage only when it shows another query word.
    assert [m.get_text() for m in seed.select(".snippet mark")] == ["Jermuk"]
    assert len(seed.select_one(".snippet").get_text()) <= 230


def test_results_page_reports_time_taken(client):
    title = soup(client.get("/?q=Jermuk")).find(id="results-title").get_text(" ", strip=True)
    assert title.endswith("ms)")


def test_pagination_links_keep_the_query_and_filters(client):
    page = soup(client.get("/?q=border+jermuk+festival+apricot+chess&sort=newest"))
    assert len(page.select("ol.results li")) == 6
    # Six results fit on one page: no pagination.
    assert page.select("nav.pagination") == []


def test_pagination_across_pages(tmp_path):
    folder = write_articles(tmp_path / "a", {f"n{i:02}.txt": f"Story {i}\n\nAbout apricots {i}." for i in range(25)})
    update_index([folder], tmp_path / "ix")
    client = create_app({"INDEX_DIR": str(tmp_path / "ix")}).test_client()
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


def test_article_page_links_the_source_only_when_safe(tmp_path):
    folder = write_articles(tmp_path / "a", {"feed.jsonl": "\n".join([
        '{"id": "good", "headline": "Good", "body": "x", "url": "https://example.com/a"}',
        '{"id": "bad", "headline": "Bad", "body": "x", "url": "javascript:alert(1)"}',
    ])})
    update_index([folder], tmp_path / "ix")
    client = create_app({"INDEX_DIR": str(tmp_path / "ix")}).test_client()
    assert soup(client.get("/articles/good")).select_one(".source a")["href"] == "https://example.com/a"
    assert soup(client.get("/articles/bad")).select_one(".source") is None


@pytest.mark.parametrize("path", ["/articles/nope", "/articles/../etc/passwd", "/articles/%2e%2e%2f",
                                  "/articles/" + "a" * 5000, "/nowhere"])
def test_unknown_pages_are_404_pages(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "text/html" in response.content_type


def test_wrong_method_is_405(client):
    assert client.post("/?q=x").status_code == 405


def test_article_with_markup_is_rendered_inert(tmp_path):
    payload = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    folder = write_articles(tmp_path / "a", {
        "x.txt": f"Headline {payload}\n\nBody jermuk {payload} end.",
    })
    update_index([folder], tmp_path / "ix")
    client = create_app({"INDEX_DIR": str(tmp_path / "ix")}).test_client()
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
    response = client.get("/?q=jermuk&" + query_string if "q=" not in query_string else "/?" + query_string)
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


def test_missing_index_gives_a_page_saying_how_to_build_it(tmp_path):
    client = create_app({"INDEX_DIR": str(tmp_path / "none")}).test_client()
    response = client.get("/?q=jermuk")
    assert response.status_code == 503
    assert "searchapp index" in soup(response).get_text()


ATOM = "{http://www.w3.org/2005/Atom}"


def test_atom_feed_of_a_search_is_valid_and_newest_first(client):
    import xml.etree.ElementTree as ET

    response = client.get("/feed?q=border+jermuk")
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


def test_feed_escapes_hostile_text(tmp_path):
    import xml.etree.ElementTree as ET

    folder = write_articles(tmp_path / "a", {"x.txt": "Bad <b>&amp; ]]> title\n\nBody jermuk <script>x</script>."})
    update_index([folder], tmp_path / "ix")
    client = create_app({"INDEX_DIR": str(tmp_path / "ix")}).test_client()
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


def test_healthz(client, tmp_path):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["articles"] == 6 and body["version"]
    assert body["last_commit"][:4].isdigit()
    missing = create_app({"INDEX_DIR": str(tmp_path / "none")}).test_client().get("/healthz")
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
    page = soup(client.get("/?q=border+jermuk+festival+apricot+chess"))
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
        "/?q=border+jermuk+festival+apricot+chess&from=2022-09-01&to=2022-09-30")
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
