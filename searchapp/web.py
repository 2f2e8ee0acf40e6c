"""The Flask app: the reader's search page and article pages, plus the JSON API."""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import datetime, timezone
from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, jsonify, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from searchapp import __version__, config, reports
from searchapp.indexing import index_stats
from searchapp.params import ParamError, SearchParams, parse_search_params
from searchapp.querylang import QueryError
from searchapp.searching import Archive, IndexUnavailable, SearchResults

FEED_ENTRIES = 20

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

    Settings: ``INDEX_DIR`` (the index folder, default ``index``).
    """
    app = Flask(__name__)
    app.config.update(INDEX_DIR=config.DEFAULT_INDEX_DIR)
    app.config.from_prefixed_env("SEARCHAPP", loads=str)
    app.config.update(overrides or {})
    app.extensions["archive"] = Archive(app.config["INDEX_DIR"])
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    from searchapp.api import bp as api_bp
    from searchapp.api import error_response

    app.register_blueprint(bp)
    app.register_blueprint(api_bp, url_prefix="/api")
    app.after_request(_add_security_headers)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if request.path.startswith("/api/"):
            return error_response(error.code or 500, error.description or error.name)
        page = render_template("message.html", title=error.name, message=error.description)
        return page, error.code

    @app.errorhandler(IndexUnavailable)
    def no_index(error: IndexUnavailable):
        if request.path.startswith("/api/"):
            return error_response(503, str(error))
        return render_template("message.html", title="No index yet", message=str(error)), 503

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unexpected error on %s", request.path)
        message = "Something went wrong on our side. Please try again."
        if request.path.startswith("/api/"):
            return error_response(500, message)
        return render_template("message.html", title="Server error", message=message), 500

    app.jinja_env.globals.update(version=__version__, page_url=page_url)
    return app


def archive() -> Archive:
    """Return the app's archive (opened once per process)."""
    return current_app.extensions["archive"]


def _add_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def page_url(params, **changes) -> str:
    """Return the URL of the results page for ``params`` with some of them changed."""
    values = {
        "q": params.q, "sort": params.sort, "page": params.page, "exact": int(params.exact),
        "from": params.date_from.isoformat() if params.date_from else "",
        "to": params.date_to.isoformat() if params.date_to else "",
        "similar": params.similar or "",
    }
    values.update(changes)
    defaults = {"sort": "relevance", "page": 1, "exact": 0}
    query = {k: v for k, v in values.items() if v and defaults.get(k) != v}
    return url_for("web.search") + ("?" + urlencode(query) if query else "")


@bp.get("/")
def search():
    """The search page: a search box, and results when there is a query."""
    try:
        params = parse_search_params(request.args, allow_per_page=False)
    except ParamError as error:
        return render_template("search.html", params=None, error=str(error), results=None), 400
    if not params.q.strip():
        return render_template("search.html", params=params, results=None,
                               total_articles=archive().count())
    try:
        results = run_search(params)
    except QueryError as error:
        return render_template("search.html", params=params, error=str(error), results=None), 400
    note_miss(results)
    return render_template("search.html", params=params, results=results)


def run_search(params: SearchParams) -> SearchResults:
    """Search with checked parameters: the one call the page, the API and the feed share."""
    return archive().search(params.q, params.page, params.per_page, params.sort,
                            params.date_from, params.date_to, correct=not params.exact,
                            similar_to=params.similar)


def note_miss(results: SearchResults) -> None:
    """Count a search that found nothing, for `searchapp report`; never fail a request."""
    if results.total or results.page > 1 or not results.query.strip():
        return
    try:
        reports.record_miss(reports.log_path(current_app.config["INDEX_DIR"]), results.query)
    except OSError as error:
        current_app.logger.warning("cannot record a zero-result search: %s", error)


@bp.get("/articles/<path:article_id>")
def article(article_id: str):
    """One article in full, with articles like it."""
    record = archive().article(article_id)
    if record is None:
        return render_template(
            "message.html", title="Article not found",
            message="There is no article at this address. "
                    "It may have been removed from the archive.",
        ), 404
    return render_template("article.html", article=record)


@bp.get("/feed")
def feed():
    """An Atom feed of the newest articles that match ``q``, for feed readers."""
    try:
        params = parse_search_params(request.args, allow_per_page=False)
        results = run_search(replace(params, page=1, per_page=FEED_ENTRIES, sort="newest"))
    except (ParamError, QueryError) as error:
        return render_template("message.html", title="Bad feed address", message=str(error)), 400
    stats = index_stats(current_app.config["INDEX_DIR"])
    fallback = stats.last_commit if stats and stats.last_commit else datetime.now(timezone.utc)
    entries = []
    for hit in results.hits:
        moment = fallback
        if hit.date:
            moment = datetime(hit.date.year, hit.date.month, hit.date.day, tzinfo=timezone.utc)
        entries.append({
            "url": url_for("web.article", article_id=hit.id, _external=True),
            "title": hit.headline or "Untitled",
            "updated": _rfc3339(moment),
            "summary": hit.snippet + _similar_note(params, hit),
        })
    updated = max((e["updated"] for e in entries), default=_rfc3339(fallback))
    title = f"Archive search: {params.q}" if params.q.strip() else "Archive search"
    body = render_template(
        "feed.xml", entries=entries, title=title, updated=updated,
        feed_id=url_for("web.feed", q=params.q, _external=True),
        self_url=url_for("web.feed", q=params.q, _external=True),
        page_url=url_for("web.search", q=params.q, sort="newest", _external=True),
    )
    return body, 200, {"Content-Type": "application/atom+xml; charset=utf-8"}


def _similar_note(params: SearchParams, hit) -> str:
    """Return the HTML that tells a feed reader of the copies folded into an entry."""
    if not hit.similar:
        return ""
    count = len(hit.similar)
    url = page_url(replace(params, page=1), similar=hit.id, sort="newest")
    link = html.escape(url_for("web.search", _external=True).rstrip("/") + url, quote=True)
    label = f"{count} similar article{'' if count == 1 else 's'}"
    return f' <a href="{link}">{label}</a>'


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@bp.get("/opensearch.xml")
def opensearch():
    """The OpenSearch description that lets browsers add this search to their search box."""
    body = render_template(
        "opensearch.xml",
        search_url=url_for("web.search", _external=True),
        suggest_url=url_for("api.suggest", _external=True),
        feed_url=url_for("web.feed", _external=True),
    )
    return body, 200, {"Content-Type": "application/opensearchdescription+xml; charset=utf-8"}


@bp.get("/healthz")
def healthz():
    """Say whether the service can search, with the index's size and last commit."""
    stats = index_stats(current_app.config["INDEX_DIR"])
    if stats is None:
        return jsonify(status="no index", articles=0, last_commit=None, version=__version__), 503
    return jsonify(status="ok", articles=stats.articles,
                   last_commit=stats.last_commit.isoformat() if stats.last_commit else None,
                   version=__version__)
