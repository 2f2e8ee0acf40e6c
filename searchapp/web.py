"""The Flask app: the reader's search page and article pages, plus the JSON API."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import datetime, timezone
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.exceptions import HTTPException

from searchapp import __version__, config, observability
from searchapp.backends import Archive, IndexDamaged, IndexUnavailable, open_archive
from searchapp.params import ParamError, SearchParams, parse_search_params
from searchapp.querylang import QueryError
from searchapp.results import SearchResults
from searchapp.textsafety import safe_text

FEED_ENTRIES = 20
# An article page shows this much of the body; the rest is in its plain-text download.
ARTICLE_PAGE_CHARS = 100_000
# The plain-text download is sent in pieces of this many characters.
TEXT_CHUNK_CHARS = 64 * 1024

bp = Blueprint("web", __name__)

# Sent with every response: nothing on our pages may come from elsewhere or run inline.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
        "img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def create_app(overrides: dict | None = None) -> Flask:
    """Create the app: documented defaults, then SEARCHAPP_* variables, then ``overrides``.

    Settings: ``INDEX_DIR`` (the index folder, default ``index``); ``BASE_URL`` (the public
    address for absolute links, default: the request's own host); ``CORS_ORIGINS`` (the
    sites whose pages may read ``/api/``: ``*``, the default, for any; empty for none);
    ``OPENSEARCH_URL`` (a cluster's address, or several comma-separated: the archive is
    then searched there, not in ``INDEX_DIR``) and ``OPENSEARCH_INDEX`` (its index or
    alias, default ``searchapp``).

    :raises config.ConfigError: when a setting cannot be used.
    """
    app = Flask(__name__)
    app.config.update(INDEX_DIR=config.DEFAULT_INDEX_DIR, BASE_URL=None, CORS_ORIGINS="*",
                      OPENSEARCH_URL=None, OPENSEARCH_INDEX=None)
    app.config.from_prefixed_env("SEARCHAPP", loads=str)
    app.config.update(overrides or {})
    app.config["BASE_URL"] = config.check_base_url(app.config["BASE_URL"])
    app.extensions["archive"] = open_archive(app.config["INDEX_DIR"],
                                             app.config["OPENSEARCH_URL"],
                                             app.config["OPENSEARCH_INDEX"])
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    from searchapp.api import bp as api_bp
    from searchapp.api import error_response

    app.register_blueprint(bp)
    app.register_blueprint(api_bp, url_prefix="/api")
    app.after_request(_add_security_headers)
    observability.init_app(app)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        # A 405 says which methods the address takes (RFC 9110 requires it).
        allow = {k: v for k, v in error.get_headers() if k == "Allow"}
        if request.path.startswith("/api/"):
            body, status = error_response(error.code or 500, error.description or error.name)
            return body, status, allow
        page = render_template("message.html", title=error.name, message=error.description,
                               params=carried_search())
        return page, error.code, allow

    @app.errorhandler(IndexUnavailable)
    def no_index(error: IndexUnavailable):
        if request.path.startswith("/api/"):
            return error_response(503, str(error))
        title = "Archive unavailable" if isinstance(error, IndexDamaged) else "No index yet"
        return render_template("message.html", title=title, message=str(error),
                               params=carried_search()), 503

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unexpected error on %s", request.path)
        message = "Something went wrong on our side. Please try again."
        if request.path.startswith("/api/"):
            return error_response(500, message)
        return render_template("message.html", title="Server error", message=message,
                               params=None), 500

    app.jinja_env.globals.update(version=__version__, page_url=page_url, article_url=article_url,
                                 feed_url=feed_url)
    return app


def archive() -> Archive:
    """Return the app's archive (opened once per process)."""
    return current_app.extensions["archive"]


def _add_security_headers(response):
    # Each header the view did not set itself. One look at the response's headers, not
    # three per header as ``Headers.setdefault`` makes: 20 of 39 us a response.
    present = {name.lower() for name in response.headers.keys()}
    response.headers.extend([(name, value) for name, value in SECURITY_HEADERS.items()
                             if name.lower() not in present])
    return response


