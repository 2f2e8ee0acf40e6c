"""The JSON API: the same search as the web page, for programs."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, current_app, jsonify, request, url_for

from searchapp import __version__
from searchapp.params import (
    SEARCH_PARAMETERS,
    ParamError,
    SearchParams,
    check_known,
    parse_search_params,
)
from searchapp.querylang import MAX_QUERY_CHARS, QueryError
from searchapp.results import MAX_PER_PAGE, MAX_RESULT_WINDOW, SORTS, ArticleRecord, SearchResults
from searchapp.web import archive, note_miss, run_search

bp = Blueprint("api", __name__)

# Completions change only when the index does: let browsers reuse them for a minute.
SUGGEST_CACHE_SECONDS = 60
# What url_for leaves unquoted in a query string (werkzeug's ``_urlencode``).
QUERY_SAFE = "!$'()*,/:;?@"
# Routes' paths remembered by ``_route_path`` before it starts afresh: one per endpoint
# and mount point, and a client may send any mount point through a proxy's prefix header.
MAX_REMEMBERED_PATHS = 64


def error_response(status: int, message: str, param: str | None = None):
    """Return the JSON error every API failure uses, with its HTTP status.

    The body is always ``{"error": {"status": <int>, "message": <str>}}``, plus
    ``"parameter"`` naming the offending query parameter for a 400 caused by one.
    """
    body = {"status": status, "message": message}
    if param:
        body["parameter"] = param
    return jsonify(error=body), status


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def results_json(results: SearchResults, params: SearchParams | None = None) -> dict:
    """Render search results as the API's JSON object (the CLI's ``--json`` too).

    ``params`` are the request's, kept in the ``next`` and ``prev`` links.
    """
    params = params or SearchParams(q=results.query, per_page=results.per_page,
                                    sort=results.sort)
    article_url = _article_url_maker()
    search_url = _search_url_maker()
    return {
        "query": results.query,
        "total": results.total,
        "page": results.page,
        "per_page": results.per_page,
        "pages": results.pages,
        "took_ms": round(results.took_ms, 1),
        "timed_out": not results.complete,
        "suggestion": results.suggestion,
        "corrected": results.corrected,
        "collapsed": results.collapsed,
        "partial": results.partial,
        "query_words": results.query_words,
        "required_words": results.required_words,
        "matched_all": results.matched_all,
        "relaxed": results.relaxed,
        "next": (search_url(_page_args(params, results.page + 1))
                 if results.page < results.pages else None),
        "prev": (search_url(_page_args(params, min(results.page - 1, results.pages)))
                 if results.page > 1 and results.pages else None),
        "timeline": [
            {"period": p.label, "from": p.start.isoformat(), "to": p.end.isoformat(),
             "count": p.count, "archive_total": p.total, "share": round(p.share, 4)}
            for p in results.timeline
        ],
        "results": [
            {
                "id": hit.id,
                "headline": hit.headline,
                "headline_html": hit.headline_html,
                "date": _iso(hit.date),
                "snippet": hit.snippet,
                "url": article_url(hit.id),
                "similar": _similar_json(results, hit, search_url),
                "partial": hit.partial,
            }
            for hit in results.hits
        ],
    }


def _route_path(endpoint: str, **values: str) -> str:
    """Return ``url_for(endpoint, **values)``, remembered for the app and the request's
    mount point (its script root), on which alone the path depends.

    Asked for each response, ``url_for`` ran the router's build twice a search: code
    that runs once between two searches runs cold, five times slower than in a loop
    (BENCHMARKS.md, "Session 10").
    """
    known = current_app.extensions.setdefault("searchapp.route_paths", {})
    key = (endpoint, request.script_root, *sorted(values.items()))
    path = known.get(key)
    if path is None:
        if len(known) >= MAX_REMEMBERED_PATHS:
            known.clear()
        path = known[key] = url_for(endpoint, **values)
    return path


def _article_url_maker():
    """Return a function giving an article page's address, as ``url_for`` would.

    ``url_for`` runs the router's whole build for each call: for a page of ten hits,
    a third of rendering the results as JSON. The address is the article route's
    start, and the id quoted by the route's own converter.
    """
    start = _route_path("web.article", article_id="_")[:-1]
    converter = current_app.url_map.converters["path"](current_app.url_map)
    return lambda article_id: start + converter.to_url(article_id)


def _search_url_maker():
    """Return a function giving the API address of a search, as ``url_for`` would.

    ``url_for("api.search", **args)`` runs the router's whole build for each call: with
    the next page's and the copies' links, a third of rendering the results as JSON. The
    path is the route's; the arguments are encoded as url_for encodes them (its
    ``_urlencode``: in order, None left out).
    """
    path = _route_path("api.search")

    def search_url(args: dict) -> str:
        items = [(name, value) for name, value in args.items() if value is not None]
        return f"{path}?{urlencode(items, safe=QUERY_SAFE)}" if items else path

    return search_url


def _page_args(params: SearchParams, page: int) -> dict:
    """Return the query-string arguments of another page of the same search."""
    return {
        "q": params.q, "page": page, "per_page": params.per_page, "sort": params.sort,
        "from": params.date_from.isoformat() if params.date_from else None,
        "to": params.date_to.isoformat() if params.date_to else None,
        "exact": 1 if params.exact else None, "live": 1 if params.live else None,
        "similar": params.similar,
    }


def _similar_json(results: SearchResults, hit, search_url) -> dict:
    """Describe the copies folded into a hit: how many, their ids, and where to list them."""
    url = None
    if hit.similar:
        args = {"q": results.corrected or results.query, "similar": hit.id}
        if results.date_from:
            args["from"] = results.date_from.isoformat()
        if results.date_to:
            args["to"] = results.date_to.isoformat()
        url = search_url(args)
    return {"count": len(hit.similar), "ids": hit.similar, "url": url}


def article_json(record: ArticleRecord) -> dict:
    """Render a stored article as the API's JSON object."""
    return {
        "id": record.id,
        "headline": record.headline,
        "date": _iso(record.date),
        "author": record.author,
        "caption": record.caption,
        "body": record.body,
        "paragraphs": record.paragraphs,
        "source_url": record.url,
        "source": record.credit,
        "url": url_for("web.article", article_id=record.id),
        "related": [
            {"id": r.id, "headline": r.headline, "date": _iso(r.date),
             "url": url_for("web.article", article_id=r.id)}
            for r in record.related
        ],
    }


