import pytest
from conftest import SEED
from flask import url_for
from hypothesis import given, settings
from hypothesis import strategies as st
from test_web import HOSTILE_QUERIES

from searchapp import create_app
from searchapp.api import _article_url_maker, _search_url_maker

RESULT_KEYS = ["query", "total", "page", "per_page", "pages", "took_ms", "timed_out", "suggestion",
               "corrected", "collapsed", "partial", "query_words", "required_words", "matched_all",
               "relaxed", "next", "prev", "timeline", "results"]


def test_search_returns_the_documented_shape(client):
    body = client.get("/api/search?q=Jermuk").get_json()
    assert list(body) == RESULT_KEYS
    assert (body["query"], body["total"], body["page"], body["per_page"], body["pages"]) == (
        "Jermuk", 2, 1, 10, 1)
    assert isinstance(body["took_ms"], float) and body["suggestion"] is None
    seed = next(r for r in body["results"] if r["id"] == SEED.stem)
    assert seed == {
        "id": SEED.stem,
        "headline": "Fighting Continues on Armenia-Azerbaijan Border",
        "headline_html": "Fighting Continues on Armenia-Azerbaijan Border",
        "date": "2022-09-14",
        "snippet": seed["snippet"],
        "url": f"/articles/{SEED.stem}",
        "similar": {"count": 0, "ids": [], "url": None},
        "partial": False,
    }
    assert "<mark>Jermuk</mark>" in seed["snippet"]


def test_search_matches_the_web_page(client):
    api_ids = [r["id"] for r in client.get("/api/search?q=border+jermuk").get_json()["results"]]
    html = client.get("/?q=border+jermuk").get_data(as_text=True)
    # The page's links carry the search (issue 14.7): match up to the query string.
    positions = [html.index(f'href="/articles/{i}?') for i in api_ids]
    assert positions == sorted(positions)


def test_undated_articles_have_null_dates(client):
    results = client.get("/api/search?q=apricot").get_json()["results"]
    assert results[0]["id"] == "undated-recipe" and results[0]["date"] is None


def test_paging_sort_and_dates(client):
    query = "/api/search?q=border+OR+jermuk+OR+festival+OR+apricot+OR+chess"
    body = client.get(query + "&per_page=2&page=2&sort=newest").get_json()
    assert (body["total"], body["pages"], body["per_page"]) == (6, 3, 2)
    assert [r["id"] for r in body["results"]] == [SEED.stem, "feed-2"]
    body = client.get(query + "&from=2023-01-01&to=2023-03-31").get_json()
    assert [r["id"] for r in body["results"]] == ["border-talks"]


def test_suggestion(client):
    assert client.get("/api/search?q=Jermukk&exact=1").get_json()["suggestion"] == "jermuk"
    assert client.get("/api/search?q=Jermukk+spa").get_json()["suggestion"] == "jermuk spa"


def test_empty_query_finds_nothing(client):
    body = client.get("/api/search?q=").get_json()
    assert (body["total"], body["results"]) == (0, [])


@pytest.mark.parametrize(
    ("query_string", "parameter"),
    [
        ("page=0", "page"), ("page=x", "page"), ("page=1001", "page"), ("per_page=0", "per_page"),
        ("per_page=51", "per_page"), ("per_page=-5", "per_page"), ("per_page=50&page=201", "page"),
        ("sort=best", "sort"), ("from=2022-02-30", "from"), ("to=tomorrow", "to"),
        ("from=2023-01-01&to=2022-01-01", "from"), ("q=a&q=b", "q"),
        ("per_page=1&per_page=2", "per_page"),
        ("q=date:soon", "q"), ("q=" + "x" * 2001, "q"),
        # Issue 14: unknown parameters and yes/no words outside the spec were ignored.
        ("q=x&limit=3", "limit"), ("q=x&offset=20", "offset"), ("exact=yes", "exact"),
        ("live=2", "live"),
    ],
)
def test_bad_parameters_give_a_400_that_names_them(client, query_string, parameter):
    response = client.get("/api/search?" + query_string)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["status"] == 400 and error["parameter"] == parameter and error["message"]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_queries_give_json(client, query):
    response = client.get("/api/search", query_string={"q": query})
    assert response.status_code in (200, 400)
    body = response.get_json()
    assert "results" in body or "error" in body