def external_url(endpoint: str, **values) -> str:
    """Return the absolute URL of ``endpoint``: under BASE_URL when it is set.

    Without BASE_URL the host comes from the request, that is from its Host header.
    """
    base = current_app.config.get("BASE_URL")
    if not base:
        return url_for(endpoint, _external=True, **values)
    parts = urlsplit(base)
    adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/",
                                       url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)


def page_url(params, **changes) -> str:
    """Return the URL of the results page for ``params`` with some of them changed."""
    query = _search_args(params, **changes)
    return url_for("web.search") + ("?" + urlencode(query) if query else "")


def article_url(article_id: str, params: SearchParams | None = None) -> str:
    """Return an article page's URL that carries the reader's search, to mark it and go back."""
    url = url_for("web.article", article_id=article_id)
    query = _search_args(params) if params and params.q.strip() else {}
    return url + ("?" + urlencode(query) if query else "")


def carried_search() -> SearchParams | None:
    """Return the search a page's address carries, or None when it carries none or a bad one."""
    try:
        params = parse_search_params(request.args, allow_per_page=False)
    except ParamError:
        return None
    return params if params.q.strip() else None


def _search_args(params, **changes) -> dict:
    """Return the query-string arguments of a search, leaving out those at their defaults."""
    values = {
        "q": params.q, "sort": params.sort, "page": params.page, "exact": int(params.exact),
        "from": params.date_from.isoformat() if params.date_from else "",
        "to": params.date_to.isoformat() if params.date_to else "",
        "similar": params.similar or "",
    }
    values.update(changes)
    defaults = {"sort": "relevance", "page": 1, "exact": 0}
    return {k: v for k, v in values.items() if v and defaults.get(k) != v}


def feed_url(params, external: bool = False) -> str:
    """Return the address of the Atom feed for ``params``: the query and its dates."""
    query = {k: v for k, v in _search_args(params).items() if k in ("q", "from", "to")}
    if external:
        return external_url("web.feed", **query)
    return url_for("web.feed", **query)


@bp.get("/")
def search():
    """The search page: a search box, and results when there is a query."""
    try:
        params = parse_search_params(request.args, allow_per_page=False)
    except ParamError as error:
        return render_template("search.html", params=None, error=str(error), results=None,
                               error_param=error.param), 400
    if not params.q.strip():
        return render_template("search.html", params=params, results=None,
                               total_articles=archive().count())
    try:
        results = run_search(params)
    except QueryError as error:
        return render_template("search.html", params=params, error=str(error), results=None,
                               error_param="q"), 400
    note_miss(results, params)
    return render_template("search.html", params=params, results=results)


def run_search(params: SearchParams) -> SearchResults:
    """Search with checked parameters: the one call the page, the API and the feed share."""
    return archive().search(params.q, params.page, params.per_page, params.sort,
                            params.date_from, params.date_to, correct=not params.exact,
                            typing=params.live, similar_to=params.similar)


def note_miss(results: SearchResults, params: SearchParams | None = None) -> None:
    """Count a search that found nothing, for `searchapp report`; never fail a request.

    Searches made while typing (``live``) are not a reader's own and are not counted.
    """
    if results.total or results.page > 1 or not results.query.strip():
        return
    if params is not None and params.live:
        return
    try:
        archive().record_miss(results.query)
    except OSError as error:
        current_app.logger.warning("cannot record a zero-result search: %s", error)


@bp.get("/articles/<path:article_id>")
def article(article_id: str):
    """One article, with the reader's search marked in it, a way back and articles like it.

    The search comes in the address (``?q=...&page=2``, as result links carry it); a
    body longer than ``ARTICLE_PAGE_CHARS`` is shown in part, the rest in its text download.
    """
    record = archive().article(article_id)
    params = carried_search()
    if record is None:
        return _article_not_found(params)
    paragraphs, cut = record.excerpt(ARTICLE_PAGE_CHARS)
    headline, *marked = archive().mark(params.q if params else "",
                                       [record.headline, *paragraphs])
    return render_template(
        "article.html", article=record, params=params, headline=headline, paragraphs=marked,
        cut=cut, words=record.words if cut else None, shown_chars=ARTICLE_PAGE_CHARS,
        back_url=page_url(params) if params else None,
    )