@bp.get("/search")
def search():
    """Search the archive; see /api/openapi.json."""
    try:
        check_known(request.args)
        params = parse_search_params(request.args)
        results = run_search(params)
    except ParamError as error:
        return error_response(400, str(error), error.param)
    except QueryError as error:
        return error_response(400, str(error), "q")
    note_miss(results, params)
    return jsonify(results_json(results, params))


@bp.after_app_request
def _allow_other_sites(response):
    """Let pages on other sites read the API (CORS), as ``CORS_ORIGINS`` allows.

    ``CORS_ORIGINS`` is ``*`` (any site, the default), nothing (none), or the allowed
    origins separated by spaces or commas. Only ``/api/`` answers carry the headers; the
    API only reads, so no credentials are allowed.
    """
    if not request.path.startswith("/api/"):
        return response
    allowed = str(current_app.config.get("CORS_ORIGINS", "*")).replace(",", " ").split()
    origin = request.headers.get("Origin")
    if "*" in allowed:
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif origin and origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.vary.add("Origin")
    else:
        return response
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Accept"
        response.headers["Access-Control-Max-Age"] = "86400"
    return response


@bp.get("/suggest")
def suggest():
    """Complete the word being typed, in the OpenSearch suggestions format.

    ``/api/suggest?q=fighting arm`` gives ``["fighting arm", ["fighting armenia", ...]]``.
    """
    query = request.args.get("q", "")
    if len(query) > MAX_QUERY_CHARS:
        return error_response(400, f"q is longer than {MAX_QUERY_CHARS:,} characters", "q")
    response = jsonify([query, archive().complete(query)])
    response.cache_control.max_age = SUGGEST_CACHE_SECONDS
    return response


@bp.get("/articles/<path:article_id>")
def article(article_id: str):
    """Return one article's fields."""
    record = archive().article(article_id)
    if record is None:
        return error_response(404, f"no article with id {article_id!r}")
    return jsonify(article_json(record))


@bp.get("/openapi.json")
def openapi():
    """Return the OpenAPI 3 description of this API."""
    return jsonify(openapi_document())