def test_snippets_are_escaped_html(tmp_path, make_archive):
    from conftest import write_articles

    folder = write_articles(
        tmp_path / "a", {"x.txt": "T\n\nSay <b onclick=x>jermuk</b> & <i>more</i>."})
    client = make_archive([folder]).client()
    snippet = client.get("/api/search?q=jermuk").get_json()["results"][0]["snippet"]
    assert snippet == (
        "Say &lt;b onclick=x&gt;<mark>jermuk</mark>&lt;/b&gt; &amp; &lt;i&gt;more&lt;/i&gt;.")


def test_article_fields(client):
    body = client.get(f"/api/articles/{SEED.stem}").get_json()
    assert body["headline"] == "Fighting Continues on Armenia-Azerbaijan Border"
    assert body["date"] == "2022-09-14"
    assert body["caption"].endswith("May 17, 2021")
    assert body["paragraphs"][0].startswith("YEREVAN") and body["body"].startswith("YEREVAN")
    assert body["url"] == f"/articles/{SEED.stem}" and body["source_url"] is None
    assert {"id", "headline", "date", "url"} == set(body["related"][0])


def test_unknown_article_and_path_are_json_404s(client):
    for path in ("/api/articles/nope", "/api/nowhere"):
        response = client.get(path)
        assert response.status_code == 404 and response.get_json()["error"]["status"] == 404


def test_wrong_method_is_a_json_405(client):
    response = client.post("/api/search?q=x")
    assert response.status_code == 405 and response.get_json()["error"]["status"] == 405


def test_missing_index_is_a_json_503(tmp_path, make_archive):
    client = make_archive(name="none").app().test_client()
    response = client.get("/api/search?q=x")
    assert response.status_code == 503
    assert "searchapp index" in response.get_json()["error"]["message"]


def test_openapi_describes_exactly_the_api(client, app):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    search = spec["paths"]["/api/search"]["get"]
    assert [p["name"] for p in search["parameters"]] == [
        "q", "page", "per_page", "sort", "from", "to", "exact", "live", "similar"]
    hit_schema = spec["components"]["schemas"]["SearchResults"]
    assert hit_schema["required"] == RESULT_KEYS
    assert spec["components"]["schemas"]["Hit"]["required"] == [
        "id", "headline", "headline_html", "date", "snippet", "url", "similar", "partial"]
    article = client.get(f"/api/articles/{SEED.stem}").get_json()
    assert set(spec["components"]["schemas"]["Article"]["properties"]) == set(article)
    api_rules = {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/")}
    documented = {p.replace("{id}", "<path:article_id>") for p in spec["paths"]}
    assert api_rules - {"/api/openapi.json"} == documented


def test_suggest_returns_opensearch_completions(client):
    response = client.get("/api/suggest?q=fighting%20jer")
    assert response.get_json() == ["fighting jer", ["fighting jermuk"]]
    assert client.get("/api/suggest?q=").get_json() == ["", []]
    assert client.get("/api/suggest?q=" + "x" * 2001).status_code == 400


def test_timeline_and_correction_in_the_json(client):
    body = client.get("/api/search?q=border+OR+jermuk+OR+festival+OR+apricot+OR+chess").get_json()
    # The matches span less than two years (2021-06 to 2023-05): counted by month.
    assert body["timeline"][0] == {"period": "2021-06", "from": "2021-06-01", "to": "2021-06-30",
                                   "count": 1, "archive_total": 1, "share": 1.0}
    assert len(body["timeline"]) == 24 and sum(p["count"] for p in body["timeline"]) == 5
    body = client.get("/api/search?q=Jermukk").get_json()
    assert body["corrected"] == "jermuk" and body["total"] == 2
    body = client.get("/api/search?q=Jermukk&exact=1").get_json()
    assert (body["corrected"], body["total"], body["suggestion"]) == (None, 0, "jermuk")


def test_unknown_parameter_error_lists_the_accepted_ones(client):
    error = client.get("/api/search?q=border&limit=3").get_json()["error"]
    assert "'limit'" in error["message"]
    assert "q, page, per_page, sort, from, to, exact, live" in error["message"]


def test_wrong_method_says_which_are_allowed(client):
    response = client.post("/api/search?q=x")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}
    assert "GET" in client.delete("/").headers["Allow"]