@bp.get("/text/<path:article_id>")
def article_text(article_id: str):
    """An article's headline and whole body as a plain-text download, sent in pieces."""
    record = archive().article(article_id, related=False)
    if record is None:
        return _article_not_found(carried_search())
    text = f"{record.headline}\n\n{record.body}\n"

    def pieces():
        for start in range(0, len(text), TEXT_CHUNK_CHARS):
            yield text[start:start + TEXT_CHUNK_CHARS].encode("utf-8", "replace")

    name = re.sub(r"[^A-Za-z0-9._-]+", "-", article_id.rsplit("/", 1)[-1]).strip(".-")
    return Response(stream_with_context(pieces()), mimetype="text/plain", headers={
        "Content-Disposition": f'attachment; filename="{name[:100] or "article"}.txt"',
    })


def _article_not_found(params: SearchParams | None):
    return render_template(
        "message.html", title="Article not found", params=params,
        message="There is no article at this address. "
                "It may have been removed from the archive.",
    ), 404


@bp.get("/feed")
def feed():
    """An Atom feed of the newest articles that match ``q``, for feed readers.

    Without ``q``, the newest articles of the archive (within ``from`` and ``to``).
    """
    try:
        params = replace(parse_search_params(request.args, allow_per_page=False),
                         page=1, per_page=FEED_ENTRIES, sort="newest", live=False)
        results = archive().search(params.q, 1, FEED_ENTRIES, "newest", params.date_from,
                                   params.date_to, correct=not params.exact, everything=True,
                                   similar_to=params.similar)
    except (ParamError, QueryError) as error:
        return render_template("message.html", title="Bad feed address", message=str(error),
                               params=None), 400
    stats = archive().stats()
    fallback = stats.last_commit if stats and stats.last_commit else datetime.now(timezone.utc)
    entries = []
    for hit in results.hits:
        moment = fallback
        if hit.date:
            moment = datetime(hit.date.year, hit.date.month, hit.date.day, tzinfo=timezone.utc)
        entries.append({
            "url": external_url("web.article", article_id=hit.id),
            "title": hit.headline or "Untitled",
            "updated": _rfc3339(moment),
            "summary": hit.snippet + _similar_note(params, hit),
        })
    updated = max((e["updated"] for e in entries), default=_rfc3339(fallback))
    # XML 1.0 cannot hold every character a query can: a control makes the feed ill-formed.
    title = f"Archive search: {safe_text(params.q)}" if params.q.strip() else "Archive search"
    body = render_template(
        "feed.xml", entries=entries, title=title, updated=updated,
        feed_id=feed_url(params, external=True),
        self_url=feed_url(params, external=True),
        page_url=external_url("web.search", q=params.q, sort="newest",
                              **{"from": params.date_from, "to": params.date_to}),
    )
    return body, 200, {"Content-Type": "application/atom+xml; charset=utf-8"}


def _similar_note(params: SearchParams, hit) -> str:
    """Return the HTML that tells a feed reader of the copies folded into an entry."""
    if not hit.similar:
        return ""
    count = len(hit.similar)
    args = _search_args(replace(params, page=1), similar=hit.id, sort="newest")
    link = html.escape(external_url("web.search", **args), quote=True)
    label = f"{count} similar article{'' if count == 1 else 's'}"
    return f' <a href="{link}">{label}</a>'


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@bp.get("/opensearch.xml")
def opensearch():
    """The OpenSearch description that lets browsers add this search to their search box."""
    body = render_template(
        "opensearch.xml",
        search_url=external_url("web.search"),
        suggest_url=external_url("api.suggest"),
        feed_url=external_url("web.feed"),
    )
    return body, 200, {"Content-Type": "application/opensearchdescription+xml; charset=utf-8"}


@bp.get("/healthz")
def healthz():
    """Say whether the service can search, with the index's size and last commit."""
    health = archive().health()
    stats = health.stats
    body = {"status": health.status, "engine": archive().engine, **health.details}
    if health.reason:
        body["reason"] = health.reason
    body.update(articles=stats.articles if stats else 0,
                last_commit=stats.last_commit.isoformat() if stats and stats.last_commit
                else None,
                version=__version__)
    return jsonify(body), 200 if health.ok else 503