def openapi_document() -> dict:
    """Describe the API in OpenAPI 3.0."""
    nullable_string = {"type": "string", "nullable": True}
    nullable_date = {"type": "string", "format": "date", "nullable": True}
    error = {"$ref": "#/components/responses/Error"}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "searchapp API",
            "version": __version__,
            "description": "Full-text search over a newspaper's archive.",
        },
        "paths": {
            "/api/search": {
                "get": {
                    "summary": "Search articles",
                    "operationId": "search",
                    "parameters": [
                        _param("q", {"type": "string", "maxLength": MAX_QUERY_CHARS},
                               "The query: words, \"phrases\", -exclude, AND/OR/NOT, "
                               "headline:/body:/caption:/author: fields, date:2022 or "
                               "date:2022-01-01..2022-06-30. Empty gives no results."),
                        _param("page", {"type": "integer", "minimum": 1, "default": 1},
                               f"Page number; pages beyond result {MAX_RESULT_WINDOW:,} "
                               "are refused."),
                        _param("per_page", {"type": "integer", "minimum": 1,
                                            "maximum": MAX_PER_PAGE, "default": 10},
                               "Results per page."),
                        _param("sort", {"type": "string", "enum": list(SORTS),
                                        "default": "relevance"}, "Order of results."),
                        _param("from", {"type": "string", "format": "date"},
                               "Only articles dated on or after this day (YYYY-MM-DD)."),
                        _param("to", {"type": "string", "format": "date"},
                               "Only articles dated on or before this day (YYYY-MM-DD)."),
                        _param("exact", {"type": "string", "enum": ["0", "1", "true", "false"],
                                         "default": "0"},
                               "1: search for exactly q, even when it finds nothing; otherwise "
                               "a query that finds nothing is corrected (see `corrected`)."),
                        _param("live", {"type": "string", "enum": ["0", "1", "true", "false"],
                                        "default": "0"},
                               "1: q is still being typed (search as you type): its last "
                               "word, unless a space follows it, is the start of a word "
                               "and is never corrected, and a search that finds nothing is "
                               "not counted in the report of searches that found nothing."),
                        _param("similar", {"type": "string"},
                               "An article id: list that article and its copies (wire "
                               "copies, reruns) that match q, instead of folding them; "
                               "see each result's `similar`."),
                    ],
                    "description": "Every word counts: the results are the articles that "
                                   "have all the words of q (three quarters of them for "
                                   "queries of more than 8 words), unless q says OR or marks "
                                   "words required with + or AND. When too few articles have "
                                   "them (see `relaxed`), articles with fewer of the words "
                                   "are included. Parameters other than these are refused "
                                   f"with a 400 naming them ({', '.join(SEARCH_PARAMETERS)}).",
                    "responses": {
                        "200": {"description": "One page of results", "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/SearchResults"}}}},
                        "400": error, "503": error,
                    },
                }
            },
            "/api/suggest": {
                "get": {
                    "summary": "Complete the word being typed",
                    "description": "OpenSearch suggestions: the query, then up to 8 queries "
                                   "whose last word is completed from the index's words, "
                                   "most common first.",
                    "operationId": "suggest",
                    "parameters": [_param("q", {"type": "string", "maxLength": MAX_QUERY_CHARS},
                                          "What has been typed so far.")],
                    "responses": {
                        "200": {"description": "[query, [completions]]", "content": {
                            "application/json": {"schema": {
                                "type": "array", "minItems": 2, "maxItems": 2,
                                "items": {"oneOf": [
                                    {"type": "string"},
                                    {"type": "array", "items": {"type": "string"}},
                                ]}}}}},
                        "400": error, "503": error,
                    },
                }
            },
            "/api/articles/{id}": {
                "get": {
                    "summary": "Get one article",
                    "operationId": "getArticle",
                    "parameters": [{"name": "id", "in": "path", "required": True,
                                    "schema": {"type": "string"},
                                    "description": "The article id from a search result."}],
                    "responses": {
                        "200": {"description": "The article", "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Article"}}}},
                        "404": error, "503": error,
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "SearchResults": {
                    "type": "object",
                    "required": ["query", "total", "page", "per_page", "pages", "took_ms",
                                 "timed_out", "suggestion", "corrected", "collapsed",
                                 "partial", "query_words", "required_words", "matched_all",
                                 "relaxed", "next", "prev", "timeline", "results"],
                    "properties": {
                        "query": {"type": "string"},
                        "total": {"type": "integer", "description":
                                  "Matching articles in all, copies of a story included."},
                        "collapsed": {"type": "integer", "description":
                                      "Matching articles folded into another result as its "
                                      "copies (among the first results compared); pages "
                                      "count total plus partial minus collapsed."},
                        "partial": {"type": "integer", "description":
                                    "Sorted by relevance, when fewer than 30 articles (or 2% "
                                    "of the archive) match: how many articles with fewer of "
                                    "the words are ranked with the matches. `total` does not "
                                    "count them; their results have `partial` true."},
                        "page": {"type": "integer"},
                        "per_page": {"type": "integer"},
                        "pages": {"type": "integer"},
                        "took_ms": {"type": "number"},
                        "timed_out": {"type": "boolean", "description":
                                      "True when the time limit stopped the search: the "
                                      "results are the best found by then and `total` is "
                                      "a lower bound."},
                        "suggestion": {**nullable_string, "description":
                                       "A corrected query, when it finds something where q "
                                       "found nothing, has all its words where q did not, or "
                                       "finds ten times as many articles (and at least 20)."},
                        "corrected": {**nullable_string, "description":
                                      "When q found nothing and a close spelling did, the "
                                      "query whose results these are; else null."},
                        "query_words": {"type": "integer", "description":
                                        "How many words and phrases of q are matched "
                                        "(stop words, excluded and required words aside)."},
                        "required_words": {"type": "integer", "description":
                                           "How many of them every result has at least."},
                        "matched_all": {"type": "boolean", "description":
                                        "True when every result has every one of them."},
                        "relaxed": {"type": "boolean", "description":
                                    "True when no article had the words q asks for, and the "
                                    "results are the articles with most of them "
                                    "(`required_words` of `query_words`)."},
                        "next": {**nullable_string,
                                 "description": "The address of the next page, if any."},
                        "prev": {**nullable_string,
                                 "description": "The address of the previous page, if any."},
                        "timeline": {"type": "array", "description":
                                     "Matching articles per year (per month when the matches "
                                     "span less than two years, per day within a month), "
                                     "oldest first.",
                                     "items": {"$ref": "#/components/schemas/Period"}},
                        "results": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
                    },
                },
                "Period": {
                    "type": "object",
                    "required": ["period", "from", "to", "count", "archive_total", "share"],
                    "properties": {
                        "period": {"type": "string",
                                   "description": "YYYY, YYYY-MM or YYYY-MM-DD"},
                        "from": {"type": "string", "format": "date"},
                        "to": {"type": "string", "format": "date"},
                        "count": {"type": "integer"},
                        "archive_total": {"type": "integer", "description":
                                          "Articles the archive holds in the period."},
                        "share": {"type": "number", "description":
                                  "count / archive_total (0 when the archive has none)."},
                    },
                },
                "Hit": {
                    "type": "object",
                    "required": ["id", "headline", "headline_html", "date", "snippet", "url",
                                 "similar", "partial"],
                    "properties": {
                        "id": {"type": "string"},
                        "headline": {"type": "string"},
                        "headline_html": {"type": "string", "description":
                                          "HTML: the headline escaped, matches in <mark>."},
                        "date": nullable_date,
                        "snippet": {"type": "string", "description":
                                    "HTML: matches in <mark>, everything else escaped."},
                        "url": {"type": "string", "description": "The article's page."},
                        "similar": {"type": "object", "required": ["count", "ids", "url"],
                                    "description": "Copies of this story folded into it.",
                                    "properties": {
                                        "count": {"type": "integer"},
                                        "ids": {"type": "array", "items": {"type": "string"}},
                                        "url": {**nullable_string, "description":
                                                "This search listing them (null if none)."},
                                    }},
                        "partial": {"type": "boolean", "description":
                                    "True for an article with fewer of the words than the "
                                    "matches (see `partial` above)."},
                    },
                },
                "Article": {
                    "type": "object",
                    "required": ["id", "headline", "date", "body", "paragraphs", "url", "related"],
                    "properties": {
                        "id": {"type": "string"},
                        "headline": {"type": "string"},
                        "date": nullable_date,
                        "author": nullable_string,
                        "caption": nullable_string,
                        "body": {"type": "string", "description": "Plain text; paragraphs "
                                 "separated by a blank line."},
                        "paragraphs": {"type": "array", "items": {"type": "string"}},
                        "source_url": {**nullable_string,
                                       "description": "Where the article was published."},
                        "source": {**nullable_string, "description":
                                   "Who supplied the article (a wire service, a paper)."},
                        "url": {"type": "string", "description": "The article's page here."},
                        "related": {"type": "array", "items": {
                            "type": "object",
                            "required": ["id", "headline", "date", "url"],
                            "properties": {"id": {"type": "string"}, "headline": {"type": "string"},
                                           "date": nullable_date, "url": {"type": "string"}}}},
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {
                        "type": "object",
                        "required": ["status", "message"],
                        "properties": {
                            "status": {"type": "integer"},
                            "message": {"type": "string"},
                            "parameter": {"type": "string",
                                          "description": "The parameter at fault."},
                        },
                    }},
                },
            },
            "responses": {
                "Error": {"description": "An error, with a message that says what is wrong",
                          "content": {"application/json": {
                              "schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        },
    }


def _param(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}