def test_the_api_can_be_read_from_other_sites(client):
    response = client.get("/api/search?q=jermuk", headers={"Origin": "https://news.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in client.get("/?q=jermuk").headers
    preflight = client.options("/api/search", headers={
        "Origin": "https://news.example", "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 200
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]


def test_cors_origins_can_be_limited(index_dir):
    app = create_app({"INDEX_DIR": str(index_dir), "CORS_ORIGINS": "https://a.example"})
    client = app.test_client()
    allowed = client.get("/api/search?q=x", headers={"Origin": "https://a.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert "Origin" in allowed.headers["Vary"]
    other = client.get("/api/search?q=x", headers={"Origin": "https://b.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    closed = create_app({"INDEX_DIR": str(index_dir), "CORS_ORIGINS": ""}).test_client()
    assert "Access-Control-Allow-Origin" not in closed.get("/api/search?q=x").headers


def test_next_and_prev_links_keep_the_search(client):
    query = "/api/search?q=border+OR+jermuk+OR+festival&per_page=2&sort=newest&from=2021-01-01"
    first = client.get(query).get_json()
    assert first["prev"] is None and first["pages"] == 2
    second = client.get(first["next"]).get_json()
    assert second["page"] == 2 and second["query"] == first["query"]
    assert "sort=newest" in first["next"] and "from=2021-01-01" in first["next"]
    assert client.get(second["prev"]).get_json()["results"] == first["results"]
    assert second["next"] is None


def test_links_carry_the_mount_point_each_request_comes_through(client):
    query = "/api/search?q=border+OR+jermuk+OR+festival&per_page=2"
    for mount in ("/archive", "", "/other", "/archive"):
        body = client.get(query, environ_overrides={"SCRIPT_NAME": mount}).get_json()
        assert body["next"].startswith(f"{mount}/api/search?")
        assert all(hit["url"].startswith(f"{mount}/articles/") for hit in body["results"])


def test_every_word_counts_in_the_json(client):
    body = client.get("/api/search?q=border+commission").get_json()
    assert [r["id"] for r in body["results"]] == ["border-talks"]
    assert (body["query_words"], body["required_words"], body["matched_all"],
            body["relaxed"]) == (2, 2, True, False)
    body = client.get("/api/search?q=border+commission+zebra").get_json()
    assert body["relaxed"] and not body["matched_all"] and body["required_words"] == 2


@pytest.mark.whoosh_only  # sets the Whoosh engine's own time limit
def test_a_search_cut_short_says_so(client, monkeypatch):
    import searchapp.backends.whoosh.archive as searching

    monkeypatch.setattr(searching, "SEARCH_SECONDS", 0.0)
    assert client.get("/api/search?q=border+OR+jermuk").get_json()["timed_out"] is True


def test_live_search_reads_the_last_word_as_a_prefix(client):
    body = client.get("/api/search?q=jer&live=1").get_json()
    assert body["total"] == 2 and body["corrected"] is None
    assert client.get("/api/search?q=jer").get_json()["total"] == 0



@pytest.fixture(scope="module")
def bare_app(tmp_path_factory):
    """An app without an index: enough to build addresses."""
    return create_app({"INDEX_DIR": str(tmp_path_factory.mktemp("no-index"))})


@settings(max_examples=300, deadline=None)
@given(article_id=st.text(min_size=1, max_size=30))
def test_result_urls_are_url_fors_addresses(bare_app, article_id):
    # The results' article addresses are built without url_for, for speed: they must be
    # the very addresses url_for gives, whatever the id holds (slashes, "?", "%", accents),
    # also under a path prefix.
    for root in ("", "/archive"):
        with bare_app.test_request_context("/api/search", base_url=f"http://h{root}/"):
            expected = url_for("web.article", article_id=article_id)
            assert expected.startswith(f"{root}/articles/")
            assert _article_url_maker()(article_id) == expected


# Values a search link may carry: texts of any kind, numbers, and missing ones.
LINK_VALUES = st.one_of(st.none(), st.text(max_size=20), st.integers(min_value=0))


@settings(max_examples=300, deadline=None)
@given(args=st.dictionaries(st.sampled_from(["q", "page", "per_page", "sort", "from", "to",
                                             "exact", "live", "similar"]),
                            LINK_VALUES, max_size=9))
def test_search_links_are_url_fors_addresses(bare_app, args):
    # The next page's and the copies' links are built without url_for, for speed: they
    # must be the very addresses url_for gives, whatever the values hold, in the same
    # order, also under a path prefix.
    for root in ("", "/archive"):
        with bare_app.test_request_context("/api/search", base_url=f"http://h{root}/"):
            expected = url_for("api.search", **args)
            assert expected.startswith(f"{root}/api/search")
            assert _search_url_maker()(args) == expected
